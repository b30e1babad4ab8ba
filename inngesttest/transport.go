package inngesttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-inngest/inngest/internal/wire"
)

// transport is the http.RoundTripper of Engine.HTTPClient. It answers,
// in process, the requests an SDK client makes to Inngest:
//
//   - POST /e/{event key}: send events;
//   - POST /fn/register: sync an app (see Engine.Register);
//   - GET /v0/runs/{id}/batch and /v0/runs/{id}/actions: a run's events
//     and step state, for calls sent with use_api;
//   - POST /v1/checkpoint/{id}/async: save the steps a call finished
//     (ClientOpts.Checkpointing);
//   - POST /v1/signals: resume a run waiting for a signal
//     (Client.SendSignal).
//
// With a signing key (SigningKey), requests other than event sends must
// be authenticated with it, as Inngest Cloud's are.
type transport struct{ e *Engine }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	rec := httptest.NewRecorder()
	t.e.serveAPI(rec, req, body)
	res := rec.Result()
	res.Request = req
	return res, nil
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func apiJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(mustMarshal(v))
}

func (e *Engine) serveAPI(w http.ResponseWriter, req *http.Request, body []byte) {
	path := req.URL.Path
	if !strings.HasPrefix(path, "/e/") && path != "/fn/register" {
		// The register request is authorized by apiRegister, which
		// reports a refusal to Register.
		if err := e.authorize(req); err != nil {
			apiError(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	switch {
	case req.Method == http.MethodPost && strings.HasPrefix(path, "/e/"):
		e.apiSend(w, req, body)
	case req.Method == http.MethodPost && path == "/fn/register":
		e.apiRegister(w, req, body)
	case req.Method == http.MethodGet && strings.HasPrefix(path, "/v0/runs/"):
		e.apiRunState(w, strings.TrimPrefix(path, "/v0/runs/"))
	case req.Method == http.MethodPost && strings.HasPrefix(path, "/v1/checkpoint/") && strings.HasSuffix(path, "/async"):
		e.apiCheckpoint(w, strings.TrimSuffix(strings.TrimPrefix(path, "/v1/checkpoint/"), "/async"), body)
	case req.Method == http.MethodPost && path == "/v1/signals":
		e.apiSignal(w, body)
	default:
		apiError(w, http.StatusNotFound, "inngesttest: the engine does not emulate "+req.Method+" "+path)
	}
}

// apiSend ingests events as the event API does. A retried request (same
// X-Inngest-Event-Id-Seed) gets the same IDs and is not ingested twice.
func (e *Engine) apiSend(w http.ResponseWriter, req *http.Request, body []byte) {
	var events []json.RawMessage
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' {
		events = []json.RawMessage{b}
	} else if err := json.Unmarshal(b, &events); err != nil {
		apiError(w, http.StatusBadRequest, "the body is not a JSON event or array of events: "+err.Error())
		return
	}
	seed := req.Header.Get(wire.HeaderEventIDSeed)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ids, ok := e.sendSeeds[seed]; ok && seed != "" {
		apiJSON(w, map[string]any{"ids": ids, "status": 200})
		return
	}
	norm := make([]json.RawMessage, len(events))
	for i, raw := range events {
		if strings.HasPrefix(eventName(raw), "inngest/") {
			apiError(w, http.StatusBadRequest, "event name is reserved for internal use")
			return
		}
		n, _, err := e.normalizeRaw(raw)
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		norm[i] = n
	}
	ids := make([]string, len(norm))
	from := e.current
	for i, raw := range norm {
		ids[i], _ = e.ingest(raw, from)
		if from != nil {
			from.log(Entry{Kind: EntryEvent, Detail: "sent " + eventName(raw) + " " + ids[i]})
		}
	}
	if seed != "" {
		e.sendSeeds[seed] = ids
	}
	apiJSON(w, map[string]any{"ids": ids, "status": 200})
	// Events sent from a test (not from a function the engine is
	// calling) take effect at once, as with Engine.Send.
	e.driveLocked(e.now, nil)
}

// apiRunState answers GET /v0/runs/{id}/batch (the run's events) and
// /v0/runs/{id}/actions (its step state).
func (e *Engine) apiRunState(w http.ResponseWriter, rest string) {
	id, what, _ := strings.Cut(rest, "/")
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.runByID[id]
	if !ok {
		apiError(w, http.StatusBadRequest, "unknown run ID "+id)
		return
	}
	switch what {
	case "batch":
		apiJSON(w, r.events)
	case "actions":
		apiJSON(w, r.memo)
	default:
		apiError(w, http.StatusNotFound, "inngesttest: the engine does not emulate /v0/runs/{id}/"+what)
	}
}

// apiSignal resumes the run waiting for a signal, as POST /v1/signals
// does: 200 {"data":{"run_id":…}}, or 404 when no run waits for it.
func (e *Engine) apiSignal(w http.ResponseWriter, body []byte) {
	var in struct {
		Signal string          `json:"signal"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Signal == "" {
		apiError(w, http.StatusBadRequest, "Invalid signal data")
		return
	}
	if len(in.Data) == 0 {
		in.Data = json.RawMessage("null")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.signalWaiter(in.Signal)
	if p == nil {
		apiError(w, http.StatusNotFound, "No signal found")
		return
	}
	runID := p.run.id
	e.signal(in.Signal, in.Data)
	apiJSON(w, map[string]any{"data": map[string]string{"run_id": runID}})
	e.driveLocked(e.now, nil)
}
