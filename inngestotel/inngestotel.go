// Package inngestotel connects an Inngest app to OpenTelemetry: a span
// for each call Inngest makes and each step the SDK runs, trace context
// carried by the events the app sends, and metrics. It is a module of
// its own, so that the SDK's users who do not import it do not get
// OpenTelemetry's dependencies.
//
// Register the middleware on the client, where it sees every function
// and every send:
//
//	mw := inngestotel.New(inngestotel.Options{TracerProvider: tp, MeterProvider: mp})
//	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "billing", Middleware: []inngest.Middleware{mw}})
//
// The function's ctx carries the call's span, and a step body's ctx the
// step's, so spans the user's code opens (HTTP clients, database drivers
// with OpenTelemetry instrumentation) nest under the step that made them.
//
// Spans: "inngest.call <function ID>" (kind server) for each call, and
// "inngest.step <step ID>" (kind internal) for each step.Run body the
// SDK runs, with the attributes inngest.run.id, inngest.function.id,
// inngest.attempt, inngest.step.id and inngest.outcome.
//
// A run replays the function's code once per step; code outside steps
// therefore runs in several calls, and each call has its own span.
package inngestotel

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-inngest/inngest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics.
const ScopeName = "github.com/go-inngest/inngest/inngestotel"

// Attribute keys of the spans and metrics.
const (
	AttrRunID      = attribute.Key("inngest.run.id")
	AttrFunctionID = attribute.Key("inngest.function.id")
	AttrAttempt    = attribute.Key("inngest.attempt")
	AttrStepID     = attribute.Key("inngest.step.id")
	AttrOutcome    = attribute.Key("inngest.outcome")
)

// Outcomes, the values of inngest.outcome.
const (
	OutcomeCompleted = "completed" // the function returned its result
	OutcomeFailed    = "failed"    // the function returned an error, or a step failed for good
	OutcomeError     = "error"     // a step's attempt failed and will be retried
	OutcomeStepRan   = "step"      // the call ran a step (or reported steps) and stopped
	OutcomePanicked  = "panicked"  // the function panicked
)

// TraceField is the key, in a sent event's data, of the W3C trace
// context (traceparent, tracestate) of the code that sent it; the call
// spans of a run the event triggers are children of the sender's span.
// The same context goes in the send's request headers, from which the
// Inngest server continues the trace in its own spans.
const TraceField = "_otel"

// Options configure the middleware. A nil provider turns its part off.
type Options struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Propagator carries trace context in sent events;
	// propagation.TraceContext when nil.
	Propagator propagation.TextMapPropagator
}

// Middleware is the OpenTelemetry middleware; make one with New.
type Middleware struct {
	inngest.BaseMiddleware
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	m      *metrics
}

var _ inngest.Middleware = (*Middleware)(nil)

// New returns the middleware for opts. It fails only when the metric
// instruments cannot be created.
func New(opts Options) (*Middleware, error) {
	mw := &Middleware{prop: opts.Propagator}
	if mw.prop == nil {
		mw.prop = propagation.TraceContext{}
	}
	if opts.TracerProvider != nil {
		mw.tracer = opts.TracerProvider.Tracer(ScopeName)
	}
	if opts.MeterProvider != nil {
		m, err := newMetrics(opts.MeterProvider.Meter(ScopeName))
		if err != nil {
			return nil, err
		}
		mw.m = m
	}
	return mw, nil
}

type callKey struct{}

type stepKey struct{}

// stepState is the step whose body runs with a context.
type stepState struct {
	run   inngest.StepRun
	start time.Time
}

// callState is what one call's hooks share.
type callState struct {
	span  trace.Span
	out   *inngest.Output
	attrs attribute.Set
	// runID and, from the call's tracestate header, the server's span
	// of this call (traceref) and the function's and app's IDs: what
	// user spans need for the run view.
	runID, traceref, fnUUID, appUUID string
}

func state(ctx context.Context) *callState {
	s, _ := ctx.Value(callKey{}).(*callState)
	return s
}

// TransformInput starts the call's span, a child of the trace context the
// triggering event carries, if any.
func (m *Middleware) TransformInput(ctx context.Context, call *inngest.Call) context.Context {
	st := &callState{attrs: attribute.NewSet(AttrFunctionID.String(call.FunctionID))}
	if m.tracer != nil {
		parent := ctx
		if carrier := eventCarrier(call.Event); carrier != nil {
			parent = m.prop.Extract(ctx, carrier)
		}
		ctx, st.span = m.tracer.Start(parent, "inngest.call "+call.FunctionID, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(AttrRunID.String(call.RunID), AttrFunctionID.String(call.FunctionID), AttrAttempt.Int(call.Attempt)))
	}
	st.runID = call.RunID
	if call.Request != nil {
		st.traceref, st.fnUUID, st.appUUID = inngestTraceState(call.Request.Header.Values("Tracestate"))
	}
	if m.m != nil {
		m.m.calls.Add(ctx, 1, metric.WithAttributeSet(st.attrs))
		if call.Attempt > 0 {
			m.m.retries.Add(ctx, 1, metric.WithAttributeSet(st.attrs))
		}
		if call.Handler == "failure" {
			m.m.failureHandlers.Add(ctx, 1, metric.WithAttributeSet(st.attrs))
		}
	}
	return context.WithValue(ctx, callKey{}, st)
}

// BeforeStep starts the step's span, a child of the call's.
func (m *Middleware) BeforeStep(ctx context.Context, call *inngest.Call, s *inngest.StepRun) context.Context {
	ctx = context.WithValue(ctx, stepKey{}, &stepState{run: *s, start: time.Now()})
	if m.tracer == nil {
		return ctx
	}
	ctx, _ = m.tracer.Start(ctx, "inngest.step "+s.ID, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(AttrRunID.String(call.RunID), AttrFunctionID.String(call.FunctionID),
			AttrStepID.String(s.ID), AttrAttempt.Int(s.Attempt)))
	return ctx
}

// AfterStep ends the step's span with its outcome and records the step.
func (m *Middleware) AfterStep(ctx context.Context, call *inngest.Call, s *inngest.StepRun) {
	outcome := OutcomeCompleted
	switch {
	case s.Err != nil && s.Final:
		outcome = OutcomeFailed
	case s.Err != nil:
		outcome = OutcomeError
	}
	if m.tracer != nil {
		span := trace.SpanFromContext(ctx)
		span.SetAttributes(AttrOutcome.String(outcome))
		if s.Err != nil {
			span.RecordError(s.Err)
			span.SetStatus(codes.Error, s.Err.Error())
		}
		span.End()
	}
	if m.m != nil {
		set := metric.WithAttributeSet(attribute.NewSet(AttrFunctionID.String(call.FunctionID), AttrOutcome.String(outcome)))
		m.m.steps.Add(ctx, 1, set)
		if ss, ok := ctx.Value(stepKey{}).(*stepState); ok {
			m.m.stepDuration.Record(ctx, time.Since(ss.start).Seconds(), set)
		}
	}
}

// TransformOutput keeps the call's outcome for BeforeResponse.
func (m *Middleware) TransformOutput(ctx context.Context, _ *inngest.Call, out *inngest.Output) {
	if st := state(ctx); st != nil {
		st.out = out
	}
}

// BeforeResponse ends the call's span with the call's outcome.
func (m *Middleware) BeforeResponse(ctx context.Context, call *inngest.Call) {
	st := state(ctx)
	if st == nil {
		return
	}
	outcome := OutcomeCompleted
	var err error
	if o := st.out; o != nil {
		switch {
		case o.Panicked:
			outcome = OutcomePanicked
		case o.Err != nil:
			outcome, err = OutcomeFailed, o.Err
		case o.Stopped:
			outcome = OutcomeStepRan
		}
	}
	if st.span != nil {
		st.span.SetAttributes(AttrOutcome.String(outcome))
		if err != nil {
			st.span.RecordError(err)
			st.span.SetStatus(codes.Error, err.Error())
		}
		st.span.End()
	}
	if m.m != nil && outcome == OutcomeFailed {
		var se *inngest.StepError
		if inngest.IsNoRetryError(err) || errors.As(err, &se) {
			m.m.runsFailed.Add(ctx, 1, metric.WithAttributeSet(st.attrs))
		}
	}
}

// BeforeSendEvents writes the sender's trace context into each event's
// data, under TraceField. Events whose data is not a JSON object as a
// map[string]any are converted to one; an event that already carries
// the field keeps it.
func (m *Middleware) BeforeSendEvents(ctx context.Context, events []inngest.Event[any]) []inngest.Event[any] {
	if m.tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return events
	}
	carrier := propagation.MapCarrier{}
	m.prop.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return events
	}
	out := make([]inngest.Event[any], len(events))
	for i, e := range events {
		out[i] = e
		data, ok := asMap(e.Data)
		if !ok {
			continue
		}
		if _, has := data[TraceField]; has {
			continue
		}
		fields := make(map[string]string, len(carrier))
		for k, v := range carrier {
			fields[k] = v
		}
		data[TraceField] = fields
		out[i].Data = data
	}
	return out
}

// SendHeaders writes the sender's trace context into the send's request
// headers (traceparent, tracestate), from which the Inngest server
// continues the sender's trace in its own spans of the runs.
func (m *Middleware) SendHeaders(ctx context.Context, h http.Header) {
	if m.tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	m.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// AfterSendEvents counts the events sent.
func (m *Middleware) AfterSendEvents(ctx context.Context, ids []string, err error) {
	if m.m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.m.sends.Add(ctx, 1, metric.WithAttributes(attribute.String("inngest.result", result)))
	m.m.eventsSent.Add(ctx, int64(len(ids)))
}

// asMap returns a copy of data as a JSON object.
func asMap(data any) (map[string]any, bool) {
	switch d := data.(type) {
	case nil:
		return map[string]any{}, true
	case map[string]any:
		out := make(map[string]any, len(d)+1)
		for k, v := range d {
			out[k] = v
		}
		return out, true
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, false
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil || out == nil {
		return nil, false
	}
	return out, true
}

// eventCarrier returns the trace context an event carries, or nil.
func eventCarrier(event json.RawMessage) propagation.MapCarrier {
	if len(event) == 0 {
		return nil
	}
	var e struct {
		Data struct {
			Trace map[string]string `json:"_otel"`
		} `json:"data"`
	}
	if json.Unmarshal(event, &e) != nil || len(e.Data.Trace) == 0 {
		return nil
	}
	return propagation.MapCarrier(e.Data.Trace)
}

type metrics struct {
	calls, steps, retries, runsFailed, failureHandlers, sends, eventsSent metric.Int64Counter
	stepDuration                                                          metric.Float64Histogram
}

func newMetrics(meter metric.Meter) (*metrics, error) {
	var m metrics
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{"+name[len("inngest."):]+"}"))
		errs = append(errs, err)
		return c
	}
	m.calls = counter("inngest.calls", "Calls Inngest made to the app's functions.")
	m.steps = counter("inngest.steps", "Step bodies the SDK ran, by outcome.")
	m.retries = counter("inngest.retries", "Calls that were a retry (attempt above 0).")
	m.runsFailed = counter("inngest.runs.failed", "Calls that failed their run for good.")
	m.failureHandlers = counter("inngest.failure_handlers", "Calls to failure handlers.")
	m.sends = counter("inngest.sends", "Client.Send calls, by result.")
	m.eventsSent = counter("inngest.events.sent", "Events sent.")
	var err error
	m.stepDuration, err = meter.Float64Histogram("inngest.step.duration", metric.WithDescription("How long step bodies ran."), metric.WithUnit("s"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &m, nil
}
