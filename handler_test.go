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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/go-inngest/inngest/step"
)

const countURL = "/api/inngest?fnId=hard-count&stepId=step"

func TestWrongMethodIs405WithAllow(t *testing.T) {
	c, _ := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	for _, m := range []string{http.MethodDelete, http.MethodPatch, http.MethodOptions, http.MethodTrace, "BREW"} {
		t.Run(m, func(t *testing.T) {
			rec := serve(c.Serve(), httptest.NewRequest(m, countURL, nil))
			requireRejected(t, rec, http.StatusMethodNotAllowed, m)
			allow := strings.Split(rec.Header().Get("Allow"), ", ")
			assert.Subset(t, allow, []string{"GET", "POST", "PUT"})
		})
	}
}

func TestUnknownOrMissingFunction(t *testing.T) {
	body := callBody(t, hardData{N: 1}, nil, nil)
	dev, _ := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	rec := serve(dev.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-nope&stepId=step", body, ""))
	requireRejected(t, rec, http.StatusNotFound, `"hard-nope"`)
	rec = serve(dev.Serve(), hardReq(t, http.MethodPost, "/api/inngest?stepId=step", body, ""))
	requireRejected(t, rec, http.StatusBadRequest, "fnId")

	// In cloud mode the signature comes first: an unsigned caller cannot
	// tell which functions exist.
	cloud, _ := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey})
	rec = serve(cloud.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-nope&stepId=step", body, ""))
	requireRejected(t, rec, http.StatusUnauthorized, "X-Inngest-Signature")
	rec = serve(cloud.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-nope&stepId=step", body, hardKey))
	requireRejected(t, rec, http.StatusNotFound, `"hard-nope"`)
}

// TestMalformedCallBodies: bodies that are not a call request are 400
// (retried, as the server may have sent a truncated body) and never run
// the function.
func TestMalformedCallBodies(t *testing.T) {
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	for name, body := range map[string]string{
		"empty":             ``,
		"truncated":         `{"event":{"data":{"n":1}`,
		"not JSON":          `nope`,
		"trailing garbage":  `{"event":{"data":{"n":1}}} x`,
		"a string":          `"call"`,
		"an array":          `[{"event":{}}]`,
		"steps is an array": `{"event":{"data":{"n":1}},"steps":[]}`,
		"ctx is a string":   `{"event":{"data":{"n":1}},"ctx":"x"}`,
		"attempt a string":  `{"event":{"data":{"n":1}},"ctx":{"attempt":"1"}}`,
		"events an object":  `{"event":{"data":{"n":1}},"events":{}}`,
		"stack a string":    `{"event":{"data":{"n":1}},"ctx":{"stack":{"stack":"x"}}}`,
		"version a string":  `{"event":{"data":{"n":1}},"version":"2"}`,
		"use_api a string":  `{"event":{"data":{"n":1}},"use_api":"yes"}`,
		"attempt too big":   `{"event":{"data":{"n":1}},"ctx":{"attempt":1e400}}`,
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(c.Serve(), hardReq(t, http.MethodPost, countURL, []byte(body), ""))
			requireRejected(t, rec, http.StatusBadRequest, "not a valid request")
			assert.Equal(t, "false", rec.Header().Get("X-Inngest-No-Retry"))
		})
	}
	assert.Zero(t, runs.Load(), "the function never ran")
}

// TestEventThatDoesNotFitIsNonRetriable: a well-formed call whose event
// does not decode into the function's type fails the run at once, before
// the function runs, naming the type.
func TestEventThatDoesNotFitIsNonRetriable(t *testing.T) {
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	for name, body := range map[string]string{
		"event a string":         `{"event":"x"}`,
		"data of the wrong type": `{"event":{"name":"hard/count","data":{"n":"one"}}}`,
		"data an array":          `{"event":{"name":"hard/count","data":[]}}`,
		"a bad batch event":      `{"event":{"name":"hard/count","data":{"n":1}},"events":[{"data":{"n":1}},{"data":{"n":true}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(c.Serve(), hardReq(t, http.MethodPost, countURL, []byte(body), ""))
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			requireWellFormed(t, rec)
			assert.Equal(t, "true", rec.Header().Get("X-Inngest-No-Retry"))
			var e wire.Error
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			assert.Equal(t, "NonRetriableError", e.Name)
			assert.Contains(t, e.Message, "inngest_test.hardData")
		})
	}
	assert.Zero(t, runs.Load())
}

// TestMissingFieldsTakeZeroValues: the server always sends every field;
// a call without them still runs, with zero values, and answers
// normally.
func TestMissingFieldsTakeZeroValues(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	hardFunctions(t, c)
	for _, body := range []string{`{}`, `null`, `{"event":{"name":"hard/seq"}}`, `{"event":null,"events":null,"steps":null,"ctx":null}`} {
		t.Run(body, func(t *testing.T) {
			rec := serve(c.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", []byte(body), ""))
			require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
			requireWellFormed(t, rec)
			var ops []wire.Op
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ops))
			require.Len(t, ops, 1)
			assert.Equal(t, wire.OpStepRun, ops[0].Op)
			assert.Equal(t, seqSteps[0].hash, ops[0].ID)
			assert.JSONEq(t, `0`, string(ops[0].Data), "step a ran with the zero event")
		})
	}
}

// TestOversizedBodyIs413: bodies over ClientOpts.MaxBodySize are refused
// whether their length is declared or they arrive chunked, on every
// method that reads a body; a body of exactly the limit is read.
func TestOversizedBodyIs413(t *testing.T) {
	const limit = 1024
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeDev, MaxBodySize: limit})
	pad := func(n int) []byte {
		b := []byte(`{"event":{"data":{"n":7}}}`)
		return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
	}

	rec := serve(c.Serve(), hardReq(t, http.MethodPost, countURL, pad(limit), ""))
	require.Equal(t, http.StatusOK, rec.Code, "a body of exactly the limit is fine: %s", rec.Body)
	assert.Equal(t, "7", rec.Body.String())
	require.EqualValues(t, 1, runs.Load())

	for _, target := range []string{countURL, "/api/inngest?probe=trust"} {
		rec = serve(c.Serve(), hardReq(t, http.MethodPost, target, pad(limit+1), ""))
		requireRejected(t, rec, http.StatusRequestEntityTooLarge, "MaxBodySize")
	}
	rec = serve(c.Serve(), hardReq(t, http.MethodPut, "/api/inngest", pad(limit+1), ""))
	requireRejected(t, rec, http.StatusRequestEntityTooLarge, "MaxBodySize")

	// Chunked, through a real server: no Content-Length to go by.
	var chunked atomic.Int64
	h := c.Serve()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == -1 && len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked" {
			chunked.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		req, err := http.NewRequest(method, srv.URL+countURL, io.MultiReader(bytes.NewReader(pad(limit)), strings.NewReader("x")))
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(b))
		assert.Contains(t, string(b), "MaxBodySize")
	}
	assert.EqualValues(t, 2, chunked.Load(), "both requests arrived chunked")
	assert.EqualValues(t, 1, runs.Load(), "no oversized call ran the function")
}

// TestSignatureChecks runs the cloud-mode signature cases: only a fresh
// signature of the very body, by the signing key or its fallback, runs
// the function.
func TestSignatureChecks(t *testing.T) {
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB})
	body := []byte(`{"event":{"data":{"n":3}}}`)
	now := time.Now()
	cases := []struct {
		name   string
		header string
		body   []byte
		err    string // "" means accepted
	}{
		{"primary key", sign(t, hardKey, now, body), body, ""},
		{"fallback key", sign(t, hardKeyFB, now, body), body, ""},
		{"4 minutes old", sign(t, hardKey, now.Add(-4*time.Minute), body), body, ""},
		{"4 minutes ahead", sign(t, hardKey, now.Add(4*time.Minute), body), body, ""},
		{"missing", "", body, "no X-Inngest-Signature"},
		{"stale", sign(t, hardKey, now.Add(-6*time.Minute), body), body, "more than 5 minutes"},
		{"future", sign(t, hardKey, now.Add(6*time.Minute), body), body, "more than 5 minutes"},
		{"another key", sign(t, hardOtherKey, now, body), body, "does not match"},
		{"another body", sign(t, hardKey, now, body), []byte(`{"event":{"data":{"n":4}}}`), "does not match"},
		{"trailing newline: calls are verified as sent", sign(t, hardKey, now, body), append(append([]byte(nil), body...), '\n'), "does not match"},
		{"empty body", sign(t, hardKey, now, body), []byte{}, "does not match"},
		{"t changed", strings.Replace(sign(t, hardKey, now, body), "t=", "t=1", 1), body, "more than 5 minutes"},
		{"s truncated", sign(t, hardKey, now, body)[:40], body, "malformed"},
		{"no s", "t=" + itoa(int(now.Unix())), body, "malformed"},
		{"not a query", "garbage;;", body, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runs.Load()
			req := httptest.NewRequest(http.MethodPost, countURL, bytes.NewReader(tc.body))
			if tc.header != "" {
				req.Header.Set("X-Inngest-Signature", tc.header)
			}
			rec := serve(c.Serve(), req)
			if tc.err == "" {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				assert.Equal(t, before+1, runs.Load())
				return
			}
			requireRejected(t, rec, http.StatusUnauthorized, tc.err)
			assert.Equal(t, before, runs.Load(), "a refused call does not run the function")
		})
	}
}

// TestSignatureReplayWithinWindow documents a limit of the protocol: a
// signature covers the body and a timestamp, not a nonce, so the same
// signed request is accepted again while it is less than five minutes
// old. (The server may legitimately resend a request; what it runs is
// keyed by the body's run and step, and finished steps are memoized.)
func TestSignatureReplayWithinWindow(t *testing.T) {
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey})
	body := []byte(`{"event":{"data":{"n":3}}}`)
	header := sign(t, hardKey, time.Now(), body)
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, countURL, bytes.NewReader(body))
		req.Header.Set("X-Inngest-Signature", header)
		rec := serve(c.Serve(), req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	assert.EqualValues(t, 2, runs.Load())
}

// TestCanonicalFormOnlyForSmallSyncBodies: a signature over the
// canonical (JCS) form of a body is accepted for the sync PUT, which the
// server signs that way, and only for small bodies; calls, which arrive
// canonical, are verified over the body as sent. Canonicalizing costs
// far more than an HMAC, and an unauthenticated sender chooses the body.
func TestCanonicalFormOnlyForSmallSyncBodies(t *testing.T) {
	api := testkit.NewFakeAPI(t, okAPI)
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, APIBaseURL: api.URL, MaxBodySize: 4 << 20})
	syncReq := func(body, signed []byte) *http.Request {
		return withSig(httptest.NewRequest(http.MethodPut, "/api/inngest", bytes.NewReader(body)), sign(t, hardKey, time.Now(), signed))
	}

	// The server's sync body: json.Marshal escapes '&', JCS does not.
	rec := serve(c.Serve(), syncReq([]byte(`{"url":"http://app.test/api/inngest?a=1\u0026b=2"}`), []byte(`{"url":"http://app.test/api/inngest?a=1&b=2"}`)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	// A long URL, up to 8 KiB of body.
	long := "http://app.test/api/inngest?" + strings.Repeat("a=1\u0026", (8<<10-40)/9)
	body := []byte(`{"url":"` + long + `"}`)
	require.LessOrEqual(t, len(body), 8<<10)
	rec = serve(c.Serve(), syncReq(body, []byte(strings.ReplaceAll(string(body), `\u0026`, "&"))))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, api.Requests(), 2, "both syncs registered the app")

	// Beyond 8 KiB only the body as sent counts.
	big := []byte(`{"pad":"` + strings.Repeat("x", 8<<10) + `", "url":"http://app.test/api/inngest"}`)
	canon := []byte(`{"pad":"` + strings.Repeat("x", 8<<10) + `","url":"http://app.test/api/inngest"}`)
	rec = serve(c.Serve(), syncReq(big, canon))
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "does not match")
	rec = serve(c.Serve(), syncReq(canon, canon))
	require.Equal(t, http.StatusOK, rec.Code, "a large body signed as sent is fine: %s", rec.Body)

	// A call whose canonical form was signed, but not its bytes, is refused.
	small := []byte(`{ "event": {"data": {"n": 3}} }`)
	rec = serve(c.Serve(), withSig(httptest.NewRequest(http.MethodPost, countURL, bytes.NewReader(small)), sign(t, hardKey, time.Now(), []byte(`{"event":{"data":{"n":3}}}`))))
	requireRejected(t, rec, http.StatusUnauthorized, "does not match")
	rec = serve(c.Serve(), withSig(httptest.NewRequest(http.MethodPost, countURL, bytes.NewReader(small)), sign(t, hardKey, time.Now(), small)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.EqualValues(t, 1, runs.Load())
}

// TestEmptySigningKey: cloud mode refuses to start without a usable key,
// and signing needs one.
func TestEmptySigningKey(t *testing.T) {
	testkit.IsolateEnv(t)
	for _, key := range []string{"", "signkey-prod-", "   ", "signkey-prod-xyz", "abc"} {
		_, err := inngest.NewClient(inngest.ClientOpts{AppID: hardApp, Mode: inngest.ModeCloud, SigningKey: key})
		assert.Error(t, err, "key %q", key)
		_, err = inngest.Sign(key, time.Now(), []byte(`{}`))
		assert.Error(t, err, "Sign with key %q", key)
	}
	// Dev mode needs no key and checks nothing.
	c, runs := countedApp(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	rec := serve(c.Serve(), hardReq(t, http.MethodPost, countURL, []byte(`{"event":{"data":{"n":1}}}`), ""))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.EqualValues(t, 1, runs.Load())
}

// TestMemoThatDoesNotFitNamesTheStep: a memoized result that no longer
// decodes into the step's type (the code changed between calls) fails
// the run without retries, naming the step and the type, in discovery
// and in targeted calls.
func TestMemoThatDoesNotFitNamesTheStep(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	hardFunctions(t, c)
	for name, memo := range map[string]string{
		"wrong type":        `{"data":"not a pair"}`,
		"wrong field":       `{"data":{"x":"1"}}`,
		"not a memo":        `5`,
		"error of a number": `{"error":{"name":1}}`,
	} {
		for _, stepID := range []string{"step", seqSteps[3].hash} {
			t.Run(name+"/"+stepID[:4], func(t *testing.T) {
				steps := memoUpTo(2)
				steps[seqSteps[2].hash] = json.RawMessage(memo)
				body := callBody(t, hardData{N: 1}, steps, nil)
				rec := serve(c.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-seq&stepId="+stepID, body, ""))
				require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
				requireWellFormed(t, rec)
				assert.Equal(t, "true", rec.Header().Get("X-Inngest-No-Retry"))
				var e wire.Error
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
				assert.Equal(t, "NonRetriableError", e.Name)
				assert.Contains(t, e.Message, `step "b"`)
				assert.Contains(t, e.Message, "hardPair")
			})
		}
	}
}

// panicky is a result whose JSON encoding panics.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("MarshalJSON panicked") }

// panickyErr is an error whose text panics.
type panickyErr struct{}

func (panickyErr) Error() string { panic("Error panicked") }

// TestPanicsWhileAnsweringAreCaught: user values that panic while the
// answer is built (a result's MarshalJSON, an error's Error) give a 500,
// not a crashed handler.
func TestPanicsWhileAnsweringAreCaught(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	fns := map[string]func(ctx context.Context, in inngest.Input[hardData]) (any, error){
		"marshal": func(ctx context.Context, in inngest.Input[hardData]) (any, error) { return panicky{}, nil },
		"error":   func(ctx context.Context, in inngest.Input[hardData]) (any, error) { return nil, panickyErr{} },
		"step-marshal": func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			return step.Run(ctx, "s", func(ctx context.Context) (panicky, error) { return panicky{}, nil })
		},
		"step-error": func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			return step.Run(ctx, "s", func(ctx context.Context) (int, error) { return 0, panickyErr{} })
		},
	}
	for id, fn := range fns {
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: id}, inngest.EventTrigger("hard/p", nil), fn)
		require.NoError(t, err)
	}
	for id := range fns {
		t.Run(id, func(t *testing.T) {
			rec := serve(c.Serve(), hardReq(t, http.MethodPost, "/api/inngest?fnId=hard-"+id+"&stepId=step", callBody(t, hardData{}, nil, nil), ""))
			requireWellFormed(t, rec)
			assert.Contains(t, []int{http.StatusInternalServerError, http.StatusPartialContent}, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), "panicked")
		})
	}
}

// refusalCPUBound is the CPU time the README promises for refusing an
// unsigned or wrongly signed request of up to 1 MiB with both keys set
// (about 1 ms an HMAC; canonicalization used to cost 100 ms or more).
// The race detector's instrumentation multiplies it.
const refusalCPUBound = 5 * time.Millisecond * raceSlowdown

// manyKeys returns a JSON object of n bytes or a little less, made of
// many short keys: the shape that costs canonicalization the most.
func manyKeys(n int) []byte {
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('{')
	for i := 0; ; i++ {
		kv := `"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i%10)
		if b.Len()+len(kv)+2 > n {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// processCPU is the CPU time, user and system, used so far by the whole
// process: every thread, the garbage collector's included.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRefusingCostsLittleCPU: refusing a request with no signature, a
// malformed one, a wrong one or an expired one costs at most a few
// milliseconds of CPU, whatever the body: a body of just under 1 MiB of
// many small keys, which canonicalization would take a few hundred
// milliseconds over, for calls, syncs and trust probes. Both keys are
// set, so a wrong signature costs two HMACs.
//
// The cost is the process's CPU time (getrusage, all threads, garbage
// collection included) over a batch of requests, divided by their
// number; the least of three batches counts, so that work the runtime
// does for other reasons does not fail the test. No other test runs
// meanwhile (none of this package's tests is parallel with it).
func TestRefusingCostsLittleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU time")
	}
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB})
	hardFunctions(t, c)
	h := c.Serve()
	big := manyKeys(1<<20 - 64)
	small := manyKeys(8 << 10) // the largest body whose canonical form is checked
	now := time.Now()
	headers := map[string]func(body []byte) string{
		"no signature": func([]byte) string { return "" },
		"malformed":    func([]byte) string { return "t=" + strconv.FormatInt(now.Unix(), 10) + "&s=not-hex" },
		"wrong":        func(b []byte) string { return sign(t, hardOtherKey, now, b) },
		"expired":      func(b []byte) string { return sign(t, hardKey, now.Add(-10*time.Minute), b) },
	}
	targets := []struct{ method, target string }{
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step"},
		{http.MethodPut, "/api/inngest"},
		{http.MethodPost, "/api/inngest?probe=trust"},
	}
	const batch, rounds = 16, 3
	t.Logf("GOMAXPROCS=%d, %d requests a batch, the least of %d batches", runtime.GOMAXPROCS(0), batch, rounds)
	for _, tg := range targets {
		for _, name := range []string{"no signature", "malformed", "wrong", "expired"} {
			for _, body := range [][]byte{big, small} {
				label := tg.method + " " + strings.TrimPrefix(tg.target, "/api/inngest") + ", " + name + ", " + strconv.Itoa(len(body)) + " bytes"
				header := headers[name](body)
				do := func() {
					req := httptest.NewRequest(tg.method, tg.target, bytes.NewReader(body))
					if header != "" {
						req.Header.Set("X-Inngest-Signature", header)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusUnauthorized {
						t.Fatalf("%s: answered %d, not 401: %s", label, rec.Code, rec.Body)
					}
				}
				do() // warm up
				best := time.Duration(1 << 62)
				for range rounds {
					runtime.GC()
					start := processCPU(t)
					for range batch {
						do()
					}
					best = min(best, (processCPU(t)-start)/batch)
				}
				t.Logf("%s: %v of CPU a refusal", label, best)
				if best > refusalCPUBound {
					t.Errorf("%s: refusing costs %v of CPU, more than %v", label, best, refusalCPUBound)
				}
			}
		}
	}
}

// TestSecretsStayOutOfLogsErrorsAndBodies drives every path that logs or
// fails, with keys configured, and looks for key material in the log,
// the answers and the errors.
func TestSecretsStayOutOfLogsErrorsAndBodies(t *testing.T) {
	log, logs := testkit.RecordingLogger()
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"refused"}`)
	})
	c := testClient(t, inngest.ClientOpts{
		Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB, EventKey: hardEventKey,
		APIBaseURL: api.URL, EventAPIBaseURL: api.URL, AllowInBandSync: true, Logger: log,
		HTTPClient: &http.Client{Transport: failingEventTransport{api.Client().Transport}},
	})
	hardFunctions(t, c)
	h := c.Serve()
	var unauth, authed strings.Builder
	note := func(rec *httptest.ResponseRecorder) {
		unauth.WriteString(rec.Body.String())
		for k, v := range rec.Header() {
			unauth.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
	}
	body := callBody(t, hardData{N: 1}, nil, nil)
	now := time.Now()
	for _, hdr := range []string{"", "t=1&s=00", sign(t, hardOtherKey, now, body), sign(t, hardKey, now.Add(-time.Hour), body), sign(t, hardKey, now, []byte(`{"other":1}`))} {
		for _, target := range []string{"/api/inngest?fnId=hard-seq&stepId=step", "/api/inngest?probe=trust"} {
			req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
			req.Header.Set("X-Inngest-Signature", hdr)
			rec := serve(h, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			note(rec)
		}
		req := httptest.NewRequest(http.MethodPut, "/api/inngest", strings.NewReader(`{"url":"http://x/api/inngest"}`))
		req.Header.Set("X-Inngest-Signature", hdr)
		req.Header.Set("X-Inngest-Sync-Kind", "in_band")
		rec := serve(h, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		note(rec)
	}
	// Signed requests that fail further on: a sync whose register is
	// refused with both keys, a use_api call whose state load is refused,
	// a panicking function and a failing step.
	for _, tc := range []struct {
		method, target string
		body           []byte
		status         int
	}{
		{http.MethodPut, "/api/inngest", []byte(`{"url":"http://x/api/inngest"}`), http.StatusInternalServerError},
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", callBody(t, hardData{}, nil, func(r *wire.Request) { r.UseAPI = true }), http.StatusInternalServerError},
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=step", callBody(t, hardData{Mode: "panic"}, nil, nil), http.StatusInternalServerError},
		{http.MethodPost, "/api/inngest?fnId=hard-seq&stepId=" + seqSteps[7].hash, callBody(t, hardData{}, memoUpTo(7), nil), http.StatusPartialContent},
	} {
		rec := serve(h, hardReq(t, tc.method, tc.target, tc.body, hardKey))
		require.Equalf(t, tc.status, rec.Code, "%s %s: %s", tc.method, tc.target, rec.Body)
		note(rec)
	}
	// Verified requests may learn the key hashes (not the keys).
	req := hardReq(t, http.MethodPut, "/api/inngest", []byte(`{"url":"http://x/api/inngest"}`), hardKey)
	req.Header.Set("X-Inngest-Sync-Kind", "in_band")
	rec := serve(h, req)
	require.Equal(t, http.StatusOK, rec.Code)
	authed.WriteString(rec.Body.String())
	rec = serve(h, hardReq(t, http.MethodPost, "/api/inngest?probe=trust", nil, hardKey))
	require.Equal(t, http.StatusOK, rec.Code)
	note(rec)

	// Sending: a refused key and a network failure.
	_, err := c.Send(context.Background(), inngest.Event[any]{Name: "hard/x"})
	require.Error(t, err)
	unauth.WriteString(err.Error())

	// A malformed key in the options.
	_, err = inngest.NewClient(inngest.ClientOpts{AppID: "x", Mode: inngest.ModeCloud, SigningKey: "signkey-prod-" + keyHex(hardKey) + "zz"})
	require.Error(t, err)
	unauth.WriteString(err.Error())

	requireNoSecrets(t, unauth.String(), false)
	requireNoSecrets(t, authed.String(), true)
	requireNoSecrets(t, logs.String(), false)
	// The paths above did log: the check looked at real output.
	for _, want := range []string{"rejected a request", "rejected a sync request", "sync failed", "fallback key", "panicked", "loading the run's state", "sending events failed"} {
		assert.Contains(t, logs.String(), want)
	}
}

// failingEventTransport fails every request to the event API (paths
// under /e/) at the network level and passes the others on.
type failingEventTransport struct{ next http.RoundTripper }

func (f failingEventTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/e/") {
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// loadCall is one call of the load test and the answer it must get.
type loadCall struct {
	fn     int
	target string
	body   []byte
	status int
	op     wire.Op // 206: the one opcode (ID, Op, Data, Opts as JSON)
	result string  // 200: the body
}

// TestConcurrentCallsAcrossFunctions runs 2000 signed calls on 50
// functions from 32 goroutines, each call at one of the four stages of
// its run, mixed with introspection, and checks every answer. Run with
// -race; no goroutine may be left behind.
func TestConcurrentCallsAcrossFunctions(t *testing.T) {
	leakCheck(t)
	const fns, runsPerFn, workers = 50, 10, 32
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, SigningKeyFallback: hardKeyFB})
	for i := range fns {
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: fmt.Sprint("load-", i)}, inngest.EventTrigger("hard/load", nil),
			func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
				a, err := step.Run(ctx, "a", func(ctx context.Context) (int, error) { return in.Event.Data.N * i, nil })
				if err != nil {
					return nil, err
				}
				if err := step.Sleep(ctx, "nap", time.Duration(i+1)*time.Second); err != nil {
					return nil, err
				}
				b, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) { return a + 1, nil })
				if err != nil {
					return nil, err
				}
				return map[string]int{"fn": i, "a": a, "b": b}, nil
			})
		require.NoError(t, err)
	}
	hA, hNap, hB := wire.HashID("a", 0), wire.HashID("nap", 0), wire.HashID("b", 0)
	var calls []loadCall
	for i := range fns {
		for n := range runsPerFn {
			a := n * i
			memo := map[string]json.RawMessage{}
			for stage := range 4 {
				steps := map[string]json.RawMessage{}
				for k, v := range memo {
					steps[k] = v
				}
				lc := loadCall{fn: i, target: fmt.Sprintf("/api/inngest?fnId=hard-load-%d&stepId=step", i), body: callBody(t, hardData{N: n}, steps, nil)}
				switch stage {
				case 0:
					lc.status, lc.op = 206, wire.Op{ID: hA, Op: wire.OpStepRun, Name: "a", Data: json.RawMessage(itoa(a))}
					memo[hA] = json.RawMessage(fmt.Sprintf(`{"data":%d}`, a))
				case 1:
					lc.status, lc.op = 206, wire.Op{ID: hNap, Op: wire.OpSleep, Name: "nap", Opts: map[string]any{"duration": fmt.Sprintf("%ds", i+1)}}
					memo[hNap] = json.RawMessage(`null`)
				case 2:
					lc.status, lc.op = 206, wire.Op{ID: hB, Op: wire.OpStepRun, Name: "b", Data: json.RawMessage(itoa(a + 1))}
					memo[hB] = json.RawMessage(fmt.Sprintf(`{"data":%d}`, a+1))
				case 3:
					lc.status, lc.result = 200, fmt.Sprintf(`{"fn":%d,"a":%d,"b":%d}`, i, a, a+1)
				}
				calls = append(calls, lc)
			}
		}
	}
	require.Len(t, calls, 2000)

	h := c.Serve()
	work := make(chan loadCall)
	var wg sync.WaitGroup
	var done, introspected atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lc := range work {
				rec := serve(h, hardReq(t, http.MethodPost, lc.target, lc.body, hardKey))
				checkLoadAnswer(t, lc, rec)
				done.Add(1)
				if w%8 == 0 {
					req := httptest.NewRequest(http.MethodGet, "/api/inngest", nil)
					req.Header.Set("X-Inngest-Signature", sign(t, hardKeyFB, time.Now(), nil))
					rec := serve(h, req)
					var m map[string]any
					if assert.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m)) {
						assert.Equal(t, true, m["authentication_succeeded"])
						assert.EqualValues(t, fns, m["function_count"])
					}
					introspected.Add(1)
				}
			}
		}()
	}
	for _, lc := range calls {
		work <- lc
	}
	close(work)
	wg.Wait()
	assert.EqualValues(t, len(calls), done.Load())
	assert.Positive(t, introspected.Load())
}

func checkLoadAnswer(t *testing.T, lc loadCall, rec *httptest.ResponseRecorder) {
	if !assert.Equal(t, lc.status, rec.Code, "fn %d: %s", lc.fn, rec.Body) {
		return
	}
	if lc.status == 200 {
		assert.JSONEq(t, lc.result, rec.Body.String())
		return
	}
	var ops []map[string]json.RawMessage
	if !assert.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ops)) || !assert.Len(t, ops, 1, rec.Body.String()) {
		return
	}
	op := ops[0]
	assert.Equal(t, `"`+lc.op.ID+`"`, string(op["id"]))
	assert.Equal(t, `"`+lc.op.Op+`"`, string(op["op"]))
	assert.Equal(t, `"`+lc.op.Name+`"`, string(op["name"]))
	if lc.op.Data != nil {
		assert.JSONEq(t, string(lc.op.Data), string(op["data"]))
	}
	if lc.op.Opts != nil {
		want, _ := json.Marshal(lc.op.Opts)
		assert.JSONEq(t, string(want), string(op["opts"]))
	}
}

// TestRegisteringWhileServing creates functions while calls, syncs and
// introspection run: the client's function table is safe for concurrent
// use (run with -race) and each new function is served at once.
func TestRegisteringWhileServing(t *testing.T) {
	leakCheck(t)
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev, AllowInBandSync: true})
	h := c.Serve()
	const n = 200
	created := make(chan int, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(created)
		for i := range n {
			_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: fmt.Sprint("late-", i)}, inngest.EventTrigger("hard/late", nil),
				func(ctx context.Context, in inngest.Input[hardData]) (any, error) { return i, nil })
			if !assert.NoError(t, err) {
				return
			}
			created <- i
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range created {
				rec := serve(h, httptest.NewRequest(http.MethodPost, fmt.Sprintf("/api/inngest?fnId=hard-late-%d&stepId=step", i), bytes.NewReader(callBody(t, hardData{}, nil, nil))))
				assert.Equal(t, http.StatusOK, rec.Code)
				assert.Equal(t, fmt.Sprint(i), rec.Body.String())
				req := httptest.NewRequest(http.MethodPut, "/api/inngest", bytes.NewReader([]byte(`{"url":"http://x/api"}`)))
				req.Header.Set("X-Inngest-Sync-Kind", "in_band")
				rec = serve(h, req)
				assert.Equal(t, http.StatusOK, rec.Code)
				serve(h, httptest.NewRequest(http.MethodGet, "/api/inngest", nil))
			}
		}()
	}
	wg.Wait()
	rec := serve(h, httptest.NewRequest(http.MethodGet, "/api/inngest", nil))
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
	assert.EqualValues(t, n, m["function_count"])
}

// TestNoGoroutineLeftAfterBadEndings: runs that panic (in the function,
// in a step, in a parallel branch), exit their goroutine, or misuse the
// step tools from a goroutine of their own all answer and leave no
// goroutine behind.
func TestNoGoroutineLeftAfterBadEndings(t *testing.T) {
	leakCheck(t)
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	fns := map[string]struct {
		fn     func(ctx context.Context, in inngest.Input[hardData]) (any, error)
		status int
	}{
		"fn-panic": {func(ctx context.Context, in inngest.Input[hardData]) (any, error) { panic("fn") }, 500},
		"step-panic": {func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			return step.Run(ctx, "s", func(ctx context.Context) (int, error) { panic("step") })
		}, 206},
		"branch-panic": {func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) error {
				_, err := step.Run(ctx, "p1", func(ctx context.Context) (int, error) { return 1, nil })
				return err
			})
			g.Go(func(ctx context.Context) error { panic("branch") })
			return nil, g.Wait()
		}, 500},
		"goexit": {func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			runtime.Goexit()
			return nil, nil
		}, 500},
		"own-goroutine": {func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			errc := make(chan error)
			go func() {
				_, err := step.Run(ctx, "s", func(ctx context.Context) (int, error) { return 1, nil })
				errc <- err
			}()
			return nil, <-errc
		}, 400},
		"nested-step": {func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			return step.Run(ctx, "outer", func(ctx context.Context) (int, error) {
				return step.Run(ctx, "inner", func(ctx context.Context) (int, error) { return 1, nil })
			})
		}, 400},
	}
	for id, tc := range fns {
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: id}, inngest.EventTrigger("hard/bad", nil), tc.fn)
		require.NoError(t, err)
	}
	for id, tc := range fns {
		t.Run(id, func(t *testing.T) {
			rec := serve(c.Serve(), httptest.NewRequest(http.MethodPost, "/api/inngest?fnId=hard-"+id+"&stepId=step", bytes.NewReader(callBody(t, hardData{}, nil, nil))))
			requireWellFormed(t, rec)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
}

// TestCancelledRequestStopsUserCode: when the request's context ends (the
// server hung up), a step body waiting on its context returns, the step
// is reported as a retriable error and the handler returns.
func TestCancelledRequestStopsUserCode(t *testing.T) {
	leakCheck(t)
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	started := make(chan struct{}, 1)
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "waits"}, inngest.EventTrigger("hard/waits", nil),
		func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			if in.Event.Data.Mode == "outside" {
				started <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return step.Run(ctx, "wait", func(ctx context.Context) (int, error) {
				started <- struct{}{}
				<-ctx.Done()
				return 0, ctx.Err()
			})
		})
	require.NoError(t, err)

	for _, mode := range []string{"step", "outside"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/inngest?fnId=hard-waits&stepId=step",
				bytes.NewReader(callBody(t, hardData{Mode: mode}, nil, nil)))
			go func() {
				<-started
				cancel()
			}()
			rec := serve(c.Serve(), req)
			requireWellFormed(t, rec)
			assert.Equal(t, "false", rec.Header().Get("X-Inngest-No-Retry"), "the attempt is retried")
			if mode == "outside" {
				require.Equal(t, http.StatusInternalServerError, rec.Code)
				assert.Contains(t, rec.Body.String(), "context canceled")
				return
			}
			require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
			var ops []wire.Op
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ops))
			require.Len(t, ops, 1)
			assert.Equal(t, wire.OpStepError, ops[0].Op)
			require.NotNil(t, ops[0].Error)
			assert.Equal(t, "context canceled", ops[0].Error.Message)
		})
	}
}

// answerRecorder wraps a ResponseWriter to keep the status and body.
type answerRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) WriteHeader(code int) {
	a.status = code
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerRecorder) Write(p []byte) (int, error) {
	a.body.Write(p)
	return a.ResponseWriter.Write(p)
}

// TestClientDisconnectEndsTheCall: over a real connection, a client that
// hangs up mid-call cancels the step waiting on its context; the handler
// still answers (to nobody) and returns, and nothing is left running.
func TestClientDisconnectEndsTheCall(t *testing.T) {
	leakCheck(t)
	c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeDev})
	started := make(chan struct{})
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "hangs"}, inngest.EventTrigger("hard/hangs", nil),
		func(ctx context.Context, in inngest.Input[hardData]) (any, error) {
			return step.Run(ctx, "wait", func(ctx context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				return 0, ctx.Err()
			})
		})
	require.NoError(t, err)
	h := c.Serve()
	finished := make(chan *answerRecorder, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &answerRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		finished <- rec
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/inngest?fnId=hard-hangs&stepId=step",
		bytes.NewReader(callBody(t, hardData{}, nil, nil)))
	require.NoError(t, err)
	clientErr := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started
	cancel()
	require.True(t, errors.Is(<-clientErr, context.Canceled))

	var rec *answerRecorder
	select {
	case rec = <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler is still running 30s after the client hung up")
	}
	assert.Equal(t, http.StatusPartialContent, rec.status)
	assert.Contains(t, rec.body.String(), `"StepError"`)
	assert.Contains(t, rec.body.String(), "context canceled")
}
