package inngesttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
)

// Events in, runs out: what the server does with an event, and the
// system events it emits when a run ends.

// eventDedupWindow is how long an event ID keeps a second event with the
// same ID from triggering functions.
const eventDedupWindow = 24 * time.Hour

// Names of system events the engine emits besides failed and cancelled.
const (
	finishedEvent = "inngest/function.finished"
	invokedEvent  = "inngest/function.invoked"
)

// ingest takes in one normalized event: it cancels the runs the event
// cancels, resumes the waits it matches, then starts the functions it
// triggers. from is the run that sent or caused the event, if any.
func (e *Engine) ingest(raw json.RawMessage, from *Run) (string, []*Run) {
	var head struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &head)
	seen, dup := e.eventIDs[head.ID]
	dup = dup && e.now.Sub(seen) < eventDedupWindow
	if !dup {
		e.eventIDs[head.ID] = e.now
	}
	e.events = append(e.events, raw)
	e.cancelMatching(head.Name, raw)
	e.resumeWaits(head.Name, raw)
	if dup || head.Name == invokedEvent {
		// A repeated event ID triggers nothing; an invoke event only
		// starts the invoked run, which the invoke step created.
		return head.ID, nil
	}
	var started []*Run
	for _, f := range e.fnOrder {
		ok, err := f.triggeredBy(e.cel, head.Name, raw)
		if err != nil {
			e.t.Logf("inngesttest: function %s: its trigger expression does not evaluate for event %s: %v", f.ID, head.Name, err)
			continue
		}
		if ok {
			if r := e.schedule(f, raw, from); r != nil {
				started = append(started, r)
			}
		}
	}
	return head.ID, started
}

// startRun creates a run of f for the event and queues its first call.
func (e *Engine) startRun(f *fnDef, event json.RawMessage, origin *Run) *Run {
	var head struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(event, &head)
	r := &Run{
		e:       e,
		id:      e.ids.ulid(e.now),
		fn:      f,
		event:   event,
		events:  []json.RawMessage{event},
		eventID: head.ID,
		started: e.now,
		byHash:  map[string]*Step{},
		memo:    map[string]json.RawMessage{},
		stack:   []string{},
		version: -1,
		pauses:  map[string]*pause{},
		origin:  origin,
	}
	for _, m := range e.mocks {
		if m.fn == "" || m.fn == f.ID {
			r.mocks = append(r.mocks, m)
		}
	}
	e.runs = append(e.runs, r)
	e.runByID[r.id] = r
	if origin != nil {
		origin.children = append(origin.children, r)
		origin.log(Entry{Kind: EntryTriggered, Detail: f.ID + " run " + r.id})
	}
	r.log(Entry{Kind: EntryStarted, Detail: "by " + eventName(event) + " " + head.ID})
	e.scheduleConstraints(r)
	e.enqueueCall(r, discovery)
	if f.FinishTimeout > 0 {
		e.push(&item{due: e.now.Add(f.FinishTimeout), kind: itemFinishTimeout, run: r})
	}
	return r
}

// cancelMatching cancels the runs whose function has a Cancel entry for
// this event: its name matches, its timeout (from the run's start) has
// not passed, and its expression, with "event" bound to the run's event
// and "async" to this one, is true.
func (e *Engine) cancelMatching(name string, raw json.RawMessage) {
	for _, r := range e.runs {
		if r.done() {
			continue
		}
		for _, c := range r.fn.Cancel {
			if c.Event != name { // cancellations match names exactly, without wildcards
				continue
			}
			if c.Timeout != "" {
				if d, err := parseDuration(c.Timeout); err == nil && e.now.Sub(r.started) > d {
					continue
				}
			}
			ok, err := e.cel.match(c.If, r.event, raw)
			if err != nil {
				e.t.Logf("inngesttest: function %s: its cancel expression does not evaluate: %v", r.fn.ID, err)
				continue
			}
			if ok {
				e.cancelRun(r, "cancelled by event "+name+" "+eventID(raw))
				break
			}
		}
	}
}

// resumeWaits resumes every wait for this event whose expression, with
// "event" bound to the waiting run's event and "async" to this one, is
// true. The wait's step gets the event.
func (e *Engine) resumeWaits(name string, raw json.RawMessage) {
	for _, r := range e.runs {
		if r.done() {
			continue
		}
		for _, st := range r.steps {
			p := r.pauses[st.Hash]
			if p == nil || p.kind != KindWaitForEvent || p.event != name {
				continue
			}
			ok, err := e.cel.match(p.expr, r.event, raw)
			if err != nil {
				e.t.Logf("inngesttest: run %s: step %q: its wait expression does not evaluate: %v", r.id, st.ID, err)
				continue
			}
			if ok {
				e.resolvePause(p, raw, raw, nil, "received "+name+" "+eventID(raw))
			}
		}
	}
}

func eventID(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.ID
}

// completeRun ends r with the function's result.
func (e *Engine) completeRun(r *Run, body []byte) {
	out := json.RawMessage(body)
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	r.status = Completed
	r.output = out
	r.log(Entry{Kind: EntryCompleted, Detail: snippet(out)})
	e.finalize(r, nil, out)
}

// failRun ends r with an error, in the server's StandardError shape;
// result is the failing answer's body.
func (e *Engine) failRun(r *Run, result json.RawMessage, stdErr map[string]any) {
	if r.done() {
		return
	}
	r.status = Failed
	r.err = runError(stdErr)
	r.errBody = result
	r.log(Entry{Kind: EntryFailed, Detail: r.err.Error()})
	e.finalize(r, stdErr, result)
}

// cancelRun ends r as cancelled.
func (e *Engine) cancelRun(r *Run, reason string) {
	if r.done() {
		return
	}
	r.status = Cancelled
	r.log(Entry{Kind: EntryCancelled, Detail: reason})
	e.finalize(r, nil, nil)
}

// finalize does what the server does when a run ends: it drops the run's
// pending work, emits inngest/function.finished and, for a failed or
// cancelled run, inngest/function.failed or inngest/function.cancelled
// (with the run's ID as event ID), and resumes the invoke step that
// started the run. Runs triggered by inngest/function.failed or
// inngest/function.finished emit nothing, so a failing failure handler
// cannot loop.
func (e *Engine) finalize(r *Run, stdErr map[string]any, result json.RawMessage) {
	if r.finalized {
		return
	}
	r.finalized = true
	r.ended = e.now
	e.removeRun(r)
	for _, p := range r.pauses {
		p.resolved = true
	}
	r.pauses = map[string]*pause{}

	data := map[string]any{
		"function_id": r.fn.ID,
		"run_id":      r.id,
		"event":       withUser(r.event),
		"events":      eventsWithoutEmptyUser(r.events),
		"_inngest":    map[string]any{"status": r.status.String()},
	}
	if stdErr != nil {
		data["error"] = stdErr
	}
	if len(result) > 0 && string(result) != "null" {
		data["result"] = result
	}
	if r.correlationID != "" {
		data["correlation_id"] = r.correlationID
	}
	finished := e.systemEvent(e.ids.ulid(e.now), finishedEvent, data)

	if p := r.invokedBy; p != nil && !p.resolved {
		switch r.status {
		case Completed:
			if string(r.output) == "null" {
				// The server records the whole finished event when the
				// invoked function returned nothing.
				e.resolvePause(p, finished, json.RawMessage("null"), nil, "invoked run "+r.id+" completed")
			} else {
				e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"data": r.output}), r.output, nil, "invoked run "+r.id+" completed")
			}
		case Failed:
			errJSON := mustMarshal(stdErr)
			e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(p.step.ID, errJSON), "invoked run "+r.id+" failed")
		case Cancelled:
			errJSON := mustMarshal(map[string]string{"error": "function cancelled", "message": "function cancelled", "name": "Error"})
			e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(p.step.ID, errJSON), "invoked run "+r.id+" was cancelled")
		}
	}

	switch eventName(r.event) {
	case inngest.FunctionFailedEvent, finishedEvent:
		return
	}
	e.emit(r, finished)
	switch r.status {
	case Failed:
		e.emit(r, e.systemEvent(r.id, inngest.FunctionFailedEvent, data))
	case Cancelled:
		e.emit(r, e.systemEvent(r.id, inngest.FunctionCancelledEvent, data))
	}
}

// systemEvent builds an event the server emits.
func (e *Engine) systemEvent(id, name string, data map[string]any) json.RawMessage {
	return mustMarshal(map[string]any{
		"id":   id,
		"name": name,
		"ts":   e.now.UnixMilli(),
		"user": map[string]any{},
		"data": data,
	})
}

// emit ingests a system event caused by r.
func (e *Engine) emit(r *Run, raw json.RawMessage) {
	r.log(Entry{Kind: EntryEvent, Detail: eventName(raw) + " " + eventID(raw)})
	e.ingest(raw, r)
}

// withUser returns the event with "user": {} when it has none, as the
// server renders a run's event in system events.
func withUser(raw json.RawMessage) json.RawMessage {
	m := map[string]json.RawMessage{}
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	if _, ok := m["user"]; !ok {
		m["user"] = json.RawMessage("{}")
	}
	return mustMarshal(m)
}

// eventsWithoutEmptyUser returns the events with an empty "user" left
// out, as the server lists a run's events in system events.
func eventsWithoutEmptyUser(events []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(events))
	for i, raw := range events {
		m := map[string]json.RawMessage{}
		if json.Unmarshal(raw, &m) != nil {
			out[i] = raw
			continue
		}
		if u, ok := m["user"]; ok && (string(u) == "{}" || string(u) == "null") {
			delete(m, "user")
		}
		out[i] = mustMarshal(m)
	}
	return out
}

// normalizeEvent gives an event what the server adds on receipt: an ID
// (a ULID), a timestamp (the virtual time), empty data and user objects.
func (e *Engine) normalizeEvent(evt inngest.Event[any]) (json.RawMessage, string, error) {
	raw, err := json.Marshal(evt)
	if err != nil {
		return nil, "", err
	}
	return e.normalizeRaw(raw)
}

func (e *Engine) normalizeRaw(raw []byte) (json.RawMessage, string, error) {
	if msg := eventTooLarge(raw); msg != "" {
		return nil, "", errors.New(msg)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, "", fmt.Errorf("an event must be a JSON object: %w", err)
	}
	name, _ := m["name"].(string)
	if strings.TrimSpace(name) == "" {
		return nil, "", fmt.Errorf("the event has no name")
	}
	switch d := m["data"].(type) {
	case nil:
		m["data"] = map[string]any{}
	case map[string]any:
	default:
		return nil, "", fmt.Errorf("event %s: data must be a JSON object, got %T", name, d)
	}
	if _, ok := m["user"].(map[string]any); !ok {
		m["user"] = map[string]any{}
	}
	id, _ := m["id"].(string)
	if id == "" {
		id = e.ids.ulid(e.now)
		m["id"] = id
	}
	if ts, ok := m["ts"].(json.Number); !ok || ts.String() == "0" {
		m["ts"] = e.now.UnixMilli()
	}
	out, err := marshal(m)
	return out, id, err
}
