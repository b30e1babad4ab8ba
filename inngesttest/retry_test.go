package inngesttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attempts records what the function saw on each call.
type attempts struct {
	mu   sync.Mutex
	seen []inngest.RunInfo
}

func (a *attempts) add(in inngest.RunInfo) {
	a.mu.Lock()
	a.seen = append(a.seen, in)
	a.mu.Unlock()
}

func (a *attempts) list() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]int, len(a.seen))
	for i, s := range a.seen {
		out[i] = s.Attempt
	}
	return out
}

// A step that keeps failing gets retries+1 attempts with the server's
// back-off, then the run fails and its failure handler runs once, with
// the original event, the error and the failed step's ID.
func TestRetriesExhaustedRunFailureHandlerOnce(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var bodyRuns attempts
	var (
		mu       sync.Mutex
		failures []inngest.Failure[order]
	)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:      "charge",
		Retries: inngest.Ptr(2),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) {
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
			return "alerted", nil
		}),
	}, inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				bodyRuns.add(in.RunInfo)
				return "", errors.New("card declined")
			})
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/order.placed", order{ID: 7, Total: 30}))

	run.RequireFailed(t).RequireError(t, "card declined")
	run.RequireStep(t, "charge").Kind(inngesttest.KindRun).Failed().Attempts(3).ErrorContains("card declined").Duration(45 * time.Second)
	assert.Equal(t, []int{0, 1, 2}, bodyRuns.list(), "ctx.attempt counts the step's attempts")
	for _, s := range bodyRuns.seen {
		assert.Equal(t, 3, s.MaxAttempts)
	}
	run.RequireElapsed(t, 45*time.Second) // 15s, then 30s

	var delays []time.Duration
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryStepError {
			delays = append(delays, e.Delay)
		}
	}
	assert.Equal(t, []time.Duration{15 * time.Second, 30 * time.Second}, delays)

	handler := run.RequireFailureHandlerRan(t)
	handler.RequireOutput(t, "alerted")
	assert.Equal(t, "shop-charge-failure", handler.FunctionID())
	require.Len(t, failures, 1, "the handler's body ran once")
	f := failures[0]
	assert.Equal(t, run.ID(), f.RunID)
	assert.Equal(t, "shop-charge", f.FunctionID)
	assert.Equal(t, order{ID: 7, Total: 30}, f.Event.Data)
	assert.Equal(t, "shop/order.placed", f.Event.Name)
	assert.Equal(t, "card declined", f.Error.Message)
	assert.Equal(t, "charge", f.StepID)

	// inngest/function.failed, as the server shapes it.
	failed := eng.EventsNamed(inngest.FunctionFailedEvent)
	require.Len(t, failed, 1)
	var ev struct {
		ID   string `json:"id"`
		Data struct {
			FunctionID string            `json:"function_id"`
			RunID      string            `json:"run_id"`
			Event      json.RawMessage   `json:"event"`
			Events     []json.RawMessage `json:"events"`
			Error      map[string]string `json:"error"`
			Result     struct {
				Message string            `json:"message"`
				Data    map[string]string `json:"data"`
			} `json:"result"`
			Inngest struct {
				Status string `json:"status"`
			} `json:"_inngest"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(failed[0], &ev))
	assert.Equal(t, run.ID(), ev.ID, "the failed event's ID is the run ID")
	assert.Equal(t, run.ID(), ev.Data.RunID)
	assert.Equal(t, "shop-charge", ev.Data.FunctionID)
	assert.JSONEq(t, string(run.Event()), string(ev.Data.Event))
	assert.Len(t, ev.Data.Events, 1)
	assert.Equal(t, map[string]string{"error": "NonRetriableError", "name": "Error", "message": "card declined"}, ev.Data.Error)
	assert.Equal(t, "charge", ev.Data.Result.Data["step_id"], "result is the failing answer's body")
	assert.Equal(t, "Failed", ev.Data.Inngest.Status)

	// The handler itself failing later would emit nothing: it was
	// triggered by inngest/function.failed.
	assert.Len(t, eng.EventsNamed("inngest/function.finished"), 1, "only the failed run emits function.finished")
}

// After a step succeeds, ctx.attempt starts at 0 again: each step has
// its own attempts.
func TestAttemptsArePerStep(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var first, second attempts
	fails := map[string]int{"first": 1, "second": 2}
	var mu sync.Mutex
	flaky := func(id string, rec *attempts, in inngest.RunInfo) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			rec.add(in)
			mu.Lock()
			defer mu.Unlock()
			if fails[id] > 0 {
				fails[id]--
				return "", errors.New(id + " flaked")
			}
			return id, nil
		}
	}
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "two"}, inngest.EventTrigger("shop/two", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			a, err := step.Run(ctx, "first", flaky("first", &first, in.RunInfo))
			if err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "second", flaky("second", &second, in.RunInfo))
			return a + "+" + b, err
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/two", nil))
	run.RequireOutput(t, "first+second")
	assert.Equal(t, []int{0, 1}, first.list())
	assert.Equal(t, []int{0, 1, 2}, second.list())
	run.RequireStep(t, "first").Attempts(2).Duration(15 * time.Second)
	run.RequireStep(t, "second").Attempts(3).Duration(45 * time.Second)
	run.RequireElapsed(t, time.Minute)
	for _, s := range second.seen {
		assert.Equal(t, 5, s.MaxAttempts, "no Retries option: the server's 4 retries")
	}
}

// A NoRetryError returned by the function fails the run after one
// attempt; the failure handler still runs.
func TestNoRetryErrorOneAttempt(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var calls attempts
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:        "fatal",
		Retries:   inngest.Ptr(3),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) { return f.Error.Message, nil }),
	}, inngest.EventTrigger("shop/fatal", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			calls.add(in.RunInfo)
			return nil, inngest.NoRetryError(errors.New("bad input"))
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/fatal", order{ID: 1}))
	run.RequireFailed(t).RequireError(t, "bad input").RequireElapsed(t, 0)
	assert.Equal(t, []int{0}, calls.list())
	assert.Equal(t, 1, run.Calls())
	assert.Equal(t, "NonRetriableError", run.Err().Name)
	run.RequireFailureHandlerRan(t).RequireOutput(t, "bad input")
}

// A NoRetryError in a step fails the step at once (StepFailed); the
// function, not catching it, fails without function-level retries.
func TestNoRetryErrorInStep(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "step-fatal"}, inngest.EventTrigger("shop/step-fatal", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return step.Run(ctx, "validate", func(context.Context) (int, error) {
				return 0, inngest.NoRetryError(errors.New("invalid order"))
			})
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/step-fatal", order{ID: 1}))
	run.RequireFailed(t).RequireError(t, "invalid order")
	run.RequireStep(t, "validate").Attempts(1).Failed()
	assert.Equal(t, 2, run.Calls(), "the step's call, then the call where the function returns its error")
	run.RequireNoFailureHandler(t)
}

// A function-level error (500) is retried with the back-off table until
// it succeeds.
func TestFunctionErrorRetried(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var calls attempts
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "flaky-fn"}, inngest.EventTrigger("shop/flaky-fn", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			calls.add(in.RunInfo)
			if in.Attempt < 3 {
				return nil, errors.New("database unavailable")
			}
			return "ok", nil
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/flaky-fn", nil))
	run.RequireOutput(t, "ok").RequireElapsed(t, 15*time.Second+30*time.Second+time.Minute)
	assert.Equal(t, []int{0, 1, 2, 3}, calls.list())
	var statuses []int
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryCall {
			statuses = append(statuses, e.Status)
		}
	}
	assert.Equal(t, []int{500, 500, 500, 200}, statuses)
}

// RetryAtError sets the next attempt's time through Retry-After; the
// engine applies the server's limits of 1s to 24h.
func TestRetryAtErrorDelay(t *testing.T) {
	cases := []struct {
		name     string
		at       func() time.Time
		min, max time.Duration
	}{
		{"in two days, clamped to 24h", func() time.Time { return time.Now().Add(48 * time.Hour) }, 24 * time.Hour, 24 * time.Hour},
		{"in the past, clamped to 1s", func() time.Time { return time.Now().Add(-time.Hour) }, time.Second, time.Second},
		// Retry-After carries whole seconds: the delay reads as 10s, or
		// 9s when the second changed between the SDK's clock reading
		// and the engine's.
		{"in ten seconds", func() time.Time { return time.Now().Add(10 * time.Second) }, 9 * time.Second, 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng := inngesttest.New(t)
			c := newClient(t, eng)
			fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "later", Retries: inngest.Ptr(1)}, inngest.EventTrigger("shop/later", nil),
				func(ctx context.Context, in inngest.Input[order]) (any, error) {
					if in.Attempt == 0 {
						return nil, inngest.RetryAtError(errors.New("rate limited"), tc.at())
					}
					return in.Attempt, nil
				}))
			eng.Register(c)

			run := eng.Run(fn, evt("shop/later", nil))
			run.RequireOutput(t, 1)
			var retry inngesttest.Entry
			for _, e := range run.Timeline() {
				if e.Kind == inngesttest.EntryRetry {
					retry = e
				}
			}
			assert.GreaterOrEqual(t, retry.Delay, tc.min)
			assert.LessOrEqual(t, retry.Delay, tc.max)
			assert.Equal(t, retry.Delay, run.Elapsed())
		})
	}
}

// RetryAtError adds no attempts: on the last attempt the run fails.
func TestRetryAtErrorOnLastAttemptFails(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "later", Retries: inngest.Ptr(0)}, inngest.EventTrigger("shop/later", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return nil, inngest.RetryAfterError(errors.New("rate limited"), time.Minute)
		}))
	eng.Register(c)
	eng.Run(fn, evt("shop/later", nil)).RequireFailed(t).RequireError(t, "rate limited")
}

// A step that failed for good surfaces as a *inngest.StepError; a
// function that catches it and compensates completes, and no failure
// handler runs.
func TestCaughtStepErrorRecovers(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var caught *inngest.StepError
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:        "caught",
		Retries:   inngest.Ptr(1),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) { return nil, nil }),
	}, inngest.EventTrigger("shop/caught", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			_, err := step.Run(ctx, "risky", func(context.Context) (int, error) { return 0, errors.New("nope") })
			if errors.As(err, &caught) {
				return step.Run(ctx, "compensate", func(context.Context) (string, error) { return "compensated", nil })
			}
			return "unexpected", err
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/caught", nil))
	run.RequireOutput(t, "compensated").RequireNoFailureHandler(t)
	run.RequireStep(t, "risky").Failed().Attempts(2).ErrorContains("nope")
	run.RequireStep(t, "compensate").Completed().Result("compensated")
	require.NotNil(t, caught)
	assert.Equal(t, "risky", caught.StepID)
	assert.Equal(t, "nope", caught.Message)
}

// A failure handler that fails emits no inngest/function.failed of its
// own, so it cannot trigger itself.
func TestFailingFailureHandlerDoesNotLoop(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var runs attempts
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:      "doomed",
		Retries: inngest.Ptr(0),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) {
			runs.add(f.Handler)
			return nil, errors.New("the handler broke too")
		}),
	}, inngest.EventTrigger("shop/doomed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return nil, errors.New("boom")
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/doomed", nil))
	run.RequireFailed(t)
	handlers := run.FailureHandlers()
	require.Len(t, handlers, 1)
	handlers[0].RequireFailed(t).RequireError(t, "the handler broke too")
	assert.Equal(t, []int{0, 1}, runs.list(), "the handler has one retry of its own")
	assert.Len(t, eng.EventsNamed(inngest.FunctionFailedEvent), 1)
	assert.Empty(t, handlers[0].Triggered())
}
