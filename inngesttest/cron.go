package inngesttest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Cron triggers fire on the virtual clock. The schedule is read as the
// Inngest server reads it (pkg/execution/cron/cron.go: robfig/cron's
// parser with minute, hour, day of month, month and day of week; an
// optional TZ= or CRON_TZ= prefix names the time zone, UTC otherwise;
// the SDK refuses the descriptors such as @daily that the parser also
// reads). Each time falls due, the
// function gets the event the server's executor builds
// (pkg/execution/executor/service.go): named inngest/scheduled.timer,
// with the scheduled time (RFC 3339, UTC) as its ID and data.cron,
// data.scheduledAt and data.fireAt. A trigger's jitter moves fireAt, and
// the run, later by between 1 s and the jitter (DeterministicJitter in
// pkg/execution/cron/cron.go, seeded by the schedule's job ID; the
// engine's hash differs from the server's, so the delay is another one
// in the same range, the same for every run of the engine).

// cronSchedule is a parsed cron expression.
type cronSchedule struct {
	loc *time.Location
	// Bits of the allowed values of each field.
	minute, hour, dom, month, dow uint64
	// domStar and dowStar are set when the field is * or ?: then days
	// must match both fields, otherwise either.
	domStar, dowStar bool
}

type cronField struct {
	min, max int
	names    map[string]int
}

var (
	cronMinute = cronField{0, 59, nil}
	cronHour   = cronField{0, 23, nil}
	cronDom    = cronField{1, 31, nil}
	cronMonth  = cronField{1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	cronDow    = cronField{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

// parseCron parses a cron expression as the server's parser does.
func parseCron(spec string) (*cronSchedule, error) {
	s := &cronSchedule{loc: time.UTC}
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.IndexAny(spec, " \t")
		if i < 0 {
			return nil, fmt.Errorf("cron %q: a time zone without a schedule", spec)
		}
		name := spec[strings.Index(spec, "=")+1 : i]
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("cron %q: time zone %q: %w", spec, name, err)
		}
		s.loc = loc
		spec = strings.TrimSpace(spec[i:])
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", spec, len(fields))
	}
	var err error
	if s.minute, _, err = cronMinute.parse(fields[0]); err != nil {
		return nil, fmt.Errorf("cron %q: minute: %w", spec, err)
	}
	if s.hour, _, err = cronHour.parse(fields[1]); err != nil {
		return nil, fmt.Errorf("cron %q: hour: %w", spec, err)
	}
	if s.dom, s.domStar, err = cronDom.parse(fields[2]); err != nil {
		return nil, fmt.Errorf("cron %q: day of month: %w", spec, err)
	}
	if s.month, _, err = cronMonth.parse(fields[3]); err != nil {
		return nil, fmt.Errorf("cron %q: month: %w", spec, err)
	}
	if s.dow, s.dowStar, err = cronDow.parse(fields[4]); err != nil {
		return nil, fmt.Errorf("cron %q: day of week: %w", spec, err)
	}
	return s, nil
}

// parse reads a field: a list of *, ?, values, names and ranges, each
// with an optional /step. star reports whether the field began with *
// or ?.
func (f cronField) parse(s string) (bits uint64, star bool, err error) {
	for i, part := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		lo, hi := 0, 0
		switch rng {
		case "*", "?":
			lo, hi = f.min, f.max
			if i == 0 {
				star = true
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			if lo, err = f.value(a); err != nil {
				return 0, false, err
			}
			hi = lo
			if isRange {
				if hi, err = f.value(b); err != nil {
					return 0, false, err
				}
			} else if hasStep {
				hi = f.max // "5/15" means 5-max/15
			}
		}
		step := 1
		if hasStep {
			if step, err = strconv.Atoi(stepStr); err != nil || step <= 0 {
				return 0, false, fmt.Errorf("step %q is not a positive number", stepStr)
			}
			star = false
		}
		if lo > hi {
			return 0, false, fmt.Errorf("%q: the range's start is after its end", part)
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, star, nil
}

func (f cronField) value(s string) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, f.min, f.max)
	}
	return v, nil
}

// next returns the first time after t that the schedule fires, or the
// zero time when there is none within five years.
func (s *cronSchedule) next(t time.Time) time.Time {
	t = t.In(s.loc)
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, s.loc)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		var n time.Time
		switch {
		case s.month&(1<<uint(t.Month())) == 0:
			n = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, s.loc)
		case !s.dayMatches(t):
			n = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, s.loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			// In absolute time, so that a daylight saving change cannot
			// send the search back.
			n = t.Add(time.Duration(60-t.Minute()) * time.Minute)
		case s.minute&(1<<uint(t.Minute())) == 0:
			n = t.Add(time.Minute)
		default:
			return t.UTC()
		}
		if !n.After(t) {
			n = t.Add(time.Minute)
		}
		t = n.In(s.loc)
	}
	return time.Time{}
}

func (s *cronSchedule) dayMatches(t time.Time) bool {
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// scheduleCrons queues the next run of each cron trigger of f, from now.
func (e *Engine) scheduleCrons(f *fnDef) {
	for _, tr := range f.Triggers {
		if tr.Cron == "" {
			continue
		}
		sched, err := parseCron(tr.Cron)
		if err != nil {
			e.t.Errorf("inngesttest: function %s: %v", f.ID, err)
			continue
		}
		var jitter time.Duration
		if tr.Jitter != "" {
			if jitter, err = parseDuration(tr.Jitter); err != nil {
				e.t.Errorf("inngesttest: function %s: cron jitter %q: %v", f.ID, tr.Jitter, err)
				continue
			}
		}
		e.queueCron(f, tr.Cron, sched, jitter, e.now)
	}
}

// cronMinJitter is the least delay a jitter adds (MinCronJitter in the
// server's pkg/inngest/trigger.go).
const cronMinJitter = time.Second

// queueCron queues the schedule's first time after from.
func (e *Engine) queueCron(f *fnDef, expr string, sched *cronSchedule, jitter time.Duration, from time.Time) {
	at := sched.next(from)
	if at.IsZero() {
		return
	}
	fireAt := at
	if jitter > cronMinJitter {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s:%s:%d", f.ID, expr, at.UnixMilli())
		fireAt = at.Add(cronMinJitter + time.Duration(h.Sum64()%uint64(jitter-cronMinJitter)))
	} else if jitter > 0 {
		fireAt = at.Add(cronMinJitter)
	}
	it := &item{due: fireAt, kind: itemTimer, background: true}
	it.fn = func() {
		if e.fns[f.ID] != f {
			return // a new sync replaced the function, and its schedule
		}
		// The next time is queued first, as the server schedules the
		// next cron item before it runs this one.
		e.queueCron(f, expr, sched, jitter, at)
		raw := mustMarshal(map[string]any{
			"id":   at.UTC().Format(time.RFC3339),
			"name": cronEvent,
			"ts":   fireAt.UnixMilli(),
			"user": map[string]any{},
			"data": map[string]any{
				"cron":        expr,
				"scheduledAt": at.UTC().Format(time.RFC3339),
				"fireAt":      fireAt.UTC().Format(time.RFC3339),
			},
		})
		e.events = append(e.events, json.RawMessage(raw))
		e.schedule(f, raw, nil)
	}
	e.push(it)
}
