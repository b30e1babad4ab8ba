package connect_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/connect"
	"github.com/go-inngest/inngest/step"
)

// Run serves the same client and functions that Client.Serve serves over
// HTTP, over an outbound connection, until SIGINT or SIGTERM; it returns
// once the steps in flight have finished.
func ExampleRun() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "billing"}) // INNGEST_DEV=1, or INNGEST_SIGNING_KEY
	if err != nil {
		log.Fatal(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "charge"}, inngest.EventTrigger("billing/invoice.created", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "charge", func(ctx context.Context) (string, error) { return "charged", nil })
		})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := connect.Run(ctx, client, connect.Options{MaxConcurrency: 100}); err != nil {
		log.Fatal(err)
	}
}
