package inngest_test

// Behaviour of the SDK over whole runs, driven by the in-process engine
// (package inngesttest), which calls the real handler the way the
// server does. Byte-level protocol answers are tested in protocol_*.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

type job struct {
	ID int `json:"id"`
}

func behaviourClient(t *testing.T, eng *inngesttest.Engine) *inngest.Client {
	t.Helper()
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID: "jobs", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Logger: testkit.QuietLogger(),
	})
	require.NoError(t, err)
	return c
}

// Retries: N gives each step N+1 attempts; the run then fails, and its
// failure handler runs exactly once with the original event, the error
// and the failed step's ID. A function error outside any step gets the
// same attempts.
func TestBehaviourRetriesThenFailureHandlerOnce(t *testing.T) {
	for _, retries := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			eng := inngesttest.New(t)
			c := behaviourClient(t, eng)
			var attempts []int
			var failures []inngest.Failure[job]
			fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{
				ID:      "charge",
				Retries: inngest.Ptr(retries),
				OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[job]) (any, error) {
					failures = append(failures, f)
					return nil, nil
				}),
			}, inngest.EventTrigger("jobs/charge", nil), func(ctx context.Context, in inngest.Input[job]) (any, error) {
				return step.Run(ctx, "card", func(ctx context.Context) (int, error) {
					attempts = append(attempts, in.Attempt)
					return 0, errors.New("card declined")
				})
			})
			require.NoError(t, err)
			eng.Register(c)

			run := eng.Run(fn, inngest.Event[any]{Name: "jobs/charge", Data: job{ID: 7}})
			run.RequireFailed(t).RequireError(t, "card declined").RequireFailureHandlerRan(t)
			run.RequireStep(t, "card").Attempts(retries + 1).Failed()
			want := make([]int, retries+1)
			for i := range want {
				want[i] = i
			}
			assert.Equal(t, want, attempts, "zero-based attempts seen by the step")
			eng.Wait(run.FailureHandlers()...)
			require.Len(t, failures, 1, "the failure handler runs once per failed run")
			f := failures[0]
			assert.Equal(t, "jobs-charge", f.FunctionID)
			assert.Equal(t, run.ID(), f.RunID)
			assert.Equal(t, job{ID: 7}, f.Event.Data)
			assert.Equal(t, "card", f.StepID)
			assert.Equal(t, "card declined", f.Error.Message)
		})
	}
}

// A NoRetryError gives one attempt; a caught StepError lets the run go
// on with a compensating step and succeed, and no failure handler runs.
func TestBehaviourNoRetryAndCaughtStepError(t *testing.T) {
	eng := inngesttest.New(t)
	c := behaviourClient(t, eng)
	handled := 0
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:      "book",
		Retries: inngest.Ptr(4),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[job]) (any, error) {
			handled++
			return nil, nil
		}),
	}, inngest.EventTrigger("jobs/book", nil), func(ctx context.Context, in inngest.Input[job]) (any, error) {
		_, err := step.Run(ctx, "reserve", func(ctx context.Context) (string, error) {
			return "", inngest.NoRetryError(errors.New("sold out"))
		})
		var se *inngest.StepError
		if !errors.As(err, &se) {
			return nil, fmt.Errorf("want a StepError, got %v", err)
		}
		return step.Run(ctx, "waitlist", func(ctx context.Context) (string, error) {
			return "waitlisted after " + se.StepID + ": " + se.Message, nil
		})
	})
	require.NoError(t, err)
	eng.Register(c)

	run := eng.Run(fn, inngest.Event[any]{Name: "jobs/book", Data: job{ID: 1}})
	run.RequireCompleted(t).RequireOutput(t, "waitlisted after reserve: sold out").RequireNoFailureHandler(t)
	run.RequireStep(t, "reserve").Attempts(1).Failed()
	assert.Zero(t, handled)
}

// A RetryAtError delays the next attempt to its time; the delay is
// recorded on the engine's virtual clock.
func TestBehaviourRetryAt(t *testing.T) {
	eng := inngesttest.New(t)
	c := behaviourClient(t, eng)
	calls := 0
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "later", Retries: inngest.Ptr(1)}, inngest.EventTrigger("jobs/later", nil),
		func(ctx context.Context, in inngest.Input[job]) (any, error) {
			calls++
			if in.Attempt == 0 {
				return nil, inngest.RetryAfterError(errors.New("rate limited"), 2*time.Hour)
			}
			return "done", nil
		})
	require.NoError(t, err)
	eng.Register(c)
	run := eng.Run(fn, inngest.Event[any]{Name: "jobs/later", Data: job{}})
	run.RequireCompleted(t).RequireOutput(t, "done")
	assert.Equal(t, 2, calls)
	assert.GreaterOrEqual(t, run.Elapsed(), 2*time.Hour-time.Second)
	assert.LessOrEqual(t, run.Elapsed(), 2*time.Hour+time.Second)
}

// Parallel steps run as a group, each once, with typed results; waits
// and invokes resume with their results.
func TestBehaviourParallelWaitAndInvoke(t *testing.T) {
	eng := inngesttest.New(t)
	c := behaviourClient(t, eng)
	runsOf := map[string]int{}
	double, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "double"}, inngest.EventTrigger("jobs/double", nil),
		func(ctx context.Context, in inngest.Input[job]) (any, error) {
			return in.Event.Data.ID * 2, nil
		})
	require.NoError(t, err)
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fan-out"}, inngest.EventTrigger("jobs/fan-out", nil),
		func(ctx context.Context, in inngest.Input[job]) (any, error) {
			var a, b int
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) (err error) {
				a, err = step.Run(ctx, "a", func(ctx context.Context) (int, error) { runsOf["a"]++; return 1, nil })
				return err
			})
			g.Go(func(ctx context.Context) (err error) {
				b, err = step.Run(ctx, "b", func(ctx context.Context) (int, error) { runsOf["b"]++; return 2, nil })
				return err
			})
			if err := g.Wait(); err != nil {
				return nil, err
			}
			approval, err := step.WaitForEvent[job](ctx, "approval", step.WaitForEventOpts{Event: "jobs/approved", Match: "data.id", Timeout: time.Hour})
			if err != nil {
				return nil, err
			}
			d, err := step.InvokeFunction[int](ctx, "double", double, job{ID: a + b + approval.Data.ID}, time.Minute)
			return d, err
		})
	require.NoError(t, err)
	eng.Register(c)
	eng.OnPause("approval", func(p inngesttest.Pause) {
		eng.After(10*time.Minute, func() { eng.Send(inngest.Event[any]{Name: "jobs/approved", Data: job{ID: 4}}) })
	})
	run := eng.Run(fn, inngest.Event[any]{Name: "jobs/fan-out", Data: job{ID: 4}})
	run.RequireCompleted(t).RequireOutput(t, 14)
	run.RequireStep(t, "approval").Duration(10 * time.Minute)
	run.RequireStep(t, "double").Kind(inngesttest.KindInvoke).Result(14)
	assert.Equal(t, map[string]int{"a": 1, "b": 1}, runsOf)
}
