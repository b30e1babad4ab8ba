package inngesttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/gowebpki/jcs"
)

// callRequest is the body of a call as the server builds it. The server
// sends it in JCS canonical form (RFC 8785: keys sorted, no spaces), and
// so does the engine.
type callRequest struct {
	Ctx     callCtx                    `json:"ctx"`
	Defers  map[string]any             `json:"defers"`
	Event   json.RawMessage            `json:"event"`
	Events  []json.RawMessage          `json:"events"`
	Steps   map[string]json.RawMessage `json:"steps"`
	UseAPI  bool                       `json:"use_api"`
	Version int                        `json:"version"`
}

type callCtx struct {
	Attempt                   int       `json:"attempt"`
	DisableImmediateExecution bool      `json:"disable_immediate_execution"`
	Env                       string    `json:"env"`
	FnID                      string    `json:"fn_id"`
	GenerationID              int       `json:"generation_id"`
	JobID                     string    `json:"job_id"`
	MaxAttempts               int       `json:"max_attempts"`
	QueueItemID               string    `json:"qi_id"`
	RequestID                 string    `json:"request_id"`
	RunID                     string    `json:"run_id"`
	Stack                     callStack `json:"stack"`
	StepID                    string    `json:"step_id"`
	UseAPI                    bool      `json:"use_api"`
}

type callStack struct {
	Current int      `json:"current"`
	Stack   []string `json:"stack"`
}

// maxRequestBody is the size above which the server sends a call with
// use_api and leaves the SDK to load the run's state from its API.
const maxRequestBody = 4 << 20

// discovery is the stepId of a call that runs the function to find its
// next steps.
const discovery = "step"

// request builds the body of call it with a new request ID.
func (e *Engine) request(it *item, useAPI bool) ([]byte, error) {
	return buildRequest(it.run, it, e.ids.ulid(e.now), useAPI)
}

// buildRequest builds the body of call it. With useAPI the steps are
// left out and the SDK loads them from the API.
func buildRequest(r *Run, it *item, requestID string, useAPI bool) ([]byte, error) {
	steps := r.memo
	if useAPI {
		steps = map[string]json.RawMessage{}
	}
	req := callRequest{
		Ctx: callCtx{
			Attempt:                   it.attempt,
			DisableImmediateExecution: r.disableImmediate || len(r.mocks) > 0,
			Env:                       r.fn.app.env,
			FnID:                      r.fn.UUID,
			GenerationID:              it.generation(),
			JobID:                     it.jobID,
			MaxAttempts:               r.fn.maxAttempts(),
			QueueItemID:               queueItemID(it.jobID),
			RequestID:                 requestID,
			RunID:                     r.id,
			Stack:                     callStack{Current: len(r.stack), Stack: append([]string{}, r.stack...)},
			StepID:                    discovery,
			UseAPI:                    useAPI,
		},
		Defers:  map[string]any{},
		Event:   r.event,
		Events:  r.events,
		Steps:   steps,
		UseAPI:  useAPI,
		Version: r.version,
	}
	return canonical(req)
}

// callURL is the function's step URL, from the sync payload, with the
// call's stepId.
func callURL(stepURL, stepID string) (string, error) {
	u, err := url.Parse(stepURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("stepId", stepID)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// callHeader returns the headers of a call, without its signature.
func callHeader(r *Run, stepID, traceparent string) http.Header {
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Traceparent", traceparent)
	hdr.Set("User-Agent", "Inngest")
	hdr.Set(wire.HeaderReqVersion, strconv.Itoa(r.version))
	hdr.Set(wire.HeaderStepID, stepID)
	hdr.Set("X-Run-Id", r.id)
	return hdr
}

// canonical encodes v as JSON in JCS form.
func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b)
}

// response is the SDK's answer to a call.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // no answer at all
	// attempt is the call's attempt as sent, before any checkpoint
	// during the call reset it.
	attempt int
	// took is the call's virtual duration (WithCallDuration).
	took time.Duration
}

// call makes call it: it builds and signs the request, hands it to the
// app's handler and applies the answer. e.mu is held, and released while
// the handler runs.
func (e *Engine) call(it *item) {
	r := it.run
	if len(r.stack) >= inngest.MaxSteps {
		e.release(it)
		// The server checks the run's step count before each call.
		e.failTooManySteps(r)
		return
	}
	a := r.fn.app
	body, err := e.request(it, false)
	useAPI := false
	if err == nil && len(body) > maxRequestBody {
		body, err = e.request(it, true)
		useAPI = true
	}
	if err != nil {
		e.release(it)
		e.failRun(r, nil, engineError("building the call request: %v", err))
		return
	}
	target, err := callURL(r.fn.StepURL, it.stepID)
	if err != nil {
		e.release(it)
		e.failRun(r, nil, engineError("the function's step URL %q: %v", r.fn.StepURL, err))
		return
	}
	hdr := callHeader(r, it.stepID, "00-"+e.ids.hex(16)+"-"+e.ids.hex(8)+"-01")
	if e.signingKey != "" {
		// Signatures are checked against the real clock.
		sig, err := inngest.Sign(e.signingKey, time.Now(), body)
		if err != nil {
			e.release(it)
			e.failRun(r, nil, engineError("signing the call: %v", err))
			return
		}
		hdr.Set(wire.HeaderSignature, sig)
	}
	r.calls++
	detail := ""
	if useAPI {
		detail = "use_api"
	}
	prev, prevCall := e.current, e.calling
	e.current, e.calling = r, it
	it.checkpointed = 0
	attempt := it.attempt // a checkpoint during the call resets it.attempt
	var res response
	e.unlocked(func() { res = serve(a.handler, http.MethodPost, target, hdr, body) })
	e.current, e.calling = prev, prevCall
	res.attempt = attempt
	if it.checkpointed > 0 {
		if detail != "" {
			detail += "; "
		}
		if it.checkpointed == 1 {
			detail += "1 step checkpointed"
		} else {
			detail += fmt.Sprintf("%d steps checkpointed", it.checkpointed)
		}
	}
	if e.trace != nil {
		c := Call{Run: r, URL: target, Header: hdr, Body: body, Status: res.status, ResponseHeader: res.header, Response: res.body}
		e.unlocked(func() { e.trace(c) })
	}
	start := e.now
	step := stepRan(it, res)
	d := e.callDurationOf(r, step)
	res.took = d
	e.conc.spans = append(e.conc.spans, CallSpan{Run: r, Step: step, Start: start, End: start.Add(d)})
	if d == 0 {
		e.release(it)
		e.handleResponse(it, res, detail)
		return
	}
	// The answer comes back d later, and the call holds its slots until
	// then. The item is not the run's: it stays queued if the run ends
	// meanwhile, as the server's lease lasts until the request returns.
	e.push(&item{due: start.Add(d), kind: itemTimer, fn: func() {
		e.release(it)
		e.handleResponse(it, res, detail)
	}})
}

// serve hands one request to h.
func serve(h http.Handler, method, target string, hdr http.Header, body []byte) (res response) {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header = hdr
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			res = response{err: fmt.Errorf("the handler panicked: %v", p)}
		}
	}()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// engineError is a run error the engine itself raises.
func engineError(format string, args ...any) map[string]any {
	msg := "inngesttest: " + fmt.Sprintf(format, args...)
	return map[string]any{"name": "Error", "message": msg, "error": msg}
}
