// Package step holds the step tools an Inngest function uses: Run, Sleep,
// SleepUntil, WaitForEvent, Invoke, SendEvent, Group and more.
//
// Each step has an ID, unique within its function (a repeated ID gets a
// counter). Inngest records every finished step; when a function is
// called again, a finished step returns its recorded result at once
// instead of running again. A step that has not finished stops the
// function there: the SDK reports it to Inngest, which runs it and calls
// the function again. Code between steps therefore runs once per call;
// keep side effects inside steps.
//
// Step tools must be called with the context the function received (or
// one derived from it), on the function's own goroutine or inside a
// Group; see Group for concurrent steps.
package step

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/wire"
)

// Run runs fn as a step named id and returns its result. fn runs once,
// with retries on error; after it succeeded, Run returns the recorded
// result, decoded from JSON into T, without calling fn.
//
// fn's ctx is cancelled when the call that runs it ends early: Inngest
// (or a proxy in between) hung up, or a deadline passed. Inngest then
// runs the step again, perhaps while the first fn is still running, and
// the first result is lost. So fn must honour ctx: pass it to every call
// that waits (HTTP, database, sleeps) and return when ctx is done. And
// its side effects should be idempotent, keyed for example by the run ID
// and the step ID, because a step may run more than once: on retries,
// and after such a cancellation. A body that returns after its ctx was
// done is logged as a warning through the client's logger.
//
// When fn's retries run out, or fn returns an inngest.NoRetryError, Run
// returns a *inngest.StepError. Return it to fail the run (with no more
// retries), or handle it and go on. A result whose JSON is over
// inngest.MaxStepOutputSize fails the step the same way, at once and
// without retries, with a StepError that names the step and the size.
func Run[T any](ctx context.Context, id string, fn func(ctx context.Context) (T, error)) (T, error) {
	return run(ctx, id, nil, fn)
}

// run is Run with the opts its StepRun and StepPlanned opcodes carry
// (nil for none).
func run[T any](ctx context.Context, id string, opts any, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	r, parallel, err := from(ctx, id)
	if err != nil {
		return zero, err
	}
	s := r.Next(id)
	if raw, ok := r.Memo(s); ok {
		return decodeRun[T](s, raw)
	}
	switch r.Decide(s, parallel, true) {
	case replay.Execute:
		sctx, end := r.StartStep(replay.StepContext(ctx, s), s)
		start := time.Now()
		v, err := call(sctx, fn)
		timing := wire.NewInterval(start, time.Now())
		if ctx.Err() != nil {
			warnOutlived(ctx, r, id, err)
		}
		if end != nil {
			defer func() {
				if end != nil { // nil once a checkpoint reported the step
					end(stepEnd(r, err))
				}
			}()
		}
		if err == nil {
			data, merr := json.Marshal(v)
			if merr == nil && len(data)+len(`{"data":}`) > inngest.MaxStepOutputSize {
				// The server would refuse it with a message naming a
				// hash, and every retry would run the body again.
				merr = errTooLarge
			}
			if merr == nil {
				op := s.Op(wire.OpStepRun)
				op.Data, op.Timing, op.Opts = data, timing, opts
				if r.Checkpoint(op) {
					if end != nil {
						end(replay.StepEnd{Checkpointed: true})
						end = nil
					}
					// Saved: go on, with the result as a replay would
					// give it (decoded from its JSON).
					var out T
					if err := wire.Unmarshal(data, &out); err != nil {
						return zero, memoMismatch[T](s, err)
					}
					return out, nil
				}
				r.Add(op)
				return zero, r.Stop()
			}
			err = inngest.NoRetryError(fmt.Errorf("step %q: encoding its result (%T) as JSON: %w", id, v, merr))
			if merr == errTooLarge {
				err = inngest.NoRetryError(fmt.Errorf("step %q: its result (%T) is %d bytes of JSON, over Inngest's limit of %d bytes for a step's output (inngest.MaxStepOutputSize); return less, such as a reference to data stored elsewhere",
					id, v, len(data)+len(`{"data":}`), inngest.MaxStepOutputSize))
			}
		}
		reportError(r, s, err, timing)
	case replay.Report:
		o := s.Op(wire.OpStepPlanned)
		o.Opts = opts
		r.Add(o)
	}
	return zero, r.Stop()
}

// warnOutlived logs that the body of step id returned after its ctx was
// done: the call was cancelled (Inngest or a proxy hung up) or a
// deadline passed. Inngest retries such a step, perhaps while the body
// was still running, so the warning says how to make that safe.
func warnOutlived(ctx context.Context, r *replay.State, id string, err error) {
	log := r.Logger()
	attrs := []any{"step", id, "run_id", r.RunID(), "cause", context.Cause(ctx).Error(),
		"honoured_ctx", err != nil && errors.Is(err, ctx.Err())}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	log.WarnContext(ctx, "inngest: a step body returned after its call was cancelled; its result may not reach Inngest, which then runs the step again: step bodies must honour ctx, and their side effects should be idempotent", attrs...)
}

// stepEnd is the outcome of a step body that ended with err, for the
// step hook. The State's attempt is still the body's: only a checkpoint
// changes it, and a checkpointed step's hook has ended before.
func stepEnd(r *replay.State, err error) replay.StepEnd {
	if err == nil {
		return replay.StepEnd{}
	}
	attempt, max := r.Attempt()
	return replay.StepEnd{Err: err, Final: inngest.IsNoRetryError(err) || attempt+1 >= max}
}

// errTooLarge marks a step result over inngest.MaxStepOutputSize.
var errTooLarge = errors.New("over the step output limit")

// panicError is a panic in a step's body, with its stack.
type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// call runs a step's body, turning a panic into an error.
func call[T any](ctx context.Context, fn func(context.Context) (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: string(debug.Stack())}
		}
	}()
	return fn(ctx)
}

// reportError records a failed attempt of step s, whose body ran during
// timing: StepError while attempts remain, StepFailed when this was the
// last attempt or the error is a NoRetryError.
func reportError(r *replay.State, s replay.Step, err error, timing *wire.Interval) {
	attempt, max := r.Attempt()
	noRetry := inngest.IsNoRetryError(err)
	final := noRetry || attempt+1 >= max
	e := &wire.Error{Name: wire.ErrNameDefault, Message: err.Error()}
	if noRetry {
		e.Name = wire.ErrNameNoRetry
	}
	if p, ok := err.(*panicError); ok {
		e.Stack = p.stack
	}
	retryAfter := ""
	if at, ok := inngest.RetryAt(err); ok && !final {
		retryAfter = wire.RetryAfter(at)
	}
	op := wire.OpStepError
	if final {
		op = wire.OpStepFailed
	}
	o := s.Op(op)
	o.Error, o.Timing = e, timing
	r.AddError(o, final, retryAfter)
}

// decodeRun decodes a memoized {"data": …} or {"error": …}.
func decodeRun[T any](s replay.Step, raw json.RawMessage) (T, error) {
	var zero T
	if v := zero; wire.UnmarshalData(raw, &v) {
		return v, nil
	}
	var m wire.Memo
	if err := wire.DecodeMemo(raw, &m); err != nil {
		return zero, memoMismatch[T](s, err)
	}
	if m.Error != nil {
		return zero, stepError(s, m.Error)
	}
	if len(m.Data) == 0 {
		return zero, nil
	}
	var v T
	if err := wire.Unmarshal(m.Data, &v); err != nil {
		return zero, memoMismatch[T](s, err)
	}
	return v, nil
}

func memoMismatch[T any](s replay.Step, err error) error {
	return inngest.NoRetryError(fmt.Errorf("step %q: its recorded result does not fit %T: %w", s.ID, *new(T), err))
}

func stepError(s replay.Step, e *wire.MemoError) *inngest.StepError {
	return &inngest.StepError{
		StepID:  s.ID,
		Name:    e.Name,
		Message: firstNonEmpty(e.Message, e.Error, "Unknown error"),
		Stack:   e.Stack,
		Data:    e.Data,
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

type sleepOpts struct {
	Duration string `json:"duration"`
}

// Sleep pauses the function for d. The function stops here and Inngest
// calls it again once d has passed (at most 366 days; a longer d is a
// NoRetryError); no process waits. A d of zero or less does not pause.
func Sleep(ctx context.Context, id string, d time.Duration) error {
	return sleep(ctx, id, wire.Duration(d, true), d > maxTimeout)
}

// SleepUntil pauses the function until t, which Inngest accepts up to
// 366 days ahead. A time in the past does not pause.
func SleepUntil(ctx context.Context, id string, t time.Time) error {
	// Not checked against this machine's clock: under the test engine's
	// virtual time, "now" is the engine's.
	return sleep(ctx, id, wire.Time(t), false)
}

func sleep(ctx context.Context, id, until string, tooLong bool) error {
	r, parallel, err := from(ctx, id)
	if err != nil {
		return err
	}
	s := r.Next(id)
	if _, ok := r.Memo(s); ok {
		return nil
	}
	if tooLong {
		// Checked only for a new step: a recorded sleep has happened.
		return inngest.NoRetryError(fmt.Errorf("step %q: a sleep lasts at most 366 days, until %s asks for more", id, until))
	}
	if r.Decide(s, parallel, false) == replay.Report {
		o := s.Op(wire.OpSleep)
		o.Opts = sleepOpts{Duration: until}
		r.Add(o)
	}
	return r.Stop()
}
