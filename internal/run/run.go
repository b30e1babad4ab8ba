// Package run is the replay state machine behind every call: it holds the
// memoized steps of one request, hashes step IDs, decides what a newly found
// step does (run now, be reported, or be skipped) and stops user code at a
// step with runtime.Goexit, which a user's recover cannot intercept.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/go-inngest/inngest/internal/wire"
)

// Errors returned by step tools used in the wrong place.
var (
	ErrNotInFunction      = errors.New("inngest: step tool called outside an Inngest function (the context carries no run)")
	ErrUnmanagedGoroutine = errors.New("inngest: step tool called from a goroutine the SDK does not manage; run concurrent steps with step.Group")
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

// Config is what a Run needs from the request.
type Config struct {
	Steps            map[string]json.RawMessage
	Stack            []string
	TargetHash       string // "" for a discovery call (stepId "step")
	DisableImmediate bool
	Attempt          int
	MaxAttempts      int
}

// Run is the state of one request's execution of a function.
type Run struct {
	cfg Config

	mu          sync.Mutex
	counts      map[string]int
	ops         []wire.Op
	noRetry     bool
	retryAfter  string
	managed     map[uint64]struct{}
	targetFound bool
	fatal       error
	finished    bool
	memoHits    int
}

// New returns a Run over cfg.
func New(cfg Config) *Run {
	return &Run{cfg: cfg, counts: make(map[string]int, len(cfg.Steps)+1), managed: make(map[uint64]struct{}, 1)}
}

type ctxKey struct{}

// frame is what a context carries about where user code runs.
type frame struct {
	run      *Run
	parallel bool // inside a step.Group branch
	inStep   bool // inside a step's body
}

// From returns the Run of ctx and whether ctx is inside a parallel branch,
// or an error when step tools cannot be used with ctx.
func From(ctx context.Context) (*Run, bool, error) {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil || f.run == nil {
		return nil, false, ErrNotInFunction
	}
	if f.inStep {
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
func StepContext(ctx context.Context) context.Context {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, &frame{run: f.run, parallel: f.parallel, inStep: true})
}

// Step is a step found in this execution.
type Step struct {
	ID   string // the ID the user wrote
	Hash string // the hashed ID sent on the wire
}

// Next hashes the next occurrence of id in this execution.
func (r *Run) Next(id string) Step {
	r.mu.Lock()
	n := r.counts[id]
	r.counts[id] = n + 1
	r.mu.Unlock()
	return Step{ID: id, Hash: wire.HashID(id, n)}
}

// Memo returns the memoized value of s, if any. An {"input": ...} entry is
// replacement input rather than a result and is reported as absent.
func (r *Run) Memo(s Step) (json.RawMessage, bool) {
	raw, ok := r.cfg.Steps[s.Hash]
	if !ok || isInputEntry(raw) {
		return nil, false
	}
	r.mu.Lock()
	r.memoHits++
	r.mu.Unlock()
	return raw, true
}

func isInputEntry(raw json.RawMessage) bool {
	// Cheap test first: only objects whose first key is "input" qualify.
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\t' || raw[i] == '\r') {
		i++
	}
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	var m wire.Memo
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	return m.Input != nil && m.Data == nil && m.Error == nil
}

// Decide says what to do with new step s; runnable is true for steps
// whose body runs in the SDK (step.Run and what is built on it).
func (r *Run) Decide(s Step, parallel, runnable bool) Mode {
	r.mu.Lock()
	defer r.mu.Unlock()
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
func (r *Run) Attempt() (attempt, max int) { return r.cfg.Attempt, r.cfg.MaxAttempts }

// Add records an opcode for the response.
func (r *Run) Add(op wire.Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// AddError records a StepError or StepFailed opcode with the response
// headers it needs.
func (r *Run) AddError(op wire.Op, noRetry bool, retryAfter string) {
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

// Stop ends the calling goroutine's part of the execution. On a goroutine
// the SDK runs user code on it calls runtime.Goexit and does not return;
// elsewhere it records ErrUnmanagedGoroutine, which fails the request,
// and returns it.
func (r *Run) Stop() error {
	id := goid()
	r.mu.Lock()
	_, ok := r.managed[id]
	if !ok && r.fatal == nil {
		r.fatal = ErrUnmanagedGoroutine
	}
	r.mu.Unlock()
	if !ok {
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
	// TargetFound is false when a targeted call ended without reaching
	// its step.
	TargetFound bool
}

// PanicError is a panic in user code, with its stack.
type PanicError struct {
	Value any
	Stack string
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Execute runs fn on a goroutine the Run manages and waits until it
// returns, panics or is stopped at a step.
func (r *Run) Execute(ctx context.Context, fn func(context.Context) (any, error)) Outcome {
	ctx = context.WithValue(ctx, ctxKey{}, &frame{run: r})
	var out Outcome
	returned := r.Go(func() {
		out.Value, out.Err = fn(ctx)
	}, &out.Panic)
	r.mu.Lock()
	r.finished = true
	out.Stopped = !returned && out.Panic == nil
	out.Ops = r.ops
	out.NoRetry = r.noRetry
	out.Retry = r.retryAfter
	out.Fatal = r.fatal
	out.MemoHits = r.memoHits
	out.TargetFound = r.targetFound
	r.mu.Unlock()
	return out
}

// Go runs f on a new managed goroutine and waits for it. It reports
// whether f returned normally; a panic is stored in *p.
func (r *Run) Go(f func(), p **PanicError) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		id := goid()
		r.mu.Lock()
		r.managed[id] = struct{}{}
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			delete(r.managed, id)
			r.mu.Unlock()
		}()
		defer func() {
			if v := recover(); v != nil {
				*p = &PanicError{Value: v, Stack: string(debug.Stack())}
			}
		}()
		f()
		returned = true
	}()
	<-done
	return returned
}

// Branch returns the context a parallel branch runs with.
func Branch(ctx context.Context) context.Context {
	f, _ := ctx.Value(ctxKey{}).(*frame)
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, &frame{run: f.run, parallel: true})
}

// goid returns the current goroutine's ID, parsed from the header line of
// runtime.Stack ("goroutine 123 [running]:"). It is called once when a
// managed goroutine starts and once when a step stops user code, never on
// the replay path of memoized steps.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := buf[:n]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	var id uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
