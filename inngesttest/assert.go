package inngesttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
)

// Assertions in the style of the testing package: each takes a
// testing.TB, and on failure stops the test with t.Fatalf and a message
// that says what was expected and what was found, followed by the run's
// timeline. Run assertions return the run, so they chain:
//
//	run.RequireCompleted(t).RequireOutput(t, map[string]any{"total": 42})

func (r *Run) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	r.e.mu.Lock()
	desc := r.describe()
	r.e.mu.Unlock()
	t.Fatalf("inngesttest: run %s of %s: %s\n%s", r.id, r.fn.ID, fmt.Sprintf(format, args...), desc)
}

// RequireStatus requires the run to have the status want.
func (r *Run) RequireStatus(t testing.TB, want Status) *Run {
	t.Helper()
	if got := r.Status(); got != want {
		r.fatalf(t, "want status %s, got %s%s", want, got, r.statusDetail())
	}
	return r
}

func (r *Run) statusDetail() string {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	switch {
	case r.err != nil:
		return " (error: " + r.err.Error() + ")"
	case r.status == Running:
		var waits []string
		for _, st := range r.steps {
			if p := r.pauses[st.Hash]; p != nil {
				waits = append(waits, fmt.Sprintf("%s %q until %s", p.kind, st.ID, p.until.Format(time.RFC3339)))
			}
		}
		if len(waits) > 0 {
			return " (paused at " + strings.Join(waits, ", ") + ")"
		}
	}
	return ""
}

// RequireCompleted requires the run to have completed.
func (r *Run) RequireCompleted(t testing.TB) *Run {
	t.Helper()
	return r.RequireStatus(t, Completed)
}

// RequireFailed requires the run to have failed.
func (r *Run) RequireFailed(t testing.TB) *Run {
	t.Helper()
	return r.RequireStatus(t, Failed)
}

// RequireCancelled requires the run to have been cancelled.
func (r *Run) RequireCancelled(t testing.TB) *Run {
	t.Helper()
	return r.RequireStatus(t, Cancelled)
}

// RequireOutput requires the run to have completed with an output equal,
// as JSON, to want encoded as JSON.
func (r *Run) RequireOutput(t testing.TB, want any) *Run {
	t.Helper()
	r.RequireCompleted(t)
	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("inngesttest: RequireOutput: encoding want (%T): %v", want, err)
	}
	got := r.Output()
	if !jsonEqual(got, wantJSON) {
		r.fatalf(t, "want output %s, got %s", wantJSON, got)
	}
	return r
}

// RequireError requires the run to have failed with an error whose
// message contains substr.
func (r *Run) RequireError(t testing.TB, substr string) *Run {
	t.Helper()
	r.RequireFailed(t)
	if err := r.Err(); !strings.Contains(err.Message, substr) {
		r.fatalf(t, "want an error containing %q, got %q", substr, err.Message)
	}
	return r
}

// RequireElapsed requires the run to have taken want in virtual time.
func (r *Run) RequireElapsed(t testing.TB, want time.Duration) *Run {
	t.Helper()
	if got := r.Elapsed(); got != want {
		r.fatalf(t, "want %s of virtual time, got %s", want, got)
	}
	return r
}

// RequireFailureHandlerRan requires the run's inngest/function.failed
// event to have started its function's OnFailure handler (the companion
// function "<function ID>-failure") exactly once, and that run to have
// completed. It returns the handler's run.
//
// Other functions the failure started, such as a CreateFailureFunction
// handler for the whole app, are not counted: check one of those with
// RequireFailureFunctionRan.
func (r *Run) RequireFailureHandlerRan(t testing.TB) *Run {
	t.Helper()
	return r.requireHandler(t, "failure", inngest.FunctionFailedEvent, r.fn.ID+"-failure", "OnFailure")
}

// RequireFailureFunctionRan requires the run's inngest/function.failed
// event to have started fn exactly once, and that run to have completed:
// fn is a function created with CreateFailureFunction (or any function
// triggered by inngest/function.failed), named as for Run. It returns
// fn's run.
func (r *Run) RequireFailureFunctionRan(t testing.TB, fn Function) *Run {
	t.Helper()
	return r.requireHandler(t, "failure", inngest.FunctionFailedEvent, r.e.fullID(fn), "")
}

// RequireCancelHandlerRan requires the run's inngest/function.cancelled
// event to have started its function's OnCancel handler (the companion
// function "<function ID>-cancel") exactly once, and that run to have
// completed. It returns the handler's run. Check another function
// triggered by inngest/function.cancelled with RequireCancelFunctionRan.
func (r *Run) RequireCancelHandlerRan(t testing.TB) *Run {
	t.Helper()
	return r.requireHandler(t, "cancellation", inngest.FunctionCancelledEvent, r.fn.ID+"-cancel", "OnCancel")
}

// RequireCancelFunctionRan requires the run's inngest/function.cancelled
// event to have started fn exactly once, and that run to have completed.
// It returns fn's run.
func (r *Run) RequireCancelFunctionRan(t testing.TB, fn Function) *Run {
	t.Helper()
	return r.requireHandler(t, "cancellation", inngest.FunctionCancelledEvent, r.e.fullID(fn), "")
}

// requireHandler requires the run's system event to have started the
// function handlerID exactly once, and that run to have completed. opt
// names the option that creates the handler when it is the function's
// own companion ("OnFailure", "OnCancel").
func (r *Run) requireHandler(t testing.TB, kind, event, handlerID, opt string) *Run {
	t.Helper()
	all := r.handlers(event)
	var runs []*Run
	for _, h := range all {
		if h.fn.ID == handlerID {
			runs = append(runs, h)
		}
	}
	if len(runs) != 1 {
		which := handlerID
		if opt != "" {
			which += ", its " + opt + " handler"
		}
		var hint string
		if !r.e.registered(handlerID) {
			hint = "; no function " + handlerID + " is registered"
			if opt == "OnFailure" {
				hint += " (give the function an OnFailure handler, or check a CreateFailureFunction's run with RequireFailureFunctionRan)"
			}
		}
		ids := make([]string, len(all))
		for i, h := range all {
			ids[i] = h.fn.ID + " " + h.id
		}
		r.fatalf(t, "want exactly one %s handler run, got %d (of %s)%s; %s started %v", kind, len(runs), which, hint, event, ids)
	}
	h := runs[0]
	if h.Status() != Completed {
		h.fatalf(t, "the %s handler of run %s: want status Completed, got %s%s", kind, r.id, h.Status(), h.statusDetail())
	}
	return h
}

// RequireNoFailureHandler requires the run's failure to have started no
// run at all (or the run not to have failed): neither its OnFailure
// handler nor any other function, such as a CreateFailureFunction.
func (r *Run) RequireNoFailureHandler(t testing.TB) *Run {
	t.Helper()
	if hs := r.FailureHandlers(); len(hs) > 0 {
		r.fatalf(t, "want no failure handler run, got %d (first: %s %s)", len(hs), hs[0].fn.ID, hs[0].id)
	}
	return r
}

// RequireNoStep requires the run to have no step with the user ID id.
func (r *Run) RequireNoStep(t testing.TB, id string) *Run {
	t.Helper()
	if st, ok := r.Step(id); ok {
		r.fatalf(t, "want no step %q, got one (%s, %s)", id, st.Kind, st.Status)
	}
	return r
}

// StepCheck makes assertions about one step of a run; get one with
// Run.RequireStep.
type StepCheck struct {
	t    testing.TB
	run  *Run
	step Step
}

// RequireStep requires the run to have a step with the user ID id (its
// first occurrence) and returns a StepCheck for it.
func (r *Run) RequireStep(t testing.TB, id string) *StepCheck {
	t.Helper()
	return r.RequireStepAt(t, id, 0)
}

// RequireStepAt is RequireStep for the occurrence-th (zero-based) step
// with the user ID id.
func (r *Run) RequireStepAt(t testing.TB, id string, occurrence int) *StepCheck {
	t.Helper()
	st, ok := r.StepAt(id, occurrence)
	if !ok {
		var ids []string
		for _, s := range r.Steps() {
			ids = append(ids, fmt.Sprintf("%q#%d", s.ID, s.Occurrence))
		}
		r.fatalf(t, "want step %q (occurrence %d), got steps [%s]", id, occurrence, strings.Join(ids, " "))
	}
	return &StepCheck{t: t, run: r, step: st}
}

// Step returns the step.
func (c *StepCheck) Step() Step { return c.step }

func (c *StepCheck) fatalf(format string, args ...any) {
	c.t.Helper()
	c.run.fatalf(c.t, "step %q: "+format, append([]any{c.step.ID}, args...)...)
}

// Attempts requires the step's body to have run n times.
func (c *StepCheck) Attempts(n int) *StepCheck {
	c.t.Helper()
	if c.step.Attempts != n {
		c.fatalf("want %d attempts, got %d", n, c.step.Attempts)
	}
	return c
}

// Kind requires the step to be of kind k.
func (c *StepCheck) Kind(k StepKind) *StepCheck {
	c.t.Helper()
	if c.step.Kind != k {
		c.fatalf("want kind %s, got %s", k, c.step.Kind)
	}
	return c
}

// Completed requires the step to have a result.
func (c *StepCheck) Completed() *StepCheck {
	c.t.Helper()
	if c.step.Status != StepCompleted {
		c.fatalf("want status completed, got %s%s", c.step.Status, errSuffix(c.step))
	}
	return c
}

// Failed requires the step to have failed for good.
func (c *StepCheck) Failed() *StepCheck {
	c.t.Helper()
	if c.step.Status != StepFailed {
		c.fatalf("want status failed, got %s", c.step.Status)
	}
	return c
}

func errSuffix(s Step) string {
	if s.Err != nil {
		return " (" + s.Err.Message + ")"
	}
	return ""
}

// Result requires the step's result to equal, as JSON, want encoded as
// JSON.
func (c *StepCheck) Result(want any) *StepCheck {
	c.t.Helper()
	wantJSON, err := json.Marshal(want)
	if err != nil {
		c.t.Fatalf("inngesttest: Result: encoding want (%T): %v", want, err)
	}
	if !jsonEqual(c.step.Result, wantJSON) {
		c.fatalf("want result %s, got %s%s", wantJSON, c.step.Result, errSuffix(c.step))
	}
	return c
}

// ErrorContains requires the step to have failed with an error whose
// message contains substr.
func (c *StepCheck) ErrorContains(substr string) *StepCheck {
	c.t.Helper()
	if c.step.Err == nil {
		c.fatalf("want an error containing %q, got none (status %s)", substr, c.step.Status)
	}
	if !strings.Contains(c.step.Err.Message, substr) {
		c.fatalf("want an error containing %q, got %q", substr, c.step.Err.Message)
	}
	return c
}

// Duration requires the step to have taken d of virtual time from its
// report to its result.
func (c *StepCheck) Duration(d time.Duration) *StepCheck {
	c.t.Helper()
	if c.step.Duration != d {
		c.fatalf("want a duration of %s, got %s", d, c.step.Duration)
	}
	return c
}

// TimedOut requires the step (a wait or invoke) to have timed out.
func (c *StepCheck) TimedOut() *StepCheck {
	c.t.Helper()
	if !c.step.TimedOut {
		c.fatalf("want a timeout, got %s with %s", c.step.Status, c.step.Result)
	}
	return c
}

// Mocked requires the step's result to have come from a mock.
func (c *StepCheck) Mocked() *StepCheck {
	c.t.Helper()
	if !c.step.Mocked {
		c.fatalf("want a mocked result, got a real one")
	}
	return c
}

// Checkpointed requires the step's result to have been saved with the
// checkpoint API during a call (ClientOpts.Checkpointing).
func (c *StepCheck) Checkpointed() *StepCheck {
	c.t.Helper()
	if !c.step.Checkpointed {
		c.fatalf("want a checkpointed result, got one reported in a call's answer (status %s)", c.step.Status)
	}
	return c
}

// RequireEvent requires the engine to have received or emitted an event
// named name, and returns the last one.
func (e *Engine) RequireEvent(t testing.TB, name string) json.RawMessage {
	t.Helper()
	evts := e.EventsNamed(name)
	if len(evts) == 0 {
		var names []string
		for _, ev := range e.Events() {
			names = append(names, eventName(ev))
		}
		t.Fatalf("inngesttest: want an event named %q, got [%s]", name, strings.Join(names, ", "))
	}
	return evts[len(evts)-1]
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}
