package inngest

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/wire"
)

// Middleware observes and changes what happens around a function's code:
// each call Inngest makes, and each event the client sends. Register it
// on the client (ClientOpts.Middleware, for every function) or on one
// function (FunctionOpts.Middleware). Client middleware runs before
// function middleware, each in the order given, and every hook runs
// exactly once per call or send.
//
// In a call the hooks run in this order:
//
//  1. TransformInput, before any user code: it may return a context
//     carrying values for the function (the function's ctx derives from
//     it) and change the call's events and memoized steps.
//  2. AfterMemoization, then BeforeExecution, when the function has
//     replayed its memoized steps and is about to run code that was not
//     memoized (at once when nothing is memoized).
//  3. BeforeStep and AfterStep, around the body of each step.Run the
//     call runs (at most one, unless checkpointing runs several): on the
//     body's goroutine, BeforeStep may return the context the body runs
//     with, and AfterStep sees the body's outcome.
//  4. AfterExecution, when the function's code has stopped: it returned,
//     or stopped at a step.
//  5. TransformOutput, which may change the outcome: the function's
//     result or error, or the result of the step the call ran.
//  6. BeforeResponse, just before the answer is written.
//
// Embed BaseMiddleware to implement only the hooks you need.
type Middleware interface {
	TransformInput(ctx context.Context, call *Call) context.Context
	AfterMemoization(ctx context.Context, call *Call)
	BeforeExecution(ctx context.Context, call *Call)
	// BeforeStep runs just before the SDK runs the body of a step (a
	// step.Run that was not memoized), on the body's goroutine, with the
	// body's context; the body runs with the context it returns (nil
	// keeps ctx).
	BeforeStep(ctx context.Context, call *Call, step *StepRun) context.Context
	// AfterStep runs when that body has ended, with step's outcome
	// filled in and ctx the one BeforeStep returned.
	AfterStep(ctx context.Context, call *Call, step *StepRun)
	AfterExecution(ctx context.Context, call *Call)
	TransformOutput(ctx context.Context, call *Call, out *Output)
	BeforeResponse(ctx context.Context, call *Call)
	// BeforeSendEvents may change the events Client.Send (and so
	// step.SendEvent) is about to send; only client middleware sees sends.
	BeforeSendEvents(ctx context.Context, events []Event[any]) []Event[any]
	// SendHeaders may add headers to the HTTP request of that send, such
	// as W3C trace context (traceparent), which the Inngest server reads
	// to continue the sender's trace in the runs the events trigger.
	SendHeaders(ctx context.Context, h http.Header)
	// AfterSendEvents sees what a send returned.
	AfterSendEvents(ctx context.Context, ids []string, err error)
}

// BaseMiddleware implements every Middleware hook as a no-op. Embed it
// and override the hooks you need.
type BaseMiddleware struct{}

// TransformInput returns ctx unchanged.
func (BaseMiddleware) TransformInput(ctx context.Context, _ *Call) context.Context { return ctx }

// AfterMemoization does nothing.
func (BaseMiddleware) AfterMemoization(context.Context, *Call) {}

// BeforeExecution does nothing.
func (BaseMiddleware) BeforeExecution(context.Context, *Call) {}

// BeforeStep returns ctx unchanged.
func (BaseMiddleware) BeforeStep(ctx context.Context, _ *Call, _ *StepRun) context.Context {
	return ctx
}

// AfterStep does nothing.
func (BaseMiddleware) AfterStep(context.Context, *Call, *StepRun) {}

// AfterExecution does nothing.
func (BaseMiddleware) AfterExecution(context.Context, *Call) {}

// TransformOutput does nothing.
func (BaseMiddleware) TransformOutput(context.Context, *Call, *Output) {}

// BeforeResponse does nothing.
func (BaseMiddleware) BeforeResponse(context.Context, *Call) {}

// BeforeSendEvents returns events unchanged.
func (BaseMiddleware) BeforeSendEvents(_ context.Context, events []Event[any]) []Event[any] {
	return events
}

// SendHeaders adds nothing.
func (BaseMiddleware) SendHeaders(context.Context, http.Header) {}

// AfterSendEvents does nothing.
func (BaseMiddleware) AfterSendEvents(context.Context, []string, error) {}

// Call describes one call from Inngest to a function, for middleware.
type Call struct {
	// Request is the HTTP request of the call.
	Request *http.Request
	// FunctionID is the function's full ID, "<appID>-<fnID>".
	FunctionID string
	// RunID is the run's ID; Attempt its zero-based attempt.
	RunID   string
	Attempt int
	// Event and Events are the call's triggering events as JSON. In
	// TransformInput they may be replaced; the function decodes them
	// afterwards.
	Event  json.RawMessage
	Events []json.RawMessage
	// Handler is "failure" for a failure handler (OnFailure or
	// CreateFailureFunction), "cancel" for a cancellation handler, and
	// "" for any other function.
	Handler string
	// Steps maps the hashed IDs of memoized steps to their recorded
	// values. In TransformInput they may be changed (for example
	// decrypted); the function replays what is there afterwards.
	Steps map[string]json.RawMessage
	// Stack lists the hashed IDs of the run's completed steps in the
	// order they completed.
	Stack []string
}

// StepRun is a step whose body the SDK runs in this call, for BeforeStep
// and AfterStep.
type StepRun struct {
	// ID is the step's ID as written in code; Index counts the earlier
	// steps of the same ID in this run; Hash is the ID Inngest knows it
	// by.
	ID    string
	Index int
	Hash  string
	// Attempt is the step's zero-based attempt.
	Attempt int
	// Err is the body's error, in AfterStep; nil when the step
	// succeeded. Final is true when Err ends the step for good (no
	// attempt left, or a NoRetryError): the step failed.
	Err   error
	Final bool
}

// Output is the outcome of a call, for TransformOutput.
type Output struct {
	// Result and Err are what the function returned, when it returned.
	Result any
	Err    error
	// Stopped is true when the function's code stopped at a step rather
	// than returning; Panicked when it panicked.
	Stopped  bool
	Panicked bool
	// Step is the step the call ran, when it ran one and it succeeded:
	// its ID as written in code and its result as JSON, which
	// TransformOutput may replace.
	Step *StepOutput
}

// StepOutput is the result of a step a call ran.
type StepOutput struct {
	ID   string
	Data json.RawMessage
}

// chain is the middleware that applies to one function: the client's,
// then the function's.
type chain []Middleware

func (c *Client) chainFor(fn *function) chain {
	if len(c.cfg.middleware) == 0 && len(fn.middleware) == 0 {
		return nil
	}
	out := make(chain, 0, len(c.cfg.middleware)+len(fn.middleware))
	out = append(out, c.cfg.middleware...)
	return append(out, fn.middleware...)
}

func (ch chain) transformInput(ctx context.Context, call *Call) context.Context {
	for _, m := range ch {
		if next := m.TransformInput(ctx, call); next != nil {
			ctx = next
		}
	}
	return ctx
}

// afterMemoization runs AfterMemoization, then BeforeExecution, on the
// goroutine that runs the function, before its new code.
func (ch chain) afterMemoization(ctx context.Context, call *Call) {
	for _, m := range ch {
		m.AfterMemoization(ctx, call)
	}
	for _, m := range ch {
		m.BeforeExecution(ctx, call)
	}
}

// onStep is the replay's step hook for this chain: BeforeStep in order
// before the body, AfterStep in reverse order after it.
func (ch chain) onStep(call *Call) func(context.Context, replay.Step, int) (context.Context, func(replay.StepEnd)) {
	return func(ctx context.Context, s replay.Step, attempt int) (context.Context, func(replay.StepEnd)) {
		sr := &StepRun{ID: s.ID, Index: s.Index, Hash: s.Hash, Attempt: attempt}
		for _, m := range ch {
			if next := m.BeforeStep(ctx, call, sr); next != nil {
				ctx = next
			}
		}
		return ctx, func(e replay.StepEnd) {
			sr.Err, sr.Final = e.Err, e.Final
			for i := len(ch) - 1; i >= 0; i-- {
				ch[i].AfterStep(ctx, call, sr)
			}
		}
	}
}

func (ch chain) afterExecution(ctx context.Context, call *Call) {
	for _, m := range ch {
		m.AfterExecution(ctx, call)
	}
}

// transformOutput lets the middleware change the function's result or
// error, or the data of the one step the call ran.
func (ch chain) transformOutput(ctx context.Context, call *Call, out *replay.Outcome) {
	o := &Output{Result: out.Value, Err: out.Err, Stopped: out.Stopped, Panicked: out.Panic != nil}
	stepOp := -1
	for i, op := range out.Ops {
		if op.Op == wire.OpStepRun {
			if stepOp >= 0 {
				stepOp = -1 // several: none is "the" step
				break
			}
			stepOp = i
		}
	}
	if stepOp >= 0 {
		o.Step = &StepOutput{ID: out.Ops[stepOp].Name, Data: out.Ops[stepOp].Data}
	}
	for _, m := range ch {
		m.TransformOutput(ctx, call, o)
	}
	out.Value, out.Err = o.Result, o.Err
	if stepOp >= 0 && o.Step != nil {
		out.Ops[stepOp].Data = o.Step.Data
	}
}

func (ch chain) beforeResponse(ctx context.Context, call *Call) {
	for _, m := range ch {
		m.BeforeResponse(ctx, call)
	}
}
