package inngesttest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-inngest/inngest"
)

// The engine enforces the server's limits (inngest.MaxStepOutputSize,
// MaxRunStateSize, MaxSteps, MaxEventSize) where the server does, and
// fails the run with the error the server records, so that a test fails
// where production would.

// serverFailure is how the server records an error it fails a run with
// itself: the error, serialized as {"error":{…}}, is the message of an
// outer error named "Error", and the run's result. errText is the inner
// error's "error" field.
func serverFailure(name, errText, message string) (stdErr map[string]any, result json.RawMessage) {
	inner := string(mustMarshal(map[string]any{"error": map[string]string{"error": errText, "name": name, "message": message}}))
	outer := errText
	if name != "Error" {
		outer = name
	}
	return map[string]any{"error": outer, "name": "Error", "message": inner}, mustMarshal(inner)
}

// failByServer fails r as the server fails a run itself.
func (e *Engine) failByServer(r *Run, name, errText, message string) {
	stdErr, result := serverFailure(name, errText, message)
	e.failRun(r, result, stdErr)
}

// runError is the error a failed run reports: the innermost of an error
// the server serialized into the message, as a failure handler decodes
// it, or the error as it is.
func runError(stdErr map[string]any) *inngest.RunError {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	e := &inngest.RunError{Name: str(stdErr, "name"), Message: str(stdErr, "message"), Stack: str(stdErr, "stack")}
	if c, ok := stdErr["cause"]; ok {
		e.Cause = mustMarshal(c)
	}
	if !strings.HasPrefix(e.Message, `{"error":{`) {
		return e
	}
	var nested struct {
		Error map[string]any `json:"error"`
	}
	if json.Unmarshal([]byte(e.Message), &nested) != nil || str(nested.Error, "message") == "" {
		return e
	}
	e.Name = firstNonEmpty(str(nested.Error, "name"), e.Name)
	e.Message = str(nested.Error, "message")
	return e
}

// stateSize is the run's state as the server counts it against
// inngest.MaxRunStateSize: its events and its stored step outputs.
func stateSize(r *Run) int {
	n := len("[]") + max(len(r.events)-1, 0)
	for _, ev := range r.events {
		n += len(ev)
	}
	for _, m := range r.memo {
		n += len(m)
	}
	return n
}

// storeLimit returns why the server would refuse to store memo, the
// {"data": …} of the step with hash id, as the server words it (name,
// its "error" field and message), or ok.
func storeLimit(r *Run, id string, memo []byte) (name, errText, message string, ok bool) {
	if len(memo) > inngest.MaxStepOutputSize {
		msg := "error validating generator opcode " + id + ": step output size is greater than the limit"
		return "Error", msg, msg, false
	}
	if stateSize(r)+len(memo) > inngest.MaxRunStateSize {
		msg := fmt.Sprintf("The function run exceeded the state size limit of %d bytes.", inngest.MaxRunStateSize)
		return "InngestErrStateOverflowed", "InngestErrStateOverflowed: " + msg, msg, false
	}
	return "", "", "", true
}

// failTooManySteps fails r as the server does when a run has
// inngest.MaxSteps finished steps at a call, or an answer plans more.
func (e *Engine) failTooManySteps(r *Run) {
	e.failByServer(r, "InngestErrFunctionOverflowed", "function has too many steps",
		fmt.Sprintf("The function run exceeded the step limit of %d steps.", inngest.MaxSteps))
}

// checkpointLimit returns the checkpoint API's refusal (413) of a step
// whose output the server would not store, or "".
func checkpointLimit(r *Run, op opcode) string {
	if store, _ := checkpointOp(op.Op); !store {
		return ""
	}
	data := op.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	memo := mustMarshal(map[string]json.RawMessage{"data": data})
	if len(memo) > inngest.MaxStepOutputSize {
		return "step " + op.ID + " output too large: step output size is greater than the limit"
	}
	if stateSize(r)+len(memo) > inngest.MaxRunStateSize {
		return "run state size limit exceeded: state is too large"
	}
	return ""
}

// eventTooLarge returns the event API's error for an event over
// inngest.MaxEventSize, or "".
func eventTooLarge(raw []byte) string {
	if len(raw) <= inngest.MaxEventSize {
		return ""
	}
	return fmt.Sprintf("Event is over the max size: Max %d bytes / Size %d bytes", inngest.MaxEventSize, len(raw))
}
