package step

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
)

// maxTimeout is the longest wait the server accepts for a timeout.
const maxTimeout = 366 * 24 * time.Hour

// await is the common path of steps that Inngest carries out while the
// function is paused (waits, invokes, fetches): it returns the step's
// recorded result, or reports the step with op and opts and stops the
// function. It returns an error only when it cannot stop the function
// (an unmanaged goroutine).
func await(r *replay.State, parallel bool, id, op string, opts any) (replay.Step, json.RawMessage, error) {
	s := r.Next(id)
	if raw, ok := r.Memo(s); ok {
		return s, raw, nil
	}
	if r.Decide(s, parallel, false) == replay.Report {
		o := s.Op(op)
		o.Opts = opts
		r.Add(o)
	}
	return s, nil, r.Stop()
}

// errMissingData is a recorded result without the "data" it needs.
var errMissingData = errors.New(`the result has no "data"`)

// isNull reports whether a recorded result is JSON null (or absent).
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// optsError is a step tool's error for options that can never work: it
// is not retried.
func optsError(tool, id, format string, args ...any) error {
	return inngest.NoRetryError(fmt.Errorf("step.%s %q: %s", tool, id, fmt.Sprintf(format, args...)))
}

// checkTimeout validates a timeout that must be set.
func checkTimeout(tool, id, field string, d time.Duration) error {
	switch {
	case d <= 0:
		return optsError(tool, id, "%s is required and must be positive, got %s", field, d)
	case d > maxTimeout:
		return optsError(tool, id, "%s must be at most 366 days, got %s", field, d)
	}
	return nil
}

// jsonObject marshals v, which must encode as a JSON object; nil is {}.
func jsonObject(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return json.RawMessage("{}"), nil
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("must be a JSON object (a struct or map), got %.40s", b)
	}
	return b, nil
}

// ErrStepID is returned by a step tool given an empty step ID.
var ErrStepID = errors.New("inngest: a step needs an ID, unique within its function")

// from returns the run of ctx for a step tool called with id, or why the
// tool cannot be used: ctx is not a function's, the call is nested in a
// step, or id is empty (a NoRetryError: retrying cannot fix it).
func from(ctx context.Context, id string) (*replay.State, bool, error) {
	r, parallel, err := replay.From(ctx)
	if err != nil {
		return nil, false, err
	}
	if strings.TrimSpace(id) == "" {
		return nil, false, inngest.NoRetryError(ErrStepID)
	}
	return r, parallel, nil
}
