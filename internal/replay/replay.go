// Package replay is the replay state machine behind every call: it holds the
// memoized steps of one request, hashes step IDs, decides what a newly found
// step does (run now, be reported, or be skipped) and stops user code at a
// step with runtime.Goexit, which a user's recover cannot intercept.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/go-inngest/inngest/internal/wire"
)

// Errors returned by step tools used in the wrong place.
var (
	ErrNotInFunction      = errors.New("inngest: step tool called outside an Inngest function (the context carries no run)")
	ErrUnmanagedGoroutine = errors.New("inngest: step tool called from a goroutine the SDK does not manage; run concurrent steps with step.NewGroup")
	ErrNestedStep         = errors.New("inngest: step tool called inside another step's body; steps cannot be nested")
	ErrRunFinished        = errors.New("inngest: step tool called after the function's request finished")
)

// Mode says what a step tool does with a step that has no memoized result.
type Mode int

const (
	// Report: record the step's opcode and stop.
	Report Mode = iota
	// Execute: run the step's body now (immediate execution or the target
	// of a targeted call), record its outcome and stop.
	Execute
	// Skip: a targeted call for another step; stop without reporting.
	Skip
)

// Config is what a State needs from the request.
type Config struct {
	// RunID is the run's ID, from the request.
	RunID string
	// Logger is the client's logger, for step tools that log.
	Logger           *slog.Logger
	Steps            map[string]json.RawMessage
	Stack            []string
	TargetHash       string // "" for a discovery call (stepId "step")
	DisableImmediate bool
	Attempt          int
	MaxAttempts      int
	// OnNewCode, when set, is called once per execution, on the goroutine
	// running user code, when the function has replayed its memoized
	// steps and is about to run code that was not memoized: at once when
	// nothing is memoized, else when the last memoized step is returned
	// or a new step is found, whichever comes first (or, for a function
	// that never gets there, when it returns).
	OnNewCode func()
	// Checkpoint, when set, saves a step that just ran with the server so
	// that user code can go on to the next step in this same request. It
	// reports whether the step was saved, or taken to be saved with
	// others by Flush; when it was not, the step is reported in the
	// response as usual.
	Checkpoint func(op wire.Op) bool
	// Patches holds the answers step.Patched gives, by patch ID, where
	// they are decided (see Run); others are worked out from the memo.
	Patches map[string]bool
	// Flush, when set, saves the steps Checkpoint took but has not saved
	// yet, and returns those it could not save. It is called before an
	// opcode is added for the response (a step the server must carry out,
	// or one that failed) and when user code has finished; the steps it
	// returns are reported in the response, ahead of any other opcode, so
	// that none is lost.
	Flush func() []wire.Op
	// FunctionID is the function's full ID, for loggers.
	FunctionID string
	// OnStep, when set, is called on the goroutine of a step's body just
	// before the body runs, with the context it would run with; the body
	// runs with the context it returns, and end, when not nil, is called
	// once the body's outcome is known.
	OnStep func(ctx context.Context, s Step, attempt int) (_ context.Context, end func(StepEnd))
}

// StepEnd is the outcome of a step body the SDK ran.
type StepEnd struct {
	// Err is the body's error (or the error encoding its result); nil
	// when the step succeeded.
	Err error
	// Final is true when Err ends the step for good: no attempt is left
	// or the error is not retried.
	Final bool
	// Checkpointed is true when the step's result was saved with a
	// checkpoint and the function went on in the same call.
	Checkpointed bool
}

// StartStep runs the OnStep hook for the body of s, when there is one:
// it returns the context the body runs with and the function to call
// with its outcome (nil when there is no hook).
func (r *State) StartStep(ctx context.Context, s Step) (context.Context, func(StepEnd)) {
	if r.cfg.OnStep == nil {
		return ctx, nil
	}
	attempt, _ := r.Attempt()
	next, end := r.cfg.OnStep(ctx, s, attempt)
	if next == nil {
		next = ctx
	}
	return next, end
}

// State is the replay state of one request's execution of a function.
type State struct {
	cfg Config

	mu          sync.Mutex
	counts      map[string]int
	ops         []wire.Op
	noRetry     bool
	retryAfter  string
	nmanaged    int // managed goroutines running
	targetFound bool
	fatal       error
	finished    bool
	memoHits    int
	// checkpointed counts the steps saved by checkpointing.
	checkpointed int
	divergence   *Divergence
	tentative    []string // patches answered true with memoized steps ahead
	restart      string   // the patch to turn off in a new execution
	// unsaved is set when steps taken by the checkpointer could not be
	// saved and are in ops.
	unsaved   bool
	memoTotal int // memoized results (not input entries), for OnNewCode
	newCode   sync.Once
	// seen are the memoized hashes looked up, in order: usually the
	// server's stack, which the end of Execute checks first.
	seen []string
	// newStep is set when the execution found a step with no memoized
	// result: from there on its code is new.
	newStep bool
}

// New returns a State over cfg.
func New(cfg Config) *State {
	r := &State{cfg: cfg, counts: make(map[string]int, len(cfg.Steps)+1)}
	// The divergence check and the replay-aware logger both need the
	// count of memoized results.
	for _, raw := range cfg.Steps {
		if !isInputEntry(raw) {
			r.memoTotal++
		}
	}
	return r
}

// Replaying reports whether code outside steps is, at this point of the
// execution, code that already ran in an earlier call of the same
// attempt: the function has not yet returned its last memoized step nor
// found a new step, or the call targets one step (its discovery call ran
// the code on the way to that step).
func (r *State) Replaying() bool {
	if r.cfg.TargetHash != "" {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.newStep {
		return false
	}
	return r.memoHits < r.memoTotal
}

// FunctionID is the ID of the function being executed.
func (r *State) FunctionID() string { return r.cfg.FunctionID }

// Current returns the State of ctx and the step whose body runs with ctx
// (nil outside a step's body); st is nil when ctx carries no run.
func Current(ctx context.Context) (st *State, step *Step) {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil || f.run == nil {
		return nil, nil
	}
	if f.inStep {
		s := f.step
		return f.run, &s
	}
	return f.run, nil
}

// reachedNewCode calls OnNewCode, once.
func (r *State) reachedNewCode() {
	if r.cfg.OnNewCode != nil {
		r.newCode.Do(r.cfg.OnNewCode)
	}
}

type ctxKey struct{}

// frame is what a context carries about where user code runs.
type frame struct {
	run      *State
	parallel bool // inside a step.NewGroup branch
	inStep   bool // inside a step's body
	step     Step // the step whose body runs, when inStep
	sends    int  // event sends made by that body so far
}

// From returns the State of ctx and whether ctx is inside a parallel branch,
// or an error when step tools cannot be used with ctx.
func From(ctx context.Context) (*State, bool, error) {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil || f.run == nil {
		return nil, false, ErrNotInFunction
	}
	if f.inStep {
		// A coding error no retry can fix: the call fails, for good,
		// whatever the body does with the error.
		f.run.fail(ErrNestedStep)
		return nil, false, ErrNestedStep
	}
	f.run.mu.Lock()
	finished := f.run.finished
	f.run.mu.Unlock()
	if finished {
		return nil, false, ErrRunFinished
	}
	return f.run, f.parallel, nil
}

// StepContext returns the context a step's body runs with: step tools
// called with it fail with ErrNestedStep.
func StepContext(ctx context.Context, s Step) context.Context {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, &frame{run: f.run, parallel: f.parallel, inStep: true, step: s})
}

// NextSend reports, for code running in a step's body, the run's ID, the
// step's hash and how many event sends the body made before this one
// (counting this call). Event sends use them to derive event IDs that
// are the same on every attempt of the step, so that a retried step does
// not send its events twice. ok is false outside a step's body.
func NextSend(ctx context.Context) (runID, stepHash string, n int, ok bool) {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil || !f.inStep || f.run == nil || f.run.cfg.RunID == "" {
		return "", "", 0, false
	}
	f.run.mu.Lock()
	n = f.sends
	f.sends++
	f.run.mu.Unlock()
	return f.run.cfg.RunID, f.step.Hash, n, true
}

// Step is a step found in this execution.
type Step struct {
	ID    string // the ID the user wrote
	Hash  string // the hashed ID sent on the wire
	Index int    // earlier occurrences of ID in this execution
}

// Next hashes the next occurrence of id in this execution.
func (r *State) Next(id string) Step {
	r.mu.Lock()
	n := r.counts[id]
	r.counts[id] = n + 1
	h := wire.CachedHashID(id, n)
	r.mu.Unlock()
	return Step{ID: id, Hash: h, Index: n}
}

// Op returns the opcode of kind op that reports s, naming it as the
// user wrote it.
func (s Step) Op(op string) wire.Op {
	return wire.Op{ID: s.Hash, Op: op, Name: s.ID, DisplayName: s.ID, Userland: wire.Userland{ID: s.ID, Index: s.Index}}
}

// Memo returns the memoized value of s, if any. An {"input": ...} entry is
// replacement input rather than a result and is reported as absent.
func (r *State) Memo(s Step) (json.RawMessage, bool) {
	raw, ok := r.cfg.Steps[s.Hash]
	if !ok || isInputEntry(raw) {
		return nil, false
	}
	r.mu.Lock()
	r.memoHits++
	if r.seen == nil {
		r.seen = make([]string, 0, len(r.cfg.Stack))
	}
	r.seen = append(r.seen, s.Hash)
	last := r.memoHits == r.memoTotal
	r.mu.Unlock()
	if last {
		r.reachedNewCode()
	}
	return raw, true
}

func isInputEntry(raw json.RawMessage) bool { return wire.IsInput(raw) }

// Decide says what to do with new step s; runnable is true for steps
// whose body runs in the SDK (step.Run and what is built on it).
func (r *State) Decide(s Step, parallel, runnable bool) Mode {
	r.mu.Lock()
	restart := ""
	if r.diverged(s, parallel) {
		restart = r.lastTentative()
		r.restart = restart
	}
	r.mu.Unlock()
	if restart != "" {
		if r.Managed() {
			runtime.Goexit() // Run executes the function again
		}
		r.mu.Lock()
		r.restart = ""
		r.mu.Unlock()
	}
	r.reachedNewCode()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.newStep = true
	if r.cfg.TargetHash != "" {
		if s.Hash == r.cfg.TargetHash && runnable {
			r.targetFound = true
			return Execute
		}
		return Skip
	}
	if runnable && !parallel && !r.cfg.DisableImmediate && len(r.ops) == 0 {
		return Execute
	}
	return Report
}

// Attempt returns the zero-based attempt of this request and the number
// of attempts the server allows.
func (r *State) Attempt() (attempt, max int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.Attempt, r.cfg.MaxAttempts
}

// Checkpoint offers the StepRun opcode of a step that has just run to
// the checkpointer. When it reports true the step is saved on the
// server and the caller returns the step's result to user code, which
// goes on; the steps after it start at attempt 0, as the server resets
// the attempt count after a checkpoint. Otherwise the caller adds the
// opcode and stops.
func (r *State) Checkpoint(op wire.Op) bool {
	r.mu.Lock()
	ok := r.cfg.Checkpoint != nil && len(r.ops) == 0 && r.cfg.TargetHash == "" && !r.cfg.DisableImmediate
	r.mu.Unlock()
	if !ok || !r.cfg.Checkpoint(op) {
		return false
	}
	r.mu.Lock()
	r.cfg.Attempt = 0
	r.checkpointed++
	r.mu.Unlock()
	return true
}

// flush saves the steps the checkpointer holds; those it could not
// save are reported in the response.
func (r *State) flush() {
	if r.cfg.Flush == nil {
		return
	}
	if failed := r.cfg.Flush(); len(failed) > 0 {
		r.mu.Lock()
		r.ops = append(r.ops, failed...)
		r.checkpointed -= len(failed)
		r.unsaved = true
		r.mu.Unlock()
	}
}

// Add records an opcode for the response, after the steps the
// checkpointer held.
func (r *State) Add(op wire.Op) {
	r.flush()
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// AddError records a StepError or StepFailed opcode with the response
// headers it needs.
func (r *State) AddError(op wire.Op, noRetry bool, retryAfter string) {
	r.flush()
	r.mu.Lock()
	r.ops = append(r.ops, op)
	if noRetry {
		r.noRetry = true
	}
	if retryAfter != "" {
		r.retryAfter = retryAfter
	}
	r.mu.Unlock()
}

// fail records err as the misuse of the step tools that fails this call
// for good; the first one recorded wins.
func (r *State) fail(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
}

// Stop ends the calling goroutine's part of the execution. On a goroutine
// the SDK runs user code on it calls runtime.Goexit and does not return;
// elsewhere it records ErrUnmanagedGoroutine, which fails the request,
// and returns it.
func (r *State) Stop() error {
	if !r.Managed() {
		r.fail(ErrUnmanagedGoroutine)
		return ErrUnmanagedGoroutine
	}
	runtime.Goexit()
	return nil // unreachable
}

// Outcome is how one execution of user code ended.
type Outcome struct {
	Value    any
	Err      error
	Panic    *PanicError
	Stopped  bool // user code was stopped at a step
	Ops      []wire.Op
	NoRetry  bool   // a step failed for good
	Retry    string // Retry-After for a step error
	Fatal    error  // misuse of the step tools
	MemoHits int
	// Checkpointed counts the steps saved by checkpointing.
	Checkpointed int
	// Unreplayed lists the hashes of the server's stack (completed steps)
	// that this execution never reached, in stack order: a sign that the
	// function changed or is not deterministic.
	Unreplayed []string
	// TargetFound is false when a targeted call ended without reaching
	// its step.
	TargetFound bool
	// Named gives the steps of Unreplayed hashes that the SDK could
	// name (occurrences of IDs the execution used).
	Named map[string]Step
	// Visited lists the memoized hashes the execution looked up, in the
	// order it did.
	Visited []string
	// Diverged is the first step found with no memoized result while
	// memoized steps remained unvisited, if any.
	Diverged *Divergence
	// restart names the tentative patch to turn off (see Run).
	restart string
}

// PanicError is a panic in user code, with its stack.
type PanicError struct {
	Value any
	Stack string
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Execute runs fn on a goroutine the State manages and waits until it
// returns, panics or is stopped at a step.
func (r *State) Execute(ctx context.Context, fn func(context.Context) (any, error)) Outcome {
	ctx = context.WithValue(ctx, ctxKey{}, &frame{run: r})
	var out Outcome
	returned := r.Go(func() {
		if r.memoTotal == 0 {
			r.reachedNewCode()
		}
		out.Value, out.Err = fn(ctx)
		r.reachedNewCode()
	}, &out.Panic)
	r.flush()
	r.mu.Lock()
	r.finished = true
	out.Stopped = !returned && out.Panic == nil
	if returned || out.Panic != nil {
		if r.unsaved {
			// Steps whose checkpoint failed after the function had
			// moved on: they are the answer, and the function's end
			// (its result, error or panic) comes again on the next call,
			// after them.
			out.Value, out.Err, out.Panic, out.Stopped = nil, nil, nil, true
		}
	}
	out.Ops = r.ops
	out.NoRetry = r.noRetry
	out.Retry = r.retryAfter
	out.Fatal = r.fatal
	out.MemoHits = r.memoHits
	out.Checkpointed = r.checkpointed
	out.TargetFound = r.targetFound
	out.Diverged = r.divergence
	out.Visited = r.seen
	out.restart = r.restart
	if returned && out.Panic == nil && r.memoHits < r.memoTotal && r.canRestart() {
		// The function returned before its memoized steps.
		out.restart = r.lastTentative()
	}
	out.Unreplayed = unreplayed(r.cfg.Stack, r.seen)
	if len(out.Unreplayed) > 0 {
		out.Named = r.nameUnvisited(out.Unreplayed)
	}
	r.mu.Unlock()
	return out
}

// unreplayed returns the hashes of stack that are not in seen, in stack
// order: at once when seen is the stack, as it is when the function
// replayed its steps in order.
func unreplayed(stack, seen []string) []string {
	if len(seen) >= len(stack) && slices.Equal(stack, seen[:len(stack)]) {
		return nil
	}
	set := make(map[string]struct{}, len(seen))
	for _, h := range seen {
		set[h] = struct{}{}
	}
	var out []string
	for _, h := range stack {
		if _, ok := set[h]; !ok {
			out = append(out, h)
		}
	}
	return out
}

// Go runs f on a new managed goroutine and waits for it. It reports
// whether f returned normally; a panic is stored in *p.
//
// The goroutine is a coroutine of the caller's (iter.Pull's): the caller
// hands it the processor and gets it back when f is done, with no trip
// through the scheduler. A goroutine started with go and waited for on a
// channel costs two thread wake-ups when a processor is idle (one when it
// starts, one when it ends): measured on a 2-core VM, a third of the CPU
// time of a call with 100 memoized steps.
//
// A step stops f with runtime.Goexit, which user code's deferred calls
// cannot recover. iter.Pull would end the caller with it too: so once
// Goexit has run every deferred call of f, runManaged turns it into a panic
// of its own, below every user frame, which iter.Pull hands to the
// caller and Go recovers.
//
// As in any iter.Pull sequence, f must leave the OS thread's locking as
// it found it: the runtime throws when a coroutine switches back with a
// different lock count (README.md, "Steps").
func (r *State) Go(f func(), p **PanicError) (returned bool) {
	next, _ := iter.Pull(func(func(struct{}) bool) { runManaged(r, f, p, &returned) })
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(goexited); !ok {
				panic(v)
			}
		}
	}()
	next() // f is done, or stopped: the coroutine has finished
	return returned
}

// goexited is the panic that carries a managed goroutine's
// runtime.Goexit to the goroutine that called Go.
type goexited struct{}

// runManaged runs f as the body of a managed goroutine of r (see Go).
// It is the frame Managed looks for at the bottom of the calling
// goroutine.
//
//go:noinline
func runManaged(r *State, f func(), p **PanicError, returned *bool) {
	growStack(0)
	r.mu.Lock()
	r.nmanaged++
	r.mu.Unlock()
	ended := false // returned or panicked; else a Goexit
	defer func() {
		r.mu.Lock()
		r.nmanaged--
		r.mu.Unlock()
		if !ended {
			panic(goexited{})
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			ended = true
			// A panic re-raised from a parallel branch keeps the
			// branch's stack.
			pe, ok := v.(*PanicError)
			if !ok {
				pe = &PanicError{Value: v, Stack: string(debug.Stack())}
			}
			*p = pe
		}
	}()
	f()
	ended, *returned = true, true
}

// Managed reports whether the calling goroutine is one the State manages:
// while the State has managed goroutines, a goroutine started by Go. (A
// goroutine Go started for another State passes too; only a context
// carried from one call into another could bring that about.)
func (r *State) Managed() bool {
	r.mu.Lock()
	n := r.nmanaged
	r.mu.Unlock()
	return n > 0 && startedInManaged()
}

// managedEntry is the entry of runManaged.
var managedEntry = reflect.ValueOf(runManaged).Pointer()

// startedInManaged reports whether runManaged is among the
// frames the calling goroutine started with: a goroutine Go started has
// it a few frames above runtime.goexit (under iter.Pull's and the
// runtime's coroutine frames); a goroutine user code started, even one
// started from a managed goroutine, does not. Unlike parsing the
// goroutine ID out of runtime.Stack, it formats nothing and costs a
// fraction of a microsecond.
func startedInManaged() bool {
	var buf [64]uintptr
	pcs := buf[:]
	n := runtime.Callers(1, pcs)
	for n == len(pcs) {
		pcs = make([]uintptr, 2*len(pcs))
		n = runtime.Callers(1, pcs)
	}
	for i := n - 1; i >= 0 && i >= n-bottomFrames; i-- {
		if f := runtime.FuncForPC(pcs[i] - 1); f != nil && f.Entry() == managedEntry {
			return true
		}
	}
	return false
}

// bottomFrames bounds the frames startedInManaged looks at: below
// runManaged there are Go's closure, iter.Pull's coroutine function,
// runtime.corostart and runtime.goexit.
const bottomFrames = 8

// Branch returns the context a parallel branch runs with.
func Branch(ctx context.Context) context.Context {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, &frame{run: f.run, parallel: true})
}

// growStack grows a new goroutine's stack, while it is still shallow
// and cheap to copy, to what user code and JSON decoding typically use:
// otherwise the stack would grow by doublings deep in user code, each
// copying and adjusting every frame.
//
//go:noinline
func growStack(i int) byte {
	var buf [stackReserve]byte
	return buf[i]
}

// stackReserve is the stack a managed goroutine starts with.
const stackReserve = 8 << 10

// RunID is the ID of the run being executed.
func (r *State) RunID() string { return r.cfg.RunID }

// Logger returns the client's logger (slog.Default when none was set).
func (r *State) Logger() *slog.Logger {
	if r.cfg.Logger == nil {
		return slog.Default()
	}
	return r.cfg.Logger
}
