package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestApp(t *testing.T) (*inngesttest.Engine, *inngest.Function[Order], *Shop) {
	t.Helper()
	eng := inngesttest.New(t)
	shop := &Shop{}
	client, fulfil, err := newApp(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, shop)
	require.NoError(t, err)
	eng.Register(client)
	return eng, fulfil, shop
}

func placed(o Order) inngest.Event[any] {
	return inngest.Event[any]{Name: "shop/order.placed", Data: o}
}

func TestGoodOrderShips(t *testing.T) {
	eng, fulfil, shop := newTestApp(t)
	run := eng.Run(fulfil, placed(Order{OrderID: "o-1", Card: "visa", TotalCents: 4200}))

	run.RequireCompleted(t).
		RequireOutput(t, map[string]string{"status": "shipped", "charge": "ch_o-1"}).
		RequireElapsed(t, time.Hour).
		RequireNoFailureHandler(t)
	run.RequireNoStep(t, "release-stock")
	assert.Empty(t, run.CancelHandlers())
	assert.Empty(t, shop.Alerts)
}

func TestInvalidOrderFailsWithoutRetries(t *testing.T) {
	eng, fulfil, shop := newTestApp(t)
	run := eng.Run(fulfil, placed(Order{OrderID: "o-2", Email: "ann@example.com", Card: "visa"}))

	run.RequireFailed(t).RequireError(t, "order o-2: the total must be positive")
	// NoRetryError: one attempt although the function allows three.
	run.RequireStep(t, "validate").Attempts(1).Failed()
	run.RequireNoStep(t, "reserve-stock")

	// The failure reaches the function's own handler and the app-wide
	// alert, each exactly once.
	handlers := map[string]*inngesttest.Run{}
	for _, h := range run.FailureHandlers() {
		require.NotContains(t, handlers, h.FunctionID())
		handlers[h.FunctionID()] = h
	}
	require.Len(t, handlers, 2)
	handlers["shop-fulfil-order-failure"].RequireCompleted(t)
	handlers["shop-alert-on-call"].RequireCompleted(t)
	assert.Equal(t, []string{"ann@example.com: order o-2 failed at validate: order o-2: the total must be positive"}, shop.Emails)
	assert.Equal(t, []string{"shop-fulfil-order run " + run.ID() + ": order o-2: the total must be positive"}, shop.Alerts)
}

func TestDeclinedCardIsCompensated(t *testing.T) {
	eng, fulfil, shop := newTestApp(t)
	run := eng.Run(fulfil, placed(Order{OrderID: "o-3", Card: "declined", TotalCents: 1500}))

	// The StepError was handled: the run completes, and no failure
	// handler or alert runs.
	run.RequireCompleted(t).
		RequireOutput(t, map[string]string{"status": "payment_failed", "reason": "card declined"}).
		RequireNoFailureHandler(t)
	run.RequireStep(t, "charge-card").Attempts(3).Failed().ErrorContains("card declined")
	run.RequireStep(t, "release-stock").Completed()
	run.RequireNoStep(t, "cancellation-window")
	// Three charge attempts with the server's back-off (15s, then 30s).
	run.RequireElapsed(t, 45*time.Second)
	assert.Equal(t, 3, shop.Charges)
	assert.Equal(t, []string{"o-3"}, shop.Reserved)
	assert.Equal(t, []string{"o-3"}, shop.Released)
	assert.Empty(t, shop.Alerts)
}

func TestCancelledOrderIsRefunded(t *testing.T) {
	eng, fulfil, shop := newTestApp(t)
	run := eng.Start(fulfil, placed(Order{OrderID: "o-4", Card: "visa", TotalCents: 990}))
	require.Equal(t, inngesttest.Running, run.Status()) // in the cancellation window

	eng.Advance(10 * time.Minute)
	eng.Send(inngest.Event[any]{Name: "shop/order.cancelled", Data: Order{OrderID: "another-order"}})
	require.Equal(t, inngesttest.Running, run.Status())
	eng.Send(inngest.Event[any]{Name: "shop/order.cancelled", Data: Order{OrderID: "o-4"}})
	eng.Wait(run)

	run.RequireCancelled(t).RequireElapsed(t, 10*time.Minute).RequireNoFailureHandler(t)
	run.RequireCancelHandlerRan(t).RequireStep(t, "refund").Completed()
	assert.Equal(t, []string{"o-4"}, shop.Refunded)
	assert.Empty(t, shop.Alerts)
}

func TestSimulate(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, simulate(&out))
	assert.Contains(t, out.String(), "then shop-alert-on-call: Completed")
	assert.Contains(t, out.String(), "Refunded: o-4")
}
