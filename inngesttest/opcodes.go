package inngesttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
)

// opcode is one entry of a 206 answer.
type opcode struct {
	ID          string          `json:"id"`
	Op          string          `json:"op"`
	Name        string          `json:"name"`
	DisplayName string          `json:"displayName"`
	Opts        json.RawMessage `json:"opts"`
	Data        json.RawMessage `json:"data"`
	Error       json.RawMessage `json:"error"`
}

// parseOps reads a 206 body: an array of opcodes, or one opcode object
// (the legacy form). An empty body is an error; [] means nothing to do.
func parseOps(body []byte) ([]opcode, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, errors.New("a 206 answer with an empty body")
	}
	var ops []opcode
	if b[0] == '{' {
		var op opcode
		if err := json.Unmarshal(b, &op); err != nil {
			return nil, fmt.Errorf("reading the opcode: %w", err)
		}
		ops = []opcode{op}
	} else if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("reading the opcodes: %w", err)
	}
	for i, op := range ops {
		if op.ID == "" {
			return nil, fmt.Errorf("opcode %d (%s) has no id", i, op.Op)
		}
	}
	return ops, nil
}

// handleResponse applies the SDK's answer to call it.
func (e *Engine) handleResponse(it *item, res response, detail string) {
	r := it.run
	entry := Entry{Kind: EntryCall, Step: r.stepLabel(it.stepID), Attempt: res.attempt, Status: res.status, Delay: res.took}
	join := func(s string) string {
		if detail == "" {
			return s
		}
		return detail + "; " + s
	}
	if r.done() {
		entry.Detail = join("the run had ended during the call; the answer is ignored")
		r.log(entry)
		return
	}
	if res.err != nil {
		entry.Detail = join(res.err.Error())
		r.log(entry)
		e.callError(it, 0, nil, mustMarshal(map[string]string{"error": res.err.Error()}))
		return
	}
	if res.status >= 200 && res.status < 300 {
		if v, err := strconv.Atoi(res.header.Get(wire.HeaderReqVersion)); err == nil {
			r.version = v
		}
	}
	switch res.status {
	case http.StatusOK:
		entry.Detail = join("returned " + snippet(res.body))
		r.log(entry)
		e.completeRun(r, res.body)
	case http.StatusPartialContent:
		ops, err := parseOps(res.body)
		if err != nil {
			entry.Detail = join(err.Error())
			r.log(entry)
			e.callError(it, res.status, nil, res.body)
			return
		}
		entry.Detail = join(opsSummary(ops))
		r.log(entry)
		e.applyOps(it, ops, res.header)
	default:
		entry.Detail = join(snippet(res.body))
		r.log(entry)
		e.callError(it, res.status, res.header, res.body)
	}
}

func opsSummary(ops []opcode) string {
	if len(ops) == 0 {
		return "[] (nothing to do)"
	}
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %q", op.Op, firstNonEmpty(op.Name, op.DisplayName, op.ID))
	}
	return strings.Join(parts, ", ")
}

func snippet(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// applyOps carries out the opcodes of a 206 answer, as the executor
// does.
func (e *Engine) applyOps(it *item, ops []opcode, hdr http.Header) {
	r := it.run
	if len(ops) > inngest.MaxSteps {
		e.failTooManySteps(r)
		return
	}
	if len(ops) > 1 {
		// The server plans every step of a parallel group and runs
		// each in a request of its own.
		r.disableImmediate = true
	}
	noRetry := hdr.Get(wire.HeaderNoRetry) == "true"
	requeued := false
	for _, op := range ops {
		if r.done() {
			return
		}
		if _, ok := r.memo[op.ID]; ok {
			r.log(Entry{Kind: EntryCall, Step: op.Name, Detail: fmt.Sprintf("the SDK reported %s for a step that has a result already; ignored", op.Op)})
			continue
		}
		st := e.stepFor(r, op)
		busy := r.pauses[st.Hash] != nil || st.inflight // planned or paused already
		switch op.Op {
		case wire.OpStepRun, "Step":
			st.Attempts++
			data := op.Data
			if len(data) == 0 {
				data = json.RawMessage("null")
			}
			memo := mustMarshal(map[string]json.RawMessage{"data": data})
			if name, errText, msg, ok := storeLimit(r, op.ID, memo); !ok {
				e.failByServer(r, name, errText, msg)
				continue
			}
			e.resolveStep(r, st, memo, data, nil,
				Entry{Kind: EntryStep, Step: st.ID, Detail: "completed: " + snippet(data)})
		case wire.OpStepError:
			st.Attempts++
			if !noRetry && it.attempt+1 < r.fn.maxAttempts() {
				delay := retryDelay(it.attempt, hdr)
				r.log(Entry{Kind: EntryStepError, Step: st.ID, Attempt: it.attempt, Delay: delay, Detail: errorText(op.Error) + "; retrying"})
				e.retry(it, delay, st.ID)
				requeued = true
				continue
			}
			e.failStep(r, st, op.Error)
		case wire.OpStepFailed:
			st.Attempts++
			e.failStep(r, st, op.Error)
		case wire.OpStepPlanned:
			if busy {
				continue
			}
			if m := r.mockFor(st); m != nil {
				e.applyMock(r, st, m)
				continue
			}
			st.inflight = true
			e.enqueueCall(r, st.Hash)
		case wire.OpSleep, wire.OpWaitForEvent, wire.OpInvokeFunction, wire.OpWaitForSignal, wire.OpGateway:
			if busy {
				continue
			}
			if m := r.mockFor(st); m != nil {
				e.applyMock(r, st, m)
				continue
			}
			e.startPause(r, st, op)
		case wire.OpAIGateway:
			if busy {
				continue
			}
			if m := r.mockFor(st); m != nil {
				e.applyMock(r, st, m)
				continue
			}
			e.startInfer(it, st, op)
		default:
			// The server cannot parse the answer and retries the call.
			r.log(Entry{Kind: EntryCall, Step: st.ID, Detail: fmt.Sprintf("unknown opcode %q", op.Op)})
			if !requeued {
				e.callError(it, http.StatusPartialContent, nil, mustMarshal(map[string]string{"error": "unknown opcode " + op.Op}))
				requeued = true
			}
		}
	}
	if r.done() {
		return
	}
	if !requeued {
		e.threadDone(r)
	}
}

// stepFor returns the run's record of the step an opcode is about,
// creating it on first sight.
func (e *Engine) stepFor(r *Run, op opcode) *Step {
	if st, ok := r.byHash[op.ID]; ok {
		return st
	}
	id := firstNonEmpty(op.Name, op.DisplayName, op.ID)
	st := &Step{
		ID:         id,
		Occurrence: occurrence(r, id, op.ID),
		Hash:       op.ID,
		Kind:       kindOf(op.Op),
		reported:   e.now,
	}
	if len(op.Opts) > 0 && string(op.Opts) != "null" {
		st.Opts = op.Opts
		if op.Op == wire.OpAIGateway {
			st.Opts = redactAuthKey(op.Opts)
		}
	}
	r.steps = append(r.steps, st)
	r.byHash[op.ID] = st
	return st
}

// occurrence finds n such that hash is the hash of the n-th occurrence
// of id, or -1.
func occurrence(r *Run, id, hash string) int {
	limit := 64
	for _, s := range r.steps {
		if s.ID == id {
			limit++
		}
	}
	for n := 0; n < limit; n++ {
		if wire.HashID(id, n) == hash {
			return n
		}
	}
	return -1
}

func kindOf(op string) StepKind {
	switch op {
	case wire.OpSleep:
		return KindSleep
	case wire.OpWaitForEvent:
		return KindWaitForEvent
	case wire.OpInvokeFunction:
		return KindInvoke
	case wire.OpWaitForSignal:
		return KindSignal
	case wire.OpGateway:
		return KindFetch
	case wire.OpAIGateway:
		return KindAI
	}
	return KindRun
}

// stepLabel names the step a call targets, "" for a discovery call.
func (r *Run) stepLabel(stepID string) string {
	if stepID == discovery {
		return ""
	}
	if st, ok := r.byHash[stepID]; ok {
		return st.ID
	}
	return stepID
}

// resolveStep stores a step's result, as the server does when a step
// finishes: in "steps", and its hash on the stack.
func (e *Engine) resolveStep(r *Run, st *Step, memo, result json.RawMessage, stepErr *inngest.StepError, entry Entry) {
	st.inflight = false
	st.Memo = memo
	st.Result = result
	st.Err = stepErr
	st.Duration = e.now.Sub(st.reported)
	if stepErr != nil {
		st.Status = StepFailed
	} else {
		st.Status = StepCompleted
	}
	r.memo[st.Hash] = memo
	r.stack = append(r.stack, st.Hash)
	r.progress = true
	r.log(entry)
}

// failStep records a step's final failure: {"error": …} in "steps", and
// the function sees a StepError on the next call.
func (e *Engine) failStep(r *Run, st *Step, errJSON json.RawMessage) {
	if len(errJSON) == 0 || string(errJSON) == "null" {
		errJSON = mustMarshal(map[string]string{"name": "Error", "message": "Unknown error"})
	}
	e.resolveStep(r, st, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(st.ID, errJSON),
		Entry{Kind: EntryStep, Step: st.ID, Detail: "failed: " + errorText(errJSON)})
}

// stepError reads a stored step error.
func stepError(id string, raw json.RawMessage) *inngest.StepError {
	var m wire.MemoError
	_ = json.Unmarshal(raw, &m)
	return &inngest.StepError{
		StepID:  id,
		Name:    firstNonEmpty(m.Name, "Error"),
		Message: firstNonEmpty(m.Message, m.Error, "Unknown error"),
		Stack:   m.Stack,
		Data:    m.Data,
	}
}

// errorText renders a serialized error as "name: message".
func errorText(raw json.RawMessage) string {
	var m wire.MemoError
	if json.Unmarshal(raw, &m) != nil {
		return snippet(raw)
	}
	msg := firstNonEmpty(m.Message, m.Error)
	if m.Name == "" || m.Name == "Error" {
		return msg
	}
	return m.Name + ": " + msg
}

// retryDelay is the wait before the next attempt after the zero-based
// attempt failed: the answer's Retry-After, or the backoff table.
func retryDelay(attempt int, hdr http.Header) time.Duration {
	if hdr != nil {
		if d, ok := retryAfter(hdr.Get("Retry-After"), time.Now()); ok {
			return d
		}
	}
	return backoff(attempt)
}

// retry queues call it again, as its next attempt, after delay.
func (e *Engine) retry(it *item, delay time.Duration, stepID string) {
	it.attempt++
	it.due = e.now.Add(delay)
	it.enqueued = e.now
	if stepID == "" {
		it.run.log(Entry{Kind: EntryRetry, Step: it.run.stepLabel(it.stepID), Attempt: it.attempt, Delay: delay})
	}
	e.push(it)
}

// callError handles a call that failed as a whole (not a step): it is
// retried while attempts remain and the SDK did not say X-Inngest-No-Retry:
// true, and fails the run otherwise. A 4xx without that header is retried
// too, as the server does.
func (e *Engine) callError(it *item, status int, hdr http.Header, body []byte) {
	r := it.run
	noRetry := hdr != nil && hdr.Get(wire.HeaderNoRetry) == "true"
	if !noRetry && it.attempt+1 < r.fn.maxAttempts() {
		e.retry(it, retryDelay(it.attempt, hdr), "")
		return
	}
	e.failRun(r, resultOf(body), standardError(status, noRetry, body))
}

// enqueueCall queues a new call for r: a discovery call ("step") or the
// targeted call of a planned step (its hash).
func (e *Engine) enqueueCall(r *Run, stepID string) {
	r.outstanding++
	e.conc.order++
	e.push(&item{due: e.now, first: e.now, enqueued: e.now, order: e.conc.order, sleep: r.afterSleep, kind: itemCall, run: r, stepID: stepID, jobID: e.ids.jobID()})
}

// threadDone ends one of r's threads (a call or a pause). When none is
// left, the server calls the function again to find what comes next.
func (e *Engine) threadDone(r *Run) {
	r.outstanding--
	if r.done() || r.outstanding > 0 {
		return
	}
	if !r.progress {
		e.failRun(r, nil, engineError("the function reported nothing to do, returned nothing, and has no step in progress"))
		return
	}
	r.progress = false
	r.disableImmediate = false
	e.enqueueCall(r, discovery)
}

// standardError is the error the server records for a failed run and
// puts into inngest/function.failed: name, message, stack and cause from
// the SDK's error body, and "error" set to the body's own "error" field
// or, without one, "NonRetriableError" for an answer with
// X-Inngest-No-Retry: true and "invalid status code: N" otherwise.
func standardError(status int, noRetry bool, body []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	str := func(k string) string {
		s, _ := m[k].(string)
		return strings.TrimSpace(s)
	}
	drv := str("error")
	if drv == "" {
		if noRetry {
			drv = wire.ErrNameNoRetry
		} else {
			drv = fmt.Sprintf("invalid status code: %d", status)
		}
	}
	out := map[string]any{
		"error":   drv,
		"name":    firstNonEmpty(str("name"), "Error"),
		"message": firstNonEmpty(str("message"), str("error"), "Function execution error"),
	}
	if s := str("stack"); s != "" {
		out["stack"] = s
	}
	if c, ok := m["cause"]; ok && c != nil {
		out["cause"] = c
	}
	return out
}

// resultOf is the failing answer's body as the event's "result": its
// JSON, or the body as a string when it is not JSON.
func resultOf(body []byte) json.RawMessage {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	return mustMarshal(string(b))
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
