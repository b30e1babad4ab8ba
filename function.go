package inngest

import (
	"context"
	"fmt"
	"reflect"

	"github.com/go-inngest/inngest/internal/wire"
)

// Input is what a function receives: its triggering event (the first of
// a batch), all events, and facts about the run.
type Input[T any] struct {
	Event  Event[T]
	Events []Event[T]
	RunInfo
}

// RunInfo describes the run a function or handler is executing.
type RunInfo struct {
	// RunID is this run's ID.
	RunID string
	// Attempt is the zero-based attempt of the current step (or of the
	// function when it has no step to run), as the call started. With
	// Checkpointing, steps after a checkpointed step in the same call are
	// on attempt 0 while Attempt keeps the call's starting value.
	Attempt int
	// MaxAttempts is the number of attempts allowed: retries + 1.
	MaxAttempts int
	// Env is the Inngest environment.
	Env string
}

// Function is a function created with CreateFunction. Pass it to
// step.Invoke to call it from another function.
type Function[T any] struct{ fn *function }

// ID returns the function's ID as given in FunctionOpts.
func (f *Function[T]) ID() string { return f.fn.localID }

// FullID returns the ID Inngest knows the function by: "<appID>-<ID>".
func (f *Function[T]) FullID() string { return f.fn.slug }

// Name returns the function's name.
func (f *Function[T]) Name() string { return f.fn.name }

// function is the untyped record of a registered function (or of a
// failure or cancellation companion).
type function struct {
	localID  string
	slug     string
	name     string
	retries  *int
	triggers []Trigger
	opts     *FunctionOpts // nil for companions
	// middleware is the function's own (FunctionOpts.Middleware).
	middleware []Middleware
	// checkpoint is the function's own checkpointing (nil: off), used
	// instead of the client's when checkpointSet.
	checkpoint    *Checkpointing
	checkpointSet bool
	// call runs the user's code for one request; its typed decoding is
	// captured when the function is created.
	call func(ctx context.Context, req *wire.Request) (any, error)
	// handler is Call.Handler: "failure", "cancel" or "".
	handler string
}

// CreateFunction defines a function with event data of type T, triggered
// by trigger, and adds it to the client. Options are checked here: a bad
// option, or an ID already used in the app, is an error naming the field.
func CreateFunction[T any](c *Client, opts FunctionOpts, trigger Triggerable, fn func(ctx context.Context, in Input[T]) (any, error)) (*Function[T], error) {
	if err := c.check("CreateFunction"); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("inngest: CreateFunction %q: the function body is nil", opts.ID)
	}
	var trigs []Trigger
	if trigger != nil {
		trigs = trigger.triggers()
	}
	main, err := c.newFunction("CreateFunction", opts, trigs, func(ctx context.Context, req *wire.Request) (any, error) {
		in, err := decodeInput[T](req)
		if err != nil {
			return nil, err
		}
		return fn(ctx, in)
	})
	if err != nil {
		return nil, err
	}
	type companion struct {
		kind companionKind
		h    *companionHandler
	}
	var companions []companion
	if opts.OnFailure != nil {
		companions = append(companions, companion{failureKind, opts.OnFailure.failureHandler()})
	}
	if opts.OnCancel != nil {
		companions = append(companions, companion{cancelKind, opts.OnCancel.cancelHandler()})
	}
	fns := []*function{main}
	for _, cp := range companions {
		f, err := cp.kind.build(cp.h, main, eventTypeOf[T]())
		if err != nil {
			return nil, fmt.Errorf("inngest: CreateFunction %q: %w", opts.ID, err)
		}
		fns = append(fns, f)
	}
	if err := c.register(fns...); err != nil {
		return nil, err
	}
	return &Function[T]{fn: main}, nil
}

// newFunction checks opts and triggers and returns the record of the
// function they describe, running call; op names the caller in errors.
func (c *Client) newFunction(op string, opts FunctionOpts, trigs []Trigger, call func(ctx context.Context, req *wire.Request) (any, error)) (*function, error) {
	if err := validateOpts(&opts, trigs); err != nil {
		return nil, err
	}
	f := &function{
		localID:    opts.ID,
		slug:       c.cfg.appID + "-" + opts.ID,
		name:       firstNonEmpty(opts.Name, opts.ID),
		retries:    opts.Retries,
		triggers:   append([]Trigger(nil), trigs...),
		opts:       &opts,
		middleware: append([]Middleware(nil), opts.Middleware...),
		call:       call,
	}
	if opts.Checkpointing != nil {
		cp, err := resolveCheckpointing("FunctionOpts.Checkpointing", opts.Checkpointing)
		if err != nil {
			return nil, fmt.Errorf("inngest: %s %q: %w", op, opts.ID, err)
		}
		f.checkpoint, f.checkpointSet = cp, true
	}
	return f, nil
}

// register adds fns to the client, refusing any ID already taken.
func (c *Client) register(fns ...*function) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range fns {
		if _, ok := c.fns[f.slug]; ok {
			return fmt.Errorf("inngest: CreateFunction: FunctionOpts.ID: the ID %q is already used in app %q (as %q)", fns[0].localID, c.cfg.appID, f.slug)
		}
		for _, g := range fns[:i] {
			if g.slug == f.slug {
				return fmt.Errorf("inngest: CreateFunction: FunctionOpts.ID: %q collides with its own companion", f.slug)
			}
		}
	}
	for _, f := range fns {
		c.fns[f.slug] = f
		c.ord = append(c.ord, f)
	}
	return nil
}

// function looks a function up by composite or bare ID.
func (c *Client) function(id string) *function {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if f, ok := c.fns[id]; ok {
		return f
	}
	return c.fns[c.cfg.appID+"-"+id]
}

func (c *Client) functions() []*function {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]*function(nil), c.ord...)
}

// decodeInput decodes a call's events into Input[T].
func decodeInput[T any](req *wire.Request) (Input[T], error) {
	var in Input[T]
	if len(req.Event) > 0 {
		if err := wire.Unmarshal(req.Event, &in.Event); err != nil {
			return in, NoRetryError(fmt.Errorf("inngest: decoding the event into %s: %w", eventTypeOf[T](), err))
		}
	}
	in.Events = make([]Event[T], len(req.Events))
	for i, raw := range req.Events {
		if err := wire.Unmarshal(raw, &in.Events[i]); err != nil {
			return in, NoRetryError(fmt.Errorf("inngest: decoding event %d into %s: %w", i, eventTypeOf[T](), err))
		}
	}
	in.RunInfo = runInfo(req)
	return in, nil
}

func runInfo(req *wire.Request) RunInfo {
	return RunInfo{RunID: req.Ctx.RunID, Attempt: req.Ctx.Attempt, MaxAttempts: req.Ctx.MaxAttempts, Env: req.Ctx.Env}
}

func eventTypeOf[T any]() string {
	return "Event[" + reflect.TypeFor[T]().String() + "]"
}
