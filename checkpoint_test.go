package inngest_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

func hashOf(id string) string {
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

var (
	stepRun   = step.Run[int]
	stepSleep = step.Sleep
)

// cpAPI is a fake Inngest API that answers every checkpoint with status.
func cpAPI(t *testing.T, status int) *testkit.FakeAPI {
	return testkit.NewFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
}

// cpPaths lists the method and path of each request api received.
func cpPaths(api *testkit.FakeAPI) []string {
	var out []string
	for _, r := range api.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

const cpKey = "signkey-test-12345678"

// cpSetup serves body as the function "cp" (2 retries) of a cloud-mode
// client with checkpointing cp whose Inngest API is api.
func cpSetup(t *testing.T, api *testkit.FakeAPI, cp *inngest.Checkpointing, body func(ctx context.Context, in inngest.Input[map[string]any]) (any, error)) http.Handler {
	t.Helper()
	return cpSetupFn(t, api, cp, nil, body)
}

// cpSetupFn is cpSetup with fnCP as the function's own checkpointing.
func cpSetupFn(t *testing.T, api *testkit.FakeAPI, cp, fnCP *inngest.Checkpointing, body func(ctx context.Context, in inngest.Input[map[string]any]) (any, error)) http.Handler {
	t.Helper()
	c := cpClient(t, api, cp)
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "cp", Retries: inngest.Ptr(2), Checkpointing: fnCP}, inngest.EventTrigger("demo/cp", nil), body)
	require.NoError(t, err)
	return c.Serve()
}

func cpCall(t *testing.T, h http.Handler, query string, attempt int, extraCtx string) *httptest.ResponseRecorder {
	t.Helper()
	return cpCallFn(t, h, "demo-cp", query, attempt, extraCtx)
}

// cpCallFn is cpCall of the function fnID.
func cpCallFn(t *testing.T, h http.Handler, fnID, query string, attempt int, extraCtx string) *httptest.ResponseRecorder {
	t.Helper()
	body := `{"ctx":{"attempt":` + strconv.Itoa(attempt) + `,"disable_immediate_execution":false,"env":"","fn_id":"4887f47b-3511-555e-a447-8fa80ce998d3","generation_id":1,"max_attempts":3,` +
		`"qi_id":"cWk=","request_id":"01REQ","run_id":"01RUN","stack":{"current":0,"stack":[]},"step_id":"step","use_api":false` + extraCtx + `},` +
		`"event":{"data":{},"id":"01EVT","name":"demo/cp","ts":1,"user":{}},"events":[{"data":{},"id":"01EVT","name":"demo/cp","ts":1,"user":{}}],"steps":{},"use_api":false,"version":2}`
	sig, err := inngest.Sign(cpKey, time.Now(), []byte(body))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/api/inngest?fnId="+fnID+"&"+query, strings.NewReader(body))
	req.Header.Set("X-Inngest-Signature", sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkTimings(t, rec)
	return rec
}

func threeSteps(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
	sum := 0
	for _, id := range []string{"a", "b", "c"} {
		n, err := stepRun(ctx, id, func(context.Context) (int, error) { return len(id) * 10, nil })
		if err != nil {
			return nil, err
		}
		sum += n
	}
	return sum, nil
}

func TestCheckpointingRunsStepsInOneCall(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	h := cpSetup(t, api, &inngest.Checkpointing{}, threeSteps)
	rec := cpCall(t, h, "stepId=step", 0, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "30", rec.Body.String())

	require.Len(t, cpPaths(api), 3)
	for i, id := range []string{"a", "b", "c"} {
		assert.Equal(t, "POST /v1/checkpoint/01RUN/async", cpPaths(api)[i])
		assert.Equal(t, "Bearer signkey-test-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c", api.Requests()[i].Header.Get("Authorization"))
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(testkit.Timings(t, string(api.Requests()[i].Body))), &got))
		assert.JSONEq(t, `"01RUN"`, string(got["run_id"]))
		assert.JSONEq(t, `"4887f47b-3511-555e-a447-8fa80ce998d3"`, string(got["fn_id"]))
		assert.JSONEq(t, `"cWk="`, string(got["qi_id"]))
		assert.JSONEq(t, `"01REQ"`, string(got["request_id"]))
		assert.JSONEq(t, `1`, string(got["generation_id"]))
		assert.Contains(t, got, "ts")
		assert.JSONEq(t, `[{"id":"`+hashOf(id)+`","op":"StepRun","name":"`+id+`","displayName":"`+id+`","data":10,"timing":"<timing>","userland":{"id":"`+id+`"}}]`, string(got["steps"]))
	}
}

func TestCheckpointingFallsBackWhenTheAPIFails(t *testing.T) {
	api := cpAPI(t, http.StatusInternalServerError)
	h := cpSetup(t, api, &inngest.Checkpointing{}, threeSteps)
	rec := cpCall(t, h, "stepId=step", 0, "")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, `[{"id":"`+hashOf("a")+`","op":"StepRun","name":"a","displayName":"a","data":10,"timing":"<timing>","userland":{"id":"a"}}]`, rec.Body.String())
	assert.Len(t, cpPaths(api), 1, "one attempt, then the step is reported in the response")
}

func TestCheckpointingIsNotUsedForTargetedOrPlannedCalls(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	h := cpSetup(t, api, &inngest.Checkpointing{}, threeSteps)

	rec := cpCall(t, h, "stepId=step", 0, `,"disable_immediate_execution":true`)
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, `[{"id":"`+hashOf("a")+`","op":"StepPlanned","name":"a","displayName":"a","data":null,"userland":{"id":"a"}}]`, rec.Body.String())

	rec = cpCall(t, h, "stepId="+hashOf("a"), 0, "")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, `[{"id":"`+hashOf("a")+`","op":"StepRun","name":"a","displayName":"a","data":10,"timing":"<timing>","userland":{"id":"a"}}]`, rec.Body.String())
	assert.Empty(t, cpPaths(api))
}

func TestCheckpointingStopsAtServerSideSteps(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	h := cpSetup(t, api, &inngest.Checkpointing{}, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		if _, err := stepRun(ctx, "a", func(context.Context) (int, error) { return 1, nil }); err != nil {
			return nil, err
		}
		return nil, stepSleep(ctx, "nap", time.Hour)
	})
	rec := cpCall(t, h, "stepId=step", 0, "")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, `[{"id":"`+hashOf("nap")+`","op":"Sleep","name":"nap","displayName":"nap","opts":{"duration":"1h"},"data":null,"userland":{"id":"nap"}}]`, rec.Body.String())
	assert.Len(t, cpPaths(api), 1)
}

// After a checkpoint the server resets the attempt count, so a step that
// fails after checkpointed steps is retried even when the call came on
// what was the last attempt of an earlier step.
func TestCheckpointingResetsTheAttemptForLaterSteps(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	h := cpSetup(t, api, &inngest.Checkpointing{}, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		if _, err := stepRun(ctx, "a", func(context.Context) (int, error) { return 1, nil }); err != nil {
			return nil, err
		}
		return stepRun(ctx, "b", func(context.Context) (int, error) { return 0, errors.New("flaky") })
	})
	rec := cpCall(t, h, "stepId=step", 2, "") // attempt 2 of 3 for step "a"
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, "false", rec.Header().Get("X-Inngest-No-Retry"))
	assert.Equal(t, `[{"id":"`+hashOf("b")+`","op":"StepError","name":"b","displayName":"b","data":null,"error":{"name":"Error","message":"flaky"},"timing":"<timing>","userland":{"id":"b"}}]`, rec.Body.String())
}

func TestCheckpointingRespectsMaxRuntime(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	// A deadline that has passed by the time the first step has run.
	h := cpSetup(t, api, &inngest.Checkpointing{MaxRuntime: time.Nanosecond}, threeSteps)
	rec := cpCall(t, h, "stepId=step", 0, "")
	require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
	assert.Equal(t, `[{"id":"`+hashOf("a")+`","op":"StepRun","name":"a","displayName":"a","data":10,"timing":"<timing>","userland":{"id":"a"}}]`, rec.Body.String())
	assert.Empty(t, cpPaths(api))
}

func TestCheckpointingOptions(t *testing.T) {
	_, err := inngest.NewClient(inngest.ClientOpts{AppID: "a", Mode: inngest.ModeDev, Checkpointing: &inngest.Checkpointing{MaxRuntime: -time.Second}})
	require.ErrorContains(t, err, "Checkpointing.MaxRuntime must not be negative")
}

// A function's own Checkpointing overrides the client's, both ways.
func TestCheckpointingPerFunction(t *testing.T) {
	tests := []struct {
		name         string
		client, fn   *inngest.Checkpointing
		checkpointed bool
	}{
		{"client on, function inherits", &inngest.Checkpointing{}, nil, true},
		{"client on, function off", &inngest.Checkpointing{}, &inngest.Checkpointing{Disabled: true}, false},
		{"client off, function on", nil, &inngest.Checkpointing{}, true},
		{"client disabled, function on", &inngest.Checkpointing{Disabled: true}, &inngest.Checkpointing{}, true},
		{"client disabled, function inherits", &inngest.Checkpointing{Disabled: true}, nil, false},
		{"function's own MaxRuntime", &inngest.Checkpointing{}, &inngest.Checkpointing{MaxRuntime: time.Nanosecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := cpAPI(t, http.StatusOK)
			rec := cpCall(t, cpSetupFn(t, api, tt.client, tt.fn, threeSteps), "stepId=step", 0, "")
			requireThreeSteps(t, rec, api, tt.checkpointed)
		})
	}
}

// requireThreeSteps checks the answer to the first call of threeSteps:
// with checkpointing, the result after three checkpoints; without, the
// first step and no checkpoint.
func requireThreeSteps(t *testing.T, rec *httptest.ResponseRecorder, api *testkit.FakeAPI, checkpointed bool) {
	t.Helper()
	oneStep := `[{"id":"` + hashOf("a") + `","op":"StepRun","name":"a","displayName":"a","data":10,"timing":"<timing>","userland":{"id":"a"}}]`
	if checkpointed {
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, "30", rec.Body.String())
		assert.Len(t, cpPaths(api), 3)
		return
	}
	require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
	assert.Equal(t, oneStep, rec.Body.String())
	assert.Empty(t, cpPaths(api))
}

func TestCheckpointingPerFunctionIsChecked(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "a", Mode: inngest.ModeDev})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f", Checkpointing: &inngest.Checkpointing{MaxRuntime: -time.Second}},
		inngest.EventTrigger("a/b", nil), func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FunctionOpts.Checkpointing.MaxRuntime must not be negative")
}

// cpClient is a cloud-mode client with checkpointing cp whose Inngest API
// is api.
func cpClient(t *testing.T, api *testkit.FakeAPI, cp *inngest.Checkpointing) *inngest.Client {
	t.Helper()
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID: "demo", Mode: inngest.ModeCloud, SigningKey: cpKey, APIBaseURL: api.URL,
		Checkpointing: cp, Logger: testkit.QuietLogger(),
	})
	require.NoError(t, err)
	return c
}

// cpOverrides are a client's and a function's checkpointing, and whether
// the function checkpoints under them.
var cpOverrides = []struct {
	name         string
	client, fn   *inngest.Checkpointing
	checkpointed bool
}{
	{"client off, function on", nil, &inngest.Checkpointing{}, true},
	{"client on, function off", &inngest.Checkpointing{}, &inngest.Checkpointing{Disabled: true}, false},
	{"client on, function inherits", &inngest.Checkpointing{}, nil, true},
}

// threeStepsOnFailure is threeSteps as a failure handler.
func threeStepsOnFailure(ctx context.Context, f inngest.Failure[map[string]any]) (any, error) {
	return threeSteps(ctx, inngest.Input[map[string]any]{})
}

// A failure function's own Checkpointing applies to it, as a function's
// does, both ways; a bad one is refused.
func TestCheckpointingOfAFailureFunction(t *testing.T) {
	for _, tt := range cpOverrides {
		t.Run(tt.name, func(t *testing.T) {
			api := cpAPI(t, http.StatusOK)
			c := cpClient(t, api, tt.client)
			_, err := inngest.CreateFailureFunction(c, inngest.FunctionOpts{ID: "alerts", Checkpointing: tt.fn}, inngest.FailureFilter{}, threeStepsOnFailure)
			require.NoError(t, err)
			requireThreeSteps(t, cpCallFn(t, c.Serve(), "demo-alerts", "stepId=step", 0, ""), api, tt.checkpointed)
		})
	}

	c := cpClient(t, cpAPI(t, http.StatusOK), nil)
	_, err := inngest.CreateFailureFunction(c, inngest.FunctionOpts{ID: "alerts", Checkpointing: &inngest.Checkpointing{MaxRuntime: -time.Second}},
		inngest.FailureFilter{}, threeStepsOnFailure)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CreateFailureFunction \"alerts\": FunctionOpts.Checkpointing.MaxRuntime must not be negative")
}

// A function's failure and cancellation handlers follow the function's
// Checkpointing, not the client's.
func TestCheckpointingOfCompanionsFollowsTheFunction(t *testing.T) {
	threeStepsOnCancel := func(ctx context.Context, _ inngest.Cancellation[map[string]any]) (any, error) {
		return threeSteps(ctx, inngest.Input[map[string]any]{})
	}
	for _, tt := range cpOverrides {
		t.Run(tt.name, func(t *testing.T) {
			for _, fnID := range []string{"demo-cp-failure", "demo-cp-cancel"} {
				api := cpAPI(t, http.StatusOK)
				c := cpClient(t, api, tt.client)
				_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "cp", Checkpointing: tt.fn,
					OnFailure: inngest.OnFailure(threeStepsOnFailure), OnCancel: inngest.OnCancel(threeStepsOnCancel)},
					inngest.EventTrigger("demo/cp", nil), threeSteps)
				require.NoError(t, err)
				requireThreeSteps(t, cpCallFn(t, c.Serve(), fnID, "stepId=step", 0, ""), api, tt.checkpointed)
			}
		})
	}
}

// cpSteps returns the steps of checkpoint request i to api, as sent
// (with timings replaced).
func cpSteps(t *testing.T, api *testkit.FakeAPI, i int) string {
	t.Helper()
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(testkit.Timings(t, string(api.Requests()[i].Body))), &got))
	return string(got["steps"])
}

// stepRunOp is the StepRun opcode of threeSteps' step id.
func stepRunOp(id string) string {
	return `{"id":"` + hashOf(id) + `","op":"StepRun","name":"` + id + `","displayName":"` + id + `","data":` + strconv.Itoa(len(id)*10) + `,"timing":"<timing>","userland":{"id":"` + id + `"}}`
}

// With BatchSteps, one checkpoint request saves several steps, in order;
// what is left when the function returns is saved before its result is
// answered.
func TestCheckpointingBatchesSteps(t *testing.T) {
	for _, tc := range []struct {
		batch   int
		batches []string
	}{
		{2, []string{"[" + stepRunOp("a") + "," + stepRunOp("b") + "]", "[" + stepRunOp("c") + "]"}},
		{10, []string{"[" + stepRunOp("a") + "," + stepRunOp("b") + "," + stepRunOp("c") + "]"}},
		{1, []string{"[" + stepRunOp("a") + "]", "[" + stepRunOp("b") + "]", "[" + stepRunOp("c") + "]"}},
	} {
		t.Run(strconv.Itoa(tc.batch), func(t *testing.T) {
			api := cpAPI(t, http.StatusOK)
			h := cpSetup(t, api, &inngest.Checkpointing{BatchSteps: tc.batch}, threeSteps)
			rec := cpCall(t, h, "stepId=step", 0, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "30", rec.Body.String())
			require.Len(t, cpPaths(api), len(tc.batches))
			for i, want := range tc.batches {
				assert.Equal(t, "POST /v1/checkpoint/01RUN/async", cpPaths(api)[i])
				assert.Equal(t, want, cpSteps(t, api, i), "request %d", i)
			}
		})
	}
}

// Held steps are saved before a step the server carries out is
// reported, so the sleep comes after them.
func TestCheckpointingBatchIsSavedBeforeServerSideSteps(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	h := cpSetup(t, api, &inngest.Checkpointing{BatchSteps: 10}, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		for _, id := range []string{"a", "b"} {
			if _, err := stepRun(ctx, id, func(context.Context) (int, error) { return len(id) * 10, nil }); err != nil {
				return nil, err
			}
		}
		return nil, stepSleep(ctx, "nap", time.Hour)
	})
	rec := cpCall(t, h, "stepId=step", 0, "")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, `[{"id":"`+hashOf("nap")+`","op":"Sleep","name":"nap","displayName":"nap","opts":{"duration":"1h"},"data":null,"userland":{"id":"nap"}}]`, rec.Body.String())
	require.Len(t, cpPaths(api), 1)
	assert.Equal(t, "["+stepRunOp("a")+","+stepRunOp("b")+"]", cpSteps(t, api, 0))
}

// A batch whose checkpoint fails is reported in the response, wherever
// the failure comes: when the function returns (its result comes again
// on the next call), when the batch is full (the function stops there),
// and before a failed step's error.
func TestCheckpointingBatchFallsBackToTheResponse(t *testing.T) {
	t.Run("at the end", func(t *testing.T) {
		api := cpAPI(t, http.StatusInternalServerError)
		rec := cpCall(t, cpSetup(t, api, &inngest.Checkpointing{BatchSteps: 10}, threeSteps), "stepId=step", 0, "")
		require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
		assert.Equal(t, "["+stepRunOp("a")+","+stepRunOp("b")+","+stepRunOp("c")+"]", rec.Body.String())
		assert.Len(t, cpPaths(api), 1)
	})
	t.Run("full batch", func(t *testing.T) {
		api := cpAPI(t, http.StatusInternalServerError)
		rec := cpCall(t, cpSetup(t, api, &inngest.Checkpointing{BatchSteps: 2}, threeSteps), "stepId=step", 0, "")
		require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
		assert.Equal(t, "["+stepRunOp("a")+","+stepRunOp("b")+"]", rec.Body.String())
		assert.Len(t, cpPaths(api), 1)
	})
	t.Run("before a failed step", func(t *testing.T) {
		api := cpAPI(t, http.StatusInternalServerError)
		rec := cpCall(t, cpSetup(t, api, &inngest.Checkpointing{BatchSteps: 10}, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			if _, err := stepRun(ctx, "a", func(context.Context) (int, error) { return 10, nil }); err != nil {
				return nil, err
			}
			return stepRun(ctx, "b", func(context.Context) (int, error) { return 0, errors.New("flaky") })
		}), "stepId=step", 0, "")
		require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
		assert.Equal(t, "["+stepRunOp("a")+`,{"id":"`+hashOf("b")+`","op":"StepError","name":"b","displayName":"b","data":null,"error":{"name":"Error","message":"flaky"},"timing":"<timing>","userland":{"id":"b"}}]`, rec.Body.String())
		assert.Len(t, cpPaths(api), 1)
	})
}

// A held step waits at most BatchInterval: the batch is saved then, even
// while the function runs code between steps.
func TestCheckpointingBatchInterval(t *testing.T) {
	api := cpAPI(t, http.StatusOK)
	h := cpSetup(t, api, &inngest.Checkpointing{BatchSteps: 100, BatchInterval: 20 * time.Millisecond}, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		if _, err := stepRun(ctx, "a", func(context.Context) (int, error) { return 10, nil }); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(api.Requests()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // work between steps
		}
		return stepRun(ctx, "b", func(context.Context) (int, error) { return 10, nil })
	})
	rec := cpCall(t, h, "stepId=step", 0, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, cpPaths(api), 2)
	assert.Equal(t, "["+stepRunOp("a")+"]", cpSteps(t, api, 0), "saved by the interval, while the function worked")
	assert.Equal(t, "["+stepRunOp("b")+"]", cpSteps(t, api, 1), "saved when the function returned")
}

func TestCheckpointingBatchOptions(t *testing.T) {
	for _, tc := range []struct {
		cp   inngest.Checkpointing
		want string
	}{
		{inngest.Checkpointing{BatchSteps: -1}, "Checkpointing.BatchSteps must not be negative"},
		{inngest.Checkpointing{BatchSteps: 2, BatchInterval: -time.Second}, "Checkpointing.BatchInterval must not be negative"},
	} {
		_, err := inngest.NewClient(inngest.ClientOpts{AppID: "a", Mode: inngest.ModeDev, Checkpointing: &tc.cp})
		require.ErrorContains(t, err, tc.want)
	}
}
