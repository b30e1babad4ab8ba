package inngest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/go-inngest/inngest/step"
)

// Keys used by the hardening tests. Their hex parts are distinctive, so a
// leak of any fragment is easy to spot.
const (
	hardKey      = "signkey-prod-6c3e5b1d9a7f402e8b1c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a"
	hardKeyFB    = "signkey-prod-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	hardOtherKey = "signkey-prod-ffffeeeeddddccccbbbbaaaa99998888777766665555444433332222111100ff"
	hardEventKey = "evtkey-Zq8Wm3Rt7Yp2Lk9Hs4Df6Gj1"
	hardApp      = "hard"
	// hardUntil is the fixed time of the "until" step.
	hardUntilUnix = 1700000000
)

// sign returns the X-Inngest-Signature for body at t.
func sign(tb testing.TB, key string, t time.Time, body []byte) string {
	tb.Helper()
	sig, err := inngest.Sign(key, t, body)
	require.NoError(tb, err)
	return sig
}

// hardReq builds a request to the handler; a non-empty key signs it now.
func hardReq(tb testing.TB, method, target string, body []byte, key string) *http.Request {
	tb.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Inngest-Signature", sign(tb, key, time.Now(), body))
	}
	return req
}

// serve runs one request through h and returns the recorded answer.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// knownOps are the opcodes a 206 may carry.
var knownOps = map[string]bool{
	wire.OpStepRun: true, wire.OpStepError: true, wire.OpStepFailed: true, wire.OpStepPlanned: true,
	wire.OpSleep: true, wire.OpWaitForEvent: true, wire.OpInvokeFunction: true, wire.OpWaitForSignal: true,
	wire.OpGateway: true, "AIGateway": true,
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// requireWellFormed checks what every answer of the handler must be: the
// SDK headers, a JSON body, and for each status the body shape and retry
// headers the server reads. It returns the decoded body.
func requireWellFormed(tb testing.TB, rec *httptest.ResponseRecorder) any {
	tb.Helper()
	hd := rec.Header()
	require.Equal(tb, "go-inngest:v"+inngest.Version, hd.Get("X-Inngest-Sdk"), "X-Inngest-SDK on every answer")
	require.Equal(tb, "2", hd.Get("X-Inngest-Req-Version"), "X-Inngest-Req-Version on every answer")
	require.Equal(tb, "application/json", hd.Get("Content-Type"))
	body := rec.Body.Bytes()
	require.Truef(tb, json.Valid(body), "the body is JSON: %q", body)
	var v any
	require.NoError(tb, json.Unmarshal(body, &v))
	errText := func() string {
		m, ok := v.(map[string]any)
		require.Truef(tb, ok, "a %d answer is a JSON object: %s", rec.Code, body)
		for _, k := range []string{"error", "message"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		tb.Fatalf("a %d answer names its error in \"error\" or \"message\": %s", rec.Code, body)
		return ""
	}
	switch rec.Code {
	case http.StatusOK:
	case http.StatusPartialContent:
		ops, ok := v.([]any)
		require.Truef(tb, ok, "a 206 body is an array of opcodes: %s", body)
		for _, o := range ops {
			op, ok := o.(map[string]any)
			require.Truef(tb, ok, "an opcode is an object: %s", body)
			id, _ := op["id"].(string)
			require.Regexpf(tb, hashPattern, id, "opcode id: %s", body)
			name, _ := op["op"].(string)
			require.Truef(tb, knownOps[name], "unknown opcode %q: %s", name, body)
		}
		if nr := hd.Get("X-Inngest-No-Retry"); nr != "" {
			require.Contains(tb, []string{"true", "false"}, nr)
		}
	case http.StatusBadRequest:
		errText()
		if nr := hd.Get("X-Inngest-No-Retry"); nr != "" {
			require.Contains(tb, []string{"true", "false"}, nr)
		}
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		errText()
		require.NotEqual(tb, "true", hd.Get("X-Inngest-No-Retry"), "a rejection must not end the run")
	case http.StatusInternalServerError:
		errText()
		if hd.Get("X-Inngest-Sync-Kind") == "" { // a call, not a sync
			require.Equal(tb, "false", hd.Get("X-Inngest-No-Retry"), "a 500 is retried")
		}
	default:
		tb.Fatalf("unexpected status %d: %s", rec.Code, body)
	}
	return v
}

// requireRejected checks a rejection: the status and a JSON error naming
// the problem.
func requireRejected(tb testing.TB, rec *httptest.ResponseRecorder, status int, contains string) {
	tb.Helper()
	require.Equalf(tb, status, rec.Code, "body: %s", rec.Body.String())
	requireWellFormed(tb, rec)
	var m map[string]any
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &m))
	msg, _ := m["error"].(string)
	if msg == "" {
		msg, _ = m["message"].(string)
	}
	require.Contains(tb, msg, contains)
}

// The app the fuzz targets and the input matrix work on.

type hardData struct {
	N    int    `json:"n"`
	Mode string `json:"mode"`
}

type hardPair struct {
	X int    `json:"x"`
	S string `json:"s"`
}

type hardResult struct {
	A        int      `json:"a"`
	B        hardPair `json:"b"`
	Loops    []string `json:"loops"`
	Approval string   `json:"approval"`
	C        int      `json:"c"`
}

// seqFn is a sequential function with several step kinds: Run steps of
// three result types, a repeated step ID, Sleep, SleepUntil,
// WaitForEvent (whose timeout it handles) and a step whose body always
// fails. The event's mode makes it panic or fail
// before any step.
func seqFn(ctx context.Context, in inngest.Input[hardData]) (any, error) {
	switch in.Event.Data.Mode {
	case "panic":
		panic("seq panicked on purpose")
	case "noretry":
		return nil, inngest.NoRetryError(errors.New("fatal on purpose"))
	case "retryat":
		return nil, inngest.RetryAtError(errors.New("later on purpose"), time.Unix(hardUntilUnix, 0))
	}
	a, err := step.Run(ctx, "a", func(ctx context.Context) (int, error) { return in.Event.Data.N, nil })
	if err != nil {
		return nil, err
	}
	if err := step.Sleep(ctx, "nap", time.Second); err != nil {
		return nil, err
	}
	b, err := step.Run(ctx, "b", func(ctx context.Context) (hardPair, error) { return hardPair{X: a + 1, S: "b"}, nil })
	if err != nil {
		return nil, err
	}
	var loops []string
	for i := range 2 {
		s, err := step.Run(ctx, "loop", func(ctx context.Context) (string, error) { return fmt.Sprint("loop", i), nil })
		if err != nil {
			return nil, err
		}
		loops = append(loops, s)
	}
	if err := step.SleepUntil(ctx, "until", time.Unix(hardUntilUnix, 0)); err != nil {
		return nil, err
	}
	ev, err := step.WaitForEvent[hardData](ctx, "approval", step.WaitForEventOpts{Event: "hard/approved", Timeout: time.Hour})
	approval := ev.Name
	if errors.Is(err, step.ErrEventNotReceived) {
		approval = "timeout"
	} else if err != nil {
		return nil, err
	}
	c, err := step.Run(ctx, "fail", func(ctx context.Context) (int, error) { return 0, errors.New("boom") })
	if err != nil {
		return nil, err
	}
	return hardResult{A: a, B: b, Loops: loops, Approval: approval, C: c}, nil
}

// hardStepKind is how a step of seqFn behaves.
type hardStepKind int

const (
	kindRun   hardStepKind = iota // step.Run; body succeeds
	kindFail                      // step.Run; body fails
	kindSleep                     // Sleep or SleepUntil
	kindWait                      // WaitForEvent: the memo is the event, null on timeout
)

type hardStep struct {
	id   string // as written in code
	hash string
	kind hardStepKind
	// decode decodes a memoized result (of a Run step, its "data") into
	// the step's Go type.
	decode func(data []byte) (any, error)
	// valid is a memo that decodes; result is what running the body
	// reports when it does not depend on earlier steps (a and b do).
	valid  string
	result string
}

func decodeAs[T any](data []byte) (any, error) {
	var v T
	if len(data) == 0 {
		return v, nil
	}
	err := json.Unmarshal(data, &v)
	return v, err
}

// decodeWait is what seqFn makes of a memoized WaitForEvent: the event's
// name, or "timeout" for null.
func decodeWait(raw []byte) (any, error) {
	if string(raw) == "null" {
		return "timeout", nil
	}
	var ev inngest.Event[hardData]
	err := json.Unmarshal(raw, &ev)
	return ev.Name, err
}

// seqSteps lists seqFn's steps in code order.
var seqSteps = []hardStep{
	{id: "a", hash: wire.HashID("a", 0), kind: kindRun, decode: decodeAs[int], valid: `{"data":7}`},
	{id: "nap", hash: wire.HashID("nap", 0), kind: kindSleep, valid: `null`},
	{id: "b", hash: wire.HashID("b", 0), kind: kindRun, decode: decodeAs[hardPair], valid: `{"data":{"x":8,"s":"b"}}`},
	{id: "loop", hash: wire.HashID("loop", 0), kind: kindRun, decode: decodeAs[string], valid: `{"data":"loop0"}`, result: `"loop0"`},
	{id: "loop", hash: wire.HashID("loop", 1), kind: kindRun, decode: decodeAs[string], valid: `{"data":"loop1"}`, result: `"loop1"`},
	{id: "until", hash: wire.HashID("until", 0), kind: kindSleep, valid: `null`},
	{id: "approval", hash: wire.HashID("approval", 0), kind: kindWait, decode: decodeWait, valid: `{"name":"hard/approved","data":{"n":1}}`},
	{id: "fail", hash: wire.HashID("fail", 0), kind: kindFail, decode: decodeAs[int], valid: `{"data":3}`},
}

// okAPI answers register, batch and actions requests successfully.
func okAPI(n int, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/batch"):
		_, _ = io.WriteString(w, `[{"name":"hard/seq","data":{"n":5},"id":"E1","ts":1}]`)
	case strings.HasSuffix(r.URL.Path, "/actions"):
		_, _ = io.WriteString(w, `{}`)
	default:
		_, _ = io.WriteString(w, `{"ok":true,"modified":false}`)
	}
}

// hardFunctions creates the functions the fuzz targets and matrix call: "seq"
// (seqFn) with a failure handler, and "typed", whose event data is a
// struct with an int field.
func hardFunctions(tb testing.TB, c *inngest.Client) {
	tb.Helper()
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{
		ID: "seq",
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[hardData]) (any, error) {
			return map[string]any{"fn": f.FunctionID, "err": f.Error.Error(), "n": f.Event.Data.N}, nil
		}),
	}, inngest.EventTrigger("hard/seq", nil), seqFn)
	require.NoError(tb, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "typed", Retries: inngest.Ptr(0)}, inngest.EventTrigger("hard/typed", nil),
		func(ctx context.Context, in inngest.Input[struct {
			Count int `json:"count"`
		}]) (any, error) {
			return in.Event.Data.Count * 2, nil
		})
	require.NoError(tb, err)
}

// callBody builds a call request body.
func callBody(tb testing.TB, data any, steps map[string]json.RawMessage, mut func(*wire.Request)) []byte {
	tb.Helper()
	ev, err := json.Marshal(map[string]any{"name": "hard/seq", "id": "E1", "ts": 1, "data": data, "user": map[string]any{}})
	require.NoError(tb, err)
	if steps == nil {
		steps = map[string]json.RawMessage{}
	}
	req := wire.Request{
		Event:   ev,
		Events:  []json.RawMessage{ev},
		Steps:   steps,
		Version: 2,
		Ctx: wire.RequestCtx{
			RunID: "01HARDRUN", StepID: "step", MaxAttempts: 5,
			Stack: wire.Stack{Stack: []string{}},
		},
	}
	if mut != nil {
		mut(&req)
	}
	b, err := json.Marshal(req)
	require.NoError(tb, err)
	return b
}

// memoUpTo returns valid results for seqFn's first k steps.
func memoUpTo(k int) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for _, s := range seqSteps[:k] {
		m[s.hash] = json.RawMessage(s.valid)
	}
	return m
}
