package inngesttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// WithAIClient sets the HTTP client the engine makes step.Infer requests
// with, as the server makes them for the function. The default is
// http.DefaultClient; point the request's URL at an httptest.Server (and
// pass its Client), or mock the step.
func WithAIClient(c *http.Client) Option {
	return func(e *Engine) { e.ai = c }
}

// aiOpts is an AIGateway opcode's opts, as the server reads them.
type aiOpts struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	AuthKey string            `json:"auth_key"`
	Format  string            `json:"format"`
	Body    json.RawMessage   `json:"body"`
}

// redactAuthKey returns an AIGateway opcode's opts with the API key
// replaced, for the step's record: the server uses the key for the
// request and stores it nowhere.
func redactAuthKey(opts json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(opts, &m) != nil {
		return opts
	}
	if _, ok := m["auth_key"]; !ok {
		return opts
	}
	m["auth_key"] = json.RawMessage(`"[redacted]"`)
	return mustMarshal(m)
}

// startInfer starts the model request of a step.Infer step: the engine
// makes it as the server would, while the run is paused. it is the call
// that reported the step; a failed request retries that call, as the
// server retries its queue item.
func (e *Engine) startInfer(it *item, st *Step, op opcode) {
	r := it.run
	call := *it
	p := &pause{run: r, step: st, kind: KindAI, started: e.now, opts: op.Opts, call: &call}
	r.outstanding++
	r.pauses[st.Hash] = p
	var o aiOpts
	_ = json.Unmarshal(op.Opts, &o)
	r.log(Entry{Kind: EntryWait, Step: st.ID, Detail: "infer POST " + o.URL})
	e.push(&item{due: e.now, kind: itemFetch, run: r, pause: p})
}

// aiRequest builds the provider request of opts as the server does: a
// POST of the body as JSON, the API key where the format puts it, then
// the extra headers.
func aiRequest(o aiOpts) (*http.Request, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	switch o.Format {
	case "gemini":
		q := u.Query()
		q.Add("key", o.AuthKey)
		u.RawQuery = q.Encode()
	case "bedrock":
		hdr.Add("Authorization", o.AuthKey)
	case "anthropic":
		hdr.Add("X-Api-Key", o.AuthKey)
	default:
		hdr.Add("Authorization", "Bearer "+o.AuthKey)
	}
	for k, v := range o.Headers {
		hdr.Add(k, v)
	}
	hdr.Add("User-Agent", "Inngest")
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(o.Body))
	if err != nil {
		return nil, err
	}
	req.Header = hdr
	return req, nil
}

// doInfer makes a step.Infer request and resolves the step with the
// provider's answer: {"data": <answer>} for a status up to 299; for a
// failure, it retries the call that reported the step while attempts
// remain and then fails the step with an AIGatewayError whose data is
// the answer.
func (e *Engine) doInfer(p *pause) {
	var o aiOpts
	_ = json.Unmarshal(p.opts, &o)
	client := e.ai
	if client == nil {
		client = http.DefaultClient
	}
	var (
		status int
		body   []byte
		err    error
	)
	e.unlocked(func() {
		var req *http.Request
		if req, err = aiRequest(o); err != nil {
			return
		}
		var res *http.Response
		if res, err = client.Do(req); err != nil {
			return
		}
		defer res.Body.Close()
		status = res.StatusCode
		body, err = io.ReadAll(io.LimitReader(res.Body, 4<<20))
	})
	if p.resolved || p.run.done() {
		return
	}
	r, st := p.run, p.step
	if err == nil && status <= 299 {
		if json.Valid(body) {
			data := json.RawMessage(bytes.TrimSpace(body))
			e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"data": data}), data, nil, fmt.Sprintf("inferred: %d", status))
			return
		}
		err = fmt.Errorf("the provider's answer (status %d) is not JSON: %s", status, snippet(body))
	}
	var cause string
	switch {
	case err != nil:
		// The client's error names the URL, which carries the key for
		// the gemini format.
		text := err.Error()
		if o.AuthKey != "" {
			text = strings.ReplaceAll(text, o.AuthKey, "[redacted]")
		}
		cause = "error performing request: " + text
	default:
		cause = fmt.Sprintf("unsuccessful status code: %d", status)
	}
	msg := "Error making AI request: " + cause
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte(`{"error":"Error making AI request"}`)
	}
	data := json.RawMessage(bytes.TrimSpace(body))
	if !json.Valid(data) {
		data = mustMarshal(string(body))
	}
	if it := p.call; it.attempt+1 < r.fn.maxAttempts() {
		p.resolved = true
		delete(r.pauses, st.Hash)
		delay := backoff(it.attempt)
		r.log(Entry{Kind: EntryStepError, Step: st.ID, Attempt: it.attempt, Delay: delay, Detail: msg + "; retrying"})
		e.retry(it, delay, st.ID) // the pause's thread becomes the call's
		return
	}
	errJSON := mustMarshal(map[string]any{"name": "AIGatewayError", "message": msg, "data": data, "stack": string(body)})
	e.resolvePause(p, mustMarshal(map[string]json.RawMessage{"error": errJSON}), nil, stepError(st.ID, errJSON), "failed: "+msg)
}
