package inngesttest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
)

// Status is a run's status.
type Status int

// Run statuses.
const (
	// Running: the run has not ended. It may be waiting for a call, a
	// sleep, an event, an invoked function or a retry.
	Running Status = iota
	// Completed: the function returned (HTTP 200).
	Completed
	// Failed: the function failed for good.
	Failed
	// Cancelled: a cancellation event or the finish timeout ended the run.
	Cancelled
)

// String returns the name the server uses for the status.
func (s Status) String() string {
	switch s {
	case Completed:
		return "Completed"
	case Failed:
		return "Failed"
	case Cancelled:
		return "Cancelled"
	}
	return "Running"
}

// StepKind is the kind of a step, from the opcode the SDK reported it
// with.
type StepKind string

// Step kinds.
const (
	KindRun          StepKind = "run"    // step.Run and what is built on it, such as step.SendEvent
	KindSleep        StepKind = "sleep"  // step.Sleep, step.SleepUntil
	KindWaitForEvent StepKind = "wait"   // step.WaitForEvent
	KindInvoke       StepKind = "invoke" // step.Invoke
	KindSignal       StepKind = "signal" // step.WaitForSignal
	KindFetch        StepKind = "fetch"  // step.Fetch (the Gateway opcode)
	KindAI           StepKind = "ai"     // step.Infer (the AIGateway opcode)
)

// StepStatus is a step's status.
type StepStatus int

// Step statuses.
const (
	// StepPending: reported but not finished (running, retrying or
	// paused).
	StepPending StepStatus = iota
	// StepCompleted: the step has a result.
	StepCompleted
	// StepFailed: the step failed for good; the function sees its error.
	StepFailed
)

// String returns "pending", "completed" or "failed".
func (s StepStatus) String() string {
	switch s {
	case StepCompleted:
		return "completed"
	case StepFailed:
		return "failed"
	}
	return "pending"
}

// Step is a step of a run, as the engine saw it.
type Step struct {
	// ID is the step's ID as written in code.
	ID string
	// Occurrence counts earlier steps with the same ID in the run: 0 for
	// the first, 1 for the second (whose hash is sha1(ID + ":1")).
	Occurrence int
	// Hash is the step's ID on the wire.
	Hash string
	// Kind is the step's kind.
	Kind StepKind
	// Status is the step's status.
	Status StepStatus
	// Attempts is the number of times its body ran (Run steps); zero for
	// steps whose body never ran in the SDK (sleeps, waits, mocks).
	Attempts int
	// Result is what the function receives: the step's value for run,
	// invoke, signal and fetch steps, the matching event (or null on
	// timeout) for waits, null for sleeps.
	Result json.RawMessage
	// Err is the step's error when it failed for good.
	Err *inngest.StepError
	// Memo is the value stored in the run's "steps" for this step, as
	// sent to the SDK.
	Memo json.RawMessage
	// Opts is the opcode's "opts" as the SDK reported them: a sleep's
	// duration, a wait's event, expression and timeout, an invoke's
	// function and payload.
	Opts json.RawMessage
	// Duration is the virtual time from the step's report to its result:
	// a sleep's length, a wait's time until the event or timeout, the
	// retry delays of a step that failed before it succeeded.
	Duration time.Duration
	// TimedOut is true for a wait, signal or invoke that timed out.
	TimedOut bool
	// Mocked is true when a mock supplied the result.
	Mocked bool
	// Checkpointed is true when the SDK saved the step's result with the
	// checkpoint API during a call, rather than reporting it in the
	// call's answer (see ClientOpts.Checkpointing).
	Checkpointed bool

	reported time.Time
	inflight bool // a targeted call is queued
}

// EntryKind is the kind of a timeline entry.
type EntryKind string

// Timeline entry kinds.
const (
	EntryStarted   EntryKind = "started"    // the run was created
	EntryCall      EntryKind = "call"       // a request to the SDK and its answer, logged when the answer is applied (Delay: the call's virtual duration, see WithCallDuration)
	EntryStep      EntryKind = "step"       // a step finished (Detail: its result or error)
	EntryStepError EntryKind = "step.error" // a step attempt failed and will be retried
	EntryRetry     EntryKind = "retry"      // the call failed and will be made again after Delay, as attempt Attempt
	EntrySleep     EntryKind = "sleep"      // the run sleeps for Delay
	EntryWait      EntryKind = "wait"       // the run waits for an event, a signal or an invoked run (Delay: the timeout)
	EntryResumed   EntryKind = "resumed"    // a sleep, wait or invoke ended (Delay: how long it took)
	EntryEvent     EntryKind = "event"      // the run sent or caused an event
	EntryTriggered EntryKind = "triggered"  // an event from this run started another run (Detail: its function and ID)
	EntryCompleted EntryKind = "completed"
	EntryFailed    EntryKind = "failed"
	EntryCancelled EntryKind = "cancelled"
	// EntryConcurrency: a call waited for a slot of a concurrency limit
	// (Delay: for how long; Detail: the limit it waited behind).
	EntryConcurrency EntryKind = "concurrency"
	// EntryPriority: the run's negative priority held a call back
	// (Delay: for how long).
	EntryPriority EntryKind = "priority"
)

// Entry is one thing that happened to a run.
type Entry struct {
	// At is the virtual time.
	At time.Time
	// Offset is At less the run's start.
	Offset time.Duration
	// Kind says what happened.
	Kind EntryKind
	// Step is the user's step ID, or "" for the function as a whole.
	Step string
	// Attempt is the zero-based attempt of calls, retries and step errors.
	Attempt int
	// Delay is a sleep's, wait's or retry's duration.
	Delay time.Duration
	// Status is the HTTP status of a call's answer.
	Status int
	// Detail is a short human-readable description.
	Detail string
}

// String formats the entry as one line, offset first.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "+%-9s %s", e.Offset, e.Kind)
	if e.Step != "" {
		fmt.Fprintf(&b, " %q", e.Step)
	}
	switch e.Kind {
	case EntryCall, EntryRetry, EntryStepError:
		fmt.Fprintf(&b, " attempt %d", e.Attempt)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " -> %d", e.Status)
	}
	if e.Delay != 0 {
		fmt.Fprintf(&b, " (%s)", e.Delay)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Run is a run of a function in the engine. It is live: the engine
// updates it as the run goes on, and its methods return the current
// state. They are safe to call at any time, also from OnPause callbacks.
type Run struct {
	e *Engine

	id      string
	fn      *fnDef
	event   json.RawMessage
	events  []json.RawMessage
	eventID string

	status    Status
	output    json.RawMessage
	err       *inngest.RunError
	errBody   json.RawMessage
	started   time.Time
	ended     time.Time
	steps     []*Step
	byHash    map[string]*Step
	timeline  []Entry
	calls     int
	children  []*Run
	origin    *Run
	mocks     []StepMock
	finalized bool

	// What the server keeps for the run.
	memo             map[string]json.RawMessage
	stack            []string
	version          int
	disableImmediate bool
	outstanding      int  // calls and pauses in flight
	progress         bool // a step finished since the last discovery call
	pauses           map[string]*pause
	invokedBy        *pause // the parent's invoke step, for an invoked run
	correlationID    string
	// priority is the run's priority factor in seconds; conc the
	// concurrency limits its calls take slots of; throttleKey its
	// throttle's key, while its start waits for the throttle.
	priority    int64
	conc        []concSlot
	throttleKey string
	// afterSleep is set while a sleep's end queues the run's next call.
	afterSleep bool
}

// ID returns the run's ID (a ULID).
func (r *Run) ID() string { return r.id }

// FunctionID returns the full ID of the run's function, "<app>-<fn>".
func (r *Run) FunctionID() string { return r.fn.ID }

// Event returns the event that triggered the run, as the SDK received
// it.
func (r *Run) Event() json.RawMessage { return r.event }

// Status returns the run's status.
func (r *Run) Status() Status {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.status
}

// Output returns the function's result as JSON when the run completed,
// else nil. Decode it with Output[T].
func (r *Run) Output() json.RawMessage {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.output
}

// Err returns the error the run failed with, as the server recorded it
// (and a failure handler receives it), or nil unless the run failed.
func (r *Run) Err() *inngest.RunError {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	if r.err == nil {
		return nil
	}
	cp := *r.err
	return &cp
}

// ErrorBody returns the body of the response that failed the run: the
// "result" of its inngest/function.failed event.
func (r *Run) ErrorBody() json.RawMessage {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.errBody
}

// Steps returns the run's steps in the order they were first reported.
func (r *Run) Steps() []Step {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	out := make([]Step, len(r.steps))
	for i, s := range r.steps {
		out[i] = *s
	}
	return out
}

// Step returns the first occurrence of the step with the user ID id.
func (r *Run) Step(id string) (Step, bool) { return r.StepAt(id, 0) }

// StepAt returns the occurrence-th (zero-based) step with the user ID id.
func (r *Run) StepAt(id string, occurrence int) (Step, bool) {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	for _, s := range r.steps {
		if s.ID == id && s.Occurrence == occurrence {
			return *s, true
		}
	}
	return Step{}, false
}

// Timeline returns what happened to the run, in order.
func (r *Run) Timeline() []Entry {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return append([]Entry(nil), r.timeline...)
}

// Calls returns the number of requests the engine made to the SDK for
// the run.
func (r *Run) Calls() int {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.calls
}

// StartedAt returns the virtual time the run started.
func (r *Run) StartedAt() time.Time { return r.started }

// EndedAt returns the virtual time the run ended, or the zero time.
func (r *Run) EndedAt() time.Time {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.ended
}

// Elapsed returns the virtual time the run took: from its start to its
// end, or to now while it runs. Sleeps, waits and retry delays add to
// it; calls take no virtual time unless WithCallDuration gives them
// some.
func (r *Run) Elapsed() time.Duration {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	if r.ended.IsZero() {
		return r.e.now.Sub(r.started)
	}
	return r.ended.Sub(r.started)
}

// Triggered returns the runs started by events this run sent or caused
// (including its failure and cancellation handlers) and the runs it
// invoked, in the order they started.
func (r *Run) Triggered() []*Run {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return append([]*Run(nil), r.children...)
}

// FailureHandlers returns the runs started by this run's
// inngest/function.failed event: its OnFailure handler and any failure
// function that matches it.
func (r *Run) FailureHandlers() []*Run { return r.handlers(inngest.FunctionFailedEvent) }

// CancelHandlers returns the runs started by this run's
// inngest/function.cancelled event.
func (r *Run) CancelHandlers() []*Run { return r.handlers(inngest.FunctionCancelledEvent) }

func (r *Run) handlers(name string) []*Run {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	var out []*Run
	for _, c := range r.children {
		if c.eventID == r.id && eventName(c.event) == name {
			out = append(out, c)
		}
	}
	return out
}

// String summarises the run and lists its timeline.
func (r *Run) String() string {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return r.describe()
}

func (r *Run) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s of %s: %s", r.id, r.fn.ID, r.status)
	if r.err != nil {
		fmt.Fprintf(&b, " (%s)", r.err.Error())
	}
	for _, e := range r.timeline {
		b.WriteString("\n  ")
		b.WriteString(e.String())
	}
	return b.String()
}

// Output decodes the run's output into T. It fails when the run did not
// complete.
func Output[T any](r *Run) (T, error) {
	var v T
	r.e.mu.Lock()
	status, out := r.status, r.output
	r.e.mu.Unlock()
	if status != Completed {
		return v, fmt.Errorf("inngesttest: run %s of %s is %s, not Completed", r.id, r.fn.ID, status)
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return v, fmt.Errorf("inngesttest: decoding the output of run %s into %T: %w", r.id, v, err)
	}
	return v, nil
}

// log appends a timeline entry at the current virtual time.
func (r *Run) log(e Entry) {
	e.At = r.e.now
	e.Offset = e.At.Sub(r.started)
	r.timeline = append(r.timeline, e)
}

func (r *Run) done() bool { return r.status != Running }

// eventName reads an event's name.
func eventName(raw json.RawMessage) string {
	var v struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.Name
}

// State returns what the run has recorded so far, as its next call would
// carry it: its events, its memoized steps by hashed ID, and the hashed
// IDs of its completed steps in the order they completed.
func (r *Run) State() (events []json.RawMessage, steps map[string]json.RawMessage, stack []string) {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	steps = make(map[string]json.RawMessage, len(r.memo))
	for h, v := range r.memo {
		steps[h] = append(json.RawMessage(nil), v...)
	}
	return append([]json.RawMessage(nil), r.events...), steps, append([]string(nil), r.stack...)
}
