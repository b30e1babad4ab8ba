package inngestotel_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngestotel"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// headerRecorder records the traceparent headers of event sends.
type headerRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	tps  []string
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/e/") {
		h.mu.Lock()
		h.tps = append(h.tps, r.Header.Values("Traceparent")...)
		h.mu.Unlock()
	}
	return h.next.RoundTrip(r)
}

func (h *headerRecorder) traceparents() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.tps...)
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestSpansMetricsAndTraceContextInEvents(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mw, err := inngestotel.New(inngestotel.Options{TracerProvider: tp, MeterProvider: mp})
	require.NoError(t, err)

	eng := inngesttest.New(t)
	sent := &headerRecorder{next: eng.HTTPClient().Transport}
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, HTTPClient: &http.Client{Transport: sent},
		Middleware: []inngest.Middleware{mw}})
	require.NoError(t, err)
	user := tp.Tracer("user")
	flaky := true
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "traced", Retries: inngest.Ptr(1)}, inngest.EventTrigger("a/go", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			if _, err := step.Run(ctx, "charge", func(ctx context.Context) (int, error) {
				_, span := user.Start(ctx, "db.query")
				span.End()
				if flaky {
					flaky = false
					return 0, errors.New("flaky")
				}
				return 1, nil
			}); err != nil {
				return nil, err
			}
			return "done", nil
		})
	require.NoError(t, err)
	eng.Register(c)

	// A traced request sends the event; the run continues its trace.
	ctx, req := user.Start(context.Background(), "http.request")
	_, err = c.Send(ctx, inngest.Event[any]{Name: "a/go", Data: map[string]any{"n": 1}})
	require.NoError(t, err)
	req.End()
	tp0 := sent.traceparents()
	require.Len(t, tp0, 1, "the send's request carries the trace context")
	assert.Equal(t, "00-"+req.SpanContext().TraceID().String()+"-"+req.SpanContext().SpanID().String()+"-01", tp0[0])
	runs := eng.RunsOf(fn)
	require.Len(t, runs, 1)
	eng.Wait(runs...)
	runs[0].RequireCompleted(t)
	runID := runs[0].ID()

	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var calls, steps, queries []tracetest.SpanStub
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		switch s.Name {
		case "inngest.call app-traced":
			calls = append(calls, s)
		case "inngest.step charge":
			steps = append(steps, s)
		case "db.query":
			queries = append(queries, s)
		}
	}
	// Call 1 runs "charge" (fails), call 2 retries it (succeeds), call 3
	// returns.
	require.Len(t, calls, 3)
	require.Len(t, steps, 2)
	require.Len(t, queries, 2)
	for _, s := range calls {
		assert.Equal(t, req.SpanContext().TraceID(), s.SpanContext.TraceID(), "the run continues the sender's trace")
		assert.Equal(t, req.SpanContext().SpanID(), s.Parent.SpanID())
		assert.Equal(t, trace.SpanKindServer, s.SpanKind)
		a := attrs(s)
		assert.Equal(t, runID, a[inngestotel.AttrRunID].AsString())
		assert.Equal(t, "app-traced", a[inngestotel.AttrFunctionID].AsString())
	}
	assert.Equal(t, []string{"step", "step", "completed"}, []string{
		attrs(calls[0])[inngestotel.AttrOutcome].AsString(), attrs(calls[1])[inngestotel.AttrOutcome].AsString(), attrs(calls[2])[inngestotel.AttrOutcome].AsString()})
	for i, s := range steps {
		assert.Equal(t, calls[i].SpanContext.SpanID(), s.Parent.SpanID(), "a step's span is its call's child")
		a := attrs(s)
		assert.Equal(t, "charge", a[inngestotel.AttrStepID].AsString())
		assert.Equal(t, int64(i), a[inngestotel.AttrAttempt].AsInt64())
		assert.Equal(t, runID, a[inngestotel.AttrRunID].AsString())
		assert.Equal(t, s.SpanContext.SpanID(), queries[i].Parent.SpanID(), "user spans nest under the step")
	}
	assert.Equal(t, "error", attrs(steps[0])[inngestotel.AttrOutcome].AsString())
	assert.Equal(t, "completed", attrs(steps[1])[inngestotel.AttrOutcome].AsString())

	// Metrics.
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := map[string]int64{}
	hist := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sums[m.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					hist[m.Name] += p.Count
				}
			}
		}
	}
	assert.Equal(t, int64(3), sums["inngest.calls"])
	assert.Equal(t, int64(2), sums["inngest.steps"])
	assert.Equal(t, int64(1), sums["inngest.retries"])
	assert.Equal(t, int64(1), sums["inngest.sends"])
	assert.Equal(t, int64(1), sums["inngest.events.sent"])
	assert.Equal(t, uint64(2), hist["inngest.step.duration"])
}

// A run that fails counts as failed, and its failure handler runs.
func TestMetricsFailedRunAndFailureHandler(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mw, err := inngestotel.New(inngestotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	require.NoError(t, err)
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Middleware: []inngest.Middleware{mw}})
	require.NoError(t, err)
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "doomed", Retries: inngest.Ptr(0),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[any]) (any, error) { return nil, nil })},
		inngest.EventTrigger("a/doom", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "x", func(ctx context.Context) (int, error) { return 0, errors.New("no") })
		})
	require.NoError(t, err)
	eng.Register(c)
	run := eng.Run(fn, inngest.Event[any]{Name: "a/doom"})
	run.RequireFailed(t)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				got[m.Name] = map[string]int64{}
				for _, p := range d.DataPoints {
					v, _ := p.Attributes.Value(inngestotel.AttrFunctionID)
					got[m.Name][v.AsString()] += p.Value
				}
			}
		}
	}
	assert.Equal(t, int64(1), got["inngest.runs.failed"]["app-doomed"])
	assert.Equal(t, int64(1), got["inngest.failure_handlers"]["app-doomed-failure"])
}
