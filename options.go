package inngest

import "time"

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
// evaluates to an integer number of seconds: a run whose factor is higher
// goes ahead of runs queued less than that much before it, and a negative
// factor holds the run back that long. Inngest's documentation gives the
// range -600 to 600; the server clamps the factor to ±12 hours, and takes
// a non-integer result as 0.
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
