package step

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/wire"
)

// ErrInvokeTimeout is matched (errors.Is) by the error Invoke returns
// when the invoked function did not finish within InvokeOpts.Timeout.
// The same error is also a *inngest.StepError.
var ErrInvokeTimeout = errors.New("inngest: the invoked function did not finish before the timeout")

// InvokeOpts says which function Invoke calls and with what.
type InvokeOpts struct {
	// FunctionID is the full ID of the function to invoke,
	// "<app ID>-<function ID>"; it may belong to another app. Set it or
	// Function.
	FunctionID string
	// Function is the function to invoke, such as the *inngest.Function
	// that CreateFunction returned. Set it or FunctionID.
	Function interface{ FullID() string }
	// Data is the invoked function's event data. It must encode as a JSON
	// object; nil sends {}.
	Data any
	// User is optional user information for the invoked function's event.
	User map[string]any
	// Timeout bounds the wait for the invoked function to finish; zero
	// means the server's default of one year.
	Timeout time.Duration
}

type invokeOpts struct {
	FunctionID string        `json:"function_id"`
	Payload    invokePayload `json:"payload"`
	Timeout    string        `json:"timeout,omitempty"`
}

type invokePayload struct {
	Data json.RawMessage `json:"data"`
	User map[string]any  `json:"user,omitempty"`
}

// Invoke calls another Inngest function and returns its result, decoded
// from JSON into R. The invoked function runs as a run of its own,
// triggered by an "inngest/function.invoked" event that carries
// opts.Data; this function pauses until it finishes.
//
// When the invoked function fails, Invoke returns a *inngest.StepError
// holding its error; when it does not finish within opts.Timeout, the
// error is also matched by errors.Is(err, ErrInvokeTimeout). Returning
// the error fails this run without retries.
func Invoke[R any](ctx context.Context, id string, opts InvokeOpts) (R, error) {
	var zero R
	r, parallel, err := from(ctx, id)
	if err != nil {
		return zero, err
	}
	op, err := invokeOptsFor(id, opts)
	if err != nil {
		return zero, err
	}
	s, raw, err := await(r, parallel, id, wire.OpInvokeFunction, op)
	if err != nil {
		return zero, err
	}
	return decodeInvoke[R](s, raw)
}

// InvokeFunction calls fn with data as its event data and returns its
// result decoded into Out: a typed form of Invoke for functions of this
// app. A zero timeout means the server's default of one year. Write the
// result type only; In is inferred:
//
//	receipt, err := step.InvokeFunction[Receipt](ctx, "charge", chargeFn, order, time.Hour)
func InvokeFunction[Out, In any](ctx context.Context, id string, fn *inngest.Function[In], data In, timeout time.Duration) (Out, error) {
	if fn == nil {
		var zero Out
		if _, _, err := replay.From(ctx); err != nil {
			return zero, err
		}
		return zero, optsError("InvokeFunction", id, "the function is nil")
	}
	return Invoke[Out](ctx, id, InvokeOpts{Function: fn, Data: data, Timeout: timeout})
}

func invokeOptsFor(id string, o InvokeOpts) (invokeOpts, error) {
	const tool = "Invoke"
	fnID := o.FunctionID
	if o.Function != nil {
		ref := o.Function.FullID()
		if fnID != "" && fnID != ref {
			return invokeOpts{}, optsError(tool, id, "InvokeOpts.FunctionID %q and Function (%q) disagree; set one of them", fnID, ref)
		}
		fnID = ref
	}
	if strings.TrimSpace(fnID) == "" {
		return invokeOpts{}, optsError(tool, id, "InvokeOpts.FunctionID (\"<app ID>-<function ID>\") or Function is required")
	}
	if o.Timeout < 0 || o.Timeout > maxTimeout {
		return invokeOpts{}, optsError(tool, id, "InvokeOpts.Timeout must be from 0 to 366 days, got %s", o.Timeout)
	}
	data, err := jsonObject(o.Data)
	if err != nil {
		return invokeOpts{}, optsError(tool, id, "InvokeOpts.Data: %v", err)
	}
	op := invokeOpts{FunctionID: fnID, Payload: invokePayload{Data: data, User: o.User}}
	if o.Timeout > 0 {
		op.Timeout = wire.Duration(o.Timeout, true)
	}
	return op, nil
}

// invokeTimeoutName is the error name the server records when an
// invoked function did not finish in time.
const invokeTimeoutName = "InngestInvokeTimeoutError"

// finishedEvent is the name of the event the server records as an
// invoke's result when the invoked function returned nothing (a null or
// zero result is left out of the event).
const finishedEvent = "inngest/function.finished"

// decodeInvoke decodes an invoke's recorded result: {"data": …},
// {"error": …}, or the whole function-finished event when the invoked
// function's result was empty.
func decodeInvoke[R any](s replay.Step, raw json.RawMessage) (R, error) {
	var zero R
	var m struct {
		wire.Memo
		Name string `json:"name"`
	}
	if err := wire.Unmarshal(raw, &m); err != nil {
		return zero, memoMismatch[R](s, err)
	}
	switch {
	case m.Error != nil:
		se := stepError(s, m.Error)
		if se.Name == invokeTimeoutName {
			return zero, &invokeTimeoutError{se}
		}
		return zero, se
	case m.Name == finishedEvent, isNull(m.Data):
		return zero, nil
	}
	var v R
	if err := wire.Unmarshal(m.Data, &v); err != nil {
		return zero, memoMismatch[R](s, err)
	}
	return v, nil
}

// invokeTimeoutError is a *inngest.StepError that also matches
// ErrInvokeTimeout.
type invokeTimeoutError struct{ *inngest.StepError }

func (e *invokeTimeoutError) Unwrap() []error { return []error{e.StepError, ErrInvokeTimeout} }
