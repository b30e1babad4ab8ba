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
	"github.com/stretchr/testify/require"
)

type receipt struct {
	ChargeID string `json:"charge_id"`
	Amount   int    `json:"amount"`
}

// checkoutFlow charges, sleeps, and charges each of three items; it
// counts how often the charge body really runs.
func checkoutFlow(t *testing.T, eng *inngesttest.Engine, bodies *atomic.Int32) *inngest.Function[order] {
	t.Helper()
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "checkout", Retries: inngest.Ptr(0)}, inngest.EventTrigger("shop/checkout", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			r, err := step.Run(ctx, "charge", func(context.Context) (receipt, error) {
				bodies.Add(1)
				return receipt{ChargeID: "real", Amount: in.Event.Data.Total}, nil
			})
			var se *inngest.StepError
			if errors.As(err, &se) {
				return "declined: " + se.Message, nil
			}
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "settle", time.Hour); err != nil {
				return nil, err
			}
			var items []string
			for i := range 3 {
				v, err := step.Run(ctx, "item", func(context.Context) (string, error) {
					bodies.Add(1)
					return "real-" + string(rune('a'+i)), nil
				})
				if err != nil {
					return nil, err
				}
				items = append(items, v)
			}
			return map[string]any{"receipt": r, "items": items}, nil
		}))
	eng.Register(c)
	return fn
}

func TestMockStepResult(t *testing.T) {
	eng := inngesttest.New(t)
	var bodies atomic.Int32
	fn := checkoutFlow(t, eng, &bodies)

	run := eng.Run(fn, evt("shop/checkout", order{Total: 30}),
		inngesttest.Mock("charge", receipt{ChargeID: "ch_mock", Amount: 99}),
		inngesttest.Mock("settle", nil),
		inngesttest.Mock("item", "mocked-b").Occurrence(1),
	)
	run.RequireOutput(t, map[string]any{
		"receipt": receipt{ChargeID: "ch_mock", Amount: 99},
		"items":   []string{"real-a", "mocked-b", "real-c"},
	})
	run.RequireStep(t, "charge").Mocked().Attempts(0).Result(receipt{ChargeID: "ch_mock", Amount: 99})
	run.RequireStepAt(t, "item", 1).Mocked()
	run.RequireStepAt(t, "item", 2).Attempts(1)
	assert.False(t, run.RequireStepAt(t, "item", 0).Step().Mocked)
	assert.Equal(t, int32(2), bodies.Load(), "only the unmocked items ran")
	run.RequireElapsed(t, 0) // the mocked sleep ends at once
}

func TestMockStepError(t *testing.T) {
	eng := inngesttest.New(t)
	var bodies atomic.Int32
	fn := checkoutFlow(t, eng, &bodies)
	run := eng.Run(fn, evt("shop/checkout", order{Total: 30}), inngesttest.MockError("charge", errors.New("insufficient funds")))
	run.RequireOutput(t, "declined: insufficient funds")
	run.RequireStep(t, "charge").Mocked().Failed().ErrorContains("insufficient funds")
	assert.Zero(t, bodies.Load())
}

// Engine.Mock applies to every run, here one started by an event; In
// limits it to one function.
func TestEngineMock(t *testing.T) {
	eng := inngesttest.New(t)
	var bodies atomic.Int32
	fn := checkoutFlow(t, eng, &bodies)
	eng.Mock(
		inngesttest.Mock("charge", receipt{ChargeID: "ch_engine"}).In(fn),
		inngesttest.Mock("item", "other function").In(inngesttest.FunctionID("shop-other")),
	)
	runs := eng.Send(evt("shop/checkout", order{Total: 5}))
	require.Len(t, runs, 1)
	eng.Wait(runs...)
	runs[0].RequireCompleted(t)
	runs[0].RequireStep(t, "charge").Mocked().Result(receipt{ChargeID: "ch_engine"})
	runs[0].RequireStep(t, "item").Result("real-a")
}

// Mocked waits and invokes: no event or invoked run is needed.
func TestMockWaitAndInvoke(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var targetRuns atomic.Int32
	target := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "target"}, inngest.EventTrigger("shop/target", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			targetRuns.Add(1)
			return 1, nil
		}))
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "waiter"}, inngest.EventTrigger("shop/wait", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			ev, err := step.WaitForEvent[map[string]string](ctx, "approval", step.WaitForEventOpts{Event: "shop/approved", Timeout: time.Hour})
			by := "nobody"
			if err == nil {
				by = ev.Data["by"]
			} else if !errors.Is(err, step.ErrEventNotReceived) {
				return nil, err
			}
			n, err := step.Invoke[int](ctx, "count", step.InvokeOpts{Function: target})
			return map[string]any{"by": by, "n": n}, err
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/wait", nil),
		inngesttest.Mock("approval", inngest.Event[any]{Data: map[string]string{"by": "dana"}}),
		inngesttest.Mock("count", 42))
	run.RequireOutput(t, map[string]any{"by": "dana", "n": 42}).RequireElapsed(t, 0)
	assert.Zero(t, targetRuns.Load(), "a mocked invoke starts no run")
	assert.Equal(t, "shop/approved", eventNameOf(t, run.RequireStep(t, "approval").Step().Result))

	timedOut := eng.Run(fn, evt("shop/wait", nil), inngesttest.MockTimeout("approval"), inngesttest.Mock("count", 1))
	timedOut.RequireOutput(t, map[string]any{"by": "nobody", "n": 1})
	timedOut.RequireStep(t, "approval").TimedOut().Mocked()
}

func eventNameOf(t *testing.T, raw []byte) string {
	t.Helper()
	var v struct {
		Name string `json:"name"`
	}
	require.NoError(t, jsonUnmarshal(raw, &v))
	return v.Name
}
