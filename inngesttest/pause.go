package inngesttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
)

// A pause is a step the server carries out while the function is not
// running: a sleep, a wait for an event or signal, an invoke, a fetch.
// Each holds one of the run's threads until it resolves.
type pause struct {
	run     *Run
	step    *Step
	kind    StepKind
	started time.Time
	until   time.Time
	timer   *item

	event, expr string // waits
	signal      string // signal waits
	invoked     *Run   // invokes
	call        *item  // AI requests: the call that reported it, retried when the request fails
	opts        json.RawMessage

	resolved bool
}

// Defaults the server applies.
const (
	defaultInvokeTimeout = 365 * 24 * time.Hour
	maxPause             = 366 * 24 * time.Hour
)

// startPause starts the pause an opcode asks for.
func (e *Engine) startPause(r *Run, st *Step, op opcode) {
	p := &pause{run: r, step: st, kind: st.Kind, started: e.now, opts: op.Opts}
	var err error
	switch op.Op {
	case wire.OpSleep:
		var o struct {
			Duration string `json:"duration"`
		}
		_ = json.Unmarshal(op.Opts, &o)
		if o.Duration == "" {
			o.Duration = op.Name // the legacy form
		}
		p.until, err = parseUntil(o.Duration, e.now)
	case wire.OpWaitForEvent:
		var o struct {
			Event   string `json:"event"`
			Timeout string `json:"timeout"`
			If      string `json:"if"`
		}
		_ = json.Unmarshal(op.Opts, &o)
		p.event, p.expr = o.Event, o.If
		p.until = e.now // an empty timeout expires at once
		if o.Timeout != "" {
			p.until, err = parseUntil(o.Timeout, e.now)
		}
		if err == nil && p.event == "" {
			err = fmt.Errorf("opts.event is empty")
		}
		if err == nil && p.expr != "" && !e.checkWaitExpr(r, st, p.expr) {
			return
		}
	case wire.OpWaitForSignal:
		var o struct {
			Signal   string `json:"signal"`
			Timeout  string `json:"timeout"`
			Conflict string `json:"conflict"`
		}
		_ = json.Unmarshal(op.Opts, &o)
		p.signal = o.Signal
		p.until = e.now
		if o.Timeout != "" {
			p.until, err = parseUntil(o.Timeout, e.now)
		}
		if err == nil {
			if other := e.signalWaiter(o.Signal); other != nil {
				if o.Conflict != "replace" {
					msg := fmt.Sprintf("run %s is already waiting for signal %q", other.run.id, o.Signal)
					errJSON := mustMarshal(map[string]string{"name": "Error", "message": msg})
					e.resolveStep(r, st, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(st.ID, errJSON),
						Entry{Kind: EntryStep, Step: st.ID, Detail: "failed: " + msg})
					return
				}
				other.signal = "" // the older wait will time out
			}
		}
	case wire.OpInvokeFunction:
		var o struct {
			FunctionID string `json:"function_id"`
			Payload    struct {
				Data json.RawMessage `json:"data"`
				User json.RawMessage `json:"user"`
				V    string          `json:"v"`
			} `json:"payload"`
			Timeout string `json:"timeout"`
		}
		_ = json.Unmarshal(op.Opts, &o)
		p.until = e.now.Add(defaultInvokeTimeout)
		if o.Timeout != "" {
			p.until, err = parseUntil(o.Timeout, e.now)
		}
		if err == nil {
			target := e.fns[o.FunctionID]
			if target == nil {
				msg := fmt.Sprintf("could not find function %q to invoke", o.FunctionID)
				errJSON := mustMarshal(map[string]string{"name": "Error", "message": msg})
				e.resolveStep(r, st, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(st.ID, errJSON),
					Entry{Kind: EntryStep, Step: st.ID, Detail: "failed: " + msg})
				return
			}
			p.invoked = e.startInvoked(target, r, st, o.Payload.Data, o.Payload.User, o.Payload.V, p.until)
			p.invoked.invokedBy = p
		}
	case wire.OpGateway:
		r.outstanding++
		r.pauses[st.Hash] = p
		r.log(Entry{Kind: EntryWait, Step: st.ID, Detail: "fetch " + fetchTarget(op.Opts)})
		e.push(&item{due: e.now, kind: itemFetch, run: r, pause: p})
		return
	}
	if err != nil {
		e.failRun(r, nil, engineError("step %q: %s opts: %v", st.ID, op.Op, err))
		return
	}
	if p.until.Sub(e.now) > maxPause {
		p.until = e.now.Add(maxPause)
	}
	r.outstanding++
	r.pauses[st.Hash] = p
	p.timer = &item{due: p.until, kind: itemWake, run: r, pause: p}
	e.push(p.timer)

	delay := max(p.until.Sub(e.now), 0)
	pz := Pause{Run: r, StepID: st.ID, Kind: p.kind, Event: p.event, Signal: p.signal, Until: p.until}
	switch p.kind {
	case KindSleep:
		r.log(Entry{Kind: EntrySleep, Step: st.ID, Delay: delay})
	case KindWaitForEvent:
		detail := "for event " + p.event
		if p.expr != "" {
			detail += " if " + p.expr
		}
		r.log(Entry{Kind: EntryWait, Step: st.ID, Delay: delay, Detail: detail})
	case KindSignal:
		r.log(Entry{Kind: EntryWait, Step: st.ID, Delay: delay, Detail: "for signal " + p.signal})
	case KindInvoke:
		pz.Function = p.invoked.fn.ID
		r.log(Entry{Kind: EntryWait, Step: st.ID, Delay: delay, Detail: "for invoked " + p.invoked.fn.ID + " run " + p.invoked.id})
	}
	for _, h := range e.hooks {
		if h.stepID == "" || h.stepID == st.ID {
			f := h.fn
			e.deferred = append(e.deferred, func() { f(pz) })
		}
	}
}

// startInvoked starts the run an invoke step asks for, triggered by an
// inngest/function.invoked event that carries the payload and the
// correlation ID that ties it to the step.
func (e *Engine) startInvoked(target *fnDef, parent *Run, st *Step, data, user json.RawMessage, v string, expire time.Time) *Run {
	d := map[string]any{}
	_ = json.Unmarshal(data, &d)
	corr := parent.id + "." + st.Hash
	d["_inngest"] = map[string]any{
		"correlation_id": corr,
		"expire":         expire.UnixMilli(),
		"fn_id":          target.ID,
		"name":           st.ID,
		"source_fn_id":   parent.fn.UUID,
	}
	u := map[string]any{}
	_ = json.Unmarshal(user, &u)
	evt := map[string]any{"id": e.ids.ulid(e.now), "name": invokedEvent, "data": d, "user": u, "ts": e.now.UnixMilli()}
	if v != "" {
		evt["v"] = v
	}
	raw := mustMarshal(evt)
	e.events = append(e.events, raw)
	child := e.startRun(target, raw, parent)
	child.correlationID = corr
	return child
}

// wake handles the end of a pause's time: a sleep is over, a wait or
// invoke timed out.
func (e *Engine) wake(p *pause) {
	if p.resolved || p.run.done() {
		return
	}
	switch p.kind {
	case KindSleep:
		// The call that follows is the sleep's own queue item.
		p.run.afterSleep = true
		e.resolvePause(p, json.RawMessage("null"), json.RawMessage("null"), nil, "slept")
		p.run.afterSleep = false
	case KindWaitForEvent, KindSignal:
		p.step.TimedOut = true
		e.resolvePause(p, json.RawMessage("null"), json.RawMessage("null"), nil, "timed out")
	case KindInvoke:
		p.step.TimedOut = true
		const msg = "Timed out waiting for invoked function to complete"
		errJSON := mustMarshal(map[string]string{"name": "InngestInvokeTimeoutError", "message": msg, "error": msg})
		e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(p.step.ID, errJSON), "timed out")
	}
}

// resolvePause stores a pause's result and ends its thread.
func (e *Engine) resolvePause(p *pause, memo, result json.RawMessage, stepErr *inngest.StepError, detail string) {
	if p.resolved {
		return
	}
	p.resolved = true
	r := p.run
	delete(r.pauses, p.step.Hash)
	e.remove(p.timer)
	e.resolveStep(r, p.step, memo, result, stepErr,
		Entry{Kind: EntryResumed, Step: p.step.ID, Delay: e.now.Sub(p.started), Detail: detail})
	e.threadDone(r)
}

// signalWaiter returns the pause waiting for a signal, if any.
func (e *Engine) signalWaiter(signal string) *pause {
	for _, r := range e.runs {
		if r.done() {
			continue
		}
		for _, st := range r.steps {
			if p := r.pauses[st.Hash]; p != nil && p.kind == KindSignal && p.signal == signal {
				return p
			}
		}
	}
	return nil
}

// signal resumes the run waiting for a signal with {"data": {"signal",
// "data"}}.
func (e *Engine) signal(signal string, data json.RawMessage) bool {
	p := e.signalWaiter(signal)
	if p == nil {
		return false
	}
	result := mustMarshal(map[string]json.RawMessage{"signal": mustMarshal(signal), "data": data})
	e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"data": result}), result, nil, "received signal "+signal)
	return true
}

func fetchTarget(opts json.RawMessage) string {
	var o struct {
		URL    string `json:"url"`
		Method string `json:"method"`
	}
	_ = json.Unmarshal(opts, &o)
	return strings.TrimSpace(firstNonEmpty(o.Method, "POST") + " " + o.URL)
}

// doFetch makes a step.Fetch (Gateway) request, as the server does for
// the function, and resolves the step with the response.
func (e *Engine) doFetch(it *item) {
	p := it.pause
	if p.resolved || p.run.done() {
		return
	}
	if p.kind == KindAI {
		e.doInfer(p)
		return
	}
	var o struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	_ = json.Unmarshal(p.opts, &o)
	var s string
	_ = json.Unmarshal(o.Body, &s)
	body := []byte(s)
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	client := e.fetch
	var (
		status  int
		headers http.Header
		resBody []byte
		err     error
	)
	e.unlocked(func() {
		var req *http.Request
		req, err = http.NewRequest(o.Method, o.URL, bytes.NewReader(body))
		if err != nil {
			return
		}
		for k, v := range o.Headers {
			req.Header.Set(k, v)
		}
		var res *http.Response
		if res, err = client.Do(req); err != nil {
			return
		}
		defer res.Body.Close()
		status, headers = res.StatusCode, res.Header
		resBody, err = io.ReadAll(io.LimitReader(res.Body, 4<<20))
	})
	if p.resolved || p.run.done() {
		return
	}
	if err != nil {
		errJSON := mustMarshal(map[string]string{"name": "Error", "message": err.Error()})
		e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(p.step.ID, errJSON), "fetch failed: "+err.Error())
		return
	}
	hs := map[string]string{}
	for k, v := range headers {
		hs[k] = strings.Join(v, ",")
	}
	result := mustMarshal(map[string]any{"body": string(resBody), "headers": hs, "status_code": status, "url": o.URL})
	e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"data": result}), result, nil, fmt.Sprintf("fetched: %d", status))
}

// checkWaitExpr checks a wait's expression as the server does when the
// wait opcode arrives: one that does not compile fails the run at once,
// without retries, with an InvalidExpression error; one that compiles but
// breaks the restrictive policy of cancel expressions is only logged, as
// the server logs it.
func (e *Engine) checkWaitExpr(r *Run, st *Step, expr string) bool {
	if err := e.cel.check(expr, checkCompile); err != nil {
		msg := fmt.Sprintf("step.WaitForEvent %q: its If expression %q %v", st.ID, expr, err)
		e.failRun(r, nil, map[string]any{"name": "InvalidExpression", "message": msg, "error": "InvalidExpression: " + msg})
		return false
	}
	if err := e.cel.check(expr, checkRestrictive); err != nil {
		e.t.Logf("inngesttest: run %s of %s: step.WaitForEvent %q: its If expression %q %v; the server accepts it but logs a warning", r.id, r.fn.ID, st.ID, expr, err)
	}
	return true
}
