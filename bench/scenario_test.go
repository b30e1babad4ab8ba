package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	official "github.com/inngest/inngestgo"
	officialstep "github.com/inngest/inngestgo/step"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// The benchmarks drive one function, written once against each SDK: it
// runs step.Run steps "s0", "s1", … in sequence, each returning a small
// item, until it reaches a step with no memoized result; that step runs
// at once (immediate execution) and the call answers 206 with its
// StepRun. A request with N memoized steps therefore replays N steps and
// runs one more, in either SDK.

const (
	appID      = "bench"
	signingKey = "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b9f3b1e6b"
	// maxSteps bounds the function's loop; no scenario memoizes more.
	maxSteps = 1001
	// bigSize is the length of the large memoized result's text.
	bigSize = 1 << 20
)

// item is what every step returns.
type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	OK   bool   `json:"ok"`
}

// page is the large result of the big-state scenario: a fetched document.
type page struct {
	URL  string `json:"url"`
	Body string `json:"body"`
}

type eventData struct {
	N int `json:"n"`
}

var stepIDs = func() []string {
	ids := make([]string, maxSteps)
	for i := range ids {
		ids[i] = "s" + strconv.Itoa(i)
	}
	return ids
}()

func newItem(i int) item { return item{ID: i, Name: "item-" + strconv.Itoa(i), OK: true} }

// sdk is one SDK's handler set up with the benchmark functions.
type sdk struct {
	name    string
	handler http.Handler
}

var discard = slog.New(slog.DiscardHandler)

// ours returns this SDK's handler in dev mode, or in cloud mode with
// signingKey when cloud is true.
func ours(tb testing.TB, cloud bool) sdk {
	tb.Helper()
	opts := inngest.ClientOpts{AppID: appID, Mode: inngest.ModeDev, Logger: discard}
	if cloud {
		opts.Mode = inngest.ModeCloud
		opts.SigningKey = signingKey
	}
	return sdk{name: "ours", handler: ourClient(tb, opts).Serve()}
}

// ourClient returns a client of this SDK made with opts, with the
// benchmark functions.
func ourClient(tb testing.TB, opts inngest.ClientOpts) *inngest.Client {
	tb.Helper()
	c, err := inngest.NewClient(opts)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "steps"}, inngest.EventTrigger("bench/steps", nil),
		func(ctx context.Context, in inngest.Input[eventData]) (any, error) {
			sum := 0
			for i, id := range stepIDs {
				it, err := step.Run(ctx, id, func(context.Context) (item, error) { return newItem(i), nil })
				if err != nil {
					return nil, err
				}
				sum += it.ID
			}
			return sum, nil
		})
	if err != nil {
		tb.Fatal(err)
	}
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "big"}, inngest.EventTrigger("bench/big", nil),
		func(ctx context.Context, in inngest.Input[eventData]) (any, error) {
			p, err := step.Run(ctx, "fetch", func(context.Context) (page, error) { return page{}, nil })
			if err != nil {
				return nil, err
			}
			return step.Run(ctx, "measure", func(context.Context) (int, error) { return len(p.Body), nil })
		})
	if err != nil {
		tb.Fatal(err)
	}
	registerGroup(tb, c)
	registerResults(tb, c)
	return c
}

// theirs returns the official SDK's handler with the same functions.
func theirs(tb testing.TB, cloud bool) sdk {
	tb.Helper()
	opts := official.ClientOpts{AppID: appID, Dev: official.BoolPtr(true), Logger: discard}
	if cloud {
		opts.Dev = official.BoolPtr(false)
		opts.SigningKey = official.StrPtr(signingKey)
	}
	return sdk{name: "official", handler: theirClient(tb, opts).Serve()}
}

// theirClient returns a client of the official SDK made with opts, with
// the benchmark functions.
func theirClient(tb testing.TB, opts official.ClientOpts) official.Client {
	tb.Helper()
	c, err := official.NewClient(opts)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = official.CreateFunction(c, official.FunctionOpts{ID: "steps"}, official.EventTrigger("bench/steps", nil),
		func(ctx context.Context, in official.Input[eventData]) (any, error) {
			sum := 0
			for i, id := range stepIDs {
				it, err := officialstep.Run(ctx, id, func(context.Context) (item, error) { return newItem(i), nil })
				if err != nil {
					return nil, err
				}
				sum += it.ID
			}
			return sum, nil
		})
	if err != nil {
		tb.Fatal(err)
	}
	_, err = official.CreateFunction(c, official.FunctionOpts{ID: "big"}, official.EventTrigger("bench/big", nil),
		func(ctx context.Context, in official.Input[eventData]) (any, error) {
			p, err := officialstep.Run(ctx, "fetch", func(context.Context) (page, error) { return page{}, nil })
			if err != nil {
				return nil, err
			}
			return officialstep.Run(ctx, "measure", func(context.Context) (int, error) { return len(p.Body), nil })
		})
	if err != nil {
		tb.Fatal(err)
	}
	registerOfficialGroup(tb, c)
	registerOfficialResults(tb, c)
	return c
}

// hashID is the wire hash of a step's first occurrence.
func hashID(id string) string {
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

// request is one call's body and URL, as the server would send it.
type request struct {
	body []byte
	url  *url.URL
	// ids are the step IDs the function finds, memoized ones first.
	ids []string
}

// buildRequest returns a call of function fn with the given memoized
// steps (step ID to memo value, in completion order). The body is in
// canonical (RFC 8785) form, as the server signs it.
func buildRequest(tb testing.TB, fn string, ids []string, memos []json.RawMessage, found []string) request {
	tb.Helper()
	ev := json.RawMessage(`{"data":{"n":1},"id":"01M89CTBSH2GFBMWW3PWMMWMQW","name":"bench/` + fn + `","ts":1795611766577,"user":{}}`)
	return buildEventRequest(tb, fn, ev, ids, memos, found)
}

// buildEventRequest is buildRequest with the triggering event ev.
func buildEventRequest(tb testing.TB, fn string, ev json.RawMessage, ids []string, memos []json.RawMessage, found []string) request {
	tb.Helper()
	steps := make(map[string]json.RawMessage, len(ids))
	stack := make([]string, 0, len(ids))
	for i, id := range ids {
		h := hashID(id)
		steps[h] = memos[i]
		stack = append(stack, h)
	}
	version := 2
	if len(ids) == 0 {
		version = -1
	}
	body := map[string]any{
		"ctx": map[string]any{
			"attempt": 0, "disable_immediate_execution": false, "env": "",
			"fn_id": "a2aa9477-7a54-5788-979c-609bc1df2ad8", "generation_id": 1, "job_id": "q3lf991g3cvj",
			"max_attempts": 5, "qi_id": "cTNsZjk5MWczY3ZqOjpkZWZhdWx0", "request_id": "01M89CTC58JKJP875B1YQNW7AT",
			"run_id": "01M89CTBZB7VAD2JPG7CN5RYB6", "stack": map[string]any{"current": len(stack), "stack": stack},
			"step_id": "step", "use_api": false,
		},
		"defers": map[string]any{},
		"event":  ev, "events": []json.RawMessage{ev},
		"steps":   steps,
		"use_api": false, "version": version,
	}
	raw, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse("http://localhost/api/inngest?fnId=" + appID + "-" + fn + "&stepId=step")
	if err != nil {
		tb.Fatal(err)
	}
	return request{body: canon, url: u, ids: found}
}

// stepsRequest memoizes the first n steps of the steps function.
func stepsRequest(tb testing.TB, n int) request {
	ids := stepIDs[:n]
	memos := make([]json.RawMessage, n)
	for i := range memos {
		b, _ := json.Marshal(map[string]item{"data": newItem(i)})
		memos[i] = b
	}
	return buildRequest(tb, "steps", ids, memos, stepIDs[:n+1])
}

// bigRequest memoizes the big function's first step: a page with a
// 1 MiB body.
func bigRequest(tb testing.TB) request {
	text := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", bigSize/57+1)[:bigSize]
	b, _ := json.Marshal(map[string]page{"data": {URL: "https://example.com/doc", Body: text}})
	return buildRequest(tb, "big", []string{"fetch"}, []json.RawMessage{b}, []string{"fetch", "measure"})
}

// httpRequest returns the request to send for rq, signed when sig is set.
func (rq request) httpRequest(sig string) *http.Request {
	r := &http.Request{
		Method:        http.MethodPost,
		URL:           rq.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(rq.body)),
		ContentLength: int64(len(rq.body)),
		Host:          rq.url.Host,
		RequestURI:    rq.url.RequestURI(),
	}
	if sig != "" {
		r.Header["X-Inngest-Signature"] = []string{sig}
	}
	return r.WithContext(context.Background())
}

// call sends rq to h and returns the recorded response.
func call(h http.Handler, rq request, sig string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, rq.httpRequest(sig))
	return w
}

// sign returns a fresh signature of rq's body.
func sign(tb testing.TB, rq request) string {
	tb.Helper()
	sig, err := inngest.Sign(signingKey, time.Now(), rq.body)
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// checkStepRun fails unless w is the 206 that runs the step want (the
// first step with no memoized result).
func checkStepRun(tb testing.TB, w *httptest.ResponseRecorder, want string) {
	tb.Helper()
	if w.Code != http.StatusPartialContent {
		tb.Fatalf("status %d, want 206; body %s", w.Code, truncate(w.Body.Bytes()))
	}
	checkStepRunBody(tb, w.Body.Bytes(), want)
}

// checkStepRunBody fails unless body is the opcodes of a 206 that runs
// the step want.
func checkStepRunBody(tb testing.TB, body []byte, want string) {
	tb.Helper()
	var ops []struct {
		ID   string          `json:"id"`
		Op   string          `json:"op"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ops); err != nil {
		tb.Fatalf("206 body %s: %v", truncate(body), err)
	}
	if len(ops) != 1 || ops[0].ID != hashID(want) || ops[0].Op != "StepRun" {
		tb.Fatalf("206 body %s, want one StepRun of %q", truncate(body), want)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// floorRequest is the least a handler must decode from a call.
type floorRequest struct {
	Event  json.RawMessage            `json:"event"`
	Events []json.RawMessage          `json:"events"`
	Steps  map[string]json.RawMessage `json:"steps"`
	Ctx    struct {
		RunID                     string `json:"run_id"`
		Attempt                   int    `json:"attempt"`
		MaxAttempts               int    `json:"max_attempts"`
		DisableImmediateExecution bool   `json:"disable_immediate_execution"`
		Stack                     struct {
			Stack []string `json:"stack"`
		} `json:"stack"`
	} `json:"ctx"`
	Version int  `json:"version"`
	UseAPI  bool `json:"use_api"`
}

// floor does the work no handler can skip: decode the body with
// encoding/json, hash every step ID the function finds and look it up.
// It reports how many were memoized.
func floor(body []byte, ids []string) (int, error) {
	var req floorRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, err
	}
	hits := 0
	var hexBuf [2 * sha1.Size]byte
	for _, id := range ids {
		sum := sha1.Sum([]byte(id))
		hex.Encode(hexBuf[:], sum[:])
		if _, ok := req.Steps[string(hexBuf[:])]; ok {
			hits++
		}
	}
	return hits, nil
}

// floorHandler is the floor as a handler, called as the SDKs are: it
// reads the body into a buffer of its Content-Length, runs floor (and
// floorVerify when signed) and writes a fixed 206 answer. It fails tb
// unless floor finds every memoized step of rq.
func floorHandler(tb testing.TB, rq request, signed bool) http.Handler {
	tb.Helper()
	if hits, err := floor(rq.body, rq.ids); err != nil || hits != len(rq.ids)-1 {
		tb.Fatalf("floor: %d memoized steps found, want %d (%v)", hits, len(rq.ids)-1, err)
	}
	answer := []byte(`[{"id":"` + hashID(rq.ids[len(rq.ids)-1]) + `","op":"StepRun"}]`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := floor(body, rq.ids); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if signed {
			floorVerify(body)
		}
		w.Header()["Content-Type"] = []string{"application/json"}
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(answer)
	})
}

// floorVerify computes the request's HMAC-SHA256, the least a handler
// in cloud mode adds.
func floorVerify(body []byte) []byte {
	m := hmac.New(sha256.New, []byte(signingKey[len("signkey-test-"):]))
	m.Write(body)
	m.Write([]byte("1795611766"))
	return m.Sum(nil)
}

func TestFloor(t *testing.T) {
	for _, n := range []int{0, 10, 100} {
		rq := stepsRequest(t, n)
		hits, err := floor(rq.body, rq.ids)
		if err != nil {
			t.Fatal(err)
		}
		if hits != n {
			t.Fatalf("steps=%d: floor found %d memoized steps", n, hits)
		}
	}
}

// TestSameAnswer checks that both SDKs answer every benchmark request
// with the StepRun of the step after the memoized ones, so that the
// benchmarks compare the same work.
func TestSameAnswer(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		for _, s := range []sdk{ours(t, cloud), theirs(t, cloud)} {
			for _, n := range []int{0, 1, 10, 100, 1000} {
				t.Run(fmt.Sprintf("sdk=%s/cloud=%v/steps=%d", s.name, cloud, n), func(t *testing.T) {
					rq := stepsRequest(t, n)
					sig := ""
					if cloud {
						sig = sign(t, rq)
					}
					checkStepRun(t, call(s.handler, rq, sig), stepIDs[n])
				})
			}
			t.Run(fmt.Sprintf("sdk=%s/cloud=%v/parallel", s.name, cloud), func(t *testing.T) {
				rq := groupRequest(t)
				sig := ""
				if cloud {
					sig = sign(t, rq)
				}
				checkStepRun(t, call(s.handler, rq, sig), "after")
			})
			if !cloud {
				sameResults(t, s)
			}
			t.Run(fmt.Sprintf("sdk=%s/cloud=%v/big", s.name, cloud), func(t *testing.T) {
				rq := bigRequest(t)
				sig := ""
				if cloud {
					sig = sign(t, rq)
				}
				checkStepRun(t, call(s.handler, rq, sig), "measure")
			})
		}
	}
}

// sameResults checks the result scenarios and the failure handler's
// call on s: the answer is the next step's StepRun, and every memoized
// step returned its fixture's value.
func sameResults(t *testing.T, s sdk) {
	for _, rs := range resultSets {
		for _, n := range []int{0, 1, 7, 100, 1000} {
			t.Run(fmt.Sprintf("sdk=%s/result=%s/steps=%d", s.name, rs.name, n), func(t *testing.T) {
				rq := resultsRequest(t, rs, n)
				checkObserved(t, n, func() { checkStepRun(t, call(s.handler, rq, ""), stepIDs[n]) })
			})
		}
	}
	t.Run(fmt.Sprintf("sdk=%s/failure-handler", s.name), func(t *testing.T) {
		w := call(s.handler, failureRequest(t), "")
		checkStepRun(t, w, "notify")
		var ops []struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &ops); err != nil {
			t.Fatal(err)
		}
		var got notice
		if err := json.Unmarshal(ops[0].Data, &got); err != nil {
			t.Fatalf("step data %s: %v", ops[0].Data, err)
		}
		want := notice{Function: "bench-fails", Run: "01M89CTBZPCSVRVJH4BX7HVATX", N: 1, Error: "unhandled step error: card declined"}
		if got != want {
			t.Errorf("the failure handler's step returned %+v, want %+v", got, want)
		}
	})
}

// TestUnsignedRefused checks that the cloud-mode handlers really verify
// signatures, so the signed benchmark measures verification.
func TestUnsignedRefused(t *testing.T) {
	rq := stepsRequest(t, 10)
	for _, s := range []sdk{ours(t, true), theirs(t, true)} {
		w := call(s.handler, rq, "t=1&s=00")
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d for a bad signature, want 401", s.name, w.Code)
		}
	}
}
