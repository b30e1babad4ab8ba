package inngest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/go-inngest/inngest/step"
)

// leakCheck makes the test fail if, once it and its cleanups are done,
// a goroutine it started is still running. Call it first.
func leakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
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
