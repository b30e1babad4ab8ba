package inngest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureCase replays one request a real dev server sent and states the
// answer the protocol requires (not the answer the SDK it was recorded
// against gave).
type protoCapture struct {
	file  string // under testdata/protocol/calls
	query string // the request's query string, as recorded
	fn    string // the function whose code runs
	want  protoWant
}

func protoQuery(fn string) string { return "fnId=demo-" + fn + "&step=step&stepId=step" }

var protoCaptures = []protoCapture{
	// Discovery with immediate execution, then a sleep, then the second
	// step, then the result.
	{"steps-1.json", protoQuery("steps"), "steps", protoWant{206, protoNoRetry(""),
		`[{"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepRun","name":"a","displayName":"a","data":{"n":1},"timing":"<timing>","userland":{"id":"a"}}]`}},
	{"steps-2.json", protoQuery("steps"), "steps", protoWant{206, protoNoRetry(""),
		`[{"id":"c2640f79b4ed481b838ce4ad75330aa3f825d4d9","op":"Sleep","name":"nap","displayName":"nap","opts":{"duration":"1s"},"data":null,"userland":{"id":"nap"}}]`}},
	{"steps-3.json", protoQuery("steps"), "steps", protoWant{206, protoNoRetry(""),
		`[{"id":"e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98","op":"StepRun","name":"b","displayName":"b","data":2,"timing":"<timing>","userland":{"id":"b"}}]`}},
	{"steps-4.json", protoQuery("steps"), "steps", protoWant{200, protoNoRetry(""), `{"a":{"n":1},"b":2}`}},

	// A step that fails twice (attempts 0 and 1 of 3), then succeeds.
	{"retry-1.json", protoQuery("retry"), "retry", protoWant{206, protoNoRetry("false"),
		`[{"id":"0612bcf5b16a1ec368ef4ebb92d6be2f7040260b","op":"StepError","name":"flaky","displayName":"flaky","data":null,"error":{"name":"Error","message":"flaky"},"timing":"<timing>","userland":{"id":"flaky"}}]`}},
	{"retry-2.json", protoQuery("retry"), "retry", protoWant{206, protoNoRetry("false"),
		`[{"id":"0612bcf5b16a1ec368ef4ebb92d6be2f7040260b","op":"StepError","name":"flaky","displayName":"flaky","data":null,"error":{"name":"Error","message":"flaky"},"timing":"<timing>","userland":{"id":"flaky"}}]`}},
	{"retry-3.json", protoQuery("retry"), "retry", protoWant{206, protoNoRetry(""),
		`[{"id":"0612bcf5b16a1ec368ef4ebb92d6be2f7040260b","op":"StepRun","name":"flaky","displayName":"flaky","data":3,"timing":"<timing>","userland":{"id":"flaky"}}]`}},
	{"retry-4.json", protoQuery("retry"), "retry", protoWant{200, protoNoRetry(""), `3`}},

	// A step whose retries run out: StepError, then StepFailed on the
	// last attempt, then the memoized error escapes the function: 400,
	// no retry, the step's error with its ID.
	{"exhaust-1.json", protoQuery("exhaust"), "exhaust", protoWant{206, protoNoRetry("false"),
		`[{"id":"5ea9c348e59fe73a4b15cb287e33e4546dcef782","op":"StepError","name":"charge","displayName":"charge","data":null,"error":{"name":"Error","message":"card declined"},"timing":"<timing>","userland":{"id":"charge"}}]`}},
	{"exhaust-2.json", protoQuery("exhaust"), "exhaust", protoWant{206, protoNoRetry("true"),
		`[{"id":"5ea9c348e59fe73a4b15cb287e33e4546dcef782","op":"StepFailed","name":"charge","displayName":"charge","data":null,"error":{"name":"Error","message":"card declined"},"timing":"<timing>","userland":{"id":"charge"}}]`}},
	{"exhaust-3.json", protoQuery("exhaust"), "exhaust", protoWant{400, protoNoRetry("true"),
		`{"name":"Step failed","message":"card declined","data":{"step_id":"charge"}}`}},

	// The failure handler, called with the real inngest/function.failed
	// event.
	{"exhaust-failure-1.json", protoQuery("exhaust-failure"), "exhaust-failure", protoWant{200, protoNoRetry(""),
		`{"failed_run":"01M89CTBZPCSVRVJH4BX7HVATX","message":"unhandled step error: card declined","user":42}`}},

	// A function returning a NoRetryError: 400, no retry.
	{"noretry-1.json", protoQuery("noretry"), "noretry", protoWant{400, protoNoRetry("true"),
		`{"name":"NonRetriableError","message":"fatal"}`}},

	// A step that fails on its only attempt; the function catches the
	// StepError and compensates.
	{"caught-1.json", protoQuery("caught"), "caught", protoWant{206, protoNoRetry("true"),
		`[{"id":"f8a3616d7e58ff6242563873b1cfc46048094eb9","op":"StepFailed","name":"risky","displayName":"risky","data":null,"error":{"name":"Error","message":"nope"},"timing":"<timing>","userland":{"id":"risky"}}]`}},
	{"caught-2.json", protoQuery("caught"), "caught", protoWant{206, protoNoRetry(""),
		`[{"id":"3ff7e0af1ff10be8dee1243e20ab99ea3a8ffc99","op":"StepRun","name":"compensate","displayName":"compensate","data":"compensated","timing":"<timing>","userland":{"id":"compensate"}}]`}},
	{"caught-3.json", protoQuery("caught"), "caught", protoWant{200, protoNoRetry(""), `"compensated"`}},

	// A function returning a RetryAtError: 500, retry, Retry-After.
	{"retryat-1.json", protoQuery("retryat"), "retryat", protoWant{500,
		map[string]string{"X-Inngest-No-Retry": "false", "Retry-After": "2030-01-02T03:04:05Z"},
		`{"name":"RetryAfterError","message":"later"}`}},
	{"retryat-2.json", protoQuery("retryat"), "retryat", protoWant{200, protoNoRetry(""), `{"attempt":1}`}},
}

// captureCtx is the part of a captured request's ctx that user code sees.
type protoCaptureCtx struct {
	Ctx struct {
		RunID       string `json:"run_id"`
		Attempt     int    `json:"attempt"`
		MaxAttempts int    `json:"max_attempts"`
	} `json:"ctx"`
}

func TestCallCaptures(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	rec := protoDemoApp(t, c)
	h := c.Serve()
	for _, tc := range protoCaptures {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			body := protoFile(t, "calls/"+tc.file)
			before := len(rec.all())
			res := protoServe(t, h, http.MethodPost, "/api/inngest?"+tc.query, body, nil)
			protoAssert(t, res, tc.want)

			// User code ran once and saw the run's ID and attempts.
			var cc protoCaptureCtx
			require.NoError(t, json.Unmarshal(body, &cc))
			calls := rec.all()[before:]
			require.Len(t, calls, 1)
			assert.Equal(t, tc.fn, calls[0].Fn)
			assert.Equal(t, cc.Ctx.RunID, calls[0].Info.RunID)
			assert.Equal(t, cc.Ctx.Attempt, calls[0].Info.Attempt)
			assert.Equal(t, cc.Ctx.MaxAttempts, calls[0].Info.MaxAttempts)
		})
	}
}

// Replaying the same request must give the same answer: the protocol
// relies on it to re-run a function over its memoized steps.
func TestCallDeterministic(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	protoDemoApp(t, c)
	h := c.Serve()
	for _, tc := range protoCaptures {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			body := protoFile(t, "calls/"+tc.file)
			first := protoServe(t, h, http.MethodPost, "/api/inngest?"+tc.query, body, nil)
			second := protoServe(t, h, http.MethodPost, "/api/inngest?"+tc.query, body, nil)
			assert.Equal(t, first.Code, second.Code)
			for _, k := range []string{"X-Inngest-No-Retry", "Retry-After", "X-Inngest-Sdk", "X-Inngest-Req-Version", "Content-Type"} {
				assert.Equal(t, first.Header().Values(k), second.Header().Values(k), k)
			}
			assert.Equal(t, first.Body.String(), second.Body.String())
		})
	}
}

func TestCallSignedCloud(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeCloud, SigningKey: protoKey, SigningKeyFallback: protoFallbackKey})
	rec := protoDemoApp(t, c)
	h := c.Serve()
	body := protoFile(t, "calls/steps-1.json")
	target := "/api/inngest?" + protoQuery("steps")
	ok := protoWant{206, protoNoRetry(""),
		`[{"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepRun","name":"a","displayName":"a","data":{"n":1},"timing":"<timing>","userland":{"id":"a"}}]`}

	t.Run("primary key", func(t *testing.T) {
		protoAssert(t, protoServe(t, h, http.MethodPost, target, body, protoSigned(t, protoKey, body)), ok)
	})
	t.Run("fallback key", func(t *testing.T) {
		protoAssert(t, protoServe(t, h, http.MethodPost, target, body, protoSigned(t, protoFallbackKey, body)), ok)
	})

	// A request that fails verification gets 401 and runs no user code.
	now := time.Now()
	other := "signkey-prod-00112233"
	for _, tc := range []struct {
		name string
		hdr  http.Header
		body []byte
		msg  string
	}{
		{"unsigned", nil, body, "inngest: the request has no X-Inngest-Signature header"},
		{"other key", protoSigned(t, other, body), body, "inngest: the request's signature does not match"},
		{"body changed", protoSigned(t, protoKey, body), []byte(strings.Replace(string(body), `"n":1`, `"n":2`, 2)), "inngest: the request's signature does not match"},
		{"stale", protoSignedAt(t, protoKey, now.Add(-6*time.Minute), body), body, "inngest: the request's signature is more than 5 minutes old or in the future"},
		{"future", protoSignedAt(t, protoKey, now.Add(6*time.Minute), body), body, "inngest: the request's signature is more than 5 minutes old or in the future"},
		{"malformed", http.Header{"X-Inngest-Signature": {"t=soon&s=abc"}}, body, "inngest: the X-Inngest-Signature header is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.all())
			res := protoServe(t, h, http.MethodPost, target, tc.body, tc.hdr)
			protoAssert(t, res, protoWant{401, protoNoRetry(""), `{"error":"` + tc.msg + `"}`})
			assert.Len(t, rec.all(), before, "user code ran for a request that failed verification")
		})
	}
}

// bigBatch and bigActions are what the API returns for the demo-big run
// whose third call arrives with use_api.
const (
	protoBigRunID = "01M89CTBZC66CCA410WD23KP4Z"
	protoBigBatch = `[{"data":{},"id":"01M89CTBSH7JH6TY7P9FPD2QDX","name":"demo/big","ts":1795611766577,"user":{}}]`
)

func protoBigActions() string {
	return `{"640d87e741e6aa4c669a82a4cd304787960513ab":{"data":"` + strings.Repeat("a", protoBigSize) +
		`"},"4205714cdfe14ed9e3d030ddf7887781b964f510":{"data":"` + strings.Repeat("b", protoBigSize) + `"}}`
}

// A call too large to send carries use_api: the SDK loads the events and
// steps from the API with the hashed signing key.
func TestCallUseAPI(t *testing.T) {
	body := protoFile(t, "calls/big-3-use-api.json")
	target := "/api/inngest?" + protoQuery("big")
	s3 := protoWant{206, protoNoRetry(""), `[{"id":"dd33a084ba223dd231b0aa962f77a5920017bc8b","op":"StepRun","name":"s3","displayName":"s3","data":5000000,"timing":"<timing>","userland":{"id":"s3"}}]`}
	fallbackBearer := "Bearer signkey-prod-" + protoSHA256(protoHex(t, "abcdef0123456789"))
	state := func(r testkit.APIRequest) (int, string) {
		switch r.Path {
		case "/v0/runs/" + protoBigRunID + "/batch":
			return 200, protoBigBatch
		case "/v0/runs/" + protoBigRunID + "/actions":
			return 200, protoBigActions()
		}
		return 404, `{"error":"not found"}`
	}

	t.Run("primary key", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, testkit.Replying(func(r testkit.APIRequest) (int, string) {
			if r.Header.Get("Authorization") != "Bearer "+protoKeyBearer {
				return 401, `{"error":"unauthorized"}`
			}
			return state(r)
		}))
		c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeCloud, SigningKey: protoKey, APIBaseURL: api.URL})
		rec := protoDemoApp(t, c)
		res := protoServe(t, c.Serve(), http.MethodPost, target, body, protoSigned(t, protoKey, body))
		protoAssert(t, res, s3)

		reqs := api.Requests()
		require.Len(t, reqs, 2)
		for i, path := range []string{"/v0/runs/" + protoBigRunID + "/batch", "/v0/runs/" + protoBigRunID + "/actions"} {
			assert.Equal(t, http.MethodGet, reqs[i].Method)
			assert.Equal(t, path, reqs[i].Path)
			assert.Equal(t, "Bearer "+protoKeyBearer, reqs[i].Header.Get("Authorization"))
			assert.Equal(t, protoSDKHeader, reqs[i].Header.Get("X-Inngest-Sdk"))
		}
		calls := rec.all()
		require.Len(t, calls, 1)
		assert.Equal(t, protoBigRunID, calls[0].Info.RunID)
	})

	t.Run("fallback key", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, testkit.Replying(func(r testkit.APIRequest) (int, string) {
			if r.Header.Get("Authorization") != fallbackBearer {
				return 401, `{"error":"unauthorized"}`
			}
			return state(r)
		}))
		c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeCloud, SigningKey: protoKey, SigningKeyFallback: protoFallbackKey, APIBaseURL: api.URL})
		protoDemoApp(t, c)
		res := protoServe(t, c.Serve(), http.MethodPost, target, body, protoSigned(t, protoKey, body))
		protoAssert(t, res, s3)
		var auths []string
		for _, r := range api.Requests() {
			auths = append(auths, r.Path+" "+r.Header.Get("Authorization"))
		}
		batch, actions := "/v0/runs/"+protoBigRunID+"/batch ", "/v0/runs/"+protoBigRunID+"/actions "
		assert.Equal(t, []string{
			batch + "Bearer " + protoKeyBearer, batch + fallbackBearer,
			actions + "Bearer " + protoKeyBearer, actions + fallbackBearer,
		}, auths)
	})

	t.Run("state gone", func(t *testing.T) {
		api := testkit.NewFakeAPI(t, testkit.Replying(func(r testkit.APIRequest) (int, string) {
			return 410, `{"error":"runtime state is no longer available"}`
		}))
		c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeCloud, SigningKey: protoKey, APIBaseURL: api.URL})
		rec := protoDemoApp(t, c)
		res := protoServe(t, c.Serve(), http.MethodPost, target, body, protoSigned(t, protoKey, body))
		protoAssert(t, res, protoWant{500, protoNoRetry("false"),
			`{"name":"Error","message":"inngest: GET /v0/runs/` + protoBigRunID + `/batch answered 410: {\"error\":\"runtime state is no longer available\"}"}`})
		assert.Empty(t, rec.all(), "user code ran without its state")
	})
}

func TestCallRefused(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	rec := protoDemoApp(t, c)
	h := c.Serve()
	steps1 := protoFile(t, "calls/steps-1.json")
	steps3 := protoFile(t, "calls/steps-3.json")

	for _, tc := range []struct {
		name  string
		query string
		body  []byte
		want  protoWant
	}{
		{"unknown function", protoQuery("nope"), steps1, protoWant{404, protoNoRetry(""),
			`{"error":"no function \"demo-nope\" in app \"demo\"; sync the app after adding functions"}`}},
		{"no fnId", "stepId=step", steps1, protoWant{400, protoNoRetry(""),
			`{"error":"the call has no fnId query parameter"}`}},
		{"malformed JSON", protoQuery("steps"), []byte(`{"ctx":`), protoWant{400, protoNoRetry("false"),
			`{"error":"the call's body is not a valid request: unexpected end of JSON input"}`}},
		{"wrong JSON type", protoQuery("steps"), []byte(`{"steps":[1]}`), protoWant{400, protoNoRetry("false"),
			`{"error":"the call's body is not a valid request: json: cannot unmarshal array into Go struct field Request.steps of type map[string]json.RawMessage"}`}},
		// A targeted call whose step the function never reaches.
		{"targeted step missing", "fnId=demo-steps&stepId=5a013c49508291c6816ac388f93a2c11973086ed", steps1, protoWant{500, protoNoRetry("false"),
			`{"error":"Could not find step \"5a013c49508291c6816ac388f93a2c11973086ed\" to run; timed out"}`}},
		{"targeted step missing after return", "fnId=demo-steps&stepId=5a013c49508291c6816ac388f93a2c11973086ed", protoFile(t, "calls/steps-4.json"), protoWant{500, protoNoRetry("false"),
			`{"error":"Could not find step \"5a013c49508291c6816ac388f93a2c11973086ed\" to run; timed out"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			protoAssert(t, protoServe(t, h, http.MethodPost, "/api/inngest?"+tc.query, tc.body, nil), tc.want)
		})
	}

	t.Run("targeted step found", func(t *testing.T) {
		res := protoServe(t, h, http.MethodPost, "/api/inngest?fnId=demo-steps&stepId=e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98", steps3, nil)
		protoAssert(t, res, protoWant{206, protoNoRetry(""),
			`[{"id":"e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98","op":"StepRun","name":"b","displayName":"b","data":2,"timing":"<timing>","userland":{"id":"b"}}]`})
	})
	t.Run("bare function ID", func(t *testing.T) {
		res := protoServe(t, h, http.MethodPost, "/api/inngest?fnId=steps&stepId=step", steps1, nil)
		protoAssert(t, res, protoWant{206, protoNoRetry(""),
			`[{"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepRun","name":"a","displayName":"a","data":{"n":1},"timing":"<timing>","userland":{"id":"a"}}]`})
	})
	t.Run("method not allowed", func(t *testing.T) {
		res := protoServe(t, h, http.MethodDelete, "/api/inngest", nil, nil)
		protoAssert(t, res, protoWant{405, map[string]string{"Allow": "GET, POST, PUT"},
			`{"error":"method DELETE is not allowed; Inngest uses GET, POST and PUT"}`})
	})
	t.Run("body too large", func(t *testing.T) {
		small := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev, MaxBodySize: 100})
		srec := protoDemoApp(t, small)
		res := protoServe(t, small.Serve(), http.MethodPost, "/api/inngest?"+protoQuery("steps"), steps1, nil)
		protoAssert(t, res, protoWant{413, protoNoRetry(""),
			`{"error":"request body exceeds the limit of 100 bytes (ClientOpts.MaxBodySize)"}`})
		assert.Empty(t, srec.all())
	})
	for _, c := range rec.all() {
		assert.NotEqual(t, "nope", c.Fn)
	}
}

// A panic in user code fails the request with a retriable 500 that
// carries the stack, and the server goes on serving.
func TestCallPanic(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	protoDemoApp(t, c)
	srv := httptest.NewServer(c.Serve())
	t.Cleanup(srv.Close)
	body := protoFile(t, "calls/steps-1.json")

	post := func(fn string) (*http.Response, []byte) {
		resp, err := http.Post(srv.URL+"/api/inngest?"+protoQuery(fn), "application/json", strings.NewReader(string(body)))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}

	resp, b := post("boom")
	assert.Equal(t, 500, resp.StatusCode)
	assert.Equal(t, "false", resp.Header.Get("X-Inngest-No-Retry"))
	assert.Equal(t, protoSDKHeader, resp.Header.Get("X-Inngest-Sdk"))
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Stack   string `json:"stack"`
	}
	require.NoError(t, json.Unmarshal(b, &e), "%s", b)
	assert.Equal(t, "Error", e.Name)
	assert.Equal(t, "panic: boom", e.Message)
	assert.Contains(t, e.Stack, "protocol_demo_test.go", "the stack names the panicking code")

	resp, b = post("steps")
	assert.Equal(t, 206, resp.StatusCode)
	assert.Equal(t, `[{"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepRun","name":"a","displayName":"a","data":{"n":1},"timing":"<timing>","userland":{"id":"a"}}]`, testkit.Timings(t, string(b)))
}
