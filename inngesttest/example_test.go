package inngesttest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

type Order struct {
	ID    int `json:"id"`
	Total int `json:"total"`
}

// newShop returns a dev-mode client wired to eng, so that the events
// its functions send reach the engine.
func newShop(eng *inngesttest.Engine) *inngest.Client {
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "shop",
		Mode:       inngest.ModeDev,
		HTTPClient: eng.HTTPClient(),
		Logger:     quiet,
	})
	if err != nil {
		panic(err)
	}
	return c
}

// A step that always fails is attempted retries+1 times, with the
// server's back-off between attempts; then the run fails and its failure
// handler runs once. In a test, pass t to New and use the Require
// methods:
//
//	run.RequireFailed(t)
//	run.RequireStep(t, "charge").Attempts(3)
//	run.RequireFailureHandlerRan(t)
func Example() {
	eng := inngesttest.New(nil) // in a test: inngesttest.New(t)
	client := newShop(eng)
	charge, _ := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "charge",
			Retries: inngest.Ptr(2),
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[Order]) (any, error) {
				return fmt.Sprintf("order %d: step %q failed: %s", f.Event.Data.ID, f.StepID, f.Error.Message), nil
			}),
		},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				return "", errors.New("card declined")
			})
		})
	eng.Register(client)

	run := eng.Run(charge, inngest.Event[any]{Name: "shop/order.placed", Data: Order{ID: 7, Total: 30}})

	st, _ := run.Step("charge")
	fmt.Println(run.Status(), "after", st.Attempts, "attempts and", run.Elapsed(), "of virtual time")
	for _, h := range run.FailureHandlers() {
		fmt.Println(h.FunctionID(), string(h.Output()))
	}
	// Output:
	// Failed after 3 attempts and 45s of virtual time
	// shop-charge-failure "order 7: step \"charge\" failed: card declined"
}

// Run skips virtual time over sleeps: a function that waits a week runs
// at once.
func ExampleEngine_Run() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	reminder, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "reminder"},
		inngest.EventTrigger("shop/cart.abandoned", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			if err := step.Sleep(ctx, "wait-a-week", 7*24*time.Hour); err != nil {
				return nil, err
			}
			return step.Run(ctx, "remind", func(ctx context.Context) (string, error) {
				return fmt.Sprintf("reminded about order %d", in.Event.Data.ID), nil
			})
		})
	eng.Register(client)

	run := eng.Run(reminder, inngest.Event[any]{Data: Order{ID: 3}})
	fmt.Println(run.Status(), string(run.Output()), run.Elapsed())
	for _, e := range run.Timeline() {
		switch e.Kind {
		case inngesttest.EntryCall, inngesttest.EntrySleep, inngesttest.EntryResumed:
			fmt.Println(e)
		}
	}
	// Output:
	// Completed "reminded about order 3" 168h0m0s
	// +0s        call attempt 0 -> 206: Sleep "wait-a-week"
	// +0s        sleep "wait-a-week" (168h0m0s)
	// +168h0m0s  resumed "wait-a-week" (168h0m0s): slept
	// +168h0m0s  call attempt 0 -> 206: StepRun "remind"
	// +168h0m0s  call attempt 0 -> 200: returned "reminded about order 3"
}

// Start leaves a run paused at a wait; Advance and Send deliver the
// awaited event at a chosen virtual time; Wait finishes the run.
func ExampleEngine_Start() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	approval, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "approval"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			ev, err := step.WaitForEvent[map[string]any](ctx, "approval", step.WaitForEventOpts{
				Event:   "shop/order.approved",
				Match:   "data.id",
				Timeout: 24 * time.Hour,
			})
			if err != nil {
				return nil, err
			}
			return fmt.Sprint("approved by ", ev.Data["by"]), nil
		})
	eng.Register(client)

	run := eng.Start(approval, inngest.Event[any]{Name: "shop/order.placed", Data: Order{ID: 7}})
	fmt.Println(run.Status())
	eng.Advance(3 * time.Hour)
	eng.Send(inngest.Event[any]{Name: "shop/order.approved", Data: map[string]any{"id": 7, "by": "alice"}})
	eng.Wait(run)
	fmt.Println(run.Status(), string(run.Output()), run.Elapsed())
	// Output:
	// Running
	// Completed "approved by alice" 3h0m0s
}

// OnPause sends the awaited event as soon as the run starts waiting, in
// the middle of Run.
func ExampleEngine_OnPause() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	approval, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "approval"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			_, err := step.WaitForEvent[any](ctx, "approval", step.WaitForEventOpts{Event: "shop/order.approved", Timeout: time.Hour})
			if errors.Is(err, step.ErrEventNotReceived) {
				return "expired", nil
			}
			return "approved", err
		})
	eng.Register(client)

	eng.OnPause("approval", func(p inngesttest.Pause) {
		eng.After(10*time.Minute, func() {
			eng.Send(inngest.Event[any]{Name: p.Event})
		})
	})
	run := eng.Run(approval, inngest.Event[any]{Data: Order{ID: 1}})
	fmt.Println(string(run.Output()), run.Elapsed())
	// Output:
	// "approved" 10m0s
}

// Mock replaces a step's result; the step's body never runs.
func ExampleMock() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	charge, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "charge"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			id, err := step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				panic("the payment provider must not be called in this test")
			})
			if err != nil {
				return nil, err
			}
			return "charged " + id, nil
		})
	eng.Register(client)

	run := eng.Run(charge, inngest.Event[any]{Data: Order{ID: 1}}, inngesttest.Mock("charge", "ch_123"))
	st, _ := run.Step("charge")
	fmt.Println(string(run.Output()), st.Mocked)
	// Output:
	// "charged ch_123" true
}

// Events a function sends with step.SendEvent reach the engine through
// the client's HTTPClient, and start the functions they trigger.
func ExampleEngine_HTTPClient() {
	eng := inngesttest.New(nil)
	client := newShop(eng) // inngest.ClientOpts{HTTPClient: eng.HTTPClient(), …}
	checkout, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "checkout"},
		inngest.EventTrigger("shop/checkout.completed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			_, err := step.SendEvent(ctx, "placed", inngest.Event[any]{Name: "shop/order.placed", Data: in.Event.Data})
			return nil, err
		})
	inngest.CreateFunction(client, inngest.FunctionOpts{ID: "receipt"},
		inngest.EventTrigger("shop/order.placed", inngest.Ptr("event.data.total >= 10")),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return fmt.Sprintf("receipt for order %d", in.Event.Data.ID), nil
		})
	eng.Register(client)

	run := eng.Run(checkout, inngest.Event[any]{Data: Order{ID: 5, Total: 12}})
	for _, r := range run.Triggered() {
		if r.FunctionID() == "shop-receipt" {
			fmt.Println(r.Status(), string(r.Output()))
		}
	}
	// Output:
	// Completed "receipt for order 5"
}

// An app in cloud mode verifies every request's signature. Hand the same
// signing key to the engine and to the client: the engine then signs the
// sync and every call, as Inngest Cloud does, and takes the app's sync
// only when it is authenticated with that key.
func ExampleSigningKey() {
	const key = "signkey-test-12345678"
	eng := inngesttest.New(nil, inngesttest.SigningKey(key))
	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "shop",
		Mode:       inngest.ModeCloud,
		SigningKey: key,
		HTTPClient: eng.HTTPClient(),
		Logger:     quiet,
	})
	if err != nil {
		panic(err)
	}
	refund, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "refund"},
		inngest.EventTrigger("shop/refund.requested", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return step.Run(ctx, "refund", func(ctx context.Context) (string, error) {
				return fmt.Sprintf("refunded order %d", in.Event.Data.ID), nil
			})
		})
	eng.Register(client)

	run := eng.Run(refund, inngest.Event[any]{Data: Order{ID: 9}})
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// Completed "refunded order 9"
}

// Send applies a function's flow control on the virtual clock: here a
// debounce per customer runs once, with the last event, after the
// period (and the server's 1.05 s buffer) passed without another event;
// the superseded events are listed by Skipped.
func ExampleEngine_Skipped() {
	eng := inngesttest.New(nil) // in a test: inngesttest.New(t)
	client := newShop(eng)
	sync, _ := inngest.CreateFunction(client,
		inngest.FunctionOpts{ID: "sync-cart", Debounce: &inngest.Debounce{Period: time.Minute, Key: "event.data.id"}},
		inngest.EventTrigger("shop/cart.changed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) { return in.Event.Data.Total, nil })
	eng.Register(client)
	start := eng.Now()

	for _, total := range []int{10, 25, 40} {
		eng.Send(inngest.Event[any]{Name: "shop/cart.changed", Data: Order{ID: 7, Total: total}})
		eng.Advance(20 * time.Second)
	}
	eng.Advance(2 * time.Minute)
	for _, r := range eng.RunsOf(sync) {
		fmt.Printf("run with total %s after %s\n", r.Output(), r.StartedAt().Sub(start))
	}
	for _, s := range eng.Skipped(sync) {
		fmt.Println(s.Reason)
	}
	// Output:
	// run with total 40 after 1m41.05s
	// debounced
	// debounced
}

// A cron trigger fires on the virtual clock: a day of Advance runs a
// daily function once, at its time in its time zone (02:00 in Paris is
// 00:00 UTC in summer).
func ExampleEngine_Advance_cron() {
	eng := inngesttest.New(nil, inngesttest.WithStartTime(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)))
	client := newShop(eng)
	report, _ := inngest.CreateFunction(client,
		inngest.FunctionOpts{ID: "nightly-report"},
		inngest.CronTrigger("TZ=Europe/Paris 0 2 * * *"),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return "sent", nil })
	eng.Register(client)

	eng.Advance(24 * time.Hour)
	for _, r := range eng.RunsOf(report) {
		fmt.Println(r.StartedAt().Format(time.RFC3339), r.Status(), string(r.Output()))
	}
	// Output:
	// 2026-06-02T00:00:00Z Completed "sent"
}

// WithCallDuration gives calls virtual time, so that a concurrency limit
// holds work back: with a limit of 2 and a step that takes 2 s, the third
// order is packed when one of the first two is done. CallSpans says when
// each call ran; RequireMaxConcurrent checks the limit in a test.
func ExampleWithCallDuration() {
	eng := inngesttest.New(nil, inngesttest.WithCallDuration(func(fn, step string) time.Duration {
		if step == "pack" {
			return 2 * time.Second
		}
		return 0 // calls that run no step body
	}))
	client := newShop(eng)
	pack, _ := inngest.CreateFunction(client,
		inngest.FunctionOpts{ID: "pack", Concurrency: []inngest.Concurrency{{Limit: 2}}},
		inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return step.Run(ctx, "pack", func(ctx context.Context) (int, error) { return in.Event.Data.ID, nil })
		})
	eng.Register(client)

	start := eng.Now()
	for id := 1; id <= 3; id++ {
		eng.Send(inngest.Event[any]{Name: "shop/order.paid", Data: Order{ID: id}})
	}
	eng.Wait()
	for _, s := range eng.CallSpans(pack) {
		if s.Step == "pack" {
			out, _ := inngesttest.Output[int](s.Run)
			fmt.Printf("order %d packed from +%s to +%s\n", out, s.Start.Sub(start), s.End.Sub(start))
		}
	}
	fmt.Println("at most", inngesttest.MaxConcurrent(eng.CallSpans(pack)), "at once")
	// Output:
	// order 1 packed from +0s to +2s
	// order 2 packed from +0s to +2s
	// order 3 packed from +2s to +4s
	// at most 2 at once
}
