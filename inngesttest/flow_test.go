package inngesttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// approvalFlow waits up to a day for shop/order.approved with the same
// order ID.
func approvalFlow(t *testing.T, eng *inngesttest.Engine) *inngest.Function[order] {
	t.Helper()
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "approval"}, inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			ev, err := step.WaitForEvent[map[string]any](ctx, "approval", step.WaitForEventOpts{
				Event:   "shop/order.approved",
				Timeout: 24 * time.Hour,
				Match:   "data.id",
			})
			if errors.Is(err, step.ErrEventNotReceived) {
				return "expired", nil
			}
			if err != nil {
				return nil, err
			}
			return ev.Data["by"], nil
		}))
	eng.Register(c)
	return fn
}

// Start leaves the run waiting; Send delivers the event at the chosen
// virtual time.
func TestWaitForEventMatched(t *testing.T) {
	eng := inngesttest.New(t)
	fn := approvalFlow(t, eng)

	run := eng.Start(fn, evt("shop/order.placed", order{ID: 7}))
	require.Equal(t, inngesttest.Running, run.Status())
	eng.Advance(2 * time.Hour)
	// Another order's approval does not match the expression.
	eng.Send(evt("shop/order.approved", map[string]any{"id": 8, "by": "bob"}))
	require.Equal(t, inngesttest.Running, run.Status())
	eng.Send(evt("shop/order.approved", map[string]any{"id": 7, "by": "alice"}))
	eng.Wait(run)

	run.RequireOutput(t, "alice").RequireElapsed(t, 2*time.Hour)
	st := run.RequireStep(t, "approval").Kind(inngesttest.KindWaitForEvent).Completed().Duration(2 * time.Hour).Step()
	assert.False(t, st.TimedOut)
	var received struct {
		Name string         `json:"name"`
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(st.Result, &received))
	assert.Equal(t, "shop/order.approved", received.Name)
	assert.JSONEq(t, `{"event":"shop/order.approved","if":"event.data.id == async.data.id","timeout":"1d"}`, string(st.Opts))
}

// OnPause delivers an event when the run starts waiting, during Run.
func TestWaitForEventOnPause(t *testing.T) {
	eng := inngesttest.New(t)
	fn := approvalFlow(t, eng)
	eng.OnPause("approval", func(p inngesttest.Pause) {
		assert.Equal(t, "shop/order.approved", p.Event)
		assert.Equal(t, inngesttest.KindWaitForEvent, p.Kind)
		eng.After(30*time.Minute, func() {
			eng.Send(evt("shop/order.approved", map[string]any{"id": 7, "by": "carol"}))
		})
	})
	run := eng.Run(fn, evt("shop/order.placed", order{ID: 7}))
	run.RequireOutput(t, "carol").RequireElapsed(t, 30*time.Minute)
}

// Nothing answers: the wait times out after its timeout, at once.
func TestWaitForEventTimedOut(t *testing.T) {
	eng := inngesttest.New(t)
	fn := approvalFlow(t, eng)
	run := eng.Run(fn, evt("shop/order.placed", order{ID: 7}))
	run.RequireOutput(t, "expired").RequireElapsed(t, 24*time.Hour)
	run.RequireStep(t, "approval").TimedOut().Result(nil).Duration(24 * time.Hour)
}

// step.SendEvent reaches the engine through the client's HTTPClient and
// triggers the functions whose trigger (name and CEL expression)
// matches.
func TestSendEventTriggersFunctions(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	checkout := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "checkout"}, inngest.EventTrigger("shop/checkout", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return step.SendEvent(ctx, "emit", inngest.Event[any]{Name: "shop/order.placed", Data: in.Event.Data})
		}))
	var receipts, vip atomic.Int32
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "receipt"}, inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			receipts.Add(1)
			return in.Event.Data.ID, nil
		}))
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "vip"}, inngest.EventTrigger("shop/order.placed", inngest.Ptr("event.data.total > 100")),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			vip.Add(1)
			return nil, nil
		}))
	eng.Register(c)

	small := eng.Run(checkout, evt("shop/checkout", order{ID: 1, Total: 20}))
	small.RequireCompleted(t)
	triggered := small.Triggered()
	require.Len(t, triggered, 1, "the small order triggers the receipt only")
	triggered[0].RequireOutput(t, 1)
	assert.Equal(t, "shop-receipt", triggered[0].FunctionID())

	var ids []string
	require.NoError(t, json.Unmarshal(small.Output(), &ids))
	require.Len(t, ids, 1)
	assert.Equal(t, ids[0], eventID(t, triggered[0].Event()), "the SDK got the ID the engine gave the event")

	big := eng.Run(checkout, evt("shop/checkout", order{ID: 2, Total: 500}))
	big.RequireCompleted(t)
	assert.Len(t, big.Triggered(), 2)
	assert.Equal(t, int32(2), receipts.Load())
	assert.Equal(t, int32(1), vip.Load())
	eng.RequireEvent(t, "shop/order.placed")
}

func eventID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	return v.ID
}

// Engine.Send starts every function the event triggers; an event ID
// seen before triggers nothing.
func TestSendDeduplicatesEventIDs(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "count"}, inngest.EventTrigger("shop/*", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return in.Event.Name, nil }))
	eng.Register(c)
	runs := eng.Send(inngest.Event[any]{ID: "evt-1", Name: "shop/a"}, inngest.Event[any]{ID: "evt-1", Name: "shop/a"}, evt("shop/b", nil), evt("other/c", nil))
	require.Len(t, runs, 2)
	runs[0].RequireOutput(t, "shop/a")
	runs[1].RequireOutput(t, "shop/b")
}

// A Cancel option cancels a sleeping run when a matching event arrives;
// the run emits inngest/function.cancelled (without an error), which
// runs its OnCancel handler, and no failure handler runs.
func TestCancellationRunsCancelHandler(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var cancelled []inngest.Cancellation[order]
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:     "fulfil",
		Cancel: []inngest.Cancel{{Event: "shop/order.cancelled", Match: "data.id"}},
		OnCancel: inngest.OnCancel(func(ctx context.Context, cn inngest.Cancellation[order]) (any, error) {
			cancelled = append(cancelled, cn)
			return "refunded", nil
		}),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) { return nil, nil }),
	}, inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			if err := step.Sleep(ctx, "cool-off", time.Hour); err != nil {
				return nil, err
			}
			return step.Run(ctx, "ship", func(context.Context) (string, error) { return "shipped", nil })
		}))
	eng.Register(c)

	var paused []inngesttest.Pause
	eng.OnPause("cool-off", func(p inngesttest.Pause) { paused = append(paused, p) })
	run := eng.Start(fn, evt("shop/order.placed", order{ID: 7}))
	require.Len(t, paused, 1)
	assert.Equal(t, eng.Now().Add(time.Hour), paused[0].Until)

	eng.Advance(10 * time.Minute)
	eng.Send(evt("shop/order.cancelled", map[string]any{"id": 8}))
	require.Equal(t, inngesttest.Running, run.Status(), "another order's cancellation does not match")
	eng.Send(evt("shop/order.cancelled", map[string]any{"id": 7}))
	eng.Wait(run)

	run.RequireCancelled(t).RequireNoStep(t, "ship").RequireNoFailureHandler(t).RequireElapsed(t, 10*time.Minute)
	assert.Nil(t, run.Err())
	run.RequireCancelHandlerRan(t).RequireOutput(t, "refunded")
	require.Len(t, cancelled, 1)
	assert.Equal(t, run.ID(), cancelled[0].RunID)
	assert.Equal(t, 7, cancelled[0].Event.Data.ID)
	assert.Nil(t, cancelled[0].Error)

	ev := eng.RequireEvent(t, inngest.FunctionCancelledEvent)
	var data struct {
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(ev, &data))
	assert.Equal(t, run.ID(), data.ID)
	assert.NotContains(t, data.Data, "error")
	assert.Equal(t, map[string]any{"status": "Cancelled"}, data.Data["_inngest"])
}

// The finish timeout cancels a run that takes too long.
func TestFinishTimeoutCancels(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "slow", Timeouts: &inngest.Timeouts{Finish: time.Hour}},
		inngest.EventTrigger("shop/slow", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return nil, step.Sleep(ctx, "long", 2*time.Hour)
		}))
	eng.Register(c)
	eng.Run(fn, evt("shop/slow", nil)).RequireCancelled(t).RequireElapsed(t, time.Hour)
}

// step.Invoke runs the target in the same engine and resumes with its
// result or error.
func TestInvoke(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	type pair struct{ A, B int }
	adder := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "adder"}, inngest.EventTrigger("shop/add", nil),
		func(ctx context.Context, in inngest.Input[pair]) (any, error) {
			if in.Event.Data.A < 0 {
				return nil, inngest.NoRetryError(errors.New("negative"))
			}
			return in.Event.Data.A + in.Event.Data.B, nil
		}))
	caller := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "caller"}, inngest.EventTrigger("shop/call", nil),
		func(ctx context.Context, in inngest.Input[pair]) (any, error) {
			sum, err := step.InvokeFunction[int](ctx, "sum", adder, in.Event.Data, time.Hour)
			var se *inngest.StepError
			if errors.As(err, &se) {
				return "invoke failed: " + se.Message, nil
			}
			return sum, err
		}))
	eng.Register(c)

	run := eng.Run(caller, evt("shop/call", pair{A: 2, B: 3}))
	run.RequireOutput(t, 5)
	run.RequireStep(t, "sum").Kind(inngesttest.KindInvoke).Result(5)
	children := run.Triggered()
	require.Len(t, children, 1)
	child := children[0].RequireOutput(t, 5)
	assert.Equal(t, "shop-adder", child.FunctionID())
	var invoked struct {
		Name string `json:"name"`
		Data struct {
			A, B    int
			Inngest map[string]any `json:"_inngest"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(child.Event(), &invoked))
	assert.Equal(t, "inngest/function.invoked", invoked.Name)
	assert.Equal(t, 2, invoked.Data.A)
	assert.Equal(t, run.ID()+"."+run.RequireStep(t, "sum").Step().Hash, invoked.Data.Inngest["correlation_id"])

	failed := eng.Run(caller, evt("shop/call", pair{A: -1}))
	failed.RequireOutput(t, "invoke failed: negative")
	failed.RequireStep(t, "sum").Failed().ErrorContains("negative")
}

// An invoke whose target does not finish in time fails with the
// server's timeout error.
func TestInvokeTimeout(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	slow := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "slow"}, inngest.EventTrigger("shop/slow", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			return "late", step.Sleep(ctx, "nap", 2*time.Hour)
		}))
	caller := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "impatient"}, inngest.EventTrigger("shop/impatient", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			_, err := step.Invoke[string](ctx, "wait-slow", step.InvokeOpts{Function: slow, Timeout: time.Hour})
			if errors.Is(err, step.ErrInvokeTimeout) {
				return "gave up", nil
			}
			return "no timeout", err
		}))
	eng.Register(c)
	run := eng.Run(caller, evt("shop/impatient", nil))
	run.RequireOutput(t, "gave up").RequireElapsed(t, time.Hour)
	run.RequireStep(t, "wait-slow").TimedOut()
	// The invoked run goes on, and Run waited for it.
	run.Triggered()[0].RequireOutput(t, "late").RequireElapsed(t, 2*time.Hour)
}

// Parallel steps: the SDK plans both, the engine runs each in a call of
// its own with disable_immediate_execution set, then calls the function
// once more.
func TestParallelGroup(t *testing.T) {
	var calls []inngesttest.Call
	eng := inngesttest.New(t, inngesttest.WithTrace(func(c inngesttest.Call) { calls = append(calls, c) }))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "parallel"}, inngest.EventTrigger("shop/parallel", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			g := step.NewGroup(ctx)
			var a, b int
			g.Go(func(ctx context.Context) (err error) {
				a, err = step.Run(ctx, "p1", func(context.Context) (int, error) { return 1, nil })
				return err
			})
			g.Go(func(ctx context.Context) (err error) {
				b, err = step.Run(ctx, "p2", func(context.Context) (int, error) { return 2, nil })
				return err
			})
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return a + b, nil
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/parallel", nil))
	run.RequireOutput(t, 3)
	run.RequireStep(t, "p1").Completed().Attempts(1)
	run.RequireStep(t, "p2").Completed().Attempts(1)

	require.Len(t, calls, 4)
	var stepIDs []string
	var disabled []bool
	for _, call := range calls {
		stepIDs = append(stepIDs, call.Header.Get("X-Inngest-Step-Id"))
		var body struct {
			Ctx struct {
				Disable bool `json:"disable_immediate_execution"`
			} `json:"ctx"`
		}
		require.NoError(t, json.Unmarshal(call.Body, &body))
		disabled = append(disabled, body.Ctx.Disable)
	}
	p1, p2 := run.RequireStep(t, "p1").Step().Hash, run.RequireStep(t, "p2").Step().Hash
	assert.Equal(t, []string{"step", p1, p2, "step"}, stepIDs)
	assert.Equal(t, []bool{false, true, true, false}, disabled)
	assert.Contains(t, calls[1].URL, "stepId="+p1)
}

// WaitForSignal resumes with the data Engine.Signal sends.
func TestWaitForSignal(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "signalled"}, inngest.EventTrigger("shop/signalled", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			s, err := step.WaitForSignal[string](ctx, "go", step.WaitForSignalOpts{Signal: "go-ahead", Timeout: time.Hour})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		}))
	eng.Register(c)

	require.Error(t, eng.Signal("go-ahead", "early"), "no run waits yet")
	run := eng.Start(fn, evt("shop/signalled", nil))
	eng.Advance(time.Minute)
	require.NoError(t, eng.Signal("go-ahead", "now"))
	eng.Wait(run)
	run.RequireOutput(t, "now").RequireElapsed(t, time.Minute)
	run.RequireStep(t, "go").Kind(inngesttest.KindSignal).Result(map[string]any{"signal": "go-ahead", "data": "now"})
}

// step.Fetch: the engine makes the request, as the server would.
func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("X-Token"))
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("hello " + r.Method))
	}))
	defer srv.Close()
	eng := inngesttest.New(t, inngesttest.WithFetchClient(srv.Client()))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fetcher"}, inngest.EventTrigger("shop/fetch", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			res, err := step.Fetch(ctx, "call", step.FetchRequest{URL: srv.URL, Method: "POST", Headers: map[string]string{"X-Token": "t1"}})
			if err != nil {
				return nil, err
			}
			return map[string]any{"status": res.StatusCode, "body": res.Body, "echo": res.Headers["X-Echo"]}, nil
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/fetch", nil))
	run.RequireOutput(t, map[string]any{"status": 418, "body": "hello POST", "echo": "t1"})
	run.RequireStep(t, "call").Kind(inngesttest.KindFetch)
}

// In cloud mode every call carries a signature the handler verifies.
func TestCloudModeSignsCalls(t *testing.T) {
	var sigs []string
	const key = "signkey-test-12345678"
	eng := inngesttest.New(t, inngesttest.SigningKey(key),
		inngesttest.WithTrace(func(c inngesttest.Call) { sigs = append(sigs, c.Header.Get("X-Inngest-Signature")) }))
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "shop",
		Mode:       inngest.ModeCloud,
		SigningKey: key,
		EventKey:   "test-event-key",
		HTTPClient: eng.HTTPClient(),
		Logger:     quiet,
	})
	require.NoError(t, err)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "secure"}, inngest.EventTrigger("shop/secure", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return step.Run(ctx, "s", func(context.Context) (string, error) { return "signed", nil })
		}))
	eng.Register(c)
	eng.Run(fn, evt("shop/secure", nil)).RequireOutput(t, "signed")
	require.Len(t, sigs, 2)
	for _, s := range sigs {
		assert.True(t, strings.HasPrefix(s, "t="), s)
		assert.Contains(t, s, "&s=")
	}
}

// A second run waiting for the same signal fails its step (the default
// conflict mode); with SignalConflictReplace it takes the signal over.
func TestSignalConflict(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "sig"}, inngest.EventTrigger("shop/sig", nil),
		func(ctx context.Context, in inngest.Input[map[string]string]) (any, error) {
			s, err := step.WaitForSignal[string](ctx, "wait", step.WaitForSignalOpts{
				Signal: "shared", Timeout: time.Hour, OnConflict: step.SignalConflict(in.Event.Data["mode"]),
			})
			if err != nil {
				return "error: " + err.Error(), nil
			}
			return s.Data, nil
		}))
	eng.Register(c)
	first := eng.Start(fn, evt("shop/sig", map[string]string{"mode": "fail"}))
	second := eng.Start(fn, evt("shop/sig", map[string]string{"mode": "fail"}))
	second.RequireCompleted(t).RequireStep(t, "wait").Failed().ErrorContains("already waiting")
	third := eng.Start(fn, evt("shop/sig", map[string]string{"mode": "replace"}))
	require.NoError(t, eng.Signal("shared", "hello"))
	eng.Wait()
	third.RequireOutput(t, "hello")
	first.RequireStep(t, "wait").TimedOut()
}

// Cancel.Timeout bounds how long after its start a run can be
// cancelled.
func TestCancelTimeout(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:     "window",
		Cancel: []inngest.Cancel{{Event: "shop/stop", Timeout: time.Hour}},
	}, inngest.EventTrigger("shop/window", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return "done", step.Sleep(ctx, "day", 24*time.Hour)
		}))
	eng.Register(c)
	late := eng.Start(fn, evt("shop/window", nil))
	eng.Advance(2 * time.Hour)
	eng.Send(evt("shop/stop", nil))
	early := eng.Start(fn, evt("shop/window", nil))
	eng.Advance(time.Minute)
	eng.Send(evt("shop/stop", nil))
	eng.Wait()
	late.RequireOutput(t, "done")
	early.RequireCancelled(t)
}

// Invoking a function the engine does not know fails the step.
func TestInvokeUnknownFunction(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "lost"}, inngest.EventTrigger("shop/lost", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			_, err := step.Invoke[int](ctx, "call", step.InvokeOpts{FunctionID: "other-app-missing"})
			return nil, err
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/lost", nil))
	run.RequireFailed(t).RequireError(t, `could not find function "other-app-missing"`)
	run.RequireStep(t, "call").Failed()
}

// A failure handler can also be tested on its own, with a made-up
// inngest/function.failed event.
func TestSendSyntheticFailedEvent(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID: "charge",
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) {
			return map[string]any{"run": f.RunID, "order": f.Event.Data.ID, "msg": f.Error.Message}, nil
		}),
	}, inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return nil, nil }))
	eng.Register(c)
	runs := eng.Send(inngest.Event[any]{Name: inngest.FunctionFailedEvent, Data: map[string]any{
		"function_id": "shop-charge",
		"run_id":      "01RUN",
		"event":       map[string]any{"name": "shop/order.placed", "data": map[string]any{"id": 9}},
		"error":       map[string]any{"name": "Error", "message": "boom"},
	}})
	require.Len(t, runs, 1)
	runs[0].RequireOutput(t, map[string]any{"run": "01RUN", "order": 9, "msg": "boom"})
	assert.Equal(t, "shop-charge-failure", runs[0].FunctionID())
}

// Client.Send from the test itself reaches the engine and takes effect
// at once, like Engine.Send.
func TestClientSendFromTest(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "echo"}, inngest.EventTrigger("shop/echo", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return in.Event.Data.ID, nil }))
	eng.Register(c)
	ids, err := c.Send(context.Background(), evt("shop/echo", order{ID: 4}))
	require.NoError(t, err)
	runs := eng.RunsOf(fn)
	require.Len(t, runs, 1)
	runs[0].RequireOutput(t, 4)
	assert.Equal(t, ids[0], eventID(t, runs[0].Event()))
}
