package inngest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-inngest/inngest/internal/replay"
)

// Errors a step tool returns when it is used where it cannot work. They
// are matched with errors.Is.
var (
	// ErrNotInFunction: the context passed to a step tool is not one the
	// SDK gave to an Inngest function.
	ErrNotInFunction = replay.ErrNotInFunction
	// ErrUnmanagedGoroutine: a step tool had to stop the function but was
	// called from a goroutine the SDK does not run. The request fails with
	// a non-retriable error. Use step.NewGroup for concurrent steps.
	ErrUnmanagedGoroutine = replay.ErrUnmanagedGoroutine
	// ErrNestedStep: a step tool was called inside another step's body.
	// Like ErrUnmanagedGoroutine it is a coding error no retry can fix:
	// the call fails with a non-retriable error, whatever the body does
	// with the error the step tool returned.
	ErrNestedStep = replay.ErrNestedStep
	// ErrRunFinished: a step tool was called after the request that ran
	// the function had finished, for example from a leaked goroutine.
	ErrRunFinished = replay.ErrRunFinished
)

// NoRetryError wraps err so that Inngest does not retry it. Returned from
// a function, the run fails at once (HTTP 400, X-Inngest-No-Retry: true);
// returned from a step's body, the step fails at once and the function
// sees a *StepError. A nil err returns nil.
func NoRetryError(err error) error {
	if err == nil {
		return nil
	}
	return &noRetryError{err: err}
}

type noRetryError struct{ err error }

func (e *noRetryError) Error() string { return e.err.Error() }
func (e *noRetryError) Unwrap() error { return e.err }

// IsNoRetryError reports whether err or any error it wraps was made by
// NoRetryError.
func IsNoRetryError(err error) bool {
	var nr *noRetryError
	return errors.As(err, &nr)
}

// RetryAtError wraps err so that the next attempt starts no earlier than
// at (the server clamps it to between one second and 24 hours from now).
// It adds no attempts: on the last attempt the run fails as for any error.
// A nil err returns nil.
func RetryAtError(err error, at time.Time) error {
	if err == nil {
		return nil
	}
	return &retryAtError{err: err, at: at}
}

// RetryAfterError is RetryAtError with a delay from now.
func RetryAfterError(err error, d time.Duration) error {
	return RetryAtError(err, time.Now().Add(d))
}

type retryAtError struct {
	err error
	at  time.Time
}

func (e *retryAtError) Error() string { return e.err.Error() }
func (e *retryAtError) Unwrap() error { return e.err }

// RetryAt returns the time set by RetryAtError on err or an error it
// wraps.
func RetryAt(err error) (time.Time, bool) {
	var ra *retryAtError
	if errors.As(err, &ra) {
		return ra.at, true
	}
	return time.Time{}, false
}

// StepError is the error a step tool returns when its step has failed
// for good: its retries ran out, or it returned a NoRetryError. The
// function may handle it (and, for example, run a compensating step) or
// return it, in which case the run fails without further retries.
//
// Errors cross process boundaries as text, so the original Go type is
// gone: Name, Message and Stack are what the step reported.
type StepError struct {
	// StepID is the ID the step was given in code.
	StepID  string
	Name    string
	Message string
	Stack   string
	// Data is extra JSON the step's error carried, if any.
	Data json.RawMessage
}

// Error returns `step "<id>" failed: <message>`.
func (e *StepError) Error() string {
	return fmt.Sprintf("step %q failed: %s", e.StepID, e.Message)
}

// Is makes errors.Is(err, ErrStepFailed) true for every *StepError.
func (e *StepError) Is(target error) bool { return target == ErrStepFailed }

// ErrStepFailed matches every *StepError with errors.Is.
var ErrStepFailed = errors.New("inngest: step failed")
