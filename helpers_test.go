package inngest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// updateProtocol rewrites the golden files under testdata/protocol instead
// of comparing against them. Review every rewritten file by hand: the
// golden files are the protocol, not a record of what the code does.
var protoUpdate = flag.Bool("update-protocol", false, "rewrite testdata/protocol golden files")

// Keys used across the protocol tests. testKey is the signing key of the
// protocol notes' bearer-hashing vector, so its hash is known in advance.
const (
	protoKey         = "signkey-prod-12345678"
	protoKeyBearer   = "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
	protoFallbackKey = "signkey-prod-abcdef0123456789"
	protoEventKey    = "evt-key-0123456789"
	protoSDKHeader   = "go-inngest:v" + inngest.Version
)

// testClient isolates the environment and creates a client from opts
// (app "hard" unless opts names one), with logs dropped unless opts sets
// a logger.
func testClient(tb testing.TB, opts inngest.ClientOpts) *inngest.Client {
	tb.Helper()
	testkit.IsolateEnv(tb)
	if opts.AppID == "" {
		opts.AppID = hardApp
	}
	if opts.Logger == nil {
		opts.Logger = testkit.QuietLogger()
	}
	c, err := inngest.NewClient(opts)
	require.NoError(tb, err)
	return c
}

// serve sends one request to h and returns the recorded response.
func protoServe(t *testing.T, h http.Handler, method, target string, body []byte, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkTimings(t, rec)
	return rec
}

// checkTimings checks the timings in rec's body against the clock and
// replaces each with testkit.Timing, so that the body can be compared
// byte for byte.
func checkTimings(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	rec.Body = bytes.NewBufferString(testkit.Timings(t, rec.Body.String()))
}

// signed returns the headers of a request signed with key, now.
func protoSigned(t *testing.T, key string, body []byte) http.Header {
	t.Helper()
	return protoSignedAt(t, key, time.Now(), body)
}

func protoSignedAt(t testing.TB, key string, at time.Time, body []byte) http.Header {
	t.Helper()
	return http.Header{"X-Inngest-Signature": {sign(t, key, at, body)}}
}

// want is an expected response. Headers lists protocol headers that must
// have exactly the given value; an empty value means the header must be
// absent.
type protoWant struct {
	status  int
	headers map[string]string
	body    string
}

// assertResponse checks status, the headers every response carries, the
// listed headers and the body, byte for byte.
func protoAssert(t *testing.T, rec *httptest.ResponseRecorder, w protoWant) {
	t.Helper()
	assert.Equal(t, w.status, rec.Code, "status; body: %s", rec.Body.String())
	h := rec.Header()
	assert.Equal(t, []string{protoSDKHeader}, h.Values("X-Inngest-Sdk"), "X-Inngest-SDK")
	assert.Equal(t, []string{"2"}, h.Values("X-Inngest-Req-Version"), "X-Inngest-Req-Version")
	assert.Equal(t, "application/json", h.Get("Content-Type"), "Content-Type")
	for k, v := range w.headers {
		if v == "" {
			assert.Empty(t, h.Values(k), "header %s must be absent", k)
			continue
		}
		assert.Equal(t, []string{v}, h.Values(k), "header %s", k)
	}
	assert.Equal(t, w.body, rec.Body.String(), "body")
}

// noRetry builds the headers map for X-Inngest-No-Retry (and an absent
// Retry-After).
func protoNoRetry(v string) map[string]string {
	return map[string]string{"X-Inngest-No-Retry": v, "Retry-After": ""}
}

// protocolFile reads testdata/protocol/name.
func protoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "protocol", name))
	require.NoError(t, err)
	return b
}

// protoVersioned are the places where a golden file holds the SDK's
// version, and the placeholder the file holds there instead, so that a
// release that changes Version leaves the golden files as they are. A
// payload with any other version is not rewritten and so fails the
// comparison.
var protoVersioned = strings.NewReplacer(
	`"sdk":"go-inngest:v`+inngest.Version+`"`, `"sdk":"go-inngest:v{{Version}}"`,
	`"sdk_version":"`+inngest.Version+`"`, `"sdk_version":"{{Version}}"`,
)

// assertGolden compares got with testdata/protocol/name, or rewrites the
// file with -update-protocol. The SDK's version is compared as the
// placeholder {{Version}} (see protoVersioned).
func protoGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "protocol", name)
	got = []byte(protoVersioned.Replace(string(got)))
	if *protoUpdate {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	wantBytes, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(wantBytes), string(got), "golden file %s (rerun with -update-protocol to rewrite it, then review it)", path)
}

func protoHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func protoSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

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

// retryAtTime is when demo-retryat asks to be retried.
var protoRetryAt = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// bigSize is the length of each of demo-big's first two step results.
const protoBigSize = 2_500_000

type protoStepsData struct {
	N int `json:"n"`
}

type protoExhaustData struct {
	Key  string `json:"key"`
	User int    `json:"user"`
}

// call is one execution of user code seen by the demo app.
type protoCall struct {
	Fn   string
	Info inngest.RunInfo
}

// recorder collects the calls of the demo app's functions.
type protoRecorder struct {
	mu    sync.Mutex
	calls []protoCall
}

func (r *protoRecorder) add(fn string, info inngest.RunInfo) {
	r.mu.Lock()
	r.calls = append(r.calls, protoCall{fn, info})
	r.mu.Unlock()
}

func (r *protoRecorder) all() []protoCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protoCall(nil), r.calls...)
}

// newDemoApp creates the demo app's functions on c.
func protoDemoApp(t *testing.T, c *inngest.Client) *protoRecorder {
	t.Helper()
	rec := &protoRecorder{}
	must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "steps"}, inngest.EventTrigger("demo/steps", nil),
		func(ctx context.Context, in inngest.Input[protoStepsData]) (any, error) {
			rec.add("steps", in.RunInfo)
			a, err := step.Run(ctx, "a", func(ctx context.Context) (protoStepsData, error) {
				return protoStepsData{N: in.Event.Data.N}, nil
			})
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", time.Second); err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) { return a.N + 1, nil })
			if err != nil {
				return nil, err
			}
			return map[string]any{"a": a, "b": b}, nil
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "retry", Retries: inngest.Ptr(2)}, inngest.EventTrigger("demo/retry", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("retry", in.RunInfo)
			return step.Run(ctx, "flaky", func(ctx context.Context) (int, error) {
				if in.Attempt < 2 {
					return 0, errors.New("flaky")
				}
				return 3, nil
			})
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:      "exhaust",
		Retries: inngest.Ptr(1),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[protoExhaustData]) (any, error) {
			rec.add("exhaust-failure", f.Handler)
			return map[string]any{"failed_run": f.RunID, "message": f.Error.Message, "user": f.Event.Data.User}, nil
		}),
	}, inngest.EventTrigger("demo/exhaust", nil),
		func(ctx context.Context, in inngest.Input[protoExhaustData]) (any, error) {
			rec.add("exhaust", in.RunInfo)
			return step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				return "", errors.New("card declined")
			})
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "noretry", Retries: inngest.Ptr(3)}, inngest.EventTrigger("demo/noretry", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("noretry", in.RunInfo)
			return nil, inngest.NoRetryError(errors.New("fatal"))
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "caught", Retries: inngest.Ptr(0)}, inngest.EventTrigger("demo/caught", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("caught", in.RunInfo)
			_, err := step.Run(ctx, "risky", func(ctx context.Context) (string, error) {
				return "", errors.New("nope")
			})
			var se *inngest.StepError
			if !errors.As(err, &se) {
				return "not compensated", err
			}
			return step.Run(ctx, "compensate", func(ctx context.Context) (string, error) {
				return "compensated", nil
			})
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "retryat", Retries: inngest.Ptr(1)}, inngest.EventTrigger("demo/retryat", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("retryat", in.RunInfo)
			if in.Attempt == 0 {
				return nil, inngest.RetryAtError(errors.New("later"), protoRetryAt)
			}
			return map[string]int{"attempt": in.Attempt}, nil
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "big"}, inngest.EventTrigger("demo/big", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("big", in.RunInfo)
			s1, err := step.Run(ctx, "s1", func(ctx context.Context) (string, error) { return strings.Repeat("a", protoBigSize), nil })
			if err != nil {
				return nil, err
			}
			s2, err := step.Run(ctx, "s2", func(ctx context.Context) (string, error) { return strings.Repeat("b", protoBigSize), nil })
			if err != nil {
				return nil, err
			}
			return step.Run(ctx, "s3", func(ctx context.Context) (int, error) { return len(s1) + len(s2), nil })
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "boom"}, inngest.EventTrigger("demo/boom", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("boom", in.RunInfo)
			panic("boom")
		}))
	return rec
}

// fuzzHandler returns the handler of an app with hardFunctions, talking
// to a fake API that answers every request successfully.
func fuzzHandler(f *testing.F, mode inngest.Mode) http.Handler {
	api := testkit.NewFakeAPI(f, okAPI)
	opts := inngest.ClientOpts{Mode: mode, APIBaseURL: api.URL, EventAPIBaseURL: api.URL, EventKey: hardEventKey}
	if mode == inngest.ModeCloud {
		opts.SigningKey, opts.SigningKeyFallback = hardKey, hardKeyFB
	}
	c := testClient(f, opts)
	hardFunctions(f, c)
	return c.Serve()
}

// fuzzTarget builds a call URL: sel picks the fnId (composite, bare,
// another function, a companion, missing, unknown) or the trust probe.
func fuzzTarget(sel uint8, stepID string) string {
	q := url.Values{}
	switch sel % 7 {
	case 0:
		q.Set("fnId", "hard-seq")
	case 1:
		q.Set("fnId", "seq")
	case 2:
		q.Set("fnId", "hard-typed")
	case 3:
		q.Set("fnId", "hard-seq-failure")
	case 4:
	case 5:
		q.Set("fnId", "hard-nope")
	case 6:
		q.Set("probe", "trust")
	}
	q.Set("stepId", stepID)
	return "/api/inngest?" + q.Encode()
}

// addCallSeeds adds bodies close to what the server sends.
func addCallSeeds(f *testing.F, add func(body []byte, sel uint8, stepID string)) {
	seeds := [][]byte{
		callBody(f, hardData{N: 1}, nil, nil),
		callBody(f, hardData{N: 2}, map[string]json.RawMessage{seqSteps[0].hash: json.RawMessage(`{"data":2}`)}, nil),
		callBody(f, hardData{N: 3, Mode: "panic"}, nil, nil),
		callBody(f, hardData{N: 3, Mode: "noretry"}, nil, nil),
		callBody(f, hardData{N: 3, Mode: "retryat"}, nil, nil),
		callBody(f, hardData{N: 4}, nil, func(r *wire.Request) { r.UseAPI = true }),
		callBody(f, map[string]any{"function_id": "hard-seq", "run_id": "R", "error": map[string]any{"name": "Error", "message": "x"}, "event": map[string]any{"name": "hard/seq", "data": map[string]any{"n": 1}}}, nil, nil),
		[]byte(`{"steps":[],"ctx":"x"}`),
		[]byte(`{"ctx":{"attempt":"1"}}`),
		[]byte(`{"event":{"data":{"count":"two"}}}`),
		[]byte(`null`),
		[]byte(``),
		[]byte(`{"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"data":"not an int"}}}`),
		[]byte(`{"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"error":{"name":"E","message":"m"}}}}`),
		[]byte(`{"steps":{"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8":{"input":[{"n":9}]}}}`),
	}
	for i, b := range seeds {
		add(b, uint8(i), "step")
	}
	add(seeds[1], 0, seqSteps[2].hash)
	add(seeds[0], 0, seqSteps[0].hash)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// keyHex is a signing key without its "signkey-<env>-" prefix.
func keyHex(key string) string { return key[strings.LastIndexByte(key, '-')+1:] }

// bearerHex is the hex SHA-256 of the key's hex-decoded bytes: the
// hashed form Inngest accepts as an API credential.
func bearerHex(key string) string {
	raw, err := hex.DecodeString(keyHex(key))
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// requireNoSecrets fails when text holds a key, or any 12-character
// fragment from the start of a key's secret part. Hashes of the keys are
// allowed only where the caller proved it knows a key (hashed is true).
func requireNoSecrets(tb testing.TB, text string, hashed bool) {
	tb.Helper()
	secrets := map[string]string{
		"signing key":          keyHex(hardKey),
		"fallback signing key": keyHex(hardKeyFB),
		"event key":            hardEventKey,
	}
	if !hashed {
		secrets["signing key hash"] = bearerHex(hardKey)
		secrets["fallback signing key hash"] = bearerHex(hardKeyFB)
		secrets["event key hash"] = sha256Hex(hardEventKey)
	}
	for name, s := range secrets {
		for _, frag := range []string{s, s[:12], s[len(s)-12:]} {
			require.NotContainsf(tb, text, frag, "the %s leaked", name)
		}
	}
}

// unusedPortURL returns the URL of a local port nothing listens on.
func unusedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	return u
}

// countedApp is a client with one function, "count", that counts its
// runs and returns its event's n.
func countedApp(t *testing.T, opts inngest.ClientOpts) (*inngest.Client, *atomic.Int64) {
	t.Helper()
	c := testClient(t, opts)
	var runs atomic.Int64
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "count"}, inngest.EventTrigger("hard/count", nil),
		func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			runs.Add(1)
			return in.Event.Data.N, nil
		})
	require.NoError(t, err)
	return c, &runs
}

func withSig(r *http.Request, sig string) *http.Request {
	r.Header.Set("X-Inngest-Signature", sig)
	return r
}

// leakCheck makes the test fail if, once it and its cleanups are done,
// a goroutine it started is still running. Call it first.
func leakCheck(t testing.TB) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		if leaked := waitForLeaks(before, 2*time.Second); len(leaked) > 0 {
			t.Errorf("found unexpected goroutines:\n%s", strings.Join(leaked, "\n\n"))
		}
	})
}

// waitForLeaks returns the stacks of the goroutines not in before that
// are still running after up to wait: goroutines that end soon after the
// test (a server's connection handlers, say) get that long.
func waitForLeaks(before map[int]string, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		var leaked []string
		for id, stack := range goroutines() {
			if _, old := before[id]; !old && !testingGoroutine(stack) {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			slices.Sort(leaked)
			return leaked
		}
		time.Sleep(delay)
	}
}

// testingGoroutine reports whether a stack is one of the testing
// package's own goroutines (other tests' runners), which are no leak.
func testingGoroutine(stack string) bool {
	return strings.Contains(stack, "\ncreated by testing.") || strings.Contains(stack, "\ntesting.RunTests(")
}

// goroutines returns every goroutine's stack by its ID.
func goroutines() map[int]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		// "goroutine 12 [chan receive]:"
		rest, ok := bytes.CutPrefix(g, []byte("goroutine "))
		if !ok {
			continue
		}
		idText, _, _ := bytes.Cut(rest, []byte(" "))
		id, err := strconv.Atoi(string(idText))
		if err != nil {
			continue
		}
		out[id] = string(g)
	}
	return out
}

// leakRecorder is a testing.TB that records errors and runs its
// cleanups when asked.
type leakRecorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *leakRecorder) Helper() {}

func (r *leakRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *leakRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *leakRecorder) finish() {
	for _, f := range slices.Backward(r.cleanups) {
		f()
	}
}

// The leak check finds a goroutine the test left running, names it by
// its stack, and lets a goroutine that ends soon after the test go.
func TestLeakCheck(t *testing.T) {
	stop := make(chan struct{})
	rec := &leakRecorder{TB: t}
	leakCheck(rec)
	go parkUntilClosed(stop)
	rec.finish()
	close(stop)
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "found unexpected goroutines") || !strings.Contains(rec.errs[0], "parkUntilClosed") {
		t.Fatalf("want one error naming parkUntilClosed, got %q", rec.errs)
	}

	rec = &leakRecorder{TB: t}
	leakCheck(rec)
	go func() { time.Sleep(50 * time.Millisecond) }()
	rec.finish()
	if len(rec.errs) != 0 {
		t.Fatalf("a goroutine that ends soon is no leak: %q", rec.errs)
	}

	// Goroutines that existed before the check are not its business.
	stop2 := make(chan struct{})
	defer close(stop2)
	go parkUntilClosed(stop2)
	rec = &leakRecorder{TB: t}
	leakCheck(rec)
	rec.finish()
	if len(rec.errs) != 0 {
		t.Fatalf("an older goroutine is no leak: %q", rec.errs)
	}
}

func parkUntilClosed(c chan struct{}) { <-c }
