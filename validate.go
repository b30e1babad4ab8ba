package inngest

import (
	"fmt"
	"strings"
	"time"
)

// validateOpts checks FunctionOpts and triggers against the limits the
// server enforces, so that a mistake surfaces at CreateFunction rather
// than as a failed sync. Errors name the field.
func validateOpts(o *FunctionOpts, trigs []Trigger) error {
	fail := func(field, format string, args ...any) error {
		id := o.ID
		return fmt.Errorf("inngest: CreateFunction %q: %s: %s", id, field, fmt.Sprintf(format, args...))
	}
	if o.ID == "" {
		return fail("FunctionOpts.ID", "an ID is required, for example FunctionOpts{ID: \"charge-invoice\"}")
	}
	if !appIDPattern.MatchString(o.ID) {
		return fail("FunctionOpts.ID", "must start with a letter or digit and hold only letters, digits, '-', '_' and '.'")
	}
	for i, m := range o.Middleware {
		if m == nil {
			return fail(fmt.Sprintf("FunctionOpts.Middleware[%d]", i), "is nil")
		}
	}
	if o.Retries != nil && (*o.Retries < 0 || *o.Retries > MaxRetries) {
		return fail("FunctionOpts.Retries", "must be from 0 to %d, got %d", MaxRetries, *o.Retries)
	}
	if len(trigs) == 0 {
		return fail("trigger", "a function needs at least one trigger: inngest.EventTrigger(\"app/event.name\", nil) or inngest.CronTrigger(\"0 * * * *\")")
	}
	if len(trigs) > maxTriggers {
		return fail("trigger", "at most %d triggers, got %d", maxTriggers, len(trigs))
	}
	for i, t := range trigs {
		field := fmt.Sprintf("trigger %d", i)
		switch {
		case t.Event != "" && t.Cron != "":
			return fail(field, "has both an event and a cron schedule; use one of them")
		case t.Event == "" && t.Cron == "":
			return fail(field, "needs an event name or a cron schedule")
		case t.Event != "":
			if strings.TrimSpace(t.Event) != t.Event {
				return fail(field, "event name %q has surrounding spaces", t.Event)
			}
			if t.Jitter != 0 {
				return fail(field, "Jitter applies to cron triggers only")
			}
		default:
			if t.Expression != "" {
				return fail(field, "Expression applies to event triggers only")
			}
			if err := checkCron(t.Cron); err != nil {
				return fail(field, "%v", err)
			}
			if t.Jitter != 0 && (t.Jitter < time.Second || t.Jitter > 5*time.Minute) {
				return fail(field, "Jitter must be from 1s to 5m, got %s", t.Jitter)
			}
		}
		// The server refuses a repeated trigger, and a repeated cron
		// schedule even with another jitter.
		for j, u := range trigs[:i] {
			if t.Event == u.Event && t.Expression == u.Expression && t.Cron == u.Cron {
				return fail(field, "repeats trigger %d", j)
			}
		}
	}
	if len(o.Concurrency) > maxConcurrency {
		return fail("FunctionOpts.Concurrency", "at most %d limits, got %d", maxConcurrency, len(o.Concurrency))
	}
	for i, c := range o.Concurrency {
		if c.Limit < 0 {
			return fail(fmt.Sprintf("FunctionOpts.Concurrency[%d].Limit", i), "must not be negative")
		}
		switch c.Scope {
		case "", ScopeFunction, ScopeEnv, ScopeAccount:
		default:
			return fail(fmt.Sprintf("FunctionOpts.Concurrency[%d].Scope", i), "must be %q, %q or %q, got %q", ScopeFunction, ScopeEnv, ScopeAccount, c.Scope)
		}
		if c.Scope != "" && c.Scope != ScopeFunction && c.Key == "" {
			return fail(fmt.Sprintf("FunctionOpts.Concurrency[%d].Key", i), "a %q scope needs a key", c.Scope)
		}
	}
	if t := o.Throttle; t != nil {
		if t.Limit < 1 {
			return fail("FunctionOpts.Throttle.Limit", "must be at least 1")
		}
		if t.Period < time.Second {
			return fail("FunctionOpts.Throttle.Period", "must be at least 1s, got %s", t.Period)
		}
		if t.Burst < 0 {
			return fail("FunctionOpts.Throttle.Burst", "must not be negative")
		}
	}
	if o.Idempotency != "" && o.RateLimit != nil {
		// The server implements idempotency as a rate limit of one run per
		// key per 24h and would silently drop the RateLimit.
		return fail("FunctionOpts.Idempotency", "cannot be combined with RateLimit: Inngest implements idempotency as a rate limit of 1 per 24h")
	}
	if r := o.RateLimit; r != nil {
		if r.Limit < 1 {
			return fail("FunctionOpts.RateLimit.Limit", "must be at least 1")
		}
		if r.Period < time.Second || r.Period > 24*time.Hour {
			return fail("FunctionOpts.RateLimit.Period", "must be from 1s to 24h, got %s", r.Period)
		}
	}
	if d := o.Debounce; d != nil {
		if d.Period < time.Second || d.Period > 7*24*time.Hour {
			return fail("FunctionOpts.Debounce.Period", "must be from 1s to 7 days, got %s", d.Period)
		}
		if d.Timeout < 0 {
			return fail("FunctionOpts.Debounce.Timeout", "must not be negative")
		}
	}
	if len(o.Cancel) > maxCancellations {
		return fail("FunctionOpts.Cancel", "at most %d cancellations, got %d", maxCancellations, len(o.Cancel))
	}
	for i, c := range o.Cancel {
		field := fmt.Sprintf("FunctionOpts.Cancel[%d]", i)
		if c.Event == "" {
			return fail(field+".Event", "an event name is required")
		}
		if c.If != "" && c.Match != "" {
			return fail(field, "set If or Match, not both")
		}
		if c.Timeout < 0 {
			return fail(field+".Timeout", "must not be negative")
		}
	}
	if t := o.Timeouts; t != nil {
		if t.Start < 0 || t.Finish < 0 {
			return fail("FunctionOpts.Timeouts", "durations must not be negative")
		}
		if t.Start == 0 && t.Finish == 0 {
			return fail("FunctionOpts.Timeouts", "set Start, Finish or both")
		}
	}
	if b := o.BatchEvents; b != nil {
		if b.MaxSize < 2 {
			return fail("FunctionOpts.BatchEvents.MaxSize", "must be at least 2 (a batch of one is no batch), got %d", b.MaxSize)
		}
		if b.Timeout < time.Second {
			return fail("FunctionOpts.BatchEvents.Timeout", "must be at least 1s, got %s", b.Timeout)
		}
		switch {
		case len(o.Cancel) > 0:
			return fail("FunctionOpts.BatchEvents", "cannot be combined with Cancel")
		case o.Debounce != nil:
			return fail("FunctionOpts.BatchEvents", "cannot be combined with Debounce")
		case o.Singleton != nil:
			return fail("FunctionOpts.BatchEvents", "cannot be combined with Singleton")
		case o.Priority != nil:
			return fail("FunctionOpts.BatchEvents", "cannot be combined with Priority")
		}
	}
	if p := o.Priority; p != nil && strings.TrimSpace(p.Run) == "" {
		return fail("FunctionOpts.Priority.Run", "an expression is required")
	}
	if s := o.Singleton; s != nil {
		switch s.Mode {
		case SingletonSkip, SingletonCancel:
		default:
			return fail("FunctionOpts.Singleton.Mode", "must be %q or %q, got %q", SingletonSkip, SingletonCancel, s.Mode)
		}
	}
	return nil
}

// checkCron checks the shape of a cron schedule: an optional "TZ=zone "
// prefix, then five fields. The server parses schedules without
// descriptors, so "@daily" and the like are refused here rather than at
// sync.
func checkCron(s string) error {
	spec := strings.TrimSpace(s)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.IndexByte(spec, ' ')
		if i < 0 {
			return fmt.Errorf("cron %q has a time zone but no schedule", s)
		}
		zone := spec[strings.IndexByte(spec, '=')+1 : i]
		if _, err := time.LoadLocation(zone); err != nil {
			return fmt.Errorf("cron %q: unknown time zone %q", s, zone)
		}
		spec = strings.TrimSpace(spec[i+1:])
	}
	if strings.HasPrefix(spec, "@") {
		return fmt.Errorf("cron %q: descriptors such as @daily are not supported by Inngest; write five fields, for example \"0 0 * * *\"", s)
	}
	if n := len(strings.Fields(spec)); n != 5 {
		return fmt.Errorf("cron %q has %d fields; a schedule has 5 (minute hour day-of-month month day-of-week)", s, n)
	}
	return nil
}
