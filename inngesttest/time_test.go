package inngesttest_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
)

// Sleeps, retry delays, wait timeouts and sleep-until add up on the
// virtual clock; a week-long run takes no real time.
func TestVirtualTimeTotals(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	eng := inngesttest.New(t, inngesttest.WithStartTime(start))
	c := newClient(t, eng)
	var flaked atomic.Bool
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "long"}, inngest.EventTrigger("shop/long", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			if err := step.Sleep(ctx, "hour", time.Hour); err != nil {
				return nil, err
			}
			if _, err := step.Run(ctx, "flaky", func(context.Context) (int, error) {
				if flaked.CompareAndSwap(false, true) {
					return 0, errors.New("once")
				}
				return 1, nil
			}); err != nil {
				return nil, err
			}
			if _, err := step.WaitForEvent[any](ctx, "nobody", step.WaitForEventOpts{Event: "shop/never", Timeout: 30 * time.Minute}); !errors.Is(err, step.ErrEventNotReceived) {
				return nil, errors.New("the wait should time out")
			}
			if err := step.SleepUntil(ctx, "until-3am", start.Add(3*time.Hour)); err != nil {
				return nil, err
			}
			return nil, step.Sleep(ctx, "week", 7*24*time.Hour)
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/long", nil))
	run.RequireCompleted(t).RequireElapsed(t, 3*time.Hour+7*24*time.Hour)
	run.RequireStep(t, "hour").Duration(time.Hour)
	run.RequireStep(t, "flaky").Duration(15 * time.Second)
	run.RequireStep(t, "nobody").Duration(30 * time.Minute).TimedOut()
	run.RequireStep(t, "until-3am").Duration(3*time.Hour - time.Hour - 15*time.Second - 30*time.Minute)
	assert.Equal(t, start.Add(3*time.Hour+7*24*time.Hour), run.EndedAt())
	assert.Equal(t, run.EndedAt(), eng.Now())
}

// Advance moves the clock and does what falls due, in order; Start and
// Send never move it.
func TestAdvanceStepsThroughSleeps(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "naps"}, inngest.EventTrigger("shop/naps", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			for _, id := range []string{"one", "two"} {
				if err := step.Sleep(ctx, id, time.Hour); err != nil {
					return nil, err
				}
			}
			return "rested", nil
		}))
	eng.Register(c)
	t0 := eng.Now()
	run := eng.Start(fn, evt("shop/naps", nil))
	assert.Equal(t, t0, eng.Now())
	eng.Advance(59 * time.Minute)
	_, woke := run.Step("one")
	assert.True(t, woke)
	assert.Equal(t, inngesttest.StepPending, run.RequireStep(t, "one").Step().Status)
	eng.Advance(time.Minute)
	run.RequireStep(t, "one").Completed()
	run.RequireStep(t, "two")
	eng.Advance(time.Hour)
	run.RequireOutput(t, "rested").RequireElapsed(t, 2*time.Hour)
	assert.Equal(t, t0.Add(2*time.Hour), eng.Now())
}
