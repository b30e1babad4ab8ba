package step

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
)

// ErrEventNotReceived is returned (wrapped) by WaitForEvent when its
// timeout passed before a matching event arrived. Test for it with
// errors.Is.
var ErrEventNotReceived = errors.New("inngest: no matching event arrived before the timeout")

// WaitForEventOpts says which event WaitForEvent waits for.
type WaitForEventOpts struct {
	// Event is the name of the event to wait for. Required.
	Event string
	// Timeout is how long to wait, up to 366 days. Required.
	Timeout time.Duration
	// If is an optional CEL expression that the incoming event must
	// satisfy. In it, "event" is the event that started this run and
	// "async" the incoming one: "async.data.order_id == event.data.id".
	If string
	// Match is a shorthand for If comparing one field of both events:
	// Match "data.id" means "event.data.id == async.data.id". Set If or
	// Match, not both.
	Match string
}

type waitForEventOpts struct {
	Event   string `json:"event"`
	Timeout string `json:"timeout"`
	If      string `json:"if,omitempty"`
}

// WaitForEvent pauses the function until an event named opts.Event (and
// matching opts.If or opts.Match) arrives, and returns it with its data
// decoded into T. No process waits: Inngest calls the function again
// when the event arrives or the timeout passes. On timeout the error
// wraps ErrEventNotReceived.
//
// Only events sent after the wait began are matched.
func WaitForEvent[T any](ctx context.Context, id string, opts WaitForEventOpts) (inngest.Event[T], error) {
	var zero inngest.Event[T]
	r, parallel, err := from(ctx, id)
	if err != nil {
		return zero, err
	}
	op, err := waitOpts(id, opts)
	if err != nil {
		return zero, err
	}
	s, raw, err := await(r, parallel, id, wire.OpWaitForEvent, op)
	if err != nil {
		return zero, err
	}
	if isNull(raw) {
		return zero, fmt.Errorf("step %q: waiting for %s: %w", id, opts.Event, ErrEventNotReceived)
	}
	var evt inngest.Event[T]
	if err := wire.Unmarshal(raw, &evt); err != nil {
		return zero, memoMismatch[inngest.Event[T]](s, err)
	}
	return evt, nil
}

func waitOpts(id string, o WaitForEventOpts) (waitForEventOpts, error) {
	const tool = "WaitForEvent"
	if strings.TrimSpace(o.Event) == "" {
		return waitForEventOpts{}, optsError(tool, id, "WaitForEventOpts.Event, the event name, is required")
	}
	if err := checkTimeout(tool, id, "WaitForEventOpts.Timeout", o.Timeout); err != nil {
		return waitForEventOpts{}, err
	}
	expr := o.If
	if o.Match != "" {
		if o.If != "" {
			return waitForEventOpts{}, optsError(tool, id, "set WaitForEventOpts.If or Match, not both")
		}
		expr = matchExpr(o.Match)
	}
	return waitForEventOpts{Event: o.Event, Timeout: wire.Duration(o.Timeout, true), If: expr}, nil
}

// matchExpr expands a Match shorthand such as "data.id" into
// "event.data.id == async.data.id".
func matchExpr(field string) string {
	field = strings.TrimPrefix(field, "event.")
	return "event." + field + " == async." + field
}
