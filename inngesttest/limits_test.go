package inngesttest_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// failures records what a failure handler received.
type failures struct {
	got []inngest.Failure[map[string]any]
}

func (f *failures) handler() *inngest.FailureFunc[map[string]any] {
	return inngest.OnFailure(func(ctx context.Context, fl inngest.Failure[map[string]any]) (any, error) {
		f.got = append(f.got, fl)
		return nil, nil
	})
}

// A step whose result is over the 4 MiB limit fails at once, without
// retries, with an error naming the step and the size, which the
// function can catch; uncaught, it fails the run.
func TestStepOutputOverTheLimit(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var bodies int
	big := func(ctx context.Context) (string, error) {
		bodies++
		return strings.Repeat("x", 5<<20), nil
	}
	caught := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "caught"}, inngest.EventTrigger("shop/caught", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			_, err := step.Run(ctx, "export", big)
			var se *inngest.StepError
			if !errors.As(err, &se) {
				return nil, errors.New("expected a step error")
			}
			return se.StepID + ": " + se.Message, nil
		}))
	var fl failures
	uncaught := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "uncaught", OnFailure: fl.handler()}, inngest.EventTrigger("shop/uncaught", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			return step.Run(ctx, "export", big)
		}))
	eng.Register(c)

	run := eng.Run(caught, evt("shop/caught", nil))
	run.RequireOutput(t, `export: step "export": its result (string) is 5242891 bytes of JSON, over Inngest's limit of 4194304 bytes for a step's output (inngest.MaxStepOutputSize); return less, such as a reference to data stored elsewhere`)
	run.RequireStep(t, "export").Failed().Attempts(1)
	assert.Equal(t, 1, bodies, "no retry")

	run = eng.Run(uncaught, evt("shop/uncaught", nil))
	run.RequireFailed(t).RequireError(t, "over Inngest's limit of 4194304 bytes").RequireFailureHandlerRan(t)
	require.Len(t, fl.got, 1)
	assert.Contains(t, fl.got[0].Error.Message, `step "export": its result (string) is 5242891 bytes`)
}

// grow is middleware that pads the result of every step past the step
// output limit after step.Run checked it, as a middleware that
// encrypts or wraps results might.
type grow struct{ inngest.BaseMiddleware }

func (grow) TransformOutput(_ context.Context, _ *inngest.Call, out *inngest.Output) {
	if out.Step != nil {
		out.Step.Data = json.RawMessage(strconv.Quote(strings.Repeat("y", inngest.MaxStepOutputSize)))
	}
}

// A step output over the limit that reaches the server anyway fails the
// run as the server does: with its error naming the step's hash, which
// the failure handler receives unwrapped.
func TestEngineRefusesAStepOutputOverTheLimit(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var fl failures
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "grown", Middleware: []inngest.Middleware{grow{}}, OnFailure: fl.handler()},
		inngest.EventTrigger("shop/grown", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			return step.Run(ctx, "small", func(ctx context.Context) (int, error) { return 1, nil })
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/grown", nil))
	run.RequireFailed(t).RequireFailureHandlerRan(t)
	sum := sha1.Sum([]byte("small")) // the step's hash: sha1 of its ID
	msg := "error validating generator opcode " + hex.EncodeToString(sum[:]) + ": step output size is greater than the limit"
	assert.Equal(t, &inngest.RunError{Name: "Error", Message: msg}, run.Err())
	require.Len(t, fl.got, 1)
	assert.Equal(t, "Error", fl.got[0].Error.Name)
	assert.Equal(t, msg, fl.got[0].Error.Message)
}

// A run whose state grows past 32 MiB fails with the server's
// InngestErrStateOverflowed, though each step is under its own limit.
// (With checkpointing, so that one call runs all the steps: the
// checkpoint API refuses the step that overflows, the SDK reports it in
// its answer instead, and the run fails there.)
func TestRunStateOverTheLimit(t *testing.T) {
	eng := inngesttest.New(t)
	c := cpClient(t, eng, &inngest.Checkpointing{})
	var fl failures
	var ran []string
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "hoard", OnFailure: fl.handler()}, inngest.EventTrigger("shop/hoard", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			for i := range 10 {
				id := "part-" + strconv.Itoa(i)
				if _, err := step.Run(ctx, id, func(ctx context.Context) (string, error) {
					ran = append(ran, id)
					return strings.Repeat("z", 3<<20+1<<19), nil
				}); err != nil {
					return nil, err
				}
			}
			return "done", nil
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/hoard", nil))
	run.RequireFailed(t).RequireFailureHandlerRan(t)
	want := &inngest.RunError{Name: "InngestErrStateOverflowed", Message: "The function run exceeded the state size limit of 33554432 bytes."}
	assert.Equal(t, want, run.Err())
	require.Len(t, fl.got, 1)
	assert.Equal(t, want.Name, fl.got[0].Error.Name)
	assert.Equal(t, want.Message, fl.got[0].Error.Message)
	// 9 outputs of 3.5 MiB fit in 32 MiB; the 10th does not.
	assert.Len(t, ran, 10)
	run.RequireStep(t, "part-8").Completed()
	for _, s := range run.Steps() {
		if s.ID == "part-9" {
			assert.NotEqual(t, inngesttest.StepCompleted, s.Status, "the server does not store the step that overflows")
		}
	}
}

// A run that has finished MaxSteps steps fails at its next call with the
// server's InngestErrFunctionOverflowed, even though that call would
// only have returned: the server checks the count before each call.
func TestStepCountLimit(t *testing.T) {
	if testing.Short() || raceDetector {
		t.Skip("makes a thousand calls; too slow under the race detector or -short")
	}
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "many"}, inngest.EventTrigger("shop/many", nil),
		func(ctx context.Context, in inngest.Input[struct {
			N int `json:"n"`
		}]) (any, error) {
			for i := range in.Event.Data.N {
				if _, err := step.Run(ctx, "s", func(ctx context.Context) (int, error) { return i, nil }); err != nil {
					return nil, err
				}
			}
			return "done", nil
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/many", map[string]int{"n": inngest.MaxSteps}))
	run.RequireFailed(t)
	run.RequireStepAt(t, "s", inngest.MaxSteps-1).Completed()
	assert.Equal(t, inngest.MaxSteps, run.Calls(), "one call per step; the call that would have returned was not made")
	assert.Equal(t, &inngest.RunError{Name: "InngestErrFunctionOverflowed", Message: "The function run exceeded the step limit of 1000 steps."}, run.Err())
}

// An answer that plans more than MaxSteps parallel steps fails the run
// at once, as on the server.
func TestParallelStepsOverTheStepLimit(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var ran int
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "wide"}, inngest.EventTrigger("shop/wide", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			g := step.NewGroup(ctx)
			for range inngest.MaxSteps + 1 {
				g.Go(func(ctx context.Context) error {
					_, err := step.Run(ctx, "s", func(ctx context.Context) (int, error) { ran++; return 1, nil })
					return err
				})
			}
			return nil, g.Wait()
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/wide", nil))
	run.RequireFailed(t)
	assert.Equal(t, &inngest.RunError{Name: "InngestErrFunctionOverflowed", Message: "The function run exceeded the step limit of 1000 steps."}, run.Err())
	assert.Zero(t, ran, "no step ran")
}

// An event over 3 MiB is refused: by Client.Send and step.SendEvent
// before anything is sent, and by the engine's event API as by the
// server's.
func TestEventSizeLimit(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	big := map[string]string{"blob": strings.Repeat("b", inngest.MaxEventSize)}
	_, err := c.Send(context.Background(), evt("shop/big", big))
	require.ErrorContains(t, err, "over Inngest's limit of 3145728 bytes for an event (inngest.MaxEventSize)")

	var attempts int
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "sender"}, inngest.EventTrigger("shop/send", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			attempts++
			_, err := step.SendEvent(ctx, "notify", evt("shop/big", big))
			return nil, err
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/send", nil))
	run.RequireFailed(t).RequireError(t, "inngest.MaxEventSize")
	assert.Equal(t, 1, attempts, "a bad event is not retried")

	// Straight to the engine's event API, past the SDK's check.
	raw, err := json.Marshal([]any{map[string]any{"name": "shop/big", "data": big}})
	require.NoError(t, err)
	resp, err := eng.HTTPClient().Post("http://127.0.0.1:8288/e/key", "application/json", bytes.NewReader(raw))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var body struct{ Error string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "Event is over the max size: Max 3145728 bytes / Size "+strconv.Itoa(len(raw)-2)+" bytes", body.Error)
}
