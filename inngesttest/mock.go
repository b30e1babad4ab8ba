package inngesttest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-inngest/inngest"
)

// StepMock replaces a step's result without touching the function's
// code. Make one with Mock, MockError or MockTimeout, and pass it to Run
// or Start (for one run) or Engine.Mock (for every run).
//
// The engine puts the mocked value into the run's "steps" as though the
// step had finished, so its body never runs and the function receives
// the value exactly as it would receive a real result. To make sure a
// mocked step.Run is reported before its body runs, a run with mocks is
// called with disable_immediate_execution set (as the server does after
// parallel steps): every step is planned first and run in a request of
// its own.
type StepMock struct {
	stepID     string
	occurrence int // -1: every occurrence
	fn         string
	value      json.RawMessage
	errJSON    json.RawMessage
	timeout    bool
}

// Mock makes the step with the user ID stepID return value: a Run,
// Invoke or Fetch step's result (a Fetch step's is a
// step.FetchResponse), a WaitForSignal step's signal data, or a
// WaitForEvent step's event (an inngest.Event; its name defaults to the
// awaited one). A mocked Sleep ends at once. value is encoded as JSON and
// must encode.
func Mock(stepID string, value any) StepMock {
	raw, err := json.Marshal(value)
	if err != nil {
		panic(fmt.Sprintf("inngesttest: Mock %q: encoding the value: %v", stepID, err))
	}
	return StepMock{stepID: stepID, occurrence: -1, value: raw}
}

// MockError makes the step with the user ID stepID fail for good with
// err, without retries: the function receives a *inngest.StepError with
// err's message (and the name and stack of err when it is an
// *inngest.StepError).
func MockError(stepID string, err error) StepMock {
	if err == nil {
		err = errors.New("mocked error")
	}
	e := map[string]string{"name": "Error", "message": err.Error()}
	var se *inngest.StepError
	if errors.As(err, &se) {
		e["name"] = firstNonEmpty(se.Name, "Error")
		e["message"] = se.Message
		if se.Stack != "" {
			e["stack"] = se.Stack
		}
	}
	return StepMock{stepID: stepID, occurrence: -1, errJSON: mustMarshal(e)}
}

// MockTimeout makes a WaitForEvent, WaitForSignal or Invoke step with the
// user ID stepID time out at once.
func MockTimeout(stepID string) StepMock {
	return StepMock{stepID: stepID, occurrence: -1, timeout: true}
}

// Occurrence limits the mock to the n-th step with its ID (zero-based:
// Occurrence(1) is the second), instead of every one.
func (m StepMock) Occurrence(n int) StepMock {
	m.occurrence = n
	return m
}

// In limits a mock given to Engine.Mock to the runs of fn.
func (m StepMock) In(fn Function) StepMock {
	m.fn = fn.FullID()
	return m
}

// applyRun adds the mock to a run, before the engine's mocks.
func (m StepMock) applyRun(r *Run) {
	r.mocks = append([]StepMock{m}, r.mocks...)
}

func (r *Run) mockFor(st *Step) *StepMock {
	for i := range r.mocks {
		m := &r.mocks[i]
		if m.stepID == st.ID && (m.occurrence < 0 || m.occurrence == st.Occurrence) {
			return m
		}
	}
	return nil
}

// applyMock resolves a reported step with its mock.
func (e *Engine) applyMock(r *Run, st *Step, m *StepMock) {
	st.Mocked = true
	entry := Entry{Kind: EntryStep, Step: st.ID}
	switch {
	case m.timeout:
		st.TimedOut = true
		if st.Kind == KindInvoke {
			const msg = "Timed out waiting for invoked function to complete"
			errJSON := mustMarshal(map[string]string{"name": "InngestInvokeTimeoutError", "message": msg, "error": msg})
			entry.Detail = "mocked: timed out"
			e.resolveStep(r, st, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(st.ID, errJSON), entry)
			return
		}
		entry.Detail = "mocked: timed out"
		e.resolveStep(r, st, json.RawMessage("null"), json.RawMessage("null"), nil, entry)
	case m.errJSON != nil:
		entry.Detail = "mocked: failed: " + errorText(m.errJSON)
		e.resolveStep(r, st, mustMarshal(map[string]json.RawMessage{"error": m.errJSON}), nil, stepError(st.ID, m.errJSON), entry)
	default:
		var memo, result json.RawMessage
		switch st.Kind {
		case KindSleep:
			memo, result = json.RawMessage("null"), json.RawMessage("null")
		case KindWaitForEvent:
			evt := asMap(m.value)
			if name, _ := evt["name"].(string); name == "" {
				var o struct {
					Event string `json:"event"`
				}
				_ = json.Unmarshal(st.Opts, &o)
				evt["name"] = o.Event
			}
			raw, _, err := e.normalizeRaw(mustMarshal(evt))
			if err != nil {
				e.failRun(r, nil, engineError("Mock %q: the value is not an event: %v", st.ID, err))
				return
			}
			memo, result = raw, raw
		case KindSignal:
			var o struct {
				Signal string `json:"signal"`
			}
			_ = json.Unmarshal(st.Opts, &o)
			result = mustMarshal(map[string]json.RawMessage{"signal": mustMarshal(o.Signal), "data": m.value})
			memo = mustMarshal(map[string]json.RawMessage{"data": result})
		default:
			memo, result = mustMarshal(map[string]json.RawMessage{"data": m.value}), m.value
		}
		entry.Detail = "mocked: " + snippet(result)
		e.resolveStep(r, st, memo, result, nil, entry)
	}
}
