package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

type order struct {
	ID    string `json:"id"`
	Items int    `json:"items"`
}

// A function of three steps completes, each step's body runs once, and
// the server records the function's return value as the run's output.
func TestMultiStepCompletes(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var bodies [3]counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "checkout"}, inngest.EventTrigger(a.event("checkout"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			price, err := step.Run(ctx, "price", func(ctx context.Context) (int, error) {
				bodies[0].inc()
				return in.Event.Data.Items * 250, nil
			})
			if err != nil {
				return nil, err
			}
			tax, err := step.Run(ctx, "tax", func(ctx context.Context) (int, error) {
				bodies[1].inc()
				return price / 10, nil
			})
			if err != nil {
				return nil, err
			}
			receipt, err := step.Run(ctx, "receipt", func(ctx context.Context) (map[string]any, error) {
				bodies[2].inc()
				return map[string]any{"order": in.Event.Data.ID, "total": price + tax}, nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"receipt": receipt, "price": price, "tax": tax}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("checkout"), order{ID: "o-17", Items: 4}))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"receipt":{"order":"o-17","total":1100},"price":1000,"tax":100}`, string(run.Output))
	for i := range bodies {
		assert.Equal(t, 1, bodies[i].get(), "step %d body runs", i)
	}
}

// A step that fails twice and then succeeds is retried by the server and
// the run completes with the third attempt's result.
func TestStepRetriedUntilSuccess(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var attempts recorder[int]
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "flaky"}, inngest.EventTrigger(a.event("flaky"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			v, err := step.Run(ctx, "call-api", func(ctx context.Context) (string, error) {
				attempts.add(in.Attempt)
				if in.Attempt < 2 {
					return "", fmt.Errorf("upstream unavailable (attempt %d)", in.Attempt)
				}
				return fmt.Sprintf("ok on attempt %d", in.Attempt), nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"result": v}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("flaky"), nil))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"result":"ok on attempt 2"}`, string(run.Output))
	assert.Equal(t, []int{0, 1, 2}, attempts.all())
}

// Retries: N gives exactly N+1 attempts, for an error returned by the
// function and for a step that keeps failing; then the run fails.
func TestRetriesGiveNPlusOneAttempts(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	type seen struct{ attempt, max int }
	var fn0, fn2, step2 recorder[seen]
	var step2Fn counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "fn-retries-0", Retries: inngest.Ptr(0)}, inngest.EventTrigger(a.event("fn0"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			fn0.add(seen{in.Attempt, in.MaxAttempts})
			return nil, errors.New("function error, no retries")
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "fn-retries-2", Retries: inngest.Ptr(2)}, inngest.EventTrigger(a.event("fn2"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			fn2.add(seen{in.Attempt, in.MaxAttempts})
			return nil, fmt.Errorf("function error on attempt %d", in.Attempt)
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "step-retries-2", Retries: inngest.Ptr(2)}, inngest.EventTrigger(a.event("step2"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			_, err := step.Run(ctx, "always-fails", func(ctx context.Context) (int, error) {
				step2.add(seen{in.Attempt, in.MaxAttempts})
				return 0, fmt.Errorf("step error on attempt %d", in.Attempt)
			})
			step2Fn.inc()
			return nil, err
		})
	require.NoError(t, err)
	a.sync()

	e0 := a.send(a.event("fn0"), nil)
	e2 := a.send(a.event("fn2"), nil)
	s2 := a.send(a.event("step2"), nil)

	t.Run("function Retries 0", func(t *testing.T) {
		run := tg.finished(t, e0)
		require.Equal(t, "Failed", run.Status)
		assert.JSONEq(t, `{"name":"Error","message":"function error, no retries"}`, string(run.Output))
		assert.Equal(t, []seen{{0, 1}}, fn0.all())
	})
	t.Run("function Retries 2", func(t *testing.T) {
		run := tg.finished(t, e2)
		require.Equal(t, "Failed", run.Status)
		assert.JSONEq(t, `{"name":"Error","message":"function error on attempt 2"}`, string(run.Output))
		assert.Equal(t, []seen{{0, 3}, {1, 3}, {2, 3}}, fn2.all())
	})
	t.Run("step Retries 2", func(t *testing.T) {
		run := tg.finished(t, s2)
		require.Equal(t, "Failed", run.Status)
		assert.JSONEq(t, `{"name":"Error","message":"step error on attempt 2","data":{"step_id":"always-fails"}}`, string(run.Output))
		assert.Equal(t, []seen{{0, 3}, {1, 3}, {2, 3}}, step2.all())
		// The function saw the step's final error once, and failing with
		// it ends the run without a retry of the function.
		assert.Equal(t, 1, step2Fn.get())
	})
}

// A non-retriable error fails the run after one attempt, though the
// function allows the default retries; the same holds for a step.
func TestNonRetriableErrorOneAttempt(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var fnCalls, stepCalls counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "fn-no-retry"}, inngest.EventTrigger(a.event("fn"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			fnCalls.inc()
			return nil, inngest.NoRetryError(errors.New("card declined"))
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "step-no-retry"}, inngest.EventTrigger(a.event("step"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			_, err := step.Run(ctx, "validate", func(ctx context.Context) (bool, error) {
				stepCalls.inc()
				return false, inngest.NoRetryError(errors.New("invalid address"))
			})
			return nil, err
		})
	require.NoError(t, err)
	a.sync()

	fe := a.send(a.event("fn"), nil)
	se := a.send(a.event("step"), nil)

	run := tg.finished(t, fe)
	require.Equal(t, "Failed", run.Status)
	assert.JSONEq(t, `{"name":"NonRetriableError","message":"card declined"}`, string(run.Output))
	assert.Equal(t, 1, fnCalls.get())

	run = tg.finished(t, se)
	require.Equal(t, "Failed", run.Status)
	assert.JSONEq(t, `{"name":"NonRetriableError","message":"invalid address","data":{"step_id":"validate"}}`, string(run.Output))
	assert.Equal(t, 1, stepCalls.get())
}

// A step tool called inside another step's body is a coding error: the
// run fails on its first attempt with the error that says why, instead
// of being retried.
func TestNestedStepFailsAtOnce(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var outer counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "nested"}, inngest.EventTrigger(a.event("nested"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			return step.Run(ctx, "outer", func(ctx context.Context) (int, error) {
				outer.inc()
				return step.Run(ctx, "inner", func(ctx context.Context) (int, error) { return 1, nil })
			})
		})
	require.NoError(t, err)
	a.sync()
	run := tg.finished(t, a.send(a.event("nested"), nil))
	require.Equal(t, "Failed", run.Status)
	assert.JSONEq(t, `{"name":"NonRetriableError","message":"inngest: step tool called inside another step's body; steps cannot be nested"}`, string(run.Output))
	assert.Equal(t, 1, outer.get(), "the outer step's body ran once: no retry")
}

// A RetryAtError delays the next attempt to the time it names, both
// from a step and from the function.
func TestRetryAtHonoured(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	// The requested time lies 900ms into a second, so that a retry
	// scheduled at the whole second, too early, is caught.
	retryTime := func(now time.Time) time.Time {
		return now.Add(3 * time.Second).Truncate(time.Second).Add(900 * time.Millisecond)
	}
	type attempt struct {
		at      time.Time // when the attempt ran
		retryAt time.Time // the time it asked for, if it failed
	}
	var stepAttempts, fnAttempts recorder[attempt]
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "step-retry-at"}, inngest.EventTrigger(a.event("step"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			n, err := step.Run(ctx, "rate-limited", func(ctx context.Context) (int, error) {
				now := time.Now()
				if in.Attempt == 0 {
					at := retryTime(now)
					stepAttempts.add(attempt{now, at})
					return 0, inngest.RetryAtError(errors.New("429 from upstream"), at)
				}
				stepAttempts.add(attempt{at: now})
				return in.Attempt, nil
			})
			return map[string]int{"attempt": n}, err
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "fn-retry-at"}, inngest.EventTrigger(a.event("fn"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			now := time.Now()
			if in.Attempt == 0 {
				at := retryTime(now)
				fnAttempts.add(attempt{now, at})
				return nil, inngest.RetryAtError(errors.New("try later"), at)
			}
			fnAttempts.add(attempt{at: now})
			return map[string]int{"attempt": in.Attempt}, nil
		})
	require.NoError(t, err)
	a.sync()

	se := a.send(a.event("step"), nil)
	fe := a.send(a.event("fn"), nil)
	for _, c := range []struct {
		name    string
		eventID string
		rec     *recorder[attempt]
	}{{"step", se, &stepAttempts}, {"function", fe, &fnAttempts}} {
		run := tg.finished(t, c.eventID)
		require.Equal(t, "Completed", run.Status, "%s: output %s", c.name, run.Output)
		assert.JSONEq(t, `{"attempt":1}`, string(run.Output), c.name)
		got := c.rec.all()
		require.Len(t, got, 2, c.name)
		assert.False(t, got[1].at.Before(got[0].retryAt), "%s: second attempt at %s, before the requested %s",
			c.name, got[1].at.Format(time.RFC3339Nano), got[0].retryAt.Format(time.RFC3339Nano))
	}
}

// A function that catches a failed step's StepError recovers: it runs a
// compensating step and completes.
func TestCaughtStepErrorRecovers(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var charges, refunds counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "saga", Retries: inngest.Ptr(1)}, inngest.EventTrigger(a.event("saga"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			_, chargeErr := step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				charges.inc()
				return "", fmt.Errorf("payment gateway down for %s", in.Event.Data.ID)
			})
			var se *inngest.StepError
			if !errors.As(chargeErr, &se) {
				return nil, fmt.Errorf("want a *StepError, got %v", chargeErr)
			}
			refund, err := step.Run(ctx, "refund", func(ctx context.Context) (string, error) {
				refunds.inc()
				return "refunded " + in.Event.Data.ID, nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"failed_step": se.StepID, "message": se.Message, "is_step_failed": errors.Is(chargeErr, inngest.ErrStepFailed), "refund": refund}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("saga"), order{ID: "o-9"}))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"failed_step":"charge","message":"payment gateway down for o-9","is_step_failed":true,"refund":"refunded o-9"}`, string(run.Output))
	assert.Equal(t, 2, charges.get(), "Retries 1: two attempts of the failing step")
	assert.Equal(t, 1, refunds.get())
}

// step.Sleep pauses the run on the server for at least its duration.
func TestSleep(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	const nap = 2 * time.Second
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "napper"}, inngest.EventTrigger(a.event("nap"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			before, err := step.Run(ctx, "before", func(ctx context.Context) (time.Time, error) { return time.Now(), nil })
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", nap); err != nil {
				return nil, err
			}
			after, err := step.Run(ctx, "after", func(ctx context.Context) (time.Time, error) { return time.Now(), nil })
			if err != nil {
				return nil, err
			}
			return map[string]any{"slept_enough": after.Sub(before) >= nap, "slept": after.Sub(before).String()}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("nap"), nil))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	var out struct {
		SleptEnough bool   `json:"slept_enough"`
		Slept       string `json:"slept"`
	}
	require.NoError(t, json.Unmarshal(run.Output, &out))
	assert.True(t, out.SleptEnough, "slept only %s", out.Slept)
	// The sleep is the server's: the handler was called again after it,
	// for the step after the sleep.
	assert.GreaterOrEqual(t, len(a.callsTo("napper")), 3)
}

// A run whose memoized state exceeds 4 MiB is called with use_api, and
// the SDK loads its state from the server's API and completes.
func TestLargeStateUsesAPI(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	const size = 2_500_000
	chunk := func(b byte) string { return strings.Repeat(string(rune(b)), size) }
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "big"}, inngest.EventTrigger(a.event("big"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			x, err := step.Run(ctx, "x", func(ctx context.Context) (string, error) { return chunk('x'), nil })
			if err != nil {
				return nil, err
			}
			y, err := step.Run(ctx, "y", func(ctx context.Context) (string, error) { return chunk('y'), nil })
			if err != nil {
				return nil, err
			}
			n, err := step.Run(ctx, "z", func(ctx context.Context) (int, error) { return len(x) + len(y), nil })
			if err != nil {
				return nil, err
			}
			return map[string]any{"x_ok": x == chunk('x'), "y_ok": y == chunk('y'), "total": n}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("big"), nil))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, fmt.Sprintf(`{"x_ok":true,"y_ok":true,"total":%d}`, 2*size), string(run.Output))
	useAPI := 0
	for _, c := range a.callsTo("big") {
		if c.UseAPI {
			useAPI++
			assert.Equal(t, 200, c.Status/100*100, "a use_api call failed: %+v", c)
		}
	}
	assert.Positive(t, useAPI, "no call had use_api: %+v", a.callsTo("big"))
}
