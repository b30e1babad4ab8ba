package inngesttest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// Concurrency limits, priority and the queue's order: which call the
// server's queue makes next when several wait for the same capacity.
//
// As the Inngest server does it: every queue item of a run (its start,
// each step, the call after a sleep or wait) needs a slot of each
// concurrency limit that applies to the run, and holds it while the SDK
// runs the call (pkg/execution/queue/constraints.go builds the
// constraints of a backlog's items; pkg/constraintapi/lua/acquire.lua
// leases a slot while the in-progress count is below the limit, and
// release.lua frees it when the item is done). A sleeping or waiting run
// has no item in progress and holds no slot. The limits are the
// function's own (scope fn, no key: PartitionConcurrency in
// pkg/inngest/concurrency.go) and up to two keyed ones, whose key
// expression is evaluated on the run's event when the run is scheduled
// (GetCustomConcurrencyKeys in pkg/execution/queue/item.go) and counted
// per scope: the function, the environment or the account. Work the
// limits hold back waits in the queue, and the queue takes it in the
// order of its score (QueueItem.Score, pkg/execution/queue/item.go): the
// run's start time less its priority factor for an item due within 2 s
// of being queued, else the item's due time.

// callDurationFunc is the virtual duration of a call.
type callDurationFunc func(fn, step string) time.Duration

// WithCallDuration makes each call to an app's handler take virtual time:
// f returns how long, given the function's full ID and the ID of the step
// whose body the call ran ("" for a call that ran no step body: one that
// returned, or reported sleeps, waits or planned steps). A call holds
// its concurrency slots for that long, and its answer is applied that
// much later on the virtual clock; meanwhile other runs' calls go on.
// Without this option, and whenever f returns 0 or less, a call takes
// no virtual time, and a concurrency limit never holds work back.
//
// The handler itself runs at once, in real time, whatever f returns.
func WithCallDuration(f func(fn, step string) time.Duration) Option {
	return func(e *Engine) { e.callDuration = f }
}

// concDef is one concurrency limit of a function, as synced.
type concDef struct {
	limit int
	key   string
	scope string // "fn", "env" or "account"
}

// concSlot is a limit as it applies to one run: the counter it takes a
// slot of, and the limit of this run's function on it.
type concSlot struct {
	id    string
	limit int
	desc  string
}

// concState is the engine's concurrency bookkeeping.
type concState struct {
	// inUse counts the slots taken, by counter.
	inUse map[string]int
	// waiting are the calls held back, in the order they were held.
	waiting []*item
	// admit is set when capacity may have come back: the waiting calls
	// are looked at once everything due at the current instant is done.
	admit bool
	// spans are the calls made, in order, for CallSpans.
	spans []CallSpan
	order uint64
}

// parseConcurrency reads a function's concurrency and priority.
func parseConcurrency(raw json.RawMessage, fd *flowDef) error {
	var p struct {
		Concurrency json.RawMessage `json:"concurrency"`
		Priority    *struct {
			Run string `json:"run"`
		} `json:"priority"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("reading concurrency: %w", err)
	}
	if p.Priority != nil {
		fd.priority = p.Priority.Run
	}
	if len(p.Concurrency) == 0 || string(p.Concurrency) == "null" {
		return nil
	}
	var limits []struct {
		Limit int    `json:"limit"`
		Key   string `json:"key"`
		Scope string `json:"scope"`
	}
	switch p.Concurrency[0] {
	case '[':
		if err := json.Unmarshal(p.Concurrency, &limits); err != nil {
			return fmt.Errorf("reading concurrency: %w", err)
		}
	case '{':
		var one struct {
			Limit int    `json:"limit"`
			Key   string `json:"key"`
			Scope string `json:"scope"`
		}
		if err := json.Unmarshal(p.Concurrency, &one); err != nil {
			return fmt.Errorf("reading concurrency: %w", err)
		}
		limits = append(limits, one)
	default:
		var n int
		if err := json.Unmarshal(p.Concurrency, &n); err != nil {
			return fmt.Errorf("reading concurrency: %w", err)
		}
		limits = append(limits, struct {
			Limit int    `json:"limit"`
			Key   string `json:"key"`
			Scope string `json:"scope"`
		}{Limit: n})
	}
	if len(limits) > 2 {
		return fmt.Errorf("concurrency: at most 2 limits, got %d", len(limits))
	}
	for i, l := range limits {
		scope := l.Scope
		if scope == "" {
			scope = "fn"
		}
		switch scope {
		case "fn", "env", "account":
		default:
			return fmt.Errorf("concurrency[%d].scope %q is not fn, env or account", i, l.Scope)
		}
		if scope != "fn" && l.Key == "" {
			return fmt.Errorf("concurrency[%d]: a %s scope needs a key", i, scope)
		}
		if l.Limit < 0 {
			return fmt.Errorf("concurrency[%d].limit %d is negative", i, l.Limit)
		}
		fd.concurrency = append(fd.concurrency, concDef{limit: l.Limit, key: l.Key, scope: scope})
	}
	return nil
}

// Bounds of a priority factor, in seconds (PriorityFactorMin and
// PriorityFactorMax in the server's pkg/consts).
const (
	priorityMin = -12 * 60 * 60
	priorityMax = 12 * 60 * 60
)

// scheduleConstraints evaluates r's priority factor and the keys of its
// concurrency limits on its event, as the server does when it schedules
// the run.
//
// Priority as RunPriorityFactor (pkg/inngest/function.go): the
// expression must give an integer (a double, such as a JSON number read
// from the event, does not count), clamped to ±12 hours; any other
// value, or an error, leaves the factor 0.
func (e *Engine) scheduleConstraints(r *Run) {
	f := r.fn
	if src := f.flow.priority; src != "" {
		v, _, err := e.keyValue(src, r.event)
		switch n := v.(type) {
		case int64:
			r.priority = min(max(n, priorityMin), priorityMax)
		default:
			if err == nil {
				err = fmt.Errorf("it gave %v (%T), not an integer", v, v)
			}
			e.t.Logf("inngesttest: function %s: its priority run %q is ignored for event %s: %v", f.ID, src, eventID(r.event), err)
		}
	}
	for _, c := range f.flow.concurrency {
		if c.limit == 0 {
			continue // no limit: the function's is the account's
		}
		if c.key == "" && c.scope == "fn" {
			r.conc = append(r.conc, concSlot{id: "fn\x00" + f.ID, limit: c.limit, desc: fmt.Sprintf("limit %d of the function", c.limit)})
			continue
		}
		// The server's key is the value as a string, or formatted with
		// %v; an expression that errs gives nil.
		v, _, err := e.keyValue(c.key, r.event)
		if err != nil {
			e.t.Logf("inngesttest: function %s: its concurrency key %q does not evaluate for event %s: %v", f.ID, c.key, eventID(r.event), err)
			v = nil
		}
		val, ok := v.(string)
		if !ok {
			val = fmt.Sprintf("%v", v)
		}
		entity := f.ID
		switch c.scope {
		case "env":
			entity = f.app.env
		case "account":
			entity = ""
		}
		r.conc = append(r.conc, concSlot{
			id:    c.scope + "\x00" + entity + "\x00" + c.key + "\x00" + val,
			limit: c.limit,
			desc:  fmt.Sprintf("limit %d for key %q (scope %s)", c.limit, val, c.scope),
		})
	}
}

// priorityDelay holds back a call of a run whose priority is negative:
// the queue scores the item the run's start less the factor, a time
// later than now, and does not take it before.
func (e *Engine) priorityDelay(it *item) bool {
	r := it.run
	if it.factor() >= 0 || !it.promotable() {
		return false
	}
	visible := r.started.Add(time.Duration(-r.priority) * time.Second)
	if !visible.After(e.now) {
		return false
	}
	r.log(Entry{Kind: EntryPriority, Step: r.stepLabel(it.stepID), Delay: visible.Sub(e.now),
		Detail: fmt.Sprintf("priority %d s: the queue takes the call %s after the run's start", r.priority, time.Duration(-r.priority)*time.Second)})
	it.due = visible
	e.push(it)
	return true
}

// promotable reports whether the queue scores the call by its run's
// start: an item due within 2 s of being queued (FutureAtLimit in the
// server's pkg/consts, RequiresPromotionJob in
// pkg/execution/queue/item.go).
func (it *item) promotable() bool { return !it.due.After(it.enqueued.Add(2 * time.Second)) }

// factor is the call's priority factor in seconds: its run's, except
// for the call after a sleep, whose item (KindSleep) has none
// (Item.GetPriorityFactor, pkg/execution/queue/item.go, counts it for
// KindStart, KindEdge and KindEdgeError only).
func (it *item) factor() int64 {
	if it.sleep {
		return 0
	}
	return it.run.priority
}

// score is the call's place in the queue, in Unix milliseconds.
func (it *item) score() int64 {
	if it.promotable() {
		return it.run.started.UnixMilli() - it.factor()*1000
	}
	return it.due.UnixMilli()
}

// constrained reports whether the call needs capacity before it is made:
// its run has concurrency limits, or its start waits for a throttle.
func (it *item) constrained() bool {
	return len(it.run.conc) > 0 || it.run.throttleKey != "" && it.run.calls == 0
}

// hold queues a constrained call until the queue takes it.
func (e *Engine) hold(it *item) {
	it.heldAt, it.waitedOn = e.now, ""
	e.conc.waiting = append(e.conc.waiting, it)
	e.conc.admit = true
}

// admitWaiting makes the held calls that have capacity now, best score
// first.
func (e *Engine) admitWaiting() {
	for {
		var best *item
		for _, w := range e.conc.waiting {
			if w.run.done() {
				continue
			}
			if best != nil && (w.score() > best.score() || w.score() == best.score() && w.order > best.order) {
				continue
			}
			if e.capacity(w, false) {
				best = w
			}
		}
		e.conc.waiting = slices.DeleteFunc(e.conc.waiting, func(w *item) bool { return w.run.done() || w == best })
		if best == nil {
			break
		}
		e.capacity(best, true)
		e.take(best)
		e.call(best)
	}
	e.noteBlocked()
}

// capacity reports whether call it may be made now. With commit, it
// takes the throttle's capacity and logs why the call waited.
func (e *Engine) capacity(it *item, commit bool) bool {
	r := it.run
	for _, s := range r.conc {
		if e.conc.inUse[s.id] >= s.limit {
			return false
		}
	}
	if r.throttleKey != "" && r.calls == 0 && !e.throttleAdmits(it, commit) {
		return false
	}
	if commit && it.heldAt.Before(e.now) && len(r.conc) > 0 && it.waitedOn != "" {
		r.log(Entry{Kind: EntryConcurrency, Step: r.stepLabel(it.stepID), Delay: e.now.Sub(it.heldAt), Detail: "queued behind concurrency " + it.waitedOn})
	}
	return true
}

// take gives call it a slot of each of its run's limits.
func (e *Engine) take(it *item) {
	if e.conc.inUse == nil {
		e.conc.inUse = map[string]int{}
	}
	for _, s := range it.run.conc {
		e.conc.inUse[s.id]++
		it.slots = append(it.slots, s.id)
	}
}

// release gives back the slots call it holds.
func (e *Engine) release(it *item) {
	for _, id := range it.slots {
		e.conc.inUse[id]--
	}
	if len(it.slots) > 0 {
		e.conc.admit = true
	}
	it.slots = nil
}

// noteBlocked records, for the timeline, which limit a held call waits
// behind first.
func (e *Engine) noteBlocked() {
	for _, w := range e.conc.waiting {
		if w.waitedOn != "" || w.run.done() {
			continue
		}
		var full []string
		for _, s := range w.run.conc {
			if e.conc.inUse[s.id] >= s.limit {
				full = append(full, s.desc)
			}
		}
		w.waitedOn = strings.Join(full, " and ")
	}
}

// stepRan is the ID of the step whose body call it ran: the step it
// targeted, or the one a discovery call ran at once; "" for none.
func stepRan(it *item, res response) string {
	r := it.run
	if it.stepID != discovery {
		return r.stepLabel(it.stepID)
	}
	if res.status != http.StatusPartialContent {
		return ""
	}
	ops, err := parseOps(res.body)
	if err != nil {
		return ""
	}
	for _, op := range ops {
		switch op.Op {
		case wire.OpStepRun, "Step", wire.OpStepError, wire.OpStepFailed:
			return firstNonEmpty(op.Name, op.DisplayName, op.ID)
		}
	}
	return ""
}

// callDurationOf is how long a call of r that ran step takes on the
// virtual clock.
func (e *Engine) callDurationOf(r *Run, step string) time.Duration {
	if e.callDuration == nil {
		return 0
	}
	var d time.Duration
	e.unlocked(func() { d = e.callDuration(r.fn.ID, step) })
	return max(d, 0)
}

// CallSpan is one call the engine made to an app's handler, on the
// virtual clock.
type CallSpan struct {
	// Run is the run the call was made for.
	Run *Run
	// Step is the ID of the step whose body the call ran, or of the step
	// it targeted; "" for a call that ran none.
	Step string
	// Start and End are when the call was made and when its answer was
	// applied: the same instant unless WithCallDuration gives calls a
	// duration.
	Start, End time.Time
}

// String formats the span as one line.
func (s CallSpan) String() string {
	step := s.Step
	if step == "" {
		step = "(no step)"
	}
	return fmt.Sprintf("%s-%s run %s %s", s.Start.Format("15:04:05.000"), s.End.Format("15:04:05.000"), s.Run.id, step)
}

// CallSpans returns the calls the engine made for fn's runs, in the
// order they were made.
func (e *Engine) CallSpans(fn Function) []CallSpan {
	id := e.fullID(fn)
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []CallSpan
	for _, s := range e.conc.spans {
		if s.Run.fn.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// MaxConcurrent returns the most spans in progress at once, given the
// spans in the order the calls were made (as CallSpans returns them): a
// call overlaps those made before it that had not ended when it started.
// A call that ends at an instant ends before one that starts then, and a
// call of no duration overlaps only the calls in progress when it is
// made.
func MaxConcurrent(spans []CallSpan) int {
	most := 0
	for i, s := range spans {
		n := 1
		for _, o := range spans[:i] {
			if !o.Start.After(s.Start) && s.Start.Before(o.End) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// RequireMaxConcurrent requires the most calls of fn in progress at once
// to be exactly k: no more, as a concurrency limit of k demands, and no
// fewer, so that a limit that held back more than it should fails too.
// Give calls a duration with WithCallDuration, or none ever overlap.
func (e *Engine) RequireMaxConcurrent(t testing.TB, fn Function, k int) {
	t.Helper()
	spans := e.CallSpans(fn)
	if got := MaxConcurrent(spans); got != k {
		var b strings.Builder
		for _, s := range spans {
			b.WriteString("\n  ")
			b.WriteString(s.String())
		}
		t.Fatalf("inngesttest: %s: want at most %d call(s) in progress at once, and that many at some point; got at most %d; calls:%s", e.fullID(fn), k, got, b.String())
	}
}

// throttleKeyOf evaluates a run's throttle key, as the server does when
// it schedules the run (GetThrottleConfig, pkg/execution/queue/item.go).
func (e *Engine) throttleKeyOf(r *Run, th *throttleDef) string {
	key := r.fn.ID
	if th.key != "" {
		if _, k, err := e.keyValue(th.key, r.event); err == nil {
			key += "\x00" + k
		} else {
			// The server's key is then the value of a failed evaluation.
			e.t.Logf("inngesttest: function %s: its throttle key does not evaluate for event %s: %v", r.fn.ID, eventID(r.event), err)
			key += "\x00<invalid>"
		}
	}
	return key
}

// throttleAdmits reports whether the throttle of call it's run has
// capacity for the run's start now; with commit it takes it. Without
// capacity it arranges for the held calls to be looked at again when the
// throttle has some.
//
// As the Inngest server does it: the throttle applies to a run's start
// item only (pkg/execution/executor/executor.go sets the queue item's
// Throttle for queue.KindStart), keyed by the function or by the key
// expression's value (pkg/execution/queue/item.go, GetThrottleConfig),
// with a period in whole seconds; the queue leases the item when the
// GCRA of pkg/constraintapi/lua/acquire.lua and helper/gcra.lua, called
// with a burst of limit+burst-1, has capacity: limit+burst starts at
// once, then one every period/limit. Held-back starts go in the order of
// the queue's score: by creation, or by priority.
func (e *Engine) throttleAdmits(it *item, commit bool) bool {
	r := it.run
	th := r.fn.flow.throttle
	if th == nil {
		return true
	}
	if e.flow.throttleTAT == nil {
		e.flow.throttleTAT = map[string]float64{}
	}
	limit := max(th.limit, 1)
	emission := float64(th.period.Milliseconds()) / float64(limit)
	burst := float64(th.limit + th.burst - 1)
	now := float64(e.now.UnixMilli())
	tat, ok := e.flow.throttleTAT[r.throttleKey]
	if !ok {
		tat = now
	}
	// Capacity is floor((emission*(burst+1) - (tat-at)) / emission): the
	// start is admitted at the first instant at which it is positive.
	at := math.Max(now, tat-emission*burst)
	if at > now {
		due := time.UnixMilli(int64(math.Ceil(at))).UTC()
		if !it.throttleWake.Equal(due) {
			it.throttleWake = due
			e.push(&item{due: due, kind: itemTimer, fn: func() { e.conc.admit = true }})
		}
		return false
	}
	if commit {
		e.flow.throttleTAT[r.throttleKey] = math.Max(tat, now) + emission
		if it.heldAt.Before(e.now) {
			detail := "starts at " + e.now.Format(time.RFC3339Nano)
			if th.key != "" {
				detail = "key " + strings.TrimPrefix(r.throttleKey, r.fn.ID+"\x00") + ", " + detail
			}
			r.log(Entry{Kind: EntryThrottled, Delay: e.now.Sub(it.heldAt), Detail: detail})
		}
	}
	return true
}
