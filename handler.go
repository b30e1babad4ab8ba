package inngest

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// Serve returns the http.Handler that Inngest calls. Mount it at one URL,
// such as /api/inngest. It answers
//
//   - PUT: sync, registering the app's functions with Inngest;
//   - POST: a call, running one step of a function;
//   - GET: introspection, a JSON summary of the configuration (with
//     details only for a correctly signed request).
//
// In cloud mode every POST must carry a valid signature, and so must a
// PUT unless the handler's public URL is configured (see
// ClientOpts.ServeOrigin). Functions created after Serve is called are
// served too.
//
// Serve on a nil Client (the usual sign of an unchecked error from
// NewClient) returns a handler that answers every request with a 500
// saying so.
func (c *Client) Serve() http.Handler {
	if err := c.check("Serve"); err != nil {
		slog.Default().Error(err.Error() + "; the handler answers every request with 500")
		return brokenHandler{msg: err.Error()}
	}
	return &handler{c: c, now: time.Now}
}

// brokenHandler is the handler of a Client that cannot serve.
type brokenHandler struct{ msg string }

func (b brokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()[wire.HeaderSDK] = []string{sdkHeader}
	writeError(w, http.StatusInternalServerError, b.msg)
}

type handler struct {
	c   *Client
	now func() time.Time
	// pathWarned is set once a request other than a sync has been logged
	// for arriving on a path other than ServePath.
	pathWarned atomic.Bool
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd[wire.HeaderSDK] = []string{sdkHeader}
	hd[wire.HeaderReqVersion] = []string{wire.ReqVersion}
	h.checkPath(r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.introspect(w, r)
	case http.MethodPut:
		h.sync(w, r)
	case http.MethodPost:
		q := r.URL.Query()
		if q.Get("probe") == "trust" {
			h.trust(w, r)
			return
		}
		h.call(w, r, q)
	default:
		hd.Set("Allow", "GET, POST, PUT")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; Inngest uses GET, POST and PUT")
	}
}

// readBody reads the request body up to the configured limit. On failure
// it writes the response (413 or 400) and returns false.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > h.c.cfg.maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds the limit of "+itoa(h.c.cfg.maxBody)+" bytes (ClientOpts.MaxBodySize)")
		return nil, false
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, h.c.cfg.maxBody), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds the limit of "+itoa(h.c.cfg.maxBody)+" bytes (ClientOpts.MaxBodySize)")
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// readSigned reads the body of a request that must be signed in cloud
// mode and verifies its signature; in dev mode it only reads the body.
// The header is checked before the body is read, so an unsigned,
// malformed or expired request costs next to nothing to refuse, whatever
// its body; a wrong signature costs one HMAC over the body per key, and
// with canonical (see signature.verify) at most one canonicalization of
// a small body. On a bad signature refuse writes the answer. ok reports
// whether the request may go on; when not, the answer has been written.
func (h *handler) readSigned(w http.ResponseWriter, r *http.Request, canonical bool, refuse func(error)) (body []byte, usedFallback, ok bool) {
	cfg := &h.c.cfg
	var sig signature
	if !cfg.dev {
		var err error
		sig, err = parseSignature(r.Header.Get(wire.HeaderSignature), h.now(), len(cfg.hmacKey) > 0 || len(cfg.hmacKeyFB) > 0)
		if err != nil {
			refuse(err)
			return nil, false, false
		}
	}
	if body, ok = h.readBody(w, r); !ok || cfg.dev {
		return body, false, ok
	}
	usedFallback, err := sig.verify(body, cfg.hmacKey, cfg.hmacKeyFB, canonical)
	if err != nil {
		refuse(err)
		return nil, false, false
	}
	return body, usedFallback, true
}

// refuse401 returns a refusal that logs and answers 401 {"error": …}.
func (h *handler) refuse401(w http.ResponseWriter, r *http.Request) func(error) {
	return func(err error) {
		h.c.cfg.logger.WarnContext(r.Context(), "inngest: rejected a request", "method", r.Method, "reason", err)
		writeError(w, http.StatusUnauthorized, err.Error())
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeJSON writes v as JSON with the status; HTML characters are not
// escaped.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalNoEscape(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the response: "+err.Error())
		return
	}
	writeRaw(w, status, b)
}

// writeOps writes ops as a 206 answer.
func writeOps(w http.ResponseWriter, ops []wire.Op) {
	n := 2
	for i := range ops {
		n += 160 + len(ops[i].ID) + 3*len(ops[i].Name) + len(ops[i].Data)
	}
	if b, ok := wire.AppendOps(make([]byte, 0, n), ops); ok {
		writeRaw(w, http.StatusPartialContent, b)
		return
	}
	writeJSON(w, http.StatusPartialContent, ops)
}

// marshalNoEscape returns the JSON of v without escaping HTML characters.
func marshalNoEscape(v any) ([]byte, error) { return wire.Marshal(v) }

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes {"error": msg} for a request the handler refused.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	writeRaw(w, status, b)
}

func itoa[N int | int64](n N) string { return strconv.FormatInt(int64(n), 10) }
