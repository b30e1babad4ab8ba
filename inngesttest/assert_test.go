package inngesttest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB whose Fatalf records the message and stops
// the goroutine, as the real one does.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// failure runs f with a recorder and returns the first message, or "".
func failure(t *testing.T, f func(tb testing.TB)) string {
	t.Helper()
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	if len(rec.msgs) == 0 {
		return ""
	}
	return rec.msgs[0]
}

func TestAssertionMessages(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "pay", Retries: inngest.Ptr(1)}, inngest.EventTrigger("shop/pay", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return step.Run(ctx, "charge", func(context.Context) (int, error) { return 0, errors.New("card declined") })
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/pay", nil))

	msg := failure(t, func(tb testing.TB) { run.RequireCompleted(tb) })
	assert.Contains(t, msg, "run "+run.ID()+" of shop-pay: want status Completed, got Failed (error: card declined)")
	assert.Contains(t, msg, `step.error "charge" attempt 0 (15s): card declined; retrying`, "the timeline follows")

	msg = failure(t, func(tb testing.TB) { run.RequireStep(tb, "charge").Attempts(5) })
	assert.Contains(t, msg, `step "charge": want 5 attempts, got 2`)

	msg = failure(t, func(tb testing.TB) { run.RequireStep(tb, "refund") })
	assert.Contains(t, msg, `want step "refund" (occurrence 0), got steps ["charge"#0]`)

	msg = failure(t, func(tb testing.TB) { run.RequireError(tb, "timeout") })
	assert.Contains(t, msg, `want an error containing "timeout", got "card declined"`)

	msg = failure(t, func(tb testing.TB) { run.RequireFailureHandlerRan(tb) })
	assert.Contains(t, msg, "want exactly one failure handler run, got 0")

	msg = failure(t, func(tb testing.TB) { run.RequireStep(tb, "charge").Completed() })
	assert.Contains(t, msg, `step "charge": want status completed, got failed (card declined)`)

	msg = failure(t, func(tb testing.TB) { run.RequireElapsed(tb, time.Minute) })
	assert.Contains(t, msg, "want 1m0s of virtual time, got 15s")

	msg = failure(t, func(tb testing.TB) { eng.RequireEvent(tb, "shop/nothing") })
	assert.Contains(t, msg, `want an event named "shop/nothing", got [shop/pay`)

	// Passing assertions stay silent.
	assert.Empty(t, failure(t, func(tb testing.TB) { run.RequireFailed(tb).RequireError(tb, "declined") }))
}

func TestOutputAssertions(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "total"}, inngest.EventTrigger("shop/total", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return order{ID: in.Event.Data.ID, Total: 42}, nil
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/total", order{ID: 3}))
	out, err := inngesttest.Output[order](run)
	require.NoError(t, err)
	assert.Equal(t, order{ID: 3, Total: 42}, out)
	msg := failure(t, func(tb testing.TB) { run.RequireOutput(tb, order{ID: 3, Total: 41}) })
	assert.Contains(t, msg, `want output {"id":3,"total":41}, got {"id":3,"total":42}`)

}

// Start on a function the engine does not know fails the test and names
// the registered ones.
func TestUnknownFunction(t *testing.T) {
	rec := &recorder{TB: t}
	eng := inngesttest.New(rec)
	c := newClient(t, eng)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "known"}, inngest.EventTrigger("shop/known", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return nil, nil }))
	eng.Register(c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Run(inngesttest.FunctionID("shop-unknown"), evt("shop/x", nil))
	}()
	<-done
	require.Len(t, rec.msgs, 1)
	assert.Contains(t, rec.msgs[0], `no function "shop-unknown" is registered; registered: shop-known`)
}

// The README advises an OnFailure handler per function and a
// CreateFailureFunction for the app's alerts. With both, a failure starts
// two handler runs, and each assertion selects the handler it means.
func TestHandlerAssertionsSelectTheirHandler(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fail := func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, inngest.NoRetryError(errors.New("card declined"))
	}
	pay := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "pay",
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[map[string]any]) (any, error) { return "refunded", nil }),
	}, inngest.EventTrigger("shop/pay", nil), fail))
	ship := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "ship"}, inngest.EventTrigger("shop/ship", nil), fail))
	alerts := must(inngest.CreateFailureFunction(c, inngest.FunctionOpts{ID: "alerts"}, inngest.FailureFilter{},
		func(ctx context.Context, f inngest.Failure[map[string]any]) (any, error) { return "paged", nil }))
	eng.Register(c)

	run := eng.Run(pay, evt("shop/pay", nil)).RequireFailed(t)
	require.Len(t, run.FailureHandlers(), 2)
	run.RequireFailureHandlerRan(t).RequireOutput(t, "refunded")
	run.RequireFailureFunctionRan(t, alerts).RequireOutput(t, "paged")
	run.RequireFailureFunctionRan(t, inngesttest.FunctionID("alerts")).RequireOutput(t, "paged")
	msg := failure(t, func(tb testing.TB) { run.RequireNoFailureHandler(tb) })
	assert.Contains(t, msg, "want no failure handler run, got 2")

	// A function without OnFailure: the app's failure function ran, its
	// own handler did not exist, and the message says what to use.
	run = eng.Run(ship, evt("shop/ship", nil)).RequireFailed(t)
	run.RequireFailureFunctionRan(t, alerts).RequireOutput(t, "paged")
	msg = failure(t, func(tb testing.TB) { run.RequireFailureHandlerRan(tb) })
	assert.Contains(t, msg, "want exactly one failure handler run, got 0 (of shop-ship-failure, its OnFailure handler); "+
		"no function shop-ship-failure is registered (give the function an OnFailure handler, or check a CreateFailureFunction's run with RequireFailureFunctionRan); "+
		"inngest/function.failed started [shop-alerts ")
	msg = failure(t, func(tb testing.TB) { run.RequireFailureFunctionRan(tb, pay) })
	assert.Contains(t, msg, "want exactly one failure handler run, got 0 (of shop-pay); inngest/function.failed started [shop-alerts ")
}

// Cancellation assertions select their handler the same way.
func TestCancelAssertionsSelectTheirHandler(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "nap",
		Cancel:   []inngest.Cancel{{Event: "shop/stop"}},
		OnCancel: inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[map[string]any]) (any, error) { return "cleaned", nil }),
	}, inngest.EventTrigger("shop/nap", nil), func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, step.Sleep(ctx, "nap", time.Hour)
	}))
	audit := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "audit"}, inngest.EventTrigger(inngest.FunctionCancelledEvent, nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return "logged", nil }))
	eng.Register(c)

	run := eng.Start(fn, evt("shop/nap", nil))
	eng.Send(evt("shop/stop", nil))
	eng.Wait(run)
	run.RequireCancelled(t)
	require.Len(t, run.CancelHandlers(), 2)
	run.RequireCancelHandlerRan(t).RequireOutput(t, "cleaned")
	run.RequireCancelFunctionRan(t, audit).RequireOutput(t, "logged")
}
