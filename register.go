package inngest

import (
	"context"
	"encoding/json"
	"fmt"
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
	hdr := http.Header{wire.HeaderSyncKind: {wire.SyncOutOfBand}}
	if serverKind != "" {
		hdr.Set(wire.HeaderExpectedServerKind, serverKind)
	}
	resp, err := c.cfg.api.Do(ctx, http.MethodPost, path, body, hdr)
	if err != nil {
		return false, err
	}
	var out struct {
		Modified bool   `json:"modified"`
		Error    string `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &out)
	if !resp.OK() {
		return false, fmt.Errorf("inngest: sync: %s answered %d: %s%s", c.cfg.apiBase, resp.Status, resp.Message(), invalidHint(out.Error, reg.Functions))
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
