package inngest_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// Logger writes each line once per run, although Inngest replays the
// code before each step on every call: here the function is called three
// times and each line appears once.
func ExampleLogger() {
	eng := inngesttest.New(nil)
	plain := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "run_id" {
			return slog.Attr{} // vary from run to run
		}
		return a
	}
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: plain}))})
	if err != nil {
		panic(err)
	}
	fn, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "ship"}, inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			log := inngest.Logger(ctx)
			log.Info("shipping")
			if _, err := step.Run(ctx, "label", func(ctx context.Context) (string, error) {
				inngest.Logger(ctx).Info("printing the label")
				return "L-1", nil
			}); err != nil {
				return nil, err
			}
			log.Info("label printed")
			return nil, step.Sleep(ctx, "wait-for-pickup", 0)
		})
	eng.Register(client)
	run := eng.Run(fn, inngest.Event[any]{Name: "shop/order.paid"})
	fmt.Println(run.Status(), "after", run.Calls(), "calls")
	// Output:
	// level=INFO msg=shipping function_id=shop-ship attempt=0
	// level=INFO msg="printing the label" function_id=shop-ship attempt=0 step=label
	// level=INFO msg="label printed" function_id=shop-ship attempt=0
	// Completed after 3 calls
}

// ReplayHandler gives another handler the same behaviour as Logger.
func ExampleReplayHandler() {
	eng := inngesttest.New(nil)
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		panic(err)
	}
	audit := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "run_id" {
			return slog.Attr{}
		}
		return a
	}})
	fn, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "refund"}, inngest.EventTrigger("shop/refund.asked", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			slog.New(inngest.ReplayHandler(ctx, audit)).Info("refund started")
			return step.Run(ctx, "refund", func(ctx context.Context) (int, error) { return 5, nil })
		})
	eng.Register(client)
	eng.Run(fn, inngest.Event[any]{Name: "shop/refund.asked"})
	// Output:
	// {"level":"INFO","msg":"refund started","function_id":"shop-refund","attempt":0}
}
