package inngestotel

import (
	"context"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/go-inngest/inngest"
)

// UserlandPath is where the Inngest API accepts the spans of user code
// (OTLP over HTTP) to show them in the run view.
const UserlandPath = "/v1/traces/userland"

// The attributes by which the Inngest server attaches a user span to a
// run and a step.
const (
	attrTraceRef    = attribute.Key("inngest.traceref")
	attrSDKRunID    = attribute.Key("sdk.run.id")
	attrSysFunction = attribute.Key("sys.function.id")
	attrSysApp      = attribute.Key("sys.app.id")
	attrStepIndex   = attribute.Key("inngest.step.index")
	attrStepHash    = attribute.Key("inngest.step.hash")
	attrStepAttempt = attribute.Key("inngest.step.attempt")
)

// NewUserlandExporter returns an OTLP/HTTP span exporter to client's
// Inngest API at UserlandPath, authenticated with the client's signing
// key (Client.APIClient); the exporter uses nothing else of client, so
// it may be a client of its own made with the app's ClientOpts less the
// middleware (which needs the exporter first). opts come after the exporter's own options and
// may override them (compression, retries, timeouts).
func NewUserlandExporter(ctx context.Context, client *inngest.Client, opts ...otlptracehttp.Option) (*otlptrace.Exporter, error) {
	base := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(client.APIBaseURL() + UserlandPath),
		otlptracehttp.WithHTTPClient(client.APIClient()),
	}
	return otlptracehttp.New(ctx, append(base, opts...)...)
}

// NewUserlandProcessor returns a span processor that sends the spans of
// user code run by a call (under the Middleware) to Inngest's run view
// through exp, batched (opts configure the batching): each such span
// gets the attributes the server needs to show it under the run and the
// step that made it. Spans opened outside a call, the Middleware's own
// spans, and spans of calls made without the server's trace state (the
// in-process engine) are not sent. Add it to the TracerProvider beside
// the processors of your own backend:
//
//	exp, err := inngestotel.NewUserlandExporter(ctx, client)
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithBatcher(yourExporter),
//		sdktrace.WithSpanProcessor(inngestotel.NewUserlandProcessor(exp)),
//	)
func NewUserlandProcessor(exp sdktrace.SpanExporter, opts ...sdktrace.BatchSpanProcessorOption) sdktrace.SpanProcessor {
	return &userland{next: sdktrace.NewBatchSpanProcessor(exp, opts...)}
}

type userland struct{ next sdktrace.SpanProcessor }

func (u *userland) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	st := state(parent)
	if st == nil || st.traceref == "" || st.fnUUID == "" || s.InstrumentationScope().Name == ScopeName {
		return
	}
	attrs := []attribute.KeyValue{attrTraceRef.String(st.traceref), attrSDKRunID.String(st.runID), attrSysFunction.String(st.fnUUID)}
	if st.appUUID != "" {
		attrs = append(attrs, attrSysApp.String(st.appUUID))
	}
	if ss, ok := parent.Value(stepKey{}).(*stepState); ok {
		attrs = append(attrs, AttrStepID.String(ss.run.ID), attrStepIndex.Int(ss.run.Index),
			attrStepHash.String(ss.run.Hash), attrStepAttempt.Int(ss.run.Attempt))
	}
	s.SetAttributes(attrs...)
	u.next.OnStart(parent, s)
}

func (u *userland) OnEnd(s sdktrace.ReadOnlySpan) {
	for _, kv := range s.Attributes() {
		if kv.Key == attrTraceRef {
			u.next.OnEnd(s)
			return
		}
	}
}

func (u *userland) Shutdown(ctx context.Context) error   { return u.next.Shutdown(ctx) }
func (u *userland) ForceFlush(ctx context.Context) error { return u.next.ForceFlush(ctx) }

// inngestTraceState reads the server's entries of a call's tracestate
// header: inngest@traceref (kept as sent, URL-escaped JSON), inngest@fn
// and inngest@app.
func inngestTraceState(values []string) (traceref, fn, app string) {
	for _, v := range values {
		for _, member := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(member), "=")
			if !ok {
				continue
			}
			switch k {
			case "inngest@traceref":
				traceref = val
			case "inngest@fn":
				fn = val
			case "inngest@app":
				app = val
			}
		}
	}
	if traceref != "" {
		if _, err := url.QueryUnescape(traceref); err != nil {
			traceref = ""
		}
	}
	return traceref, fn, app
}
