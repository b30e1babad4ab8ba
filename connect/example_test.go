package connect_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/connect"
	"github.com/go-inngest/inngest/step"
)

// Run serves the same client and functions that Client.Serve serves over
// HTTP, over an outbound connection, until SIGINT or SIGTERM; it returns
// once the steps in flight have finished, or, when some are still running
// after ShutdownTimeout, once they are cancelled.
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
	err = connect.Run(ctx, client, connect.Options{MaxConcurrency: 100, ShutdownTimeout: 20 * time.Second})
	if errors.Is(err, connect.ErrShutdownTimeout) {
		log.Print(err) // the calls it names were abandoned; Inngest runs them again
	} else if err != nil {
		log.Fatal(err)
	}
}
