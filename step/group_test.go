package step_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// parallelFn is demo-parallel: Run "p1" → 1 and Run "p2" → 2 in a
// Group, returning the sum.
func parallelFn(t *testing.T, c *inngest.Client, runs *counter) {
	fn(t, c, "parallel", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		var p1, p2 int
		g.Go(func(ctx context.Context) (err error) {
			p1, err = step.Run(ctx, "p1", func(ctx context.Context) (int, error) { runs.inc("p1"); return 1, nil })
			return err
		})
		g.Go(func(ctx context.Context) (err error) {
			p2, err = step.Run(ctx, "p2", func(ctx context.Context) (int, error) { runs.inc("p2"); return 2, nil })
			return err
		})
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return p1 + p2, nil
	})
}

func TestGroupReplaysTheCapturedRun(t *testing.T) {
	c, logs := newClient(t)
	var runs counter
	parallelFn(t, c, &runs)
	calls := loadCaptures(t, "demo-parallel")
	require.Len(t, calls, 4)

	// Discovery: both steps are planned together, none runs.
	requireResponse(t, replay(t, c, calls[0]), 206,
		`[{"id":"b78f576611ec06f96af3ca654c22172a5d746c40","op":"StepPlanned","name":"p1","displayName":"p1","data":null,"userland":{"id":"p1"}},{"id":"c5fd961c9f737a955a308050062e7a2c34ee67c3","op":"StepPlanned","name":"p2","displayName":"p2","data":null,"userland":{"id":"p2"}}]`)
	assert.Zero(t, runs.get("p1")+runs.get("p2"))

	// Targeted calls (disable_immediate_execution is true) run only
	// their step.
	requireResponse(t, replay(t, c, calls[1]), 206,
		`[{"id":"b78f576611ec06f96af3ca654c22172a5d746c40","op":"StepRun","name":"p1","displayName":"p1","data":1,"timing":"<timing>","userland":{"id":"p1"}}]`)
	assert.Equal(t, 1, runs.get("p1"))
	assert.Zero(t, runs.get("p2"))
	requireResponse(t, replay(t, c, calls[2]), 206,
		`[{"id":"c5fd961c9f737a955a308050062e7a2c34ee67c3","op":"StepRun","name":"p2","displayName":"p2","data":2,"timing":"<timing>","userland":{"id":"p2"}}]`)
	assert.Equal(t, 1, runs.get("p1"))
	assert.Equal(t, 1, runs.get("p2"))

	requireResponse(t, replay(t, c, calls[3]), 200, `3`)
	assert.Empty(t, logs.String())
}

func TestGroupAgainstTheServersRequests(t *testing.T) {
	// Requests the dev server sent to this SDK for two branches, a1 → a2
	// and a sleep → b1, then a step after the group.
	c, logs := newClient(t)
	fn(t, c, "parallel", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		var a1, a2, b1 int
		g.Go(func(ctx context.Context) (err error) {
			if a1, err = step.Run(ctx, "a1", func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
				return err
			}
			a2, err = step.Run(ctx, "a2", func(ctx context.Context) (int, error) { return a1 + 10, nil })
			return err
		})
		g.Go(func(ctx context.Context) (err error) {
			if err := step.Sleep(ctx, "nap", time.Second); err != nil {
				return err
			}
			b1, err = step.Run(ctx, "b1", func(ctx context.Context) (int, error) { return 100, nil })
			return err
		})
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return step.Run(ctx, "after", func(ctx context.Context) (int, error) { return a1 + a2 + b1, nil })
	})
	calls := loadCaptures(t, "server-parallel")
	require.Len(t, calls, 7)
	want := []struct {
		status int
		body   string
	}{
		{206, `[{"id":"f29bc91bbdab169fc0c0a326965953d11c7dff83","op":"StepPlanned","name":"a1","displayName":"a1","data":null,"userland":{"id":"a1"}},{"id":"c2640f79b4ed481b838ce4ad75330aa3f825d4d9","op":"Sleep","name":"nap","displayName":"nap","opts":{"duration":"1s"},"data":null,"userland":{"id":"nap"}}]`},
		{206, `[{"id":"f29bc91bbdab169fc0c0a326965953d11c7dff83","op":"StepRun","name":"a1","displayName":"a1","data":1,"timing":"<timing>","userland":{"id":"a1"}}]`},
		{206, `[{"id":"b9f85daa6f83cf02ce5c31913d1f64d3f5c8fade","op":"StepPlanned","name":"a2","displayName":"a2","data":null,"userland":{"id":"a2"}},{"id":"7e83ca2a65d6f90a809c8570c6c905a941b87732","op":"StepPlanned","name":"b1","displayName":"b1","data":null,"userland":{"id":"b1"}}]`},
		{206, `[{"id":"7e83ca2a65d6f90a809c8570c6c905a941b87732","op":"StepRun","name":"b1","displayName":"b1","data":100,"timing":"<timing>","userland":{"id":"b1"}}]`},
		{206, `[{"id":"b9f85daa6f83cf02ce5c31913d1f64d3f5c8fade","op":"StepRun","name":"a2","displayName":"a2","data":11,"timing":"<timing>","userland":{"id":"a2"}}]`},
		{206, `[{"id":"405906c9d5be6ae5393ca65fb0e7c38e0d585ecb","op":"StepRun","name":"after","displayName":"after","data":112,"timing":"<timing>","userland":{"id":"after"}}]`},
		{200, `112`},
	}
	for i, cp := range calls {
		requireResponse(t, replay(t, c, cp), want[i].status, want[i].body)
	}
	assert.Empty(t, logs.String())
}

func TestGroupReplayIsTheSameInAnyStackOrder(t *testing.T) {
	c, logs := newClient(t)
	var runs counter
	parallelFn(t, c, &runs)
	steps := map[string]string{hash("p1"): `{"data":1}`, hash("p2"): `{"data":2}`}
	for _, stack := range [][]string{{hash("p1"), hash("p2")}, {hash("p2"), hash("p1")}} {
		requireResponse(t, call{fn: "parallel", steps: steps, stack: stack}.do(t, c), 200, `3`)
	}
	assert.Empty(t, logs.String())
	assert.Zero(t, runs.get("p1")+runs.get("p2"))
}

func TestStackEntryNeverReachedIsLogged(t *testing.T) {
	c, logs := newClient(t)
	var runs counter
	parallelFn(t, c, &runs)
	gone := hash("removed-step")
	steps := map[string]string{hash("p1"): `{"data":1}`, gone: `{"data":5}`}
	r := call{fn: "parallel", steps: steps, stack: []string{hash("p1"), gone}}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("p2")+`","op":"StepPlanned","name":"p2","displayName":"p2","data":null,"userland":{"id":"p2"}}]`)
	out := logs.String()
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, "not deterministic")
	assert.Contains(t, out, gone)
	assert.NotContains(t, out, hash("p1"))
}

func TestGroupTargetedCallForAnUnknownStep(t *testing.T) {
	c, _ := newClient(t)
	var runs counter
	parallelFn(t, c, &runs)
	r := call{fn: "parallel", target: hash("nope"), disableImmediate: true}.do(t, c)
	requireResponse(t, r, 500, `{"error":"Could not find step \"`+hash("nope")+`\" to run; timed out"}`)
	assert.Equal(t, "false", r.Header.Get("X-Inngest-No-Retry"))
	assert.Zero(t, runs.get("p1")+runs.get("p2"))
}

func TestDisableImmediateExecutionPlansRunSteps(t *testing.T) {
	c, _ := newClient(t)
	var runs counter
	stepsFn(t, c, &runs)
	r := call{fn: "steps", event: `{"n":1}`, disableImmediate: true}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("a")+`","op":"StepPlanned","name":"a","displayName":"a","data":null,"userland":{"id":"a"}}]`)
	assert.Zero(t, runs.get("a"))

	r = call{fn: "steps", event: `{"n":1}`, target: hash("a"), disableImmediate: true}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("a")+`","op":"StepRun","name":"a","displayName":"a","data":{"n":1},"timing":"<timing>","userland":{"id":"a"}}]`)
	assert.Equal(t, 1, runs.get("a"))
}

func TestGroupReportsEveryKindOfStepTogether(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "mixed", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		g.Go(func(ctx context.Context) error {
			_, err := step.Run(ctx, "run", func(ctx context.Context) (int, error) { return 1, nil })
			return err
		})
		g.Go(func(ctx context.Context) error {
			_, err := step.WaitForEvent[any](ctx, "wait", step.WaitForEventOpts{Event: "a/b", Timeout: time.Hour})
			return err
		})
		g.Go(func(ctx context.Context) error {
			_, err := step.Invoke[any](ctx, "invoke", step.InvokeOpts{FunctionID: "demo-other"})
			return err
		})
		g.Go(func(ctx context.Context) error { return step.Sleep(ctx, "sleep", 2*24*time.Hour) })
		g.Go(func(ctx context.Context) error { return nil })
		return "done", g.Wait()
	})
	r := call{fn: "mixed"}.do(t, c)
	requireResponse(t, r, 206, `[`+
		`{"id":"`+hash("run")+`","op":"StepPlanned","name":"run","displayName":"run","data":null,"userland":{"id":"run"}},`+
		`{"id":"`+hash("wait")+`","op":"WaitForEvent","name":"wait","displayName":"wait","opts":{"event":"a/b","timeout":"1h"},"data":null,"userland":{"id":"wait"}},`+
		`{"id":"`+hash("invoke")+`","op":"InvokeFunction","name":"invoke","displayName":"invoke","opts":{"function_id":"demo-other","payload":{"data":{}}},"data":null,"userland":{"id":"invoke"}},`+
		`{"id":"`+hash("sleep")+`","op":"Sleep","name":"sleep","displayName":"sleep","opts":{"duration":"2d"},"data":null,"userland":{"id":"sleep"}}]`)
}

func TestGroupSameIDInBranchesIsCountedInGoOrder(t *testing.T) {
	c, _ := newClient(t)
	var order []string
	fn(t, c, "fan", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		results := make([]string, 3)
		for i, name := range []string{"x", "y", "z"} {
			g.Go(func(ctx context.Context) (err error) {
				results[i], err = step.Run(ctx, "item", func(ctx context.Context) (string, error) {
					order = append(order, name)
					return name, nil
				})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return strings.Join(results, ""), nil
	})
	r := call{fn: "fan"}.do(t, c)
	requireResponse(t, r, 206, `[`+
		`{"id":"`+hash("item")+`","op":"StepPlanned","name":"item","displayName":"item","data":null,"userland":{"id":"item"}},`+
		`{"id":"`+hash("item", 1)+`","op":"StepPlanned","name":"item","displayName":"item","data":null,"userland":{"id":"item","index":1}},`+
		`{"id":"`+hash("item", 2)+`","op":"StepPlanned","name":"item","displayName":"item","data":null,"userland":{"id":"item","index":2}}]`)

	// The targeted call for the third runs the third branch's body.
	r = call{fn: "fan", target: hash("item", 2), disableImmediate: true}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("item", 2)+`","op":"StepRun","name":"item","displayName":"item","data":"z","timing":"<timing>","userland":{"id":"item","index":2}}]`)
	assert.Equal(t, []string{"z"}, order)

	steps := map[string]string{hash("item"): `{"data":"x"}`, hash("item", 1): `{"data":"y"}`, hash("item", 2): `{"data":"z"}`}
	requireResponse(t, call{fn: "fan", steps: steps}.do(t, c), 200, `"xyz"`)
}

func TestGroupWaitReturnsTheFirstErrorAfterAllBranches(t *testing.T) {
	c, _ := newClient(t)
	var waitErr error
	var third bool
	fn(t, c, "errs", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		g.Go(func(ctx context.Context) error {
			_, err := step.Run(ctx, "fails", func(ctx context.Context) (int, error) { return 0, nil })
			return err
		})
		g.Go(func(ctx context.Context) error { return errors.New("second") })
		g.Go(func(ctx context.Context) error {
			third = true
			_, err := step.Run(ctx, "ok", func(ctx context.Context) (int, error) { return 1, nil })
			return err
		})
		waitErr = g.Wait()
		return "handled", nil
	})
	// One branch is still at an unfinished step: Wait stops the function.
	r := call{fn: "errs", steps: map[string]string{hash("fails"): `{"error":{"name":"Error","message":"first"}}`}}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("ok")+`","op":"StepPlanned","name":"ok","displayName":"ok","data":null,"userland":{"id":"ok"}}]`)
	assert.True(t, third, "every branch runs")
	assert.Nil(t, waitErr, "Wait did not return")

	// Once all finished, Wait returns the first error in Go order: the
	// memoized step error.
	r = call{fn: "errs", steps: map[string]string{hash("fails"): `{"error":{"name":"Error","message":"first"}}`, hash("ok"): `{"data":1}`}}.do(t, c)
	requireResponse(t, r, 200, `"handled"`)
	var se *inngest.StepError
	require.ErrorAs(t, waitErr, &se)
	assert.Equal(t, "fails", se.StepID)
}

func TestGroupPanicKeepsTheBranchStack(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "panics", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		g.Go(func(ctx context.Context) error { panicInBranch(); return nil })
		return nil, g.Wait()
	})
	r := call{fn: "panics"}.do(t, c)
	require.Equal(t, 500, r.Status, r.Body)
	assert.Equal(t, "false", r.Header.Get("X-Inngest-No-Retry"))
	assert.Contains(t, r.Body, `"message":"panic: branch exploded"`)
	assert.Contains(t, r.Body, "panicInBranch", "the stack is the branch's")
}

func panicInBranch() { panic("branch exploded") }

func TestNestedGroups(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "nested", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var a, b, c2 int
		outer := step.NewGroup(ctx)
		outer.Go(func(ctx context.Context) error {
			inner := step.NewGroup(ctx)
			inner.Go(func(ctx context.Context) (err error) {
				a, err = step.Run(ctx, "a", func(ctx context.Context) (int, error) { return 1, nil })
				return err
			})
			inner.Go(func(ctx context.Context) (err error) {
				b, err = step.Run(ctx, "b", func(ctx context.Context) (int, error) { return 2, nil })
				return err
			})
			return inner.Wait()
		})
		outer.Go(func(ctx context.Context) (err error) {
			c2, err = step.Run(ctx, "c", func(ctx context.Context) (int, error) { return 3, nil })
			return err
		})
		if err := outer.Wait(); err != nil {
			return nil, err
		}
		return a + b + c2, nil
	})
	r := call{fn: "nested"}.do(t, c)
	requireResponse(t, r, 206, `[`+
		`{"id":"`+hash("a")+`","op":"StepPlanned","name":"a","displayName":"a","data":null,"userland":{"id":"a"}},`+
		`{"id":"`+hash("b")+`","op":"StepPlanned","name":"b","displayName":"b","data":null,"userland":{"id":"b"}},`+
		`{"id":"`+hash("c")+`","op":"StepPlanned","name":"c","displayName":"c","data":null,"userland":{"id":"c"}}]`)
	steps := map[string]string{hash("a"): `{"data":1}`, hash("b"): `{"data":2}`, hash("c"): `{"data":3}`}
	requireResponse(t, call{fn: "nested", steps: steps}.do(t, c), 200, `6`)
}

func TestGroupFromAnUnmanagedGoroutine(t *testing.T) {
	c, _ := newClient(t)
	var waitErr error
	var ran bool
	fn(t, c, "leak", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Go(func(ctx context.Context) error { ran = true; return nil })
		}()
		wg.Wait()
		waitErr = g.Wait()
		return nil, waitErr
	})
	r := call{fn: "leak"}.do(t, c)
	assert.ErrorIs(t, waitErr, inngest.ErrUnmanagedGoroutine)
	assert.False(t, ran)
	assert.Equal(t, 400, r.Status, r.Body)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
}

func TestGroupInsideAStepBody(t *testing.T) {
	c, _ := newClient(t)
	var waitErr error
	fn(t, c, "instep", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "outer", func(ctx context.Context) (int, error) {
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) error {
				_, err := step.Run(ctx, "inner", func(ctx context.Context) (int, error) { return 1, nil })
				return err
			})
			waitErr = g.Wait()
			return 1, nil
		})
	})
	call{fn: "instep"}.do(t, c)
	assert.ErrorIs(t, waitErr, inngest.ErrNestedStep)
}

func TestGroupOverHTTP(t *testing.T) {
	// The same flow through a real HTTP server.
	c, _ := newClient(t)
	var runs counter
	parallelFn(t, c, &runs)
	srv := httptestServer(t, c)
	calls := loadCaptures(t, "demo-parallel")
	status, body := postHTTP(t, srv, calls[0])
	assert.Equal(t, 206, status)
	assert.Equal(t, `[{"id":"b78f576611ec06f96af3ca654c22172a5d746c40","op":"StepPlanned","name":"p1","displayName":"p1","data":null,"userland":{"id":"p1"}},{"id":"c5fd961c9f737a955a308050062e7a2c34ee67c3","op":"StepPlanned","name":"p2","displayName":"p2","data":null,"userland":{"id":"p2"}}]`, body)
	status, body = postHTTP(t, srv, calls[3])
	assert.Equal(t, 200, status)
	assert.Equal(t, `3`, body)
}

// BenchmarkGroupReplay measures a call that replays a group of ten
// finished Run steps and returns.
func BenchmarkGroupReplay(b *testing.B) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	require.NoError(b, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fan"}, inngest.EventTrigger("demo/fan", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			g := step.NewGroup(ctx)
			sum := make([]int, 10)
			for i := range sum {
				g.Go(func(ctx context.Context) (err error) {
					sum[i], err = step.Run(ctx, "item", func(ctx context.Context) (int, error) { return i, nil })
					return err
				})
			}
			return sum, g.Wait()
		})
	require.NoError(b, err)
	steps := map[string]string{}
	for i := range 10 {
		steps[hash("item", i)] = `{"data":` + strconv.Itoa(i) + `}`
	}
	body := call{fn: "fan", steps: steps}.body()
	h := c.Serve()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/inngest?fnId=demo-fan&stepId=step", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func TestGroupOfEveryKindAgainstTheServersRequests(t *testing.T) {
	// Requests the dev server sent to this SDK for a group mixing a wait
	// that timed out, an invoke, a Run step and a sleep.
	c, logs := newClient(t)
	adder := adderFn(t, c)
	fn(t, c, "mixed", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		var timedOut bool
		var sum, r int
		g.Go(func(ctx context.Context) error {
			_, err := step.WaitForEvent[any](ctx, "wait", step.WaitForEventOpts{Event: "demo/never", Timeout: time.Second})
			timedOut = errors.Is(err, step.ErrEventNotReceived)
			return nil
		})
		g.Go(func(ctx context.Context) (err error) {
			sum, err = step.InvokeFunction[int](ctx, "inv", adder, ab{A: 20, B: 22}, time.Minute)
			return err
		})
		g.Go(func(ctx context.Context) (err error) {
			r, err = step.Run(ctx, "r", func(ctx context.Context) (int, error) { return 7, nil })
			return err
		})
		g.Go(func(ctx context.Context) error { return step.Sleep(ctx, "s", time.Second) })
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return map[string]any{"waited_timeout": timedOut, "sum": sum, "r": r}, nil
	})
	calls := loadCaptures(t, "server-mixed")
	require.Len(t, calls, 3)
	requireResponse(t, replay(t, c, calls[0]), 206, `[`+
		`{"id":"daaad336276d15594d0e765f96c17cd746bf4971","op":"WaitForEvent","name":"wait","displayName":"wait","opts":{"event":"demo/never","timeout":"1s"},"data":null,"userland":{"id":"wait"}},`+
		`{"id":"a22c81f9e58d3e183314100cda7df50c66582b16","op":"InvokeFunction","name":"inv","displayName":"inv","opts":{"function_id":"demo-adder","payload":{"data":{"a":20,"b":22}},"timeout":"1m"},"data":null,"userland":{"id":"inv"}},`+
		`{"id":"4dc7c9ec434ed06502767136789763ec11d2c4b7","op":"StepPlanned","name":"r","displayName":"r","data":null,"userland":{"id":"r"}},`+
		`{"id":"a0f1490a20d0211c997b44bc357e1972deab8ae3","op":"Sleep","name":"s","displayName":"s","opts":{"duration":"1s"},"data":null,"userland":{"id":"s"}}]`)
	requireResponse(t, replay(t, c, calls[1]), 206,
		`[{"id":"4dc7c9ec434ed06502767136789763ec11d2c4b7","op":"StepRun","name":"r","displayName":"r","data":7,"timing":"<timing>","userland":{"id":"r"}}]`)
	requireResponse(t, replay(t, c, calls[2]), 200, `{"r":7,"sum":42,"waited_timeout":true}`)
	assert.Empty(t, logs.String())
}

// A Group not made with NewGroup cannot run its branches: Wait says so
// (for good, no retry), rather than returning nil with the work undone.
func TestZeroGroupFailsClearly(t *testing.T) {
	c, _ := newClient(t)
	ran := false
	fn(t, c, "zero", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var g step.Group
		g.Go(func(ctx context.Context) error {
			ran = true
			_, err := step.Run(ctx, "a", func(ctx context.Context) (int, error) { return 1, nil })
			return err
		})
		err := g.Wait()
		assert.ErrorIs(t, err, step.ErrZeroGroup)
		assert.True(t, inngest.IsNoRetryError(err))
		return nil, err
	})
	r := call{fn: "zero"}.do(t, c)
	requireResponse(t, r, 400, `{"name":"NonRetriableError","message":"inngest: step.Group used without step.NewGroup; make it with step.NewGroup(ctx)"}`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	assert.False(t, ran)

	// Outside a function too: Wait never reports success for work it
	// did not do.
	var g step.Group
	g.Go(func(ctx context.Context) error { return nil })
	assert.ErrorIs(t, g.Wait(), step.ErrZeroGroup)
}
