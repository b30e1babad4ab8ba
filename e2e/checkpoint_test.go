package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// A function of 20 steps gives the same result with and without
// checkpointing, each step's body runs once, and with checkpointing the
// server makes one call instead of 21. With the 20 steps in one batch,
// the run takes at most 50 ms by the server's trace. The test is not
// parallel, so that the other tests do not load the server while it
// measures.
func TestCheckpointing(t *testing.T) {
	tg := needServer(t)
	const steps = 20
	for _, tc := range []struct {
		name     string
		cp       *inngest.Checkpointing
		maxCalls int
	}{
		{"one step per call", nil, steps + 1},
		{"checkpointed", &inngest.Checkpointing{}, 1},
		{"checkpointed in one batch", &inngest.Checkpointing{BatchSteps: steps}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, tg, appConfig{checkpointing: tc.cp})
			var bodies [steps]counter
			_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "twenty"}, inngest.EventTrigger(a.event("twenty"), nil),
				func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
					sum := 0
					for i := range steps {
						n, err := step.Run(ctx, fmt.Sprintf("step-%d", i), func(ctx context.Context) (int, error) {
							bodies[i].inc()
							return i, nil
						})
						if err != nil {
							return nil, err
						}
						sum += n
					}
					return map[string]int{"sum": sum}, nil
				})
			require.NoError(t, err)
			a.sync()

			start := time.Now()
			run := tg.finished(t, a.send(a.event("twenty"), map[string]any{}))
			elapsed := time.Since(start)
			require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
			assert.JSONEq(t, `{"sum":190}`, string(run.Output))
			for i := range bodies {
				assert.Equal(t, 1, bodies[i].get(), "step-%d ran", i)
			}
			calls := len(a.callsTo("twenty"))
			assert.Equal(t, tc.maxCalls, calls, "calls from the server")
			var took time.Duration
			if run.EndedAt != nil {
				took = run.EndedAt.Sub(run.StartedAt)
			}
			span := runSpan(t, tg, run.RunID)
			t.Logf("%s: %d calls; the server's trace has the run taking %s, its run record %s (%s from send to a finished run, with polling)",
				tc.name, calls, span, took.Round(time.Millisecond), elapsed.Round(time.Millisecond))
			if tc.cp != nil && tc.cp.BatchSteps == steps {
				// One checkpoint request for the twenty steps, then the
				// result: the median of five runs.
				spans := []time.Duration{span}
				for range 4 {
					run := tg.finished(t, a.send(a.event("twenty"), map[string]any{}))
					require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
					spans = append(spans, runSpan(t, tg, run.RunID))
				}
				slices.Sort(spans)
				t.Logf("%s: runs of %v, median %s", tc.name, spans, spans[2])
				// A time is a measurement, not a pass or fail, on a machine
				// whose load the suite does not control; with
				// INNGEST_E2E_TIMING=1 (a quiet machine) it is held to the
				// 50 ms the SDK reaches.
				if os.Getenv("INNGEST_E2E_TIMING") == "1" {
					assert.LessOrEqual(t, spans[2], 50*time.Millisecond, "the run's span in the server's trace, batched (median of 5)")
				}
				assert.Len(t, a.callsTo("twenty"), 5, "one call for each of the five batched runs")
			}
		})
	}
}

// Checkpointed steps mix with steps the server carries out (a sleep)
// and with a step that fails and is retried: the retried step gets its
// own full set of attempts after the checkpointed steps before it.
func TestCheckpointingWithSleepAndRetries(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{checkpointing: &inngest.Checkpointing{}})
	var before, after, flaky counter
	var attempts recorder[int]
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "mixed", Retries: inngest.Ptr(2)}, inngest.EventTrigger(a.event("mixed"), nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			x, err := step.Run(ctx, "before", func(ctx context.Context) (int, error) { before.inc(); return 1, nil })
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", time.Second); err != nil {
				return nil, err
			}
			y, err := step.Run(ctx, "after", func(ctx context.Context) (int, error) { after.inc(); return 2, nil })
			if err != nil {
				return nil, err
			}
			z, err := step.Run(ctx, "flaky", func(ctx context.Context) (int, error) {
				attempts.add(in.Attempt)
				if flaky.inc() < 3 {
					return 0, errors.New("not yet")
				}
				return 3, nil
			})
			if err != nil {
				return nil, err
			}
			return x + y + z, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("mixed"), map[string]any{}))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `6`, string(run.Output))
	assert.Equal(t, 1, before.get())
	assert.Equal(t, 1, after.get())
	assert.Equal(t, 3, flaky.get(), "two failures and a success: Retries 2 allows all three")
}

// runSpan returns how long the server's trace has run runID taking: its
// run span, from the first call to the result.
func runSpan(t *testing.T, tg target, runID string) time.Duration {
	t.Helper()
	var root traceSpan
	tg.eventually(t, "the run's ended trace", func() (bool, string) {
		var err error
		if root, err = tg.runTrace(t, runID); err != nil {
			return false, err.Error()
		}
		dump, _ := json.Marshal(root)
		return root.StartedAt != nil && root.EndedAt != nil, string(dump)
	})
	return root.EndedAt.Sub(*root.StartedAt)
}
