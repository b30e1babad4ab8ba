package inngest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// registerRequest is the body of POST {api}/fn/register, and the core of
// an in-band sync response.
type registerRequest struct {
	URL          string            `json:"url"`
	V            string            `json:"v"`
	DeployType   string            `json:"deployType"`
	SDK          string            `json:"sdk"`
	Framework    string            `json:"framework"`
	AppName      string            `json:"appName"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Capabilities map[string]string `json:"capabilities"`
	Functions    []fnConfig        `json:"functions"`
}

type fnConfig struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Triggers    []triggerConfig       `json:"triggers"`
	Steps       map[string]stepConfig `json:"steps"`
	Idempotency string                `json:"idempotency,omitempty"`
	BatchEvents *batchConfig          `json:"batchEvents,omitempty"`
	Cancel      []cancelConfig        `json:"cancel,omitempty"`
	RateLimit   *rateLimitConfig      `json:"rateLimit,omitempty"`
	Throttle    *throttleConfig       `json:"throttle,omitempty"`
	Debounce    *debounceConfig       `json:"debounce,omitempty"`
	Priority    *priorityConfig       `json:"priority,omitempty"`
	Concurrency []Concurrency         `json:"concurrency,omitempty"`
	Singleton   *singletonConfig      `json:"singleton,omitempty"`
	Timeouts    *timeoutsConfig       `json:"timeouts,omitempty"`
}

type triggerConfig struct {
	Event      string `json:"event,omitempty"`
	Expression string `json:"expression,omitempty"`
	Cron       string `json:"cron,omitempty"`
	Jitter     string `json:"jitter,omitempty"`
}

type stepConfig struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Runtime stepRuntime  `json:"runtime"`
	Retries *stepRetries `json:"retries,omitempty"`
}

type stepRuntime struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type stepRetries struct {
	Attempts int `json:"attempts"`
}

type batchConfig struct {
	MaxSize int    `json:"maxSize"`
	Timeout string `json:"timeout"`
	Key     string `json:"key,omitempty"`
	If      string `json:"if,omitempty"`
}

type cancelConfig struct {
	Event   string `json:"event"`
	If      string `json:"if,omitempty"`
	Timeout string `json:"timeout,omitempty"`
}

type rateLimitConfig struct {
	Limit  int    `json:"limit"`
	Period string `json:"period"`
	Key    string `json:"key,omitempty"`
}

type throttleConfig struct {
	Limit  int    `json:"limit"`
	Period string `json:"period"`
	Burst  int    `json:"burst,omitempty"`
	Key    string `json:"key,omitempty"`
}

type debounceConfig struct {
	Period  string `json:"period"`
	Key     string `json:"key,omitempty"`
	Timeout string `json:"timeout,omitempty"`
}

type priorityConfig struct {
	Run string `json:"run"`
}

type singletonConfig struct {
	Key  string `json:"key,omitempty"`
	Mode string `json:"mode"`
}

type timeoutsConfig struct {
	Start  string `json:"start,omitempty"`
	Finish string `json:"finish,omitempty"`
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return wire.Duration(d, false)
}

// config returns the function's configuration as sent at sync, with its
// step URL built on appURL.
func (f *function) config(appURL string) fnConfig {
	q := url.Values{"fnId": {f.slug}, "stepId": {"step"}}
	stepURL := appURL + "?" + q.Encode()
	if strings.Contains(appURL, "?") {
		stepURL = appURL + "&" + q.Encode()
	}
	fc := fnConfig{
		ID:   f.slug,
		Name: f.name,
		Steps: map[string]stepConfig{"step": {
			ID: "step", Name: "step",
			Runtime: stepRuntime{Type: "http", URL: stepURL},
		}},
	}
	if f.retries != nil {
		s := fc.Steps["step"]
		s.Retries = &stepRetries{Attempts: *f.retries}
		fc.Steps["step"] = s
	}
	for _, t := range f.triggers {
		fc.Triggers = append(fc.Triggers, triggerConfig{Event: t.Event, Expression: t.Expression, Cron: t.Cron, Jitter: dur(t.Jitter)})
	}
	o := f.opts
	if o == nil {
		return fc
	}
	fc.Idempotency = o.Idempotency
	if b := o.BatchEvents; b != nil {
		fc.BatchEvents = &batchConfig{MaxSize: b.MaxSize, Timeout: dur(b.Timeout), Key: b.Key, If: b.If}
	}
	for _, c := range o.Cancel {
		expr := c.If
		if c.Match != "" {
			expr = matchExpr(c.Match)
		}
		fc.Cancel = append(fc.Cancel, cancelConfig{Event: c.Event, If: expr, Timeout: dur(c.Timeout)})
	}
	if r := o.RateLimit; r != nil {
		fc.RateLimit = &rateLimitConfig{Limit: r.Limit, Period: dur(r.Period), Key: r.Key}
	}
	if t := o.Throttle; t != nil {
		fc.Throttle = &throttleConfig{Limit: t.Limit, Period: dur(t.Period), Burst: t.Burst, Key: t.Key}
	}
	if d := o.Debounce; d != nil {
		fc.Debounce = &debounceConfig{Period: dur(d.Period), Key: d.Key, Timeout: dur(d.Timeout)}
	}
	if p := o.Priority; p != nil {
		fc.Priority = &priorityConfig{Run: p.Run}
	}
	fc.Concurrency = o.Concurrency
	if s := o.Singleton; s != nil {
		fc.Singleton = &singletonConfig{Key: s.Key, Mode: string(s.Mode)}
	}
	if t := o.Timeouts; t != nil {
		fc.Timeouts = &timeoutsConfig{Start: dur(t.Start), Finish: dur(t.Finish)}
	}
	return fc
}

// matchExpr expands a Match shorthand such as "data.id" into
// "event.data.id == async.data.id".
func matchExpr(field string) string {
	field = strings.TrimPrefix(field, "event.")
	return "event." + field + " == async." + field
}

// registerBody builds the sync payload for the app served at appURL.
func (c *Client) registerBody(appURL string) registerRequest {
	fns := c.functions()
	cfgs := make([]fnConfig, len(fns))
	for i, f := range fns {
		cfgs[i] = f.config(appURL)
	}
	return registerRequest{
		URL:          appURL,
		V:            "0.1",
		DeployType:   "ping",
		SDK:          sdkHeader,
		Framework:    framework,
		AppName:      c.cfg.appID,
		AppVersion:   c.cfg.appVersion,
		Capabilities: c.cfg.capabilities(),
		Functions:    cfgs,
	}
}

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
	msg := "inngest: the sync request has no X-Inngest-Signature header; in cloud mode an unsigned sync, such as curl -X PUT, " +
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
	if !cfg.dev && r.Header.Get("X-Inngest-Signature") == "" && cfg.unsignedSyncOK() {
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
	if kind := r.Header.Get("X-Inngest-Server-Kind"); cfg.dev && kind != "" && kind != "dev" {
		cfg.logger.WarnContext(r.Context(), "inngest: dev mode, but the sync request came from a server of kind "+kind)
	}
	if verified && strings.EqualFold(r.Header.Get("X-Inngest-Sync-Kind"), "in_band") && cfg.allowInBandSync {
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
	w.Header().Set("X-Inngest-Sync-Kind", "out_of_band")
	modified, err := h.c.syncApp(r.Context(), appURL, r.URL.Query().Get("deployId"), r.Header.Get("X-Inngest-Server-Kind"))
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
	w.Header().Set("X-Inngest-Sync-Kind", "in_band")
	writeJSON(w, http.StatusOK, reply)
}

// syncApp posts the sync payload to {api}/fn/register and reports
// whether Inngest saw a change.
func (c *Client) syncApp(ctx context.Context, appURL, deployID, serverKind string) (bool, error) {
	reg := c.registerBody(appURL)
	body, err := marshalNoEscape(reg)
	if err != nil {
		return false, fmt.Errorf("inngest: encoding the sync payload: %w", err)
	}
	path := "/fn/register"
	if deployID != "" {
		path += "?" + url.Values{"deployId": {deployID}}.Encode()
	}
	hdr := http.Header{}
	hdr.Set("X-Inngest-Sync-Kind", "out_of_band")
	if serverKind != "" {
		hdr.Set("X-Inngest-Expected-Server-Kind", serverKind)
	}
	status, rb, err := c.apiDo(ctx, http.MethodPost, path, body, hdr)
	if err != nil {
		return false, err
	}
	var out struct {
		OK       bool   `json:"ok"`
		Modified bool   `json:"modified"`
		Error    string `json:"error"`
	}
	_ = json.Unmarshal(rb, &out)
	if status < 200 || status > 299 {
		return false, fmt.Errorf("inngest: sync: %s answered %d: %s%s", c.cfg.apiBase, status, errText(out.Error, rb), invalidHint(out.Error, reg.Functions))
	}
	return out.Modified, nil
}

// invalidHint lists the expressions to check when the server refused the
// sync with its bare "At least one function is invalid", which names
// neither the function nor the field.
func invalidHint(serverErr string, fns []fnConfig) string {
	if !strings.EqualFold(strings.TrimSpace(serverErr), "At least one function is invalid") {
		return ""
	}
	var parts []string
	for _, f := range fns {
		var fields []string
		add := func(field, expr string) {
			if expr != "" {
				fields = append(fields, fmt.Sprintf("%s %q", field, expr))
			}
		}
		for i, t := range f.Triggers {
			add(fmt.Sprintf("trigger %d Expression", i), t.Expression)
		}
		for i, x := range f.Cancel {
			add(fmt.Sprintf("Cancel[%d].If", i), x.If)
		}
		for i, x := range f.Concurrency {
			add(fmt.Sprintf("Concurrency[%d].Key", i), x.Key)
		}
		if x := f.Throttle; x != nil {
			add("Throttle.Key", x.Key)
		}
		if x := f.RateLimit; x != nil {
			add("RateLimit.Key", x.Key)
		}
		add("Idempotency", f.Idempotency)
		if x := f.Debounce; x != nil {
			add("Debounce.Key", x.Key)
		}
		if x := f.BatchEvents; x != nil {
			add("BatchEvents.Key", x.Key)
			add("BatchEvents.If", x.If)
		}
		if x := f.Priority; x != nil {
			add("Priority.Run", x.Run)
		}
		if x := f.Singleton; x != nil {
			add("Singleton.Key", x.Key)
		}
		if len(fields) > 0 {
			parts = append(parts, f.ID+": "+strings.Join(fields, ", "))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (the server does not say which; check these CEL expressions, or register the app with an inngesttest.Engine, " +
		"which names the invalid ones: " + strings.Join(parts, "; ") + ")"
}

// apiAttempts bounds the attempts of one request to the Inngest API.
const apiAttempts = 3

// apiDo makes a request to the Inngest API with the bearer token, trying
// the fallback key on 401 and 403. Network errors and 5xx answers are
// retried with backoff, honouring ctx; after the last attempt they are
// an error. Other answers are returned as they are.
func (c *Client) apiDo(ctx context.Context, method, path string, body []byte, extra http.Header) (int, []byte, error) {
	var lastErr error
	for attempt := 0; attempt < apiAttempts; attempt++ {
		if attempt > 0 {
			c.cfg.logger.DebugContext(ctx, "inngest: a request to the Inngest API failed; retrying", "method", method, "path", path, "attempt", attempt, "error", lastErr)
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				return 0, nil, fmt.Errorf("inngest: %s %s%s: %w (last error: %v)", method, c.cfg.apiBase, path, err, lastErr)
			}
		}
		status, rb, err := c.apiDoOnce(ctx, method, path, body, extra)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return 0, nil, err
			}
			lastErr = err
		case status >= 500:
			var e struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(rb, &e)
			lastErr = fmt.Errorf("inngest: %s %s%s answered %d: %s", method, c.cfg.apiBase, path, status, errText(e.Error, rb))
		default:
			return status, rb, nil
		}
	}
	return 0, nil, fmt.Errorf("%w (gave up after %d attempts)", lastErr, apiAttempts)
}

// apiDoOnce makes one attempt of apiDo.
func (c *Client) apiDoOnce(ctx context.Context, method, path string, body []byte, extra http.Header) (int, []byte, error) {
	tokens := []string{c.cfg.bearer}
	if c.cfg.bearerFB != "" {
		tokens = append(tokens, c.cfg.bearerFB)
	}
	var (
		status int
		rb     []byte
	)
	for i, tok := range tokens {
		req, err := http.NewRequestWithContext(ctx, method, c.cfg.apiBase+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, fmt.Errorf("inngest: %s %s: %w", method, path, err)
		}
		c.outboundHeaders(req.Header)
		for k, v := range extra {
			req.Header[k] = v
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.cfg.httpClient.Do(req)
		if err != nil {
			return 0, nil, fmt.Errorf("inngest: %s %s%s: %w", method, c.cfg.apiBase, path, c.devServerHint(err, c.cfg.apiBase))
		}
		rb, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return 0, nil, fmt.Errorf("inngest: %s %s%s: reading the response: %w", method, c.cfg.apiBase, path, err)
		}
		status = resp.StatusCode
		if (status == http.StatusUnauthorized || status == http.StatusForbidden) && i+1 < len(tokens) {
			c.cfg.logger.WarnContext(ctx, "inngest: the signing key was refused; trying the fallback key", "path", path, "status", status)
			continue
		}
		break
	}
	return status, rb, nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
