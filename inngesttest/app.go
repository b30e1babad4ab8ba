package inngesttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// appURL is the URL the engine "serves" every app at. Calls never leave
// the process: the engine hands each request to the app's handler.
const appURL = "http://inngesttest.invalid/api/inngest"

// app is a registered Client, as its last sync described it.
type app struct {
	id string
	// handler is the client's Serve(): the engine hands it the calls
	// to the step URLs the sync gave.
	handler http.Handler
	// env is the Inngest environment the SDK names in X-Inngest-Env.
	env string
	// sync is the last register request's body.
	sync []byte
	fns  []*fnDef
}

// fnDef is a function as the server knows it: read from the sync payload.
type fnDef struct {
	app  *app
	ID   string // "<app>-<fn>"
	Name string
	UUID string
	// Triggers, retries, cancellations and timeouts, as synced.
	Triggers      []triggerDef
	StepURL       string
	Retries       int
	Cancel        []cancelDef
	FinishTimeout time.Duration
	// Config is the function's entry in the sync payload.
	Config json.RawMessage
	// flow is its flow control.
	flow flowDef
}

type triggerDef struct {
	Event      string `json:"event"`
	Expression string `json:"expression"`
	Cron       string `json:"cron"`
	Jitter     string `json:"jitter"`
}

type cancelDef struct {
	Event   string `json:"event"`
	If      string `json:"if"`
	Timeout string `json:"timeout"`
}

// Server defaults for retries.
const (
	defaultRetries = 4
	maxRetries     = 20
)

// syncPayload is the part of the sync body the engine reads.
type syncPayload struct {
	AppName   string            `json:"appName"`
	URL       string            `json:"url"`
	Functions []json.RawMessage `json:"functions"`
}

type fnPayload struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Triggers []triggerDef `json:"triggers"`
	Steps    map[string]struct {
		Runtime struct {
			URL string `json:"url"`
		} `json:"runtime"`
		Retries *struct {
			Attempts int `json:"attempts"`
		} `json:"retries"`
	} `json:"steps"`
	Cancel   []cancelDef `json:"cancel"`
	Timeouts *struct {
		Finish string `json:"finish"`
	} `json:"timeouts"`
}

// parseSync reads the functions of a sync payload for app a, and refuses
// it, as the server would, when an expression does not pass the server's
// checks.
func parseSync(c *celEnv, a *app, body []byte) ([]*fnDef, error) {
	var p syncPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("reading the sync payload: %w", err)
	}
	if p.AppName != a.id {
		return nil, fmt.Errorf("the sync payload names app %q, expected %q", p.AppName, a.id)
	}
	fns := make([]*fnDef, 0, len(p.Functions))
	var invalid []error
	for _, raw := range p.Functions {
		var f fnPayload
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("reading a function of the sync payload: %w", err)
		}
		if err := c.checkExpressions(&f, raw); err != nil {
			invalid = append(invalid, err)
			continue
		}
		step, ok := f.Steps["step"]
		if !ok || step.Runtime.URL == "" {
			return nil, fmt.Errorf("function %q has no steps.step.runtime.url", f.ID)
		}
		d := &fnDef{
			app:      a,
			ID:       f.ID,
			Name:     f.Name,
			UUID:     functionUUID(a.id, f.ID),
			Triggers: f.Triggers,
			StepURL:  step.Runtime.URL,
			Retries:  defaultRetries,
			Cancel:   f.Cancel,
			Config:   raw,
		}
		// steps.step.retries.attempts holds the number of retries; the
		// server clamps it to 20.
		if step.Retries != nil {
			d.Retries = min(max(step.Retries.Attempts, 0), maxRetries)
		}
		if f.Timeouts != nil && f.Timeouts.Finish != "" {
			dur, err := parseDuration(f.Timeouts.Finish)
			if err != nil {
				return nil, fmt.Errorf("function %q: timeouts.finish: %w", f.ID, err)
			}
			d.FinishTimeout = dur
		}
		flow, err := parseFlow(raw)
		if err != nil {
			return nil, fmt.Errorf("function %q: %w", f.ID, err)
		}
		d.flow = flow
		fns = append(fns, d)
	}
	if len(invalid) > 0 {
		return nil, fmt.Errorf("the server would refuse the sync (\"At least one function is invalid\"):\n%w", errors.Join(invalid...))
	}
	return fns, nil
}

// maxAttempts is ctx.max_attempts: retries + 1.
func (f *fnDef) maxAttempts() int { return f.Retries + 1 }

// triggeredBy reports whether an event with this name and body starts
// the function.
func (f *fnDef) triggeredBy(c *celEnv, name string, raw json.RawMessage) (bool, error) {
	for _, t := range f.Triggers {
		if t.Event == "" || !eventNameMatches(t.Event, name) {
			continue
		}
		ok, err := c.match(t.Expression, raw, nil)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// eventNameMatches compares a trigger's event name with an event's, as
// the server does: an exact match, or a wildcard after a "/" or "."
// ("shop/*", "shop/order.*"), which matches every name that begins with
// the part before the "*". A "*" anywhere else is not a wildcard: "shop*"
// and "*" match only events named so.
func eventNameMatches(pattern, name string) bool {
	if pattern == name {
		return true
	}
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && (strings.HasSuffix(prefix, "/") || strings.HasSuffix(prefix, ".")) && strings.HasPrefix(name, prefix)
}

// cronEvent is the name of the event of a run a cron trigger starts.
const cronEvent = "inngest/scheduled.timer"

// startableBy reports why an event with this name and body would not
// start f, as the server sees it, or nil: none of f's event triggers
// matches it (by name, then expression), and it is not a cron function's
// timer.
func (f *fnDef) startableBy(c *celEnv, name string, raw json.RawMessage) error {
	hasCron := false
	var evalErrs []string
	for _, t := range f.Triggers {
		if t.Cron != "" {
			hasCron = true
		}
		if t.Event == "" || !eventNameMatches(t.Event, name) {
			continue
		}
		ok, err := c.match(t.Expression, raw, nil)
		if err != nil {
			evalErrs = append(evalErrs, err.Error())
			continue
		}
		if ok {
			return nil
		}
	}
	if hasCron && name == cronEvent {
		return nil
	}
	msg := fmt.Sprintf("event %q does not trigger %s, whose triggers are %s", name, f.ID, f.describeTriggers())
	if len(evalErrs) > 0 {
		msg += "; " + strings.Join(evalErrs, "; ")
		if strings.Contains(msg, "no such key") {
			msg += " (the engine cannot evaluate an expression over a field the event lacks, which the server reads as null: give the event the field)"
		}
	}
	return errors.New(msg)
}

// describeTriggers lists f's triggers as the function declares them.
func (f *fnDef) describeTriggers() string {
	parts := make([]string, 0, len(f.Triggers))
	for _, t := range f.Triggers {
		switch {
		case t.Cron != "":
			parts = append(parts, fmt.Sprintf("cron %q (its runs get an event named %s)", t.Cron, cronEvent))
		case t.Expression != "":
			parts = append(parts, fmt.Sprintf("event %q if %s", t.Event, t.Expression))
		default:
			parts = append(parts, fmt.Sprintf("event %q", t.Event))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
