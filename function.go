package inngest

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// Limits the server enforces, checked at CreateFunction.
const (
	MaxRetries       = 20
	maxTriggers      = 10
	maxConcurrency   = 2
	maxCancellations = 5
	maxPriority      = 600
)

// Ptr returns a pointer to v, for optional fields such as
// FunctionOpts.Retries: inngest.Ptr(0).
func Ptr[T any](v T) *T { return &v }

// FunctionOpts configures a function. Only ID is required.
type FunctionOpts struct {
	// ID identifies the function within its app. Inngest knows it as
	// "<appID>-<ID>". Letters, digits, '-', '_' and '.'; required.
	ID string
	// Name is shown in the Inngest dashboard; it defaults to ID.
	Name string
	// Retries is how many times a failing step or function is retried
	// (0 to 20). Nil means the server's default of 4 (5 attempts in all);
	// inngest.Ptr(0) means no retries.
	Retries *int

	// OnFailure runs once after the function has failed for good. See
	// OnFailure.
	OnFailure FailureHandler
	// OnCancel runs once after a run of the function was cancelled. See
	// OnCancel.
	OnCancel CancelHandler

	// Middleware runs around this function's calls, after the client's;
	// see Middleware. Its failure and cancellation handlers use it too.
	Middleware []Middleware

	// Checkpointing, when set, replaces the client's checkpointing for
	// this function and its failure and cancellation handlers:
	// &Checkpointing{Disabled: true} runs it one step per call whatever
	// the client says. Nil follows ClientOpts.Checkpointing.
	Checkpointing *Checkpointing

	// Concurrency limits how many steps of this function run at once, in
	// all or per key; at most 2 entries.
	Concurrency []Concurrency
	// Throttle limits how often runs start; excess runs wait.
	Throttle *Throttle
	// RateLimit limits how often runs start; excess runs are dropped.
	RateLimit *RateLimit
	// Debounce delays a run until events stop arriving for a period.
	Debounce *Debounce
	// Idempotency is a CEL expression over the event; at most one run
	// starts per distinct value in 24 hours. It cannot be combined with
	// RateLimit, which Inngest uses to implement it.
	Idempotency string
	// Cancel lists events that cancel a running function; at most 5.
	Cancel []Cancel
	// Timeouts cancels runs that wait too long to start or to finish.
	Timeouts *Timeouts
	// BatchEvents runs the function with a batch of events at once.
	BatchEvents *BatchEvents
	// Priority orders runs of this function relative to each other.
	Priority *Priority
	// Singleton keeps at most one run going at a time, per key.
	Singleton *Singleton
}

// ConcurrencyScope is the scope of a concurrency limit.
type ConcurrencyScope string

// Concurrency scopes.
const (
	ScopeFunction ConcurrencyScope = "fn"
	ScopeEnv      ConcurrencyScope = "env"
	ScopeAccount  ConcurrencyScope = "account"
)

// Concurrency limits the number of steps running at once.
type Concurrency struct {
	// Limit is the most steps that run at once.
	Limit int `json:"limit"`
	// Key, a CEL expression over the event, applies the limit to each
	// distinct value separately, such as "event.data.customer_id".
	Key string `json:"key,omitempty"`
	// Scope is what the limit spans: this function (ScopeFunction, the
	// default), the environment or the account; the last two need a Key.
	Scope ConcurrencyScope `json:"scope,omitempty"`
}

// Throttle lets at most Limit runs start per Period (and Burst more at
// once), per Key if set.
type Throttle struct {
	Limit  int
	Period time.Duration
	Burst  int
	Key    string
}

// RateLimit lets at most Limit runs start per Period (up to 24h), per Key
// if set; other events are skipped.
type RateLimit struct {
	Limit  int
	Period time.Duration
	Key    string
}

// Debounce waits until no new matching event arrived for Period (1s to
// 7 days), then runs once with the last event; Timeout caps the wait.
type Debounce struct {
	Period  time.Duration
	Key     string
	Timeout time.Duration
}

// Cancel cancels running functions when Event arrives and, if set, If
// (a CEL expression over "event", the run's event, and "async", the
// cancelling one) is true. Match is a shorthand for If: Match "data.id"
// means "event.data.id == async.data.id". Timeout bounds how long after
// the run's start the cancellation can happen.
type Cancel struct {
	Event   string
	If      string
	Match   string
	Timeout time.Duration
}

// Timeouts cancels a run that did not start within Start of its event,
// or did not finish within Finish of starting.
type Timeouts struct {
	Start  time.Duration
	Finish time.Duration
}

// BatchEvents collects up to MaxSize events, or what arrived within
// Timeout, into one run. Key groups batches; If filters events.
type BatchEvents struct {
	MaxSize int
	Timeout time.Duration
	Key     string
	If      string
}

// Priority sets a run's priority with the CEL expression Run, which
// evaluates to a number of seconds from -600 to 600.
type Priority struct {
	Run string
}

// SingletonMode says what happens to a new run while one is going.
type SingletonMode string

// Singleton modes.
const (
	SingletonSkip   SingletonMode = "skip"
	SingletonCancel SingletonMode = "cancel"
)

// Singleton allows one run at a time per Key (or per function).
type Singleton struct {
	Key  string
	Mode SingletonMode
}

// Trigger starts a function: on an event (optionally filtered by a CEL
// expression) or on a cron schedule. Build one with EventTrigger or
// CronTrigger.
type Trigger struct {
	Event      string
	Expression string
	Cron       string
	// Jitter delays each cron run by a random time up to Jitter (1s to 5m).
	Jitter time.Duration
}

// Triggerable is a Trigger or MultipleTriggers.
type Triggerable interface {
	triggers() []Trigger
}

func (t Trigger) triggers() []Trigger { return []Trigger{t} }

// MultipleTriggers starts a function on any of up to 10 triggers.
type MultipleTriggers []Trigger

func (m MultipleTriggers) triggers() []Trigger { return m }

// EventTrigger triggers a function on the event name. When expression is
// not nil, only events for which the CEL expression is true trigger it,
// for example inngest.Ptr("event.data.plan == 'pro'").
func EventTrigger(name string, expression *string) Trigger {
	t := Trigger{Event: name}
	if expression != nil {
		t.Expression = *expression
	}
	return t
}

// CronTrigger triggers a function on a cron schedule: five fields
// (minute hour day-of-month month day-of-week), optionally after
// "TZ=Europe/Paris ". Descriptors such as "@daily" are not supported.
func CronTrigger(schedule string) Trigger { return Trigger{Cron: schedule} }

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
