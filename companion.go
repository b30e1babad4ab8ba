package inngest

import (
	"context"
	"fmt"

	"github.com/go-inngest/inngest/internal/wire"
)

// A failure or cancellation handler becomes a companion function of its
// own, registered with the function that names it: one path,
// companionKind.build, makes either.

// defaultHandlerRetries is a failure or cancellation handler's retries
// when none are set: one retry, two attempts.
const defaultHandlerRetries = 1

// companionKind is a kind of companion function.
type companionKind struct {
	field  string // the FunctionOpts field that sets it
	suffix string // of its ID, after the function's
	label  string // of its name, in parentheses after the function's
	event  string // the system event that triggers it
	arg    string // what its handler receives, for errors
}

var (
	failureKind = companionKind{field: "OnFailure", suffix: "-failure", label: "failure", event: FunctionFailedEvent, arg: "Failure"}
	cancelKind  = companionKind{field: "OnCancel", suffix: "-cancel", label: "cancel", event: FunctionCancelledEvent, arg: "Cancellation"}
)

// companionHandler is the untyped part of a FailureFunc or CancelFunc:
// the handler's code with its typed decoding, and its retries.
type companionHandler struct {
	// eventType is the handler's Event[T], which must be its function's.
	eventType string
	retries   *int
	call      func(ctx context.Context, req *wire.Request) (any, error)
}

// newCompanionHandler captures fn, which receives what decode makes of
// a call to the companion; a nil fn leaves call nil.
func newCompanionHandler[T, P any](fn func(context.Context, P) (any, error), decode func(*wire.Request) P) companionHandler {
	h := companionHandler{eventType: eventTypeOf[T]()}
	if fn != nil {
		h.call = func(ctx context.Context, req *wire.Request) (any, error) { return fn(ctx, decode(req)) }
	}
	return h
}

// build returns parent's companion of kind k running h, whose events
// must be eventType, parent's. It is triggered by k's event for parent
// alone, and follows parent's middleware and checkpointing.
func (k companionKind) build(h *companionHandler, parent *function, eventType string) (*function, error) {
	if h == nil || h.call == nil {
		return nil, fmt.Errorf("%s: the handler is nil", k.field)
	}
	if h.eventType != eventType {
		return nil, fmt.Errorf("%s: the handler takes %s over %s but the function's events are %s", k.field, k.arg, h.eventType, eventType)
	}
	retries, err := handlerRetries(h.retries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.field, err)
	}
	return &function{
		localID:       parent.localID + k.suffix,
		slug:          parent.slug + k.suffix,
		name:          parent.name + " (" + k.label + ")",
		retries:       retries,
		triggers:      []Trigger{{Event: k.event, Expression: functionIDFilter(parent.slug)}},
		middleware:    parent.middleware,
		checkpoint:    parent.checkpoint,
		checkpointSet: parent.checkpointSet,
		call:          h.call,
		handler:       k.label,
	}, nil
}

func handlerRetries(r *int) (*int, error) {
	if r == nil {
		return Ptr(defaultHandlerRetries), nil
	}
	if *r < 0 || *r > MaxRetries {
		return nil, fmt.Errorf("retries must be from 0 to %d, got %d", MaxRetries, *r)
	}
	return Ptr(*r), nil
}
