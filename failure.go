package inngest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-inngest/inngest/internal/wire"
)

// Names of the events Inngest emits when a run ends badly.
const (
	FunctionFailedEvent    = "inngest/function.failed"
	FunctionCancelledEvent = "inngest/function.cancelled"
)

// FailureHandler is a failure handler made by OnFailure, for
// FunctionOpts.OnFailure.
type FailureHandler interface {
	failureHandler() *companionHandler
}

// CancelHandler is a cancellation handler made by OnCancel, for
// FunctionOpts.OnCancel.
type CancelHandler interface {
	cancelHandler() *companionHandler
}

// Failure is what a failure handler receives about a run that failed for
// good: the failed run, its typed original event, and the error.
type Failure[T any] struct {
	// FunctionID is the failed function's full ID, "<appID>-<fnID>".
	FunctionID string
	// RunID is the failed run's ID.
	RunID string
	// Event is the event that triggered the failed run, decoded into the
	// function's event type; Events holds all of them for a batch.
	Event  Event[T]
	Events []Event[T]
	// Error is what made the run fail. It is never nil. When the server
	// failed the run itself (the app was unreachable, a step's output or
	// the run's state was over its limit) it is the server's innermost
	// error, such as InngestErrStateOverflowed, not the JSON the server
	// wraps it in; Raw has that.
	Error *RunError
	// StepID is the ID (as written in code) of the step whose failure
	// failed the run, or "" when the run failed outside a step or the
	// step is not known.
	StepID string
	// Handler describes the handler's own run.
	Handler RunInfo
	// Raw is the inngest/function.failed event as received.
	Raw json.RawMessage
}

// Cancellation is what a cancellation handler receives about a run that
// was cancelled.
type Cancellation[T any] struct {
	// FunctionID is the cancelled function's full ID, "<appID>-<fnID>".
	FunctionID string
	// RunID is the cancelled run's ID.
	RunID string
	// Event is the event that triggered the cancelled run; Events holds
	// all of them for a batch.
	Event  Event[T]
	Events []Event[T]
	// Error is set when the server gave a reason, which it usually does
	// not.
	Error *RunError
	// Handler describes the handler's own run.
	Handler RunInfo
	// Raw is the inngest/function.cancelled event as received.
	Raw json.RawMessage
}

// RunError is the error a failed run ended with, as the server recorded
// it. It is a Go error: a handler can return or wrap it.
type RunError struct {
	// Name is the error's kind, such as "Error" or "NonRetriableError".
	Name string
	// Message is the error's text.
	Message string
	// Stack is the stack trace the SDK reported, if any.
	Stack string
	// Cause is the error's cause, as JSON, when one was recorded.
	Cause json.RawMessage
}

// Error returns the message, after the name unless that is "" or "Error".
func (e *RunError) Error() string {
	if e.Name == "" || e.Name == wire.ErrNameDefault {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// FailureFunc is a typed failure handler; make one with OnFailure.
type FailureFunc[T any] struct{ h companionHandler }

// OnFailure makes a failure handler for FunctionOpts.OnFailure. The
// handler is typed by the same event data type as its function.
//
// Inngest runs it once, after a run has failed for good (its retries ran
// out, it returned a NoRetryError, or it returned a failed step's
// error), never after a mere failed attempt and never after a
// cancellation. It is registered as a function of its own,
// "<appID>-<fnID>-failure", triggered by inngest/function.failed for
// this function only; it is durable, so every step tool works in it. It
// inherits none of its function's options but its middleware and its
// checkpointing, and is retried once unless WithRetries says otherwise.
func OnFailure[T any](fn func(ctx context.Context, f Failure[T]) (any, error)) *FailureFunc[T] {
	return &FailureFunc[T]{h: newCompanionHandler[T](fn, decodeFailure[T])}
}

// WithRetries sets the handler's own retries (0 to 20).
func (h *FailureFunc[T]) WithRetries(n int) *FailureFunc[T] {
	h.h.retries = &n
	return h
}

func (h *FailureFunc[T]) failureHandler() *companionHandler {
	if h == nil {
		return nil
	}
	return &h.h
}

// CancelFunc is a typed cancellation handler; make one with OnCancel.
type CancelFunc[T any] struct{ h companionHandler }

// OnCancel makes a cancellation handler for FunctionOpts.OnCancel: a
// companion function "<appID>-<fnID>-cancel", triggered by
// inngest/function.cancelled for this function only, for clean-up after
// a run was cancelled (by a Cancel event, a timeout, the API or a
// singleton). Like a failure handler it is durable and typed by the
// function's event data type.
func OnCancel[T any](fn func(ctx context.Context, c Cancellation[T]) (any, error)) *CancelFunc[T] {
	return &CancelFunc[T]{h: newCompanionHandler[T](fn, decodeCancellation[T])}
}

// WithRetries sets the handler's own retries (0 to 20).
func (h *CancelFunc[T]) WithRetries(n int) *CancelFunc[T] {
	h.h.retries = &n
	return h
}

func (h *CancelFunc[T]) cancelHandler() *companionHandler {
	if h == nil {
		return nil
	}
	return &h.h
}

// functionIDFilter is the trigger expression that matches one function's
// system events.
func functionIDFilter(slug string) string {
	return "event.data.function_id == " + celString(slug)
}

// celString quotes s as a single-quoted CEL string.
func celString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// FailureFilter chooses which functions' failures CreateFailureFunction
// handles. The zero value handles every function of the app.
type FailureFilter struct {
	// Functions lists function IDs (as in FunctionOpts.ID, or full IDs
	// with the app prefix). Empty means all functions of the app.
	Functions []string
}

// CreateFailureFunction defines one function that handles
// inngest/function.failed for all functions of the app, or for those
// filter names: for alerting, say. Events are decoded into T, so use a
// type that fits every chosen function's events (json.RawMessage or
// map[string]any fit all). opts works as for CreateFunction, but takes
// no OnFailure or OnCancel.
func CreateFailureFunction[T any](c *Client, opts FunctionOpts, filter FailureFilter, fn func(ctx context.Context, f Failure[T]) (any, error)) (*Function[Failure[T]], error) {
	if err := c.check("CreateFailureFunction"); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("inngest: CreateFailureFunction %q: the function body is nil", opts.ID)
	}
	if opts.OnFailure != nil || opts.OnCancel != nil {
		return nil, fmt.Errorf("inngest: CreateFailureFunction %q: FunctionOpts.OnFailure and OnCancel cannot be set on a failure function", opts.ID)
	}
	var expr string
	if len(filter.Functions) == 0 {
		expr = "event.data.function_id.startsWith(" + celString(c.cfg.appID+"-") + ")"
	} else {
		parts := make([]string, len(filter.Functions))
		for i, id := range filter.Functions {
			if id == "" {
				return nil, fmt.Errorf("inngest: CreateFailureFunction %q: FailureFilter.Functions[%d] is empty", opts.ID, i)
			}
			if !strings.HasPrefix(id, c.cfg.appID+"-") {
				id = c.cfg.appID + "-" + id
			}
			parts[i] = functionIDFilter(id)
		}
		expr = strings.Join(parts, " || ")
	}
	f, err := c.newFunction("CreateFailureFunction", opts, []Trigger{{Event: FunctionFailedEvent, Expression: expr}},
		func(ctx context.Context, req *wire.Request) (any, error) {
			return fn(ctx, decodeFailure[T](req))
		})
	if err != nil {
		return nil, err
	}
	f.handler = failureKind.label
	if err := c.register(f); err != nil {
		return nil, err
	}
	return &Function[Failure[T]]{fn: f}, nil
}

// systemEvent is the part of inngest/function.failed and
// inngest/function.cancelled that the handlers read. Every field is
// optional; a field of an unexpected type is skipped, not an error.
type systemEvent struct {
	FunctionID string
	RunID      string
	Event      json.RawMessage
	Events     []json.RawMessage
	Error      *RunError
	StepID     string
}

func parseSystemEvent(raw json.RawMessage) systemEvent {
	var se systemEvent
	var env struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if wire.Unmarshal(raw, &env) != nil {
		return se
	}
	d := env.Data
	_ = wire.Unmarshal(d["function_id"], &se.FunctionID)
	_ = wire.Unmarshal(d["run_id"], &se.RunID)
	se.Event = d["event"]
	_ = wire.Unmarshal(d["events"], &se.Events)
	se.Error = parseRunError(d["error"])
	se.StepID = stepIDFrom(d["result"])
	if se.StepID == "" {
		se.StepID = stepIDFrom(d["error"])
	}
	return se
}

// maxErrorNesting bounds how many messages holding an error as JSON
// parseRunError decodes, one inside the other.
const maxErrorNesting = 8

// parseRunError reads the error of a system event, whatever its shape:
// an object with name, message, stack, error and cause (any may be
// missing), a bare string, or nothing at all (nil).
//
// When the server fails a run itself (it could not reach the app, a
// step's output or the run's state was over its limit), the message is
// itself an error encoded as JSON, {"error":{"name":…,"message":…}}, and
// the outer name is a generic "Error". The innermost error's name and
// message are the ones that say what happened, so they are returned, up
// to maxErrorNesting levels deep; the outer stack and cause are kept
// when the inner error has none. Failure.Raw keeps the event as sent.
func parseRunError(raw json.RawMessage) *RunError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if wire.Unmarshal(raw, &s) == nil {
		return &RunError{Name: wire.ErrNameDefault, Message: firstNonEmpty(s, "Unknown error")}
	}
	e, _, ok := parseErrorObject(raw, maxErrorNesting)
	if !ok {
		return &RunError{Name: wire.ErrNameDefault, Message: "Unknown error"}
	}
	e.Name = firstNonEmpty(e.Name, wire.ErrNameDefault)
	e.Message = firstNonEmpty(e.Message, "Unknown error")
	return e
}

// parseErrorObject reads a JSON object as an error, unwrapping an error
// nested in its message (up to depth messages deep) or in an "error" that
// is an object. Name and Message are "" when absent; named reports whether a
// name was given at some level. ok is false when raw is not an object.
func parseErrorObject(raw []byte, depth int) (e *RunError, named, ok bool) {
	var m map[string]json.RawMessage
	if wire.Unmarshal(raw, &m) != nil || m == nil {
		return nil, false, false
	}
	str := func(k string) string {
		var v string
		_ = wire.Unmarshal(m[k], &v)
		return strings.TrimSpace(v)
	}
	e = &RunError{Name: str("name"), Message: firstNonEmpty(str("message"), str("error")), Stack: str("stack")}
	if c, ok := m["cause"]; ok && string(c) != "null" {
		e.Cause = c
	}
	named = e.Name != ""
	var nested []byte
	switch {
	case strings.HasPrefix(e.Message, "{") && depth > 0:
		nested, depth = []byte(e.Message), depth-1
	case e.Message == "" && bytes.HasPrefix(m["error"], []byte("{")):
		// Part of this object, not a message decoded again: free.
		nested = m["error"]
	default:
		return e, named, true
	}
	inner, innerNamed, ok := parseErrorObject(nested, depth)
	if !ok || inner.Message == "" {
		// Not an error: a message that merely is JSON stays as it is.
		return e, named, true
	}
	if !innerNamed || (inner.Name == wire.ErrNameDefault && named) {
		inner.Name = e.Name
	}
	inner.Stack = firstNonEmpty(inner.Stack, e.Stack)
	if inner.Cause == nil {
		inner.Cause = e.Cause
	}
	return inner, named || innerNamed, true
}

// stepIDFrom reads {"data":{"step_id":"..."}}, where this SDK puts the ID
// of the step whose failure failed a run.
func stepIDFrom(raw json.RawMessage) string {
	var v struct {
		Data struct {
			StepID string `json:"step_id"`
		} `json:"data"`
	}
	if len(raw) == 0 || wire.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.Data.StepID
}

// decodeEvents decodes the original events of a system event into T.
// An event that does not fit T keeps its name, ID and time, with zero
// data; the handler still runs.
func decodeEvents[T any](one json.RawMessage, all []json.RawMessage) (Event[T], []Event[T]) {
	dec := func(raw json.RawMessage) Event[T] {
		var e Event[T]
		if len(raw) == 0 || wire.Unmarshal(raw, &e) == nil {
			return e
		}
		var loose Event[json.RawMessage]
		_ = wire.Unmarshal(raw, &loose)
		return Event[T]{ID: loose.ID, Name: loose.Name, User: loose.User, Timestamp: loose.Timestamp, Version: loose.Version}
	}
	evts := make([]Event[T], len(all))
	for i, raw := range all {
		evts[i] = dec(raw)
	}
	return dec(one), evts
}

func decodeFailure[T any](req *wire.Request) Failure[T] {
	se := parseSystemEvent(req.Event)
	f := Failure[T]{
		FunctionID: se.FunctionID,
		RunID:      se.RunID,
		Error:      se.Error,
		StepID:     se.StepID,
		Handler:    runInfo(req),
		Raw:        req.Event,
	}
	f.Event, f.Events = decodeEvents[T](se.Event, se.Events)
	if f.Error == nil {
		f.Error = &RunError{Name: wire.ErrNameDefault, Message: "Unknown error"}
	}
	return f
}

func decodeCancellation[T any](req *wire.Request) Cancellation[T] {
	se := parseSystemEvent(req.Event)
	c := Cancellation[T]{
		FunctionID: se.FunctionID,
		RunID:      se.RunID,
		Error:      se.Error,
		Handler:    runInfo(req),
		Raw:        req.Event,
	}
	c.Event, c.Events = decodeEvents[T](se.Event, se.Events)
	return c
}
