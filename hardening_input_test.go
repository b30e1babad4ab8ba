package inngest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/go-inngest/inngest/step"
)

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

func withSig(r *http.Request, sig string) *http.Request {
	r.Header.Set("X-Inngest-Signature", sig)
	return r
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
