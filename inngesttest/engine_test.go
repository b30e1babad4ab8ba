package inngesttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/require"
)

func TestRunStepsAndSleep(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "steps"}, inngest.EventTrigger("shop/steps", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			a, err := step.Run(ctx, "a", func(ctx context.Context) (int, error) { return in.Event.Data.Total, nil })
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", 36*time.Hour); err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) { return a + 1, nil })
			return map[string]int{"a": a, "b": b}, err
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/steps", order{ID: 1, Total: 41}))
	t.Log(run)
	run.RequireCompleted(t).RequireOutput(t, map[string]int{"a": 41, "b": 42}).RequireElapsed(t, 36*time.Hour)
	run.RequireStep(t, "nap").Kind(inngesttest.KindSleep).Duration(36 * time.Hour)
	run.RequireStep(t, "a").Attempts(1).Result(41)
	require.Equal(t, 4, run.Calls())
}
