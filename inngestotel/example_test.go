package inngestotel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngestotel"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// The middleware on a client: each call and each step gets a span, and
// the user's spans nest under the step that opened them.
func ExampleNew() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	mw, err := inngestotel.New(inngestotel.Options{TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	eng := inngesttest.New(nil)
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Middleware: []inngest.Middleware{mw}})
	if err != nil {
		panic(err)
	}
	fn, _ := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "ship"}, inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "label", func(ctx context.Context) (string, error) {
				_, span := tp.Tracer("shop").Start(ctx, "print-label")
				defer span.End()
				return "L-1", nil
			})
		})
	eng.Register(client)
	eng.Run(fn, inngest.Event[any]{Name: "shop/order.paid"})
	for _, s := range exp.GetSpans() {
		fmt.Println(s.Name)
	}
	// Output:
	// print-label
	// inngest.step label
	// inngest.call shop-ship
	// inngest.call shop-ship
}
