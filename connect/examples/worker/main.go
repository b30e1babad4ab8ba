// Command worker serves an Inngest app over Connect: it dials out to
// Inngest and needs no public URL. Run it beside a dev server:
//
//	npx inngest-cli@latest dev --no-discovery &
//	INNGEST_DEV=1 go run ./examples/worker        # from the connect/ directory
//
// then send an "shop/order.placed" event from the dev server's UI
// (http://localhost:8288) with data {"id": "o-1", "items": 3}. Against
// Inngest Cloud or `inngest start`, set INNGEST_SIGNING_KEY (and
// INNGEST_EVENT_KEY) instead of INNGEST_DEV. Ctrl-C stops taking new steps,
// lets the ones running finish and exits.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/connect"
	"github.com/go-inngest/inngest/step"
)

type order struct {
	ID    string `json:"id"`
	Items int    `json:"items"`
}

func main() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop-worker"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = inngest.CreateFunction(client,
		inngest.FunctionOpts{ID: "fulfil-order", Retries: inngest.Ptr(3),
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) {
				slog.Warn("order could not be fulfilled", "order", f.Event.Data.ID, "error", f.Error)
				return nil, nil
			})},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			label, err := step.Run(ctx, "print-label", func(ctx context.Context) (string, error) {
				return fmt.Sprintf("label for %s (%d items)", in.Event.Data.ID, in.Event.Data.Items), nil
			})
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "wait-for-pickup", 5*time.Second); err != nil {
				return nil, err
			}
			return step.Run(ctx, "notify", func(ctx context.Context) (string, error) {
				return "shipped with " + label, nil
			})
		})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Run blocks until ctx is done and the steps in flight have finished.
	if err := connect.Run(ctx, client, connect.Options{}); err != nil {
		log.Fatal(err)
	}
}
