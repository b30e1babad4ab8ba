package inngesttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-inngest/inngest/internal/wire"
)

// checkpointRequest is the body of POST /v1/checkpoint/{runID}/async: the
// steps an SDK finished during a call, saved so that it can go on to the
// next step in the same call.
type checkpointRequest struct {
	RunID        string   `json:"run_id"`
	FnID         string   `json:"fn_id"`
	QueueItemID  string   `json:"qi_id"`
	RequestID    string   `json:"request_id"`
	GenerationID int      `json:"generation_id"`
	TS           int64    `json:"ts"`
	Steps        []opcode `json:"steps"`
}

// Opcodes the checkpoint API accepts without storing anything: a step
// about to run, and deferred work (which the engine does not model).
const (
	opDeferAdd   = "DeferAdd"
	opDeferAbort = "DeferAbort"
)

// checkpointOp sorts an opcode of a checkpoint: store reports whether it
// is a finished step to save; err is set when the server refuses it.
func checkpointOp(op string) (store bool, err error) {
	switch op {
	case wire.OpStepRun, "Step":
		return true, nil
	case wire.OpStepPlanned, opDeferAdd, opDeferAbort:
		return false, nil
	case wire.OpStepFailed, "RunComplete", "SyncRunComplete":
		return false, fmt.Errorf("cannot checkpoint opcode: %s", op)
	}
	return false, fmt.Errorf("cannot checkpoint async steps (%s)", op)
}

// apiCheckpoint answers POST /v1/checkpoint/{runID}/async as the server
// does: it saves each finished step (StepRun) of the body in the run's
// state, as if the call had reported it, so that later calls find it
// memoized, and resets the call's attempt count, as the server resets
// the attempts of the queue item. It answers 404 for an unknown run, 400
// for a body it cannot read or an opcode it cannot checkpoint (anything
// the server must carry out, such as a sleep), and 409 when the
// checkpoint does not come from the call in progress for the run: the
// run has ended, or qi_id or generation_id belong to another dispatch.
// The body is checked as a whole before any step is saved.
func (e *Engine) apiCheckpoint(w http.ResponseWriter, runID string, body []byte) {
	var in checkpointRequest
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.runByID[runID]
	if !ok {
		apiError(w, http.StatusNotFound, "run "+runID+" not found")
		return
	}
	if msg := checkRequest(r, runID, &in); msg != "" {
		apiError(w, http.StatusBadRequest, msg)
		return
	}
	it := e.calling
	switch {
	case r.done():
		apiError(w, http.StatusConflict, "run "+runID+" has ended ("+r.status.String()+")")
		return
	case it == nil || it.run != r:
		apiError(w, http.StatusConflict, "stale dispatch: no call of run "+runID+" is in progress")
		return
	case in.QueueItemID != queueItemID(it.jobID):
		apiError(w, http.StatusConflict, "stale dispatch: queue item "+strconv.Quote(in.QueueItemID)+" is not the one in progress")
		return
	case in.GenerationID != 0 && in.GenerationID != it.generation():
		apiError(w, http.StatusConflict, fmt.Sprintf("stale dispatch: dispatch generation %d does not match queue item generation %d", in.GenerationID, it.generation()))
		return
	}
	for _, op := range in.Steps {
		if msg := checkpointLimit(r, op); msg != "" {
			apiError(w, http.StatusRequestEntityTooLarge, msg)
			return
		}
		if store, _ := checkpointOp(op.Op); store && e.checkpointStep(r, op) {
			it.checkpointed++
		}
	}
	// The server resets the queue item's attempts after a checkpoint:
	// a step that fails after checkpointed steps gets all its attempts.
	it.attemptBase += it.attempt
	it.attempt = 0
	apiJSON(w, map[string]any{})
}

// checkRequest returns why the checkpoint in of run r cannot be read, or
// "".
func checkRequest(r *Run, runID string, in *checkpointRequest) string {
	switch {
	case in.RunID != runID:
		return fmt.Sprintf("run_id %q does not match the run %s of the path", in.RunID, runID)
	case in.FnID != r.fn.UUID:
		return fmt.Sprintf("fn_id %q is not the ID of the run's function %s (%s)", in.FnID, r.fn.ID, r.fn.UUID)
	}
	for i, op := range in.Steps {
		if op.ID == "" {
			return fmt.Sprintf("step %d (%s) has no id", i, op.Op)
		}
		if _, err := checkpointOp(op.Op); err != nil {
			return err.Error()
		}
	}
	return ""
}

// checkpointStep saves a step the SDK finished and checkpointed, as a
// StepRun opcode in a call's answer would be: {"data": …} in the run's
// steps, its hash on the stack, and one more run of its body. A step
// that has a result already is left as it is, as the server ignores a
// duplicate. It reports whether it saved the step.
func (e *Engine) checkpointStep(r *Run, op opcode) bool {
	if _, ok := r.memo[op.ID]; ok {
		r.log(Entry{Kind: EntryStep, Step: firstNonEmpty(op.Name, op.DisplayName, op.ID), Detail: "checkpointed again, with a result already; ignored"})
		return false
	}
	st := e.stepFor(r, op)
	st.Attempts++
	st.Checkpointed = true
	data := op.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	e.resolveStep(r, st, mustMarshal(map[string]json.RawMessage{"data": data}), data, nil,
		Entry{Kind: EntryStep, Step: st.ID, Detail: "checkpointed: " + snippet(data)})
	return true
}

// generation is the ctx.generation_id of call it: how many times its
// queue item has been dispatched, counting from 1.
func (it *item) generation() int { return it.attemptBase + it.attempt + 1 }
