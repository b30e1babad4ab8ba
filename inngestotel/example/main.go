// Command example runs an Inngest function with the OpenTelemetry
// middleware and shows what it records: the spans of each call and step
// (the user's own span nested under its step), and the metrics, exported
// in Prometheus's format. It runs on the SDK's in-process engine, so it
// needs no Inngest server:
//
//	go run .                 # print the span tree and the scraped metrics, then exit
//	go run . -listen :9464   # and then serve /metrics for Prometheus until interrupted
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngestotel"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

type Order struct {
	ID int `json:"id"`
}

func main() {
	listen := flag.String("listen", "", "after the runs, serve /metrics at this address (such as :9464)")
	flag.Parse()
	if err := run(os.Stdout, *listen); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer, listen string) error {
	// Traces: kept in memory here; use your backend's exporter instead.
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	// Metrics: a Prometheus registry, served at /metrics.
	reg := prometheus.NewRegistry()
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(promExp))
	mw, err := inngestotel.New(inngestotel.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		return err
	}

	eng := inngesttest.New(nil)
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Middleware: []inngest.Middleware{mw}})
	if err != nil {
		return err
	}
	tracer := tp.Tracer("shop")
	declined := map[int]bool{}
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "fulfil", Retries: inngest.Ptr(1),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[Order]) (any, error) {
			inngest.Logger(ctx).Warn("order failed", "order", f.Event.Data.ID, "step", f.StepID)
			return nil, nil
		})},
		inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			id := in.Event.Data.ID
			if _, err := step.Run(ctx, "reserve-stock", func(ctx context.Context) (bool, error) {
				_, span := tracer.Start(ctx, "SELECT stock")
				defer span.End()
				return true, nil
			}); err != nil {
				return nil, err
			}
			return step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				if id == 3 && !declined[id] { // fails once, then succeeds on the retry
					declined[id] = true
					return "", errors.New("card declined")
				}
				if id == 4 {
					return "", inngest.NoRetryError(errors.New("card stolen"))
				}
				return fmt.Sprintf("ch_%d", id), nil
			})
		})
	if err != nil {
		return err
	}
	eng.Register(client)

	// A traced request sends the first order: its run continues the trace.
	ctx, req := tracer.Start(context.Background(), "POST /checkout")
	if _, err := client.Send(ctx, inngest.Event[any]{Name: "shop/order.paid", Data: Order{ID: 1}}); err != nil {
		return err
	}
	req.End()
	for id := 2; id <= 4; id++ {
		eng.Run(fn, inngest.Event[any]{Name: "shop/order.paid", Data: Order{ID: id}})
	}
	eng.Wait(eng.Runs()...)

	fmt.Fprintln(out, "== spans of order 1's trace")
	printTree(out, spans.GetSpans(), req.SpanContext().TraceID())

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "== /metrics (inngest_*)")
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "inngest_") && !strings.Contains(line, "_bucket{") {
			fmt.Fprintln(out, line)
		}
	}
	if listen == "" {
		return nil
	}
	fmt.Fprintf(out, "serving /metrics at %s\n", listen)
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return http.ListenAndServe(listen, nil)
}

// printTree prints the spans of one trace as a tree, with the outcome
// of the SDK's spans.
func printTree(out io.Writer, all tracetest.SpanStubs, id trace.TraceID) {
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	in := map[trace.SpanID]bool{}
	for _, s := range all {
		if s.SpanContext.TraceID() == id {
			in[s.SpanContext.SpanID()] = true
		}
	}
	for _, s := range all {
		if s.SpanContext.TraceID() != id {
			continue
		}
		if in[s.Parent.SpanID()] {
			children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		line := strings.Repeat("  ", depth) + s.Name
		for _, kv := range s.Attributes {
			if kv.Key == inngestotel.AttrOutcome {
				line += " (" + kv.Value.AsString() + ")"
			}
		}
		fmt.Fprintln(out, line)
		for _, c := range children[s.SpanContext.SpanID()] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}
