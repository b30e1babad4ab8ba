package step_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// steps runs the named steps in order: "sleep:<id>" sleeps, others are
// step.Run steps returning their ID.
func steps(ctx context.Context, ran *counter, ids ...string) error {
	for _, id := range ids {
		if s, ok := strings.CutPrefix(id, "sleep:"); ok {
			if err := step.Sleep(ctx, s, time.Hour); err != nil {
				return err
			}
			continue
		}
		if _, err := step.Run(ctx, id, func(context.Context) (string, error) { ran.inc(id); return id, nil }); err != nil {
			return err
		}
	}
	return nil
}

// memoOf memoizes the given step.Run IDs, in order.
func memoOf(ids ...string) (map[string]string, []string) {
	m := map[string]string{}
	var stack []string
	for _, id := range ids {
		m[hash(id)] = `{"data":"` + id + `"}`
		stack = append(stack, hash(id))
	}
	return m, stack
}

// TestDivergenceWarning: a call whose code reaches a step with no
// recorded result while recorded steps remain unvisited logs one warning
// naming the run, the function, the step found and the unvisited steps
// (by hash and place), and carries on: recorded steps it does reach
// replay out of order, the new step runs.
func TestDivergenceWarning(t *testing.T) {
	cases := []struct {
		name     string
		recorded []string // completed steps, in order
		code     []string // today's steps
		found    string   // the first step with no recorded result
		unvisit  []string // "#place hash" of the unvisited steps
		ran      string   // the step body that runs in this call
	}{
		{"renamed", []string{"a", "b"}, []string{"a", "b2", "c"}, "b2", []string{"#2 " + hash("b")}, "b2"},
		{"inserted", []string{"a", "b"}, []string{"x", "a", "b", "c"}, "x", []string{"#1 " + hash("a"), "#2 " + hash("b")}, "x"},
		{"removed", []string{"a", "b", "c"}, []string{"a", "c", "d"}, "d", []string{"#2 " + hash("b")}, "d"},
		{"reordered", []string{"a"}, []string{"b", "a", "c"}, "b", []string{"#1 " + hash("a")}, "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newClient(t)
			var ran counter
			fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				return nil, steps(ctx, &ran, tc.code...)
			})
			memo, stack := memoOf(tc.recorded...)
			r := call{fn: "f", steps: memo, stack: stack}.do(t, c)
			require.Equal(t, 206, r.Status, r.Body)
			ops := decodeOps(t, r.Body)
			require.Len(t, ops, 1)
			assert.Equal(t, hash(tc.ran), ops[0].ID)
			assert.Equal(t, "StepRun", ops[0].Op)
			assert.Equal(t, 1, ran.get(tc.ran))
			out := logs.String()
			assert.Equal(t, 1, strings.Count(out, "level=WARN"), out)
			assert.Contains(t, out, "reached a step with no recorded result while completed steps of the run were unvisited")
			assert.Contains(t, out, "function=demo-f run_id=01M89CTC00Y1RFEX6HGGCHG9VY")
			assert.Contains(t, out, "unvisited=\"["+strings.Join(tc.unvisit, " ")+"]\"")
			assert.Contains(t, out, "found="+tc.found+" found_hash="+hash(tc.found))
		})
	}
}

// TestNoDivergenceWarning: replaying every recorded step, then new ones,
// is no divergence.
func TestNoDivergenceWarning(t *testing.T) {
	c, logs := newClient(t)
	var ran counter
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, steps(ctx, &ran, "a", "b", "c")
	})
	memo, stack := memoOf("a", "b")
	r := call{fn: "f", steps: memo, stack: stack}.do(t, c)
	require.Equal(t, 206, r.Status, r.Body)
	assert.NotContains(t, logs.String(), "level=WARN")
}

// TestReturnedBeforeRecordedSteps: a function that returns before some
// recorded steps is warned about too.
func TestReturnedBeforeRecordedSteps(t *testing.T) {
	c, logs := newClient(t)
	var ran counter
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return "done", steps(ctx, &ran, "a")
	})
	memo, stack := memoOf("a", "b")
	r := call{fn: "f", steps: memo, stack: stack}.do(t, c)
	requireResponse(t, r, 200, `"done"`)
	assert.Contains(t, logs.String(), "returned without visiting some of the run's completed steps")
	assert.Contains(t, logs.String(), "unvisited=\"[#2 "+hash("b")+"]\"")
}

// patchedFn is a function changed under a patch: old runs did a, then
// b; new runs do a, then b2.
func patchedFn(t *testing.T, c *inngest.Client, ran *counter) {
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		if err := steps(ctx, ran, "a"); err != nil {
			return nil, err
		}
		if step.Patched(ctx, "b-v2") {
			return "new", steps(ctx, ran, "b2")
		}
		return "old", steps(ctx, ran, "b")
	})
}

func TestPatched(t *testing.T) {
	t.Run("at new code", func(t *testing.T) {
		c, logs := newClient(t)
		var ran counter
		patchedFn(t, c, &ran)
		memo, stack := memoOf("a")
		r := call{fn: "f", steps: memo, stack: stack}.do(t, c)
		require.Equal(t, 206, r.Status, r.Body)
		assert.Equal(t, hash("b2"), decodeOps(t, r.Body)[0].ID)
		assert.NotContains(t, logs.String(), "level=WARN")
	})
	t.Run("new run replays its new branch", func(t *testing.T) {
		c, logs := newClient(t)
		var ran counter
		patchedFn(t, c, &ran)
		memo, stack := memoOf("a", "b2")
		requireResponse(t, call{fn: "f", steps: memo, stack: stack}.do(t, c), 200, `"new"`)
		assert.NotContains(t, logs.String(), "level=WARN")
		assert.Zero(t, ran.get("b2"))
	})
	t.Run("old run keeps its old branch", func(t *testing.T) {
		c, logs := newClient(t)
		var ran counter
		patchedFn(t, c, &ran)
		memo, stack := memoOf("a", "b")
		requireResponse(t, call{fn: "f", steps: memo, stack: stack}.do(t, c), 200, `"old"`)
		assert.NotContains(t, logs.String(), "level=WARN")
		assert.Zero(t, ran.get("b")+ran.get("b2"), "no step body runs")
	})
	t.Run("old run with steps ahead after the patch", func(t *testing.T) {
		c, logs := newClient(t)
		var ran counter
		fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			if step.Patched(ctx, "inserted-x") {
				if err := steps(ctx, &ran, "x"); err != nil {
					return nil, err
				}
			}
			return "ok", steps(ctx, &ran, "a", "b")
		})
		memo, stack := memoOf("a")
		r := call{fn: "f", steps: memo, stack: stack}.do(t, c)
		require.Equal(t, 206, r.Status, r.Body)
		ops := decodeOps(t, r.Body)
		assert.Equal(t, hash("b"), ops[0].ID)
		assert.Zero(t, ran.get("x"))
		assert.Equal(t, 1, ran.get("b"))
		assert.NotContains(t, logs.String(), "level=WARN")
	})
	t.Run("outside a function", func(t *testing.T) {
		assert.True(t, step.Patched(context.Background(), "p"))
	})
}

// A loop whose bound went down leaves recorded occurrences unvisited:
// the warning names them by ID and occurrence, which the SDK recovers
// from the IDs the code used.
func TestDivergenceWarningNamesLoopOccurrences(t *testing.T) {
	c, logs := newClient(t)
	var ran counter
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return "sent", steps(ctx, &ran, "send", "send")
	})
	memo := map[string]string{hash("send"): `{"data":"send"}`, hash("send", 1): `{"data":"send"}`, hash("send", 2): `{"data":"send"}`}
	stack := []string{hash("send"), hash("send", 1), hash("send", 2)}
	requireResponse(t, call{fn: "f", steps: memo, stack: stack}.do(t, c), 200, `"sent"`)
	assert.Contains(t, logs.String(), "returned without visiting some of the run's completed steps")
	assert.Contains(t, logs.String(), `unvisited="[#3 send[2] `+hash("send", 2)+`]"`)
}
