package inngesttest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cpClient returns a dev-mode client of app "shop" that sends through the
// engine, with checkpointing cp (nil: off).
func cpClient(t *testing.T, eng *inngesttest.Engine, cp *inngest.Checkpointing) *inngest.Client {
	t.Helper()
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:         "shop",
		Mode:          inngest.ModeDev,
		HTTPClient:    eng.HTTPClient(),
		Logger:        quiet,
		Checkpointing: cp,
	})
	require.NoError(t, err)
	return c
}

// counts counts how often each step body ran.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) inc(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[id]++
	return c.n[id]
}

func (c *counts) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

// modes are the two ways each test runs its function.
var modes = []struct {
	name string
	cp   *inngest.Checkpointing
}{
	{"one step per call", nil},
	{"checkpointed", &inngest.Checkpointing{}},
}

// With checkpointing, a function of 20 steps runs in one call; without,
// it takes one call per step and one to return. The steps, their results
// and the output are the same either way.
func TestCheckpointingTwentyStepsInOneCall(t *testing.T) {
	const steps = 20
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			eng := inngesttest.New(t)
			c := cpClient(t, eng, mode.cp)
			var bodies counts
			fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "twenty"}, inngest.EventTrigger("shop/twenty", nil),
				func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
					sum := 0
					for i := range steps {
						id := fmt.Sprintf("step-%d", i)
						n, err := step.Run(ctx, id, func(context.Context) (int, error) {
							bodies.inc(id)
							return i, nil
						})
						if err != nil {
							return nil, err
						}
						sum += n
					}
					return map[string]int{"sum": sum}, nil
				}))
			eng.Register(c)

			run := eng.Run(fn, evt("shop/twenty", map[string]any{}))

			run.RequireOutput(t, map[string]int{"sum": 190})
			checkpointed := mode.cp != nil
			if checkpointed {
				assert.Equal(t, 1, run.Calls())
			} else {
				assert.Equal(t, steps+1, run.Calls())
			}
			got := run.Steps()
			require.Len(t, got, steps)
			for i, st := range got {
				id := fmt.Sprintf("step-%d", i)
				assert.Equal(t, id, st.ID)
				run.RequireStep(t, id).Kind(inngesttest.KindRun).Completed().Attempts(1).Result(i)
				assert.Equal(t, checkpointed, st.Checkpointed, id)
				assert.JSONEq(t, fmt.Sprintf(`{"data":%d}`, i), string(st.Memo), id)
				assert.Equal(t, 1, bodies.get(id), "%s's body ran", id)
			}

			var stepEntries []string
			for _, e := range run.Timeline() {
				if e.Kind == inngesttest.EntryStep {
					stepEntries = append(stepEntries, e.Step+" "+e.Detail)
				}
			}
			require.Len(t, stepEntries, steps)
			verb := "completed"
			if checkpointed {
				verb = "checkpointed"
			}
			for i, s := range stepEntries {
				assert.Equal(t, fmt.Sprintf("step-%d %s: %d", i, verb, i), s)
			}
		})
	}
}

// mixed runs a step, sleeps, runs another step, then a step that fails
// twice before it succeeds (Retries 2 allows three attempts).
func mixed(t *testing.T, eng *inngesttest.Engine, cp *inngest.Checkpointing, bodies *counts, seen *attempts) *inngest.Function[map[string]any] {
	t.Helper()
	c := cpClient(t, eng, cp)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "mixed", Retries: inngest.Ptr(2)}, inngest.EventTrigger("shop/mixed", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			x, err := step.Run(ctx, "before", func(context.Context) (int, error) { bodies.inc("before"); return 1, nil })
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", time.Minute); err != nil {
				return nil, err
			}
			y, err := step.Run(ctx, "after", func(context.Context) (int, error) { bodies.inc("after"); return 2, nil })
			if err != nil {
				return nil, err
			}
			z, err := step.Run(ctx, "flaky", func(context.Context) (int, error) {
				seen.add(in.RunInfo)
				if bodies.inc("flaky") < 3 {
					return 0, errors.New("not yet")
				}
				return 3, nil
			})
			if err != nil {
				return nil, err
			}
			return x + y + z, nil
		}))
	eng.Register(c)
	return fn
}

// Checkpointed steps mix with a sleep, which the engine carries out, and
// with a step that is retried: the run's output, its steps (attempts,
// results, durations) and its virtual time are those of a run without
// checkpointing; only the number of calls differs.
func TestCheckpointingWithSleepAndRetries(t *testing.T) {
	type stepView struct {
		ID       string
		Kind     inngesttest.StepKind
		Status   inngesttest.StepStatus
		Attempts int
		Result   string
		Duration time.Duration
	}
	views := map[string][]stepView{}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			eng := inngesttest.New(t)
			var bodies counts
			var seen attempts
			fn := mixed(t, eng, mode.cp, &bodies, &seen)

			run := eng.Run(fn, evt("shop/mixed", map[string]any{}))

			run.RequireOutput(t, 6).RequireElapsed(t, time.Minute+15*time.Second+30*time.Second)
			flaky := run.RequireStep(t, "flaky").Completed().Attempts(3).Result(3).Duration(45 * time.Second)
			if mode.cp != nil {
				flaky.Checkpointed()
			}
			run.RequireStep(t, "nap").Kind(inngesttest.KindSleep).Completed().Duration(time.Minute)
			assert.Equal(t, 1, bodies.get("before"))
			assert.Equal(t, 1, bodies.get("after"))
			assert.Equal(t, []int{0, 1, 2}, seen.list(), "ctx.attempt of the flaky step's runs")

			var vs []stepView
			for _, st := range run.Steps() {
				vs = append(vs, stepView{st.ID, st.Kind, st.Status, st.Attempts, string(st.Result), st.Duration})
				want := mode.cp != nil && st.Kind == inngesttest.KindRun
				assert.Equal(t, want, st.Checkpointed, "step %s checkpointed", st.ID)
			}
			views[mode.name] = vs

			if mode.cp == nil {
				// before; nap; after; flaky three times; the return.
				assert.Equal(t, 7, run.Calls())
			} else {
				// before and nap; after and flaky; flaky; flaky and
				// the return.
				assert.Equal(t, 4, run.Calls())
			}
		})
	}
	require.Len(t, views, 2)
	assert.Equal(t, views[modes[0].name], views[modes[1].name])
}

// A checkpoint resets the call's attempts, as the server resets the
// queue item's: a step that fails after a step that needed a retry gets
// all its attempts, as it does without checkpointing, where it starts
// with a new call.
func TestCheckpointingResetsAttempts(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			eng := inngesttest.New(t)
			c := cpClient(t, eng, mode.cp)
			var bodies counts
			var seenA, seenB attempts
			fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "twice", Retries: inngest.Ptr(2)}, inngest.EventTrigger("shop/twice", nil),
				func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
					a, err := step.Run(ctx, "a", func(context.Context) (string, error) {
						seenA.add(in.RunInfo)
						if bodies.inc("a") < 2 {
							return "", errors.New("a: not yet")
						}
						return "a", nil
					})
					if err != nil {
						return nil, err
					}
					b, err := step.Run(ctx, "b", func(context.Context) (string, error) {
						seenB.add(in.RunInfo)
						if bodies.inc("b") < 3 {
							return "", errors.New("b: not yet")
						}
						return "b", nil
					})
					if err != nil {
						return nil, err
					}
					return a + b, nil
				}))
			eng.Register(c)

			run := eng.Run(fn, evt("shop/twice", map[string]any{}))

			run.RequireOutput(t, "ab")
			run.RequireStep(t, "a").Completed().Attempts(2)
			run.RequireStep(t, "b").Completed().Attempts(3)
			assert.Equal(t, []int{0, 1}, seenA.list())
			if mode.cp == nil {
				assert.Equal(t, []int{0, 1, 2}, seenB.list())
			} else {
				// b first runs in the call that checkpointed a, on
				// attempt 1: Input.Attempt is the call's attempt as
				// sent, which the checkpoint made stale. The retries
				// of b are attempts 1 and 2 of the reset count.
				assert.Equal(t, []int{1, 1, 2}, seenB.list())
			}
		})
	}
}

// The calls a checkpointing client gets carry what it needs to
// checkpoint (fn_id, qi_id, request_id, generation_id), and the timeline
// says how many steps each call checkpointed.
func TestCheckpointingTimeline(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	eng := inngesttest.New(t, inngesttest.WithTrace(func(c inngesttest.Call) {
		mu.Lock()
		bodies = append(bodies, string(c.Body))
		mu.Unlock()
	}))
	var b counts
	var seen attempts
	fn := mixed(t, eng, &inngest.Checkpointing{}, &b, &seen)
	run := eng.Run(fn, evt("shop/mixed", map[string]any{}))
	run.RequireOutput(t, 6)

	var calls []string
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryCall {
			calls = append(calls, fmt.Sprintf("attempt %d -> %d: %s", e.Attempt, e.Status, e.Detail))
		}
	}
	assert.Equal(t, []string{
		`attempt 0 -> 206: 1 step checkpointed; Sleep "nap"`,
		`attempt 0 -> 206: 1 step checkpointed; StepError "flaky"`,
		`attempt 1 -> 206: StepError "flaky"`,
		`attempt 2 -> 200: 1 step checkpointed; returned 6`,
	}, calls)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 4)
	for _, b := range bodies {
		for _, field := range []string{`"fn_id":"`, `"qi_id":"`, `"request_id":"`, `"generation_id":`} {
			assert.Contains(t, b, field)
		}
		assert.NotContains(t, b, `"fn_id":""`)
		assert.NotContains(t, b, `"qi_id":""`)
	}
	// The retries of the flaky step are dispatches 2 and 3 of the
	// queue item of the call after the sleep.
	for i, gen := range []string{`"generation_id":1`, `"generation_id":1`, `"generation_id":2`, `"generation_id":3`} {
		assert.True(t, strings.Contains(bodies[i], gen), "call %d: want %s", i, gen)
	}
}

// A run with mocks is called with disable_immediate_execution, so the SDK
// does not checkpoint: every step is planned and run in a call of its
// own, and the mocked step's body never runs.
func TestCheckpointingOffForMockedRuns(t *testing.T) {
	eng := inngesttest.New(t)
	var b counts
	var seen attempts
	fn := mixed(t, eng, &inngest.Checkpointing{}, &b, &seen)

	run := eng.Run(fn, evt("shop/mixed", map[string]any{}), inngesttest.Mock("flaky", 40))

	run.RequireOutput(t, 43)
	run.RequireStep(t, "flaky").Mocked()
	assert.Equal(t, 0, b.get("flaky"))
	for _, st := range run.Steps() {
		assert.False(t, st.Checkpointed, st.ID)
	}
	run.RequireStep(t, "before").Completed().Attempts(1)
	assert.Equal(t, 1, b.get("before"))
}
