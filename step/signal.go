package step

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// ErrSignalNotReceived is returned (wrapped) by WaitForSignal when its
// timeout passed before the signal arrived. Test for it with errors.Is.
var ErrSignalNotReceived = errors.New("inngest: the signal did not arrive before the timeout")

// SignalConflict says what happens when another run already waits for
// the same signal.
type SignalConflict string

// Signal conflict behaviours.
const (
	// SignalConflictFail fails this step (the default).
	SignalConflictFail SignalConflict = "fail"
	// SignalConflictReplace makes this run the one that receives the
	// signal, in place of the run that waited before.
	SignalConflictReplace SignalConflict = "replace"
)

// WaitForSignalOpts says which signal WaitForSignal waits for.
type WaitForSignalOpts struct {
	// Signal is the signal's name, unique among waiting runs, for example
	// "approval/" + orderID. Required.
	Signal string
	// Timeout is how long to wait, up to 366 days. Required.
	Timeout time.Duration
	// OnConflict applies when another run waits for Signal already; the
	// zero value means SignalConflictFail.
	OnConflict SignalConflict
}

type waitForSignalOpts struct {
	Signal   string         `json:"signal"`
	Timeout  string         `json:"timeout"`
	Conflict SignalConflict `json:"conflict"`
}

// Signal is a signal WaitForSignal received, with its data decoded into
// T.
type Signal[T any] struct {
	// Signal is the signal's name.
	Signal string `json:"signal"`
	// Data is the data sent with the signal.
	Data T `json:"data"`
}

// WaitForSignal pauses the function until the signal opts.Signal is sent
// to Inngest, and returns it with its data decoded into T. On timeout
// the error wraps ErrSignalNotReceived.
func WaitForSignal[T any](ctx context.Context, id string, opts WaitForSignalOpts) (Signal[T], error) {
	var zero Signal[T]
	r, parallel, err := from(ctx, id)
	if err != nil {
		return zero, err
	}
	const tool = "WaitForSignal"
	if strings.TrimSpace(opts.Signal) == "" {
		return zero, optsError(tool, id, "WaitForSignalOpts.Signal, the signal's name, is required")
	}
	if err := checkTimeout(tool, id, "WaitForSignalOpts.Timeout", opts.Timeout); err != nil {
		return zero, err
	}
	conflict := opts.OnConflict
	switch conflict {
	case "":
		conflict = SignalConflictFail
	case SignalConflictFail, SignalConflictReplace:
	default:
		return zero, optsError(tool, id, "WaitForSignalOpts.OnConflict must be %q or %q, got %q", SignalConflictFail, SignalConflictReplace, conflict)
	}
	op := waitForSignalOpts{Signal: opts.Signal, Timeout: wire.Duration(opts.Timeout, true), Conflict: conflict}
	s, raw, err := await(r, parallel, id, wire.OpWaitForSignal, op)
	if err != nil {
		return zero, err
	}
	if isNull(raw) {
		return zero, fmt.Errorf("step %q: waiting for signal %q: %w", id, opts.Signal, ErrSignalNotReceived)
	}
	var m struct {
		Data  *Signal[T]      `json:"data"`
		Error *wire.MemoError `json:"error"`
	}
	if err := wire.Unmarshal(raw, &m); err != nil {
		return zero, memoMismatch[Signal[T]](s, err)
	}
	switch {
	case m.Error != nil:
		return zero, stepError(s, m.Error)
	case m.Data == nil:
		return zero, fmt.Errorf("step %q: waiting for signal %q: %w", id, opts.Signal, ErrSignalNotReceived)
	}
	return *m.Data, nil
}
