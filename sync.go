package inngest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-inngest/inngest/internal/wire"
)

// appURL is the URL Inngest calls the handler at: ServeOrigin, else the
// request's scheme (TLS or X-Forwarded-Proto) and Host; then ServePath,
// else the path the request came in on (see requestPath). The query is
// left out.
func (h *handler) appURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return h.withOverrides(scheme+"://"+r.Host, requestPath(r))
}

// requestPath returns the path, escaped, of the URL the request came in
// on. It is read from r.RequestURI, the request target as the client
// sent it, which the server sets for HTTP/1 and HTTP/2 and routers leave
// alone; r.URL.Path is what a router (http.StripPrefix, sub-routers) made
// of it. Without a RequestURI (a request built in process) it is
// r.URL's path.
func requestPath(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI != "*" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Opaque == "" {
			return u.EscapedPath()
		}
	}
	return r.URL.EscapedPath()
}

func (h *handler) withOverrides(origin, path string) string {
	if h.c.cfg.serveOrigin != "" {
		origin = h.c.cfg.serveOrigin
	}
	if h.c.cfg.servePath != "" {
		path = h.c.cfg.servePath
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return origin + path
}

// checkPath logs, at warn level, a request that came in on a path other
// than ServePath, the path the handler registers: Inngest will call
// ServePath, which may not reach the handler. Every such sync is logged,
// since it is the moment the URL is registered; of the other requests,
// the first.
func (h *handler) checkPath(r *http.Request) {
	want := h.c.cfg.servePath
	if want == "" {
		return
	}
	// The usual case, without parsing: the target is ServePath, then the
	// query or nothing.
	if u := r.RequestURI; strings.HasPrefix(u, want) && (len(u) == len(want) || u[len(want)] == '?') {
		return
	}
	got := requestPath(r)
	if got == want {
		return
	}
	if r.Method != http.MethodPut && h.pathWarned.Swap(true) {
		return
	}
	h.c.cfg.logger.WarnContext(r.Context(), "inngest: a request reached the handler on "+got+", but the handler registers the path "+want+
		" (ClientOpts.ServePath or INNGEST_SERVE_PATH), where Inngest will call it; check that this path reaches the handler, "+
		"unless a proxy in front of the app rewrites it",
		"method", r.Method, "path", got, "serve_path", want)
}

// unsignedSyncOK reports whether, in cloud mode, a sync request without
// a signature is accepted: only when the origin registered cannot come
// from the request, and neither can the path unless AllowUnsignedSync
// says it may.
func (c *config) unsignedSyncOK() bool {
	return c.serveOrigin != "" && (c.servePath != "" || c.allowUnsignedSync)
}

// unsignedSyncRefusal is the 401 message for an unsigned sync request
// that is not accepted: it says how to make one work.
func (c *config) unsignedSyncRefusal() string {
	msg := "inngest: the sync request has no " + wire.HeaderSignature + " header; in cloud mode an unsigned sync, such as curl -X PUT, " +
		"is accepted only when the handler's public URL is configured: "
	if c.serveOrigin == "" {
		return msg + "set INNGEST_SERVE_ORIGIN and INNGEST_SERVE_PATH (ClientOpts.ServeOrigin and ServePath), " +
			"for example to https://app.example.com and /api/inngest"
	}
	return msg + "INNGEST_SERVE_ORIGIN is set; set INNGEST_SERVE_PATH (ClientOpts.ServePath) too, " +
		"or INNGEST_ALLOW_UNSIGNED_SYNC=true (ClientOpts.AllowUnsignedSync) to register the path the request came in on"
}

type syncReply struct {
	Message  string `json:"message"`
	Modified bool   `json:"modified"`
}

func (h *handler) sync(w http.ResponseWriter, r *http.Request) {
	cfg := &h.c.cfg
	verified := true // in dev mode nothing is required
	var body []byte
	if !cfg.dev && r.Header.Get(wire.HeaderSignature) == "" && cfg.unsignedSyncOK() {
		// An unsigned sync of a handler whose public URL is
		// configured: it registers that URL, out of band.
		b, ok := h.readBody(w, r)
		if !ok {
			return
		}
		body, verified = b, false
	} else {
		b, _, ok := h.readSigned(w, r, true, func(err error) {
			if errors.Is(err, ErrSignatureMissing) {
				msg := cfg.unsignedSyncRefusal()
				cfg.logger.WarnContext(r.Context(), "inngest: rejected an unsigned sync request", "reason", msg)
				writeJSON(w, http.StatusUnauthorized, syncReply{Message: msg})
				return
			}
			cfg.logger.WarnContext(r.Context(), "inngest: rejected a sync request", "reason", err)
			writeJSON(w, http.StatusUnauthorized, syncReply{Message: err.Error()})
		})
		if !ok {
			return
		}
		body = b
	}
	if kind := r.Header.Get(wire.HeaderServerKind); cfg.dev && kind != "" && kind != "dev" {
		cfg.logger.WarnContext(r.Context(), "inngest: dev mode, but the sync request came from a server of kind "+kind)
	}
	if verified && strings.EqualFold(r.Header.Get(wire.HeaderSyncKind), wire.SyncInBand) && cfg.allowInBandSync {
		h.syncInBand(w, r, body)
		return
	}
	appURL := h.appURL(r)
	if !verified {
		// Neither the request's Host nor its scheme: the origin is
		// ServeOrigin, and the path ServePath or, with
		// AllowUnsignedSync, the path the request came in on.
		appURL = h.withOverrides(cfg.serveOrigin, requestPath(r))
	}
	w.Header().Set(wire.HeaderSyncKind, wire.SyncOutOfBand)
	modified, err := h.c.syncApp(r.Context(), appURL, r.URL.Query().Get("deployId"), r.Header.Get(wire.HeaderServerKind))
	if err != nil {
		h.c.cfg.logger.ErrorContext(r.Context(), "inngest: sync failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, syncReply{Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, syncReply{Message: "Successfully synced.", Modified: modified})
}

type inBandReply struct {
	AppID        string            `json:"app_id"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Capabilities map[string]string `json:"capabilities"`
	Env          *string           `json:"env"`
	Framework    string            `json:"framework"`
	Functions    []fnConfig        `json:"functions"`
	Inspection   introspection     `json:"inspection"`
	Platform     *string           `json:"platform"`
	SDKAuthor    string            `json:"sdk_author"`
	SDKLanguage  string            `json:"sdk_language"`
	SDKVersion   string            `json:"sdk_version"`
	URL          string            `json:"url"`
}

// syncInBand answers a verified in-band sync request with the app's
// configuration in the response body.
func (h *handler) syncInBand(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.URL == "" {
		writeError(w, http.StatusBadRequest, "an in-band sync request needs a JSON body with the app's \"url\"")
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || u.Host == "" {
		writeError(w, http.StatusBadRequest, "the in-band sync \"url\" is not a URL")
		return
	}
	appURL := h.withOverrides(u.Scheme+"://"+u.Host, u.Path)
	reg := h.c.registerBody(appURL)
	cfg := &h.c.cfg
	// Only a verified request (cloud mode) learns the authenticated
	// details: the signing key hash is a credential for the API.
	var authOK *bool
	var details *authIntrospection
	if !cfg.dev {
		t := true
		authOK, details = &t, cfg.authDetails()
	}
	reply := inBandReply{
		AppID:        cfg.appID,
		AppVersion:   cfg.appVersion,
		Capabilities: reg.Capabilities,
		Env:          optional(cfg.env),
		Framework:    framework,
		Functions:    reg.Functions,
		Inspection: introspection{
			AuthenticationSucceeded: authOK,
			FunctionCount:           len(reg.Functions),
			HasEventKey:             cfg.hasEventKey(),
			HasSigningKey:           cfg.signingKey != "",
			HasSigningKeyFallback:   cfg.signingKeyFallback != "",
			Mode:                    h.c.Mode().String(),
			SchemaVersion:           schemaVersion,
			authIntrospection:       details,
		},
		Platform:    optional(cfg.platform),
		SDKAuthor:   SDKName,
		SDKLanguage: "go",
		SDKVersion:  Version,
		URL:         appURL,
	}
	w.Header().Set(wire.HeaderSyncKind, wire.SyncInBand)
	writeJSON(w, http.StatusOK, reply)
}
