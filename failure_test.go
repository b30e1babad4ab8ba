package inngest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type syncCatalog struct {
	StoreID string `json:"storeId"`
	User    int    `json:"user"`
	Key     string `json:"key"`
}

func devClient(t *testing.T, app string) *Client {
	t.Helper()
	c, err := NewClient(ClientOpts{AppID: app, Mode: ModeDev})
	require.NoError(t, err)
	return c
}

func noop[T any](context.Context, Input[T]) (any, error) { return nil, nil }

func functionsJSON(t *testing.T, c *Client, appURL string) string {
	t.Helper()
	b, err := marshalNoEscape(c.registerBody(appURL).Functions)
	require.NoError(t, err)
	return string(b)
}

func TestOnFailureSyncsCompanionExactly(t *testing.T) {
	c := devClient(t, "my-app")
	_, err := CreateFunction(c, FunctionOpts{
		ID:      "sync-catalog",
		Retries: Ptr(5),
		OnFailure: OnFailure(func(ctx context.Context, f Failure[syncCatalog]) (any, error) {
			return nil, nil
		}),
	}, EventTrigger("catalog/sync.requested", nil), noop[syncCatalog])
	require.NoError(t, err)

	want := `[` +
		`{"id":"my-app-sync-catalog","name":"sync-catalog","triggers":[{"event":"catalog/sync.requested"}],` +
		`"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"https://host/api/inngest?fnId=my-app-sync-catalog&stepId=step"},"retries":{"attempts":5}}}},` +
		`{"id":"my-app-sync-catalog-failure","name":"sync-catalog (failure)",` +
		`"triggers":[{"event":"inngest/function.failed","expression":"event.data.function_id == 'my-app-sync-catalog'"}],` +
		`"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"https://host/api/inngest?fnId=my-app-sync-catalog-failure&stepId=step"},"retries":{"attempts":1}}}}` +
		`]`
	assert.Equal(t, want, functionsJSON(t, c, "https://host/api/inngest"))
}

func TestCompanionsInheritNoFlowControl(t *testing.T) {
	c := devClient(t, "app")
	_, err := CreateFunction(c, FunctionOpts{
		ID:          "busy",
		Name:        "Busy function",
		Concurrency: []Concurrency{{Limit: 2, Key: "event.data.user", Scope: ScopeEnv}},
		Throttle:    &Throttle{Limit: 1, Period: time.Second},
		Debounce:    &Debounce{Period: 5 * time.Second},
		Idempotency: "event.data.id",
		Cancel:      []Cancel{{Event: "app/stop", Match: "data.id", Timeout: time.Hour}},
		Timeouts:    &Timeouts{Finish: time.Hour},
		Priority:    &Priority{Run: "event.data.prio"},
		Singleton:   &Singleton{Mode: SingletonSkip},
		OnFailure:   OnFailure(func(context.Context, Failure[syncCatalog]) (any, error) { return nil, nil }).WithRetries(3),
		OnCancel:    OnCancel(func(context.Context, Cancellation[syncCatalog]) (any, error) { return nil, nil }),
	}, EventTrigger("app/busy", nil), noop[syncCatalog])
	require.NoError(t, err)

	var fns []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(functionsJSON(t, c, "http://x/api")), &fns))
	require.Len(t, fns, 3)
	assert.Contains(t, fns[0], "concurrency")
	assert.Contains(t, fns[0], "cancel")
	for _, companion := range fns[1:] {
		keys := make([]string, 0, len(companion))
		for k := range companion {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{"id", "name", "triggers", "steps"}, keys, "companion %s", companion["id"])
	}
	assert.JSONEq(t, `"app-busy-failure"`, string(fns[1]["id"]))
	assert.JSONEq(t, `"Busy function (failure)"`, string(fns[1]["name"]))
	assert.JSONEq(t, `{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x/api?fnId=app-busy-failure&stepId=step"},"retries":{"attempts":3}}}`, string(fns[1]["steps"]))
	assert.JSONEq(t, `"app-busy-cancel"`, string(fns[2]["id"]))
	assert.JSONEq(t, `"Busy function (cancel)"`, string(fns[2]["name"]))
	assert.JSONEq(t, `[{"event":"inngest/function.cancelled","expression":"event.data.function_id == 'app-busy'"}]`, string(fns[2]["triggers"]))
}

func TestCompanionIDCollisionsAreRejected(t *testing.T) {
	onFail := OnFailure(func(context.Context, Failure[syncCatalog]) (any, error) { return nil, nil })

	c := devClient(t, "app")
	_, err := CreateFunction(c, FunctionOpts{ID: "charge", OnFailure: onFail}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.NoError(t, err)
	_, err = CreateFunction(c, FunctionOpts{ID: "charge-failure"}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.ErrorContains(t, err, `"app-charge-failure"`)

	// The other order: the user's function exists first.
	c = devClient(t, "app")
	_, err = CreateFunction(c, FunctionOpts{ID: "charge-failure"}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.NoError(t, err)
	_, err = CreateFunction(c, FunctionOpts{ID: "charge", OnFailure: onFail}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.ErrorContains(t, err, `"app-charge-failure"`)
	assert.Nil(t, c.function("app-charge"), "a rejected function must not be half-registered")
}

func TestOnFailureMustMatchTheEventType(t *testing.T) {
	c := devClient(t, "app")
	_, err := CreateFunction(c, FunctionOpts{
		ID:        "typed",
		OnFailure: OnFailure(func(context.Context, Failure[map[string]any]) (any, error) { return nil, nil }),
	}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OnFailure")
	assert.Contains(t, err.Error(), "inngest.syncCatalog")

	_, err = CreateFunction(c, FunctionOpts{ID: "nil-handler", OnFailure: (*FailureFunc[syncCatalog])(nil)}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.ErrorContains(t, err, "OnFailure")

	_, err = CreateFunction(c, FunctionOpts{ID: "bad-retries", OnFailure: OnFailure(func(context.Context, Failure[syncCatalog]) (any, error) { return nil, nil }).WithRetries(21)}, EventTrigger("a/b", nil), noop[syncCatalog])
	require.ErrorContains(t, err, "retries must be from 0 to 20")
}

// failedCall is a real call the dev server made to a failure companion
// (testdata/failure/failed_call.json); mutate lets a test change its
// inngest/function.failed event.
func failedCall(t *testing.T, mutate func(evt map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/failure/failed_call.json")
	require.NoError(t, err)
	if mutate == nil {
		return raw
	}
	var req map[string]any
	require.NoError(t, json.Unmarshal(raw, &req))
	evt := req["event"].(map[string]any)
	mutate(evt)
	req["events"] = []any{evt}
	b, err := json.Marshal(req)
	require.NoError(t, err)
	return b
}

func post(t *testing.T, h http.Handler, query string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/inngest?"+query, strings.NewReader(string(body))))
	return rec
}

func TestFailureHandlerDispatchAndInput(t *testing.T) {
	type exhaust struct {
		Key  string `json:"key"`
		User int    `json:"user"`
	}
	c := devClient(t, "demo")
	mainRuns := 0
	var got Failure[exhaust]
	_, err := CreateFunction(c, FunctionOpts{
		ID: "exhaust",
		OnFailure: OnFailure(func(ctx context.Context, f Failure[exhaust]) (any, error) {
			got = f
			return map[string]any{"user": f.Event.Data.User}, nil
		}),
	}, EventTrigger("demo/exhaust", nil), func(ctx context.Context, in Input[exhaust]) (any, error) {
		mainRuns++
		return nil, nil
	})
	require.NoError(t, err)

	rec := post(t, c.Serve(), "fnId=demo-exhaust-failure&stepId=step", failedCall(t, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, `{"user":42}`, rec.Body.String())
	assert.Zero(t, mainRuns, "the function itself must not run for its failure companion")

	assert.Equal(t, "demo-exhaust", got.FunctionID)
	assert.Equal(t, "01M89CTBZPCSVRVJH4BX7HVATX", got.RunID)
	assert.Equal(t, "demo/exhaust", got.Event.Name)
	assert.Equal(t, "01M89CTBSFKHDZQQ7MR6TMT4C1", got.Event.ID)
	assert.Equal(t, exhaust{Key: "k1795611766573083721", User: 42}, got.Event.Data)
	require.Len(t, got.Events, 1)
	assert.Equal(t, 42, got.Events[0].Data.User)
	require.NotNil(t, got.Error)
	assert.Equal(t, "Error", got.Error.Name)
	assert.Equal(t, "unhandled step error: card declined", got.Error.Message)
	assert.Equal(t, "unhandled step error: card declined", got.Error.Error())
	assert.Equal(t, "01M89CTDG14JJM770SGZ9SVTRV", got.Handler.RunID, "Handler is the failure handler's own run")
	assert.Equal(t, 0, got.Handler.Attempt)
	assert.Equal(t, 5, got.Handler.MaxAttempts)
	assert.Empty(t, got.StepID)
	assert.True(t, json.Valid(got.Raw))

	// The handler can return or wrap the error.
	wrapped := errors.Join(errors.New("alerting failed"), got.Error)
	var re *RunError
	assert.True(t, errors.As(wrapped, &re))
}

func TestFailureInputToleratesEveryErrorShape(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(data map[string]any)
		want   RunError
		stepID string
	}{
		{"server StandardError", func(d map[string]any) {
			d["error"] = map[string]any{"error": "invalid status code: 500", "name": "MyError", "message": "intentional failure", "stack": "at x"}
		}, RunError{Name: "MyError", Message: "intentional failure", Stack: "at x"}, ""},
		{"message only in error key", func(d map[string]any) {
			d["error"] = map[string]any{"error": "function cancelled"}
		}, RunError{Name: "Error", Message: "function cancelled"}, ""},
		{"no error at all", func(d map[string]any) { delete(d, "error") }, RunError{Name: "Error", Message: "Unknown error"}, ""},
		{"null error", func(d map[string]any) { d["error"] = nil }, RunError{Name: "Error", Message: "Unknown error"}, ""},
		{"string error", func(d map[string]any) { d["error"] = "boom" }, RunError{Name: "Error", Message: "boom"}, ""},
		{"garbage error", func(d map[string]any) { d["error"] = 17 }, RunError{Name: "Error", Message: "Unknown error"}, ""},
		{"fields of the wrong type", func(d map[string]any) {
			d["error"] = map[string]any{"name": 1, "message": []any{"x"}, "stack": false}
		}, RunError{Name: "Error", Message: "Unknown error"}, ""},
		{"with cause and serialized marker", func(d map[string]any) {
			d["error"] = map[string]any{"name": "Error", "message": "outer", "cause": map[string]any{"name": "Error", "message": "inner"}, "__serialized": true}
		}, RunError{Name: "Error", Message: "outer", Cause: json.RawMessage(`{"message":"inner","name":"Error"}`)}, ""},
		{"step id from this SDK's error body", func(d map[string]any) {
			d["error"] = map[string]any{"error": "NonRetriableError", "name": "Error", "message": "card declined"}
			d["result"] = map[string]any{"name": "Error", "message": "card declined", "data": map[string]any{"step_id": "charge"}}
		}, RunError{Name: "Error", Message: "card declined"}, "charge"},
		{"result of another shape", func(d map[string]any) {
			d["error"] = map[string]any{"name": "Error", "message": "m"}
			d["result"] = "just a string"
		}, RunError{Name: "Error", Message: "m"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := devClient(t, "demo")
			var got Failure[map[string]any]
			ran := false
			_, err := CreateFunction(c, FunctionOpts{
				ID: "exhaust",
				OnFailure: OnFailure(func(ctx context.Context, f Failure[map[string]any]) (any, error) {
					got, ran = f, true
					return nil, nil
				}),
			}, EventTrigger("demo/exhaust", nil), noop[map[string]any])
			require.NoError(t, err)
			body := failedCall(t, func(evt map[string]any) { tc.mutate(evt["data"].(map[string]any)) })
			rec := post(t, c.Serve(), "fnId=demo-exhaust-failure&stepId=step", body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.True(t, ran)
			require.NotNil(t, got.Error)
			assert.Equal(t, tc.want, *got.Error)
			assert.Equal(t, tc.stepID, got.StepID)
			assert.Equal(t, "demo-exhaust", got.FunctionID)
		})
	}
}

func TestFailureInputSurvivesAnEventThatDoesNotFitT(t *testing.T) {
	c := devClient(t, "demo")
	var got Failure[syncCatalog]
	_, err := CreateFunction(c, FunctionOpts{
		ID: "exhaust",
		OnFailure: OnFailure(func(ctx context.Context, f Failure[syncCatalog]) (any, error) {
			got = f
			return "handled", nil
		}),
	}, EventTrigger("demo/exhaust", nil), noop[syncCatalog])
	require.NoError(t, err)
	body := failedCall(t, func(evt map[string]any) {
		d := evt["data"].(map[string]any)
		orig := d["event"].(map[string]any)
		orig["data"] = map[string]any{"storeId": 12345} // a number where T has a string
	})
	rec := post(t, c.Serve(), "fnId=demo-exhaust-failure&stepId=step", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "demo/exhaust", got.Event.Name)
	assert.Equal(t, "01M89CTBSFKHDZQQ7MR6TMT4C1", got.Event.ID)
	assert.Zero(t, got.Event.Data)
}

func TestCancellationHandlerInput(t *testing.T) {
	type cancelMe struct {
		ID string `json:"id"`
	}
	c := devClient(t, "demo")
	var got Cancellation[cancelMe]
	_, err := CreateFunction(c, FunctionOpts{
		ID:     "cancel-me",
		Cancel: []Cancel{{Event: "demo/cancel", Match: "data.id"}},
		OnCancel: OnCancel(func(ctx context.Context, cn Cancellation[cancelMe]) (any, error) {
			got = cn
			return map[string]string{"cancelled_run": cn.RunID}, nil
		}),
	}, EventTrigger("demo/cancel-me", nil), noop[cancelMe])
	require.NoError(t, err)
	raw, err := os.ReadFile("testdata/failure/cancelled_call.json")
	require.NoError(t, err)
	rec := post(t, c.Serve(), "fnId=demo-cancel-me-cancel&stepId=step", raw)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, `{"cancelled_run":"01M89CTBZXY6HHVCMZT6XQ1J9V"}`, rec.Body.String())
	assert.Equal(t, "demo-cancel-me", got.FunctionID)
	assert.Equal(t, cancelMe{ID: "k1795611766575965385"}, got.Event.Data)
	assert.Nil(t, got.Error, "cancelled events carry no error")
	assert.Equal(t, "01M89CTF6YPJW0BA309WAVAJ7P", got.Handler.RunID)
}

func TestCreateFailureFunctionFilters(t *testing.T) {
	c := devClient(t, "shop")
	handler := func(context.Context, Failure[json.RawMessage]) (any, error) { return nil, nil }
	all, err := CreateFailureFunction(c, FunctionOpts{ID: "alert-all"}, FailureFilter{}, handler)
	require.NoError(t, err)
	assert.Equal(t, "shop-alert-all", all.FullID())
	_, err = CreateFailureFunction(c, FunctionOpts{ID: "alert-some"}, FailureFilter{Functions: []string{"charge", "shop-refund", "it's"}}, handler)
	require.NoError(t, err)
	_, err = CreateFailureFunction(c, FunctionOpts{ID: "bad", OnFailure: OnFailure(handler)}, FailureFilter{}, handler)
	require.ErrorContains(t, err, "OnFailure")

	var fns []struct {
		ID       string          `json:"id"`
		Triggers json.RawMessage `json:"triggers"`
	}
	require.NoError(t, json.Unmarshal([]byte(functionsJSON(t, c, "http://x/")), &fns))
	require.Len(t, fns, 2)
	assert.Equal(t, `[{"event":"inngest/function.failed","expression":"event.data.function_id.startsWith('shop-')"}]`, string(fns[0].Triggers))
	assert.Equal(t, `[{"event":"inngest/function.failed","expression":"event.data.function_id == 'shop-charge' || event.data.function_id == 'shop-refund' || event.data.function_id == 'shop-it\\'s'"}]`, string(fns[1].Triggers))
}

// TestFailureOfARunTheServerFailed: when the server fails a run itself
// it wraps the error as JSON in the message
// ({"error":"…","message":"{\"error\":{…}}","name":"Error"}); the
// handler gets the innermost name and message, and Raw keeps the event
// as sent. The calls are real (testdata/failure/README.md).
func TestFailureOfARunTheServerFailed(t *testing.T) {
	const app = "e2e-1373db-testserverfailedruns"
	for _, tc := range []struct {
		file, scenario string
		want           RunError
	}{
		{"server_unreachable.json", "unreachable",
			RunError{Name: "Error", Message: "Unable to reach SDK URL"}},
		{"server_gateway_timeout.json", "gateway-timeout",
			RunError{Name: "Server returned a fatal error", Message: "Your server returned HTTP 504 before the SDK responded."}},
		{"server_step_output_too_large.json", "step-output-too-large",
			RunError{Name: "Error", Message: "error validating generator opcode 95c4bea12e4edcf8aad730a222793324dc42c29d: step output size is greater than the limit"}},
		{"server_step_output_over_sdk_limit.json", "step-output-over-sdk-limit",
			RunError{Name: "NonRetriableError", Message: `step "big": its result (string) is 5242891 bytes of JSON, over Inngest's limit of 4194304 bytes for a step's output (inngest.MaxStepOutputSize); return less, such as a reference to data stored elsewhere`}},
		{"server_state_overflowed.json", "state-overflowed",
			RunError{Name: "InngestErrStateOverflowed", Message: "The function run exceeded the state size limit of 33554432 bytes."}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			body, err := os.ReadFile("testdata/failure/" + tc.file)
			require.NoError(t, err)
			c := devClient(t, app)
			var got Failure[json.RawMessage]
			_, err = CreateFailureFunction(c, FunctionOpts{ID: "watch"}, FailureFilter{},
				func(ctx context.Context, f Failure[json.RawMessage]) (any, error) {
					got = f
					return nil, nil
				})
			require.NoError(t, err)
			rec := post(t, c.Serve(), "fnId="+app+"-watch&stepId=step", body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.NotNil(t, got.Error)
			assert.Equal(t, app+"-"+tc.scenario+"-victim", got.FunctionID)
			assert.Equal(t, tc.want.Name, got.Error.Name)
			assert.Equal(t, tc.want.Message, got.Error.Message)
			assert.NotContains(t, got.Error.Error(), `{"error"`)

			var req struct {
				Event json.RawMessage `json:"event"`
			}
			require.NoError(t, json.Unmarshal(body, &req))
			assert.Equal(t, string(req.Event), string(got.Raw), "Raw is the event as sent")
		})
	}
}

// TestNestedErrorMessages: errors nested as JSON in messages are
// unwrapped to the innermost, a bounded number of levels deep; a
// message that merely is JSON stays as it is.
func TestNestedErrorMessages(t *testing.T) {
	wrap := func(inner string) string {
		b, _ := json.Marshal(map[string]any{"error": json.RawMessage(inner)})
		m, _ := json.Marshal(map[string]any{"name": "Error", "message": string(b)})
		return string(m)
	}
	deep := `{"name":"Deepest","message":"at the bottom"}`
	for range 5 {
		deep = wrap(deep)
	}
	tooDeep := `{"name":"Deepest","message":"at the bottom"}`
	for range maxErrorNesting + 2 {
		tooDeep = wrap(tooDeep)
	}
	for _, tc := range []struct {
		name, raw string
		want      RunError
	}{
		{"five levels", deep, RunError{Name: "Deepest", Message: "at the bottom"}},
		{"a message that is JSON data", `{"name":"Error","message":"{\"code\":42}"}`, RunError{Name: "Error", Message: `{"code":42}`}},
		{"a message that is not JSON", `{"name":"Error","message":"{not json"}`, RunError{Name: "Error", Message: "{not json"}},
		{"a specific outer name over a generic inner one", `{"name":"NonRetriableError","message":"{\"error\":{\"name\":\"Error\",\"message\":\"m\"}}"}`,
			RunError{Name: "NonRetriableError", Message: "m"}},
		{"an unnamed inner error", `{"name":"Timeout","message":"{\"message\":\"m\"}","stack":"s"}`, RunError{Name: "Timeout", Message: "m", Stack: "s"}},
		{"an error object in error", `{"error":{"name":"Inner","message":"m"}}`, RunError{Name: "Inner", Message: "m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseRunError(json.RawMessage(tc.raw))
			require.NotNil(t, got)
			assert.Equal(t, tc.want, *got)
		})
	}
	got := parseRunError(json.RawMessage(tooDeep))
	assert.Equal(t, "Error", got.Name, "past the bound the message stays JSON")
	assert.True(t, strings.HasPrefix(got.Message, `{"error"`), got.Message)
}
