package inngesttest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest/internal/expr"
)

// Flow control: what the server decides between an event that triggers a
// function and the run it starts. Each option follows the Inngest
// server's source, named at each rule, on the virtual clock.

// SkipReason says why an event that triggered a function started no run.
type SkipReason string

// Skip reasons.
const (
	// SkippedRateLimited: the function's RateLimit had no capacity left
	// for the event's key.
	SkippedRateLimited SkipReason = "rate limited"
	// SkippedIdempotent: a run of the function already had the event's
	// idempotency key in the last 24 hours.
	SkippedIdempotent SkipReason = "idempotency key used"
	// SkippedDebounced: a later event of the same debounce key
	// superseded the event, or the event was older than the one the
	// debounce holds.
	SkippedDebounced SkipReason = "debounced"
	// SkippedSingleton: a Singleton in skip mode had a run of the
	// event's key in progress.
	SkippedSingleton SkipReason = "singleton run in progress"
)

// Timeline entry kinds of flow control.
const (
	// EntryDebounced is the first entry of a run started by a debounce
	// (Delay: how long the debounce waited since its first event;
	// Detail: how many events it received, the last of which the run
	// got).
	EntryDebounced EntryKind = "debounced"
	// EntryThrottled: the function's Throttle held the run's start
	// back (Delay: for how long; Detail: the throttle's key).
	EntryThrottled EntryKind = "throttled"
	// EntryBatched: the run started with a batch of events (Delay: how
	// long the batch was open; Detail: how many events and why it
	// started).
	EntryBatched EntryKind = "batched"
)

// Skip is an event that triggered a function but started no run.
type Skip struct {
	// Function is the function's full ID.
	Function string
	// Event is the event, as the engine received it.
	Event json.RawMessage
	// At is the virtual time the decision was made.
	At time.Time
	// Reason says why.
	Reason SkipReason
	// Detail says more: the rate limit's key and when it has capacity
	// again, or the event that superseded a debounced one.
	Detail string
}

// String formats the skip as one line.
func (s Skip) String() string {
	out := fmt.Sprintf("%s: event %s %s %s", s.At.Format(time.RFC3339Nano), eventName(s.Event), eventID(s.Event), s.Reason)
	if s.Detail != "" {
		out += " (" + s.Detail + ")"
	}
	return out
}

// flowDef is a function's flow control, as synced.
type flowDef struct {
	rateLimit *rateLimitDef
	debounce  *debounceDef
	throttle  *throttleDef
	singleton *singletonDef
	batch     *batchDef
	// startTimeout is the function's timeouts.start.
	startTimeout time.Duration
	// concurrency are the function's concurrency limits; priority is
	// its priority run expression.
	concurrency []concDef
	priority    string
}

type batchDef struct {
	maxSize int
	timeout time.Duration
	key     string
	cond    string
}

type batchState struct {
	events []json.RawMessage
	first  time.Time
	item   *item
}

type singletonDef struct {
	key    string
	cancel bool // mode "cancel"; else "skip"
}

type throttleDef struct {
	limit  int
	burst  int
	period time.Duration // whole seconds, as the server keeps it
	key    string
}

type rateLimitDef struct {
	limit  int
	period time.Duration
	key    string
	// idempotency is set for the rate limit an idempotency key becomes.
	idempotency bool
}

// idempotencyPeriod is how long an idempotency key keeps other events
// from starting runs (FunctionIdempotencyPeriod in the server's
// pkg/consts).
const idempotencyPeriod = 24 * time.Hour

type debounceDef struct {
	period  time.Duration
	key     string
	timeout time.Duration
}

// flowState is the engine's flow-control state, by function.
type flowState struct {
	skips []Skip
	// tat is each rate limit key's theoretical arrival time, in Unix
	// nanoseconds, as a float (the server's GCRA keeps it in a Lua
	// number).
	tat map[string]float64
	// throttleTAT is each throttle key's theoretical arrival time, in
	// Unix milliseconds.
	throttleTAT map[string]float64
	// debounces are the debounces that take new events, by function and
	// key.
	debounces map[string]*debounceState
	// batches are the open batches, by function and key.
	batches map[string]*batchState
	// singletons are the runs that hold a singleton key.
	singletons map[string]*Run
}

type debounceState struct {
	fn *fnDef
	// event is the event the run will get; from is the run that sent it.
	event json.RawMessage
	from  *Run
	ts    int64 // event.ts, in Unix milliseconds
	first time.Time
	// timeout is when the debounce must run at the latest (zero: no
	// timeout); open is until when new events update it.
	timeout time.Time
	open    time.Time
	events  int
	item    *item
}

// parseFlow reads the flow control of a function's sync entry.
func parseFlow(raw json.RawMessage) (flowDef, error) {
	var p struct {
		Idempotency string `json:"idempotency"`
		RateLimit   *struct {
			Limit  int    `json:"limit"`
			Period string `json:"period"`
			Key    string `json:"key"`
		} `json:"rateLimit"`
		Timeouts *struct {
			Start string `json:"start"`
		} `json:"timeouts"`
		BatchEvents *struct {
			MaxSize int    `json:"maxSize"`
			Timeout string `json:"timeout"`
			Key     string `json:"key"`
			If      string `json:"if"`
		} `json:"batchEvents"`
		Singleton *struct {
			Key  string `json:"key"`
			Mode string `json:"mode"`
		} `json:"singleton"`
		Throttle *struct {
			Limit  int    `json:"limit"`
			Burst  int    `json:"burst"`
			Period string `json:"period"`
			Key    string `json:"key"`
		} `json:"throttle"`
		Debounce *struct {
			Period  string `json:"period"`
			Key     string `json:"key"`
			Timeout string `json:"timeout"`
		} `json:"debounce"`
	}
	var fd flowDef
	if err := json.Unmarshal(raw, &p); err != nil {
		return fd, fmt.Errorf("reading flow control: %w", err)
	}
	if err := parseConcurrency(raw, &fd); err != nil {
		return fd, err
	}
	if rl := p.RateLimit; rl != nil {
		d, err := parseDuration(rl.Period)
		if err != nil || d <= 0 {
			return fd, fmt.Errorf("rateLimit.period %q is not a positive duration", rl.Period)
		}
		fd.rateLimit = &rateLimitDef{limit: rl.Limit, period: d, key: rl.Key}
	}
	if p.Idempotency != "" {
		// The server turns an idempotency key into a rate limit of one
		// per 24 hours by that key, in place of the function's rate limit
		// (pkg/sdk/function.go).
		fd.rateLimit = &rateLimitDef{limit: 1, period: idempotencyPeriod, key: p.Idempotency, idempotency: true}
	}
	if b := p.BatchEvents; b != nil {
		d, err := parseDuration(b.Timeout)
		if err != nil || d <= 0 {
			return fd, fmt.Errorf("batchEvents.timeout %q is not a positive duration", b.Timeout)
		}
		if b.MaxSize < 1 {
			return fd, fmt.Errorf("batchEvents.maxSize %d is not positive", b.MaxSize)
		}
		fd.batch = &batchDef{maxSize: b.MaxSize, timeout: d, key: b.Key, cond: b.If}
	}
	if to := p.Timeouts; to != nil && to.Start != "" {
		d, err := parseDuration(to.Start)
		if err != nil || d <= 0 {
			return fd, fmt.Errorf("timeouts.start %q is not a positive duration", to.Start)
		}
		fd.startTimeout = d
	}
	if sg := p.Singleton; sg != nil {
		switch sg.Mode {
		case "skip", "cancel":
		default:
			return fd, fmt.Errorf("singleton.mode %q is neither \"skip\" nor \"cancel\"", sg.Mode)
		}
		fd.singleton = &singletonDef{key: sg.Key, cancel: sg.Mode == "cancel"}
	}
	if th := p.Throttle; th != nil {
		d, err := parseDuration(th.Period)
		if err != nil || d < time.Second {
			return fd, fmt.Errorf("throttle.period %q is not a duration of at least a second", th.Period)
		}
		fd.throttle = &throttleDef{limit: th.Limit, burst: th.Burst, period: d.Truncate(time.Second), key: th.Key}
	}
	if db := p.Debounce; db != nil {
		d, err := parseDuration(db.Period)
		if err != nil || d <= 0 {
			return fd, fmt.Errorf("debounce.period %q is not a positive duration", db.Period)
		}
		fd.debounce = &debounceDef{period: d, key: db.Key}
		if db.Timeout != "" {
			t, err := parseDuration(db.Timeout)
			if err != nil || t <= 0 {
				return fd, fmt.Errorf("debounce.timeout %q is not a positive duration", db.Timeout)
			}
			fd.debounce.timeout = t
		}
	}
	return fd, nil
}

// schedule does what the server does with an event that triggers f: it
// applies the function's rate limit and debounce, then starts a run. It
// returns the run started, or nil.
func (e *Engine) schedule(f *fnDef, raw json.RawMessage, from *Run) *Run {
	if b := f.flow.batch; b != nil && e.batchable(f, b, raw) {
		e.appendBatch(f, b, raw)
		return nil
	}
	if rl := f.flow.rateLimit; rl != nil && e.rateLimited(f, rl, raw) {
		return nil
	}
	if db := f.flow.debounce; db != nil {
		e.debounce(f, db, raw, from)
		return nil
	}
	return e.start(f, raw, from)
}

// batchable reports whether the event goes into a batch: as the server's
// runner (pkg/execution/runner/runner.go), an event for which the
// batch's If is false, or does not evaluate, runs at once on its own.
func (e *Engine) batchable(f *fnDef, b *batchDef, raw json.RawMessage) bool {
	if b.cond == "" {
		return true
	}
	ok, err := e.cel.match(b.cond, raw, nil)
	if err != nil {
		e.t.Logf("inngesttest: function %s: its batch if does not evaluate for event %s: %v", f.ID, eventID(raw), err)
	}
	return err == nil && ok
}

// appendBatch adds the event to f's open batch for its key.
//
// As pkg/execution/batch (batch.go, redis.go, lua/append.lua) and the
// executor's AppendAndScheduleBatch (pkg/execution/executor/executor.go):
// the key is "default" or the key expression's value; the first event
// opens a batch and schedules it for timeout later; the event that fills
// it to maxSize starts it at once. A run started by a batch has the
// batch's events, the first as its event.
func (e *Engine) appendBatch(f *fnDef, b *batchDef, raw json.RawMessage) {
	key := f.ID + "\x00default"
	if b.key != "" {
		_, k, err := e.keyValue(b.key, raw)
		if err != nil {
			e.t.Logf("inngesttest: function %s: its batch key does not evaluate for event %s: %v", f.ID, eventID(raw), err)
			k = "<invalid>"
		}
		key = f.ID + "\x00" + k
	}
	if e.flow.batches == nil {
		e.flow.batches = map[string]*batchState{}
	}
	bs := e.flow.batches[key]
	if bs == nil {
		bs = &batchState{first: e.now}
		bs.item = &item{due: e.now.Add(b.timeout), kind: itemTimer}
		bs.item.fn = func() { e.startBatch(f, key, bs, "its timeout passed") }
		e.flow.batches[key] = bs
		e.push(bs.item)
	}
	bs.events = append(bs.events, raw)
	if len(bs.events) >= b.maxSize {
		e.remove(bs.item)
		e.startBatch(f, key, bs, "it is full")
	}
}

// startBatch starts the run of a batch.
func (e *Engine) startBatch(f *fnDef, key string, bs *batchState, why string) {
	if e.flow.batches[key] == bs {
		delete(e.flow.batches, key)
	}
	if e.fns[f.ID] != f {
		return // the function was replaced by a new sync
	}
	if rl := f.flow.rateLimit; rl != nil && e.rateLimited(f, rl, bs.events[0]) {
		return
	}
	r := e.start(f, bs.events[0], nil)
	if r == nil {
		return
	}
	r.events = bs.events
	r.log(Entry{Kind: EntryBatched, Delay: e.now.Sub(bs.first), Detail: fmt.Sprintf("%d event(s); it started because %s", len(bs.events), why)})
}

// Events returns the events the run started with: its event, or the
// events of its batch.
func (r *Run) Events() []json.RawMessage {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	return append([]json.RawMessage(nil), r.events...)
}

// RequireEvents requires the run to have started with n events (a batch
// of n, or 1 for a run without batching).
func (r *Run) RequireEvents(t testing.TB, n int) *Run {
	t.Helper()
	if got := len(r.Events()); got != n {
		r.fatalf(t, "want %d event(s), got %d", n, got)
	}
	return r
}

// start starts a run of f for an event that passed the rate limit and
// debounce, holding its first call back as its throttle says.
func (e *Engine) start(f *fnDef, raw json.RawMessage, from *Run) *Run {
	var singletonKey string
	if sg := f.flow.singleton; sg != nil {
		var ok bool
		if singletonKey, ok = e.singleton(f, sg, raw); !ok {
			return nil
		}
	}
	r := e.startRun(f, raw, from)
	if singletonKey != "" {
		e.flow.singletons[singletonKey] = r
	}
	if th := f.flow.throttle; th != nil {
		// The queue holds the run's first call until the throttle has
		// capacity (throttleAdmits).
		r.throttleKey = e.throttleKeyOf(r, th)
	}
	if d := f.flow.startTimeout; d > 0 {
		e.startTimeout(r, d)
	}
	return r
}

// startTimeout cancels r when it has not started d after it was created.
//
// As the server's executor: schedule queues an eager cancellation at the
// run's creation plus timeouts.start (pkg/execution/executor/executor.go,
// createEagerCancellationForTimeout), which cancels the run unless it
// has started by then (service.go, handleEagerCancelStartTimeout). A
// run starts with its first call, which a throttle may hold back.
func (e *Engine) startTimeout(r *Run, d time.Duration) {
	// The item is the run's: it leaves the queue when the run ends.
	it := &item{due: e.now.Add(d), kind: itemTimer, run: r}
	it.fn = func() {
		if !r.done() && r.calls == 0 {
			e.cancelRun(r, "the function's start timeout ("+d.String()+") passed before the run started")
		}
	}
	e.push(it)
}

// singleton applies f's singleton to the event: it reports the key the
// new run holds ("" for none) and whether the run may start.
//
// As pkg/execution/singleton/singleton.go and the executor's schedule
// (pkg/execution/executor/executor.go): the key is the function's, or
// the key expression's value; an expression that is false, or does not
// evaluate, leaves the run out of the singleton. A run holds its key
// until it ends (the queue's dequeue.lua releases it). In skip mode an
// event whose key is held starts no run; in cancel mode it cancels the
// run that holds it and starts its own.
func (e *Engine) singleton(f *fnDef, sg *singletonDef, raw json.RawMessage) (string, bool) {
	key := f.ID
	if sg.key != "" {
		v, k, err := e.keyValue(sg.key, raw)
		if err != nil {
			e.t.Logf("inngesttest: function %s: its singleton key does not evaluate for event %s: %v", f.ID, eventID(raw), err)
			return "", true
		}
		if b, ok := v.(bool); ok && !b {
			return "", true
		}
		key += "\x00" + k
	}
	if e.flow.singletons == nil {
		e.flow.singletons = map[string]*Run{}
	}
	held := e.flow.singletons[key]
	if held == nil || held.done() {
		return key, true
	}
	if !sg.cancel {
		e.skip(f, raw, SkippedSingleton, "run "+held.id+" holds the key")
		return "", false
	}
	e.cancelRun(held, "cancelled by singleton: event "+eventName(raw)+" "+eventID(raw)+" started a new run")
	return key, true
}

func (e *Engine) skip(f *fnDef, raw json.RawMessage, reason SkipReason, detail string) {
	e.flow.skips = append(e.flow.skips, Skip{Function: f.ID, Event: raw, At: e.now, Reason: reason, Detail: detail})
}

// keyValue evaluates a flow-control key expression with "event" bound to
// the event; the result's JSON is the key.
func (e *Engine) keyValue(src string, raw json.RawMessage) (any, string, error) {
	prog, err := e.cel.program(src)
	if err != nil {
		return nil, "", err
	}
	out, err := prog.Eval(expr.Vars{"event": asMap(raw), "vars": map[string]any{}}, expr.Runtime{Now: func() time.Time { return e.now }, ParseDuration: parseDuration})
	if err != nil {
		return nil, "", fmt.Errorf("expression %q: %w", src, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, "", fmt.Errorf("expression %q: its value %v: %w", src, out, err)
	}
	return out, string(b), nil
}

// rateLimited applies f's rate limit to the event, and records a skip
// when it has no capacity.
//
// As pkg/execution/ratelimit (ratelimit.go, ratelimit_lua.go and
// lua/ratelimit.lua), and pkg/constraintapi (lua.go, lua/acquire.lua),
// which the dev server uses, the same: the key is the function's, or the key
// expression's value (an expression that is false does not limit the
// event); the limiter is a GCRA with an emission interval of
// period/limit and a burst of limit/10, so that at most limit/10+1
// events pass at once and then one per period/limit.
func (e *Engine) rateLimited(f *fnDef, rl *rateLimitDef, raw json.RawMessage) bool {
	reason := SkippedRateLimited
	if rl.idempotency {
		reason = SkippedIdempotent
	}
	key := f.ID
	if rl.key != "" {
		v, k, err := e.keyValue(rl.key, raw)
		if err != nil {
			// The server does not schedule the run when the key does
			// not evaluate.
			e.t.Logf("inngesttest: function %s: its rate limit or idempotency key does not evaluate for event %s: %v", f.ID, eventID(raw), err)
			e.skip(f, raw, reason, "the key does not evaluate: "+err.Error())
			return true
		}
		if b, ok := v.(bool); ok && !b {
			return false
		}
		key += "\x00" + k
	}
	if e.flow.tat == nil {
		e.flow.tat = map[string]float64{}
	}
	limit := max(rl.limit, 1)
	burst := rl.limit / 10
	emission := float64(rl.period.Nanoseconds()) / float64(limit)
	now := float64(e.now.UnixNano())
	tat, ok := e.flow.tat[key]
	if !ok {
		tat = now
	}
	// Capacity is floor((dvt - (tat-now)) / emission), dvt being
	// emission*(burst+1); an event passes while it is positive.
	dvt := emission * float64(burst+1)
	if math.Floor((dvt-(tat-now))/emission) <= 0 {
		retry := time.Duration(tat - dvt + emission - now)
		detail := "capacity again in " + retry.String()
		if rl.key != "" {
			_, k, _ := e.keyValue(rl.key, raw)
			detail = "key " + k + ", " + detail
		}
		e.skip(f, raw, reason, detail)
		return true
	}
	e.flow.tat[key] = math.Max(tat, now) + emission
	return false
}

// Debounce timing from pkg/execution/debounce/debounce.go: the run is
// queued for the end of the period plus a buffer of 50 ms and a second.
const debounceBuffer = 50*time.Millisecond + time.Second

// debounce takes the event into f's debounce for its key.
//
// As pkg/execution/debounce/debounce.go and the Redis scripts it runs
// (pkg/execution/state/redis_state/lua/debounce): the key is the
// function's, or the key expression's value. The first event creates a
// debounce due period (plus the buffer) later, and sets its timeout to
// the event's arrival plus timeout. Each later event replaces the
// debounce's event unless its ts is older, and moves the debounce to
// period after it, but never past the timeout (the period is then cut
// to the whole seconds left, at least one). An event arriving after the
// debounce stopped taking events (its period passed) starts a new one;
// when the debounce is due, the function runs once, with the last event.
func (e *Engine) debounce(f *fnDef, db *debounceDef, raw json.RawMessage, from *Run) {
	key := f.ID
	if db.key != "" {
		_, k, err := e.keyValue(db.key, raw)
		if err != nil {
			// The server logs the error and debounces under "<invalid>".
			e.t.Logf("inngesttest: function %s: its debounce key does not evaluate for event %s: %v", f.ID, eventID(raw), err)
			k = "<invalid>"
		}
		key += "\x00" + k
	}
	if e.flow.debounces == nil {
		e.flow.debounces = map[string]*debounceState{}
	}
	ts := eventTS(raw)
	d := e.flow.debounces[key]
	if d != nil && !e.now.Before(d.open) {
		d = nil // its pointer expired: the next event starts a new debounce
	}
	if d == nil {
		d = &debounceState{fn: f, event: raw, from: from, ts: ts, first: e.now, events: 1}
		ttl := db.period
		if db.timeout > 0 {
			d.timeout = e.now.Add(db.timeout)
			if ttl > db.timeout {
				ttl = db.timeout.Round(time.Second)
			}
			ttl = max(ttl, time.Second)
		}
		e.flow.debounces[key] = d
		d.open = e.now.Add(ttl)
		d.item = &item{due: d.open.Add(debounceBuffer), kind: itemTimer}
		d.item.fn = func() { e.runDebounce(key, d) }
		e.push(d.item)
		return
	}
	d.events++
	if ts < d.ts {
		e.skip(f, raw, SkippedDebounced, "older than the event "+eventID(d.event)+" the debounce holds")
		return
	}
	e.skip(f, d.event, SkippedDebounced, "superseded by event "+eventID(raw))
	d.event, d.from, d.ts = raw, from, ts
	ttl := db.period
	if !d.timeout.IsZero() && e.now.Add(ttl).After(d.timeout) {
		ttl = max(d.timeout.Sub(e.now).Truncate(time.Second), time.Second)
	}
	d.open = e.now.Add(ttl)
	e.remove(d.item)
	d.item.due = d.open.Add(debounceBuffer)
	e.push(d.item)
}

// runDebounce starts the run of a debounce that is due.
func (e *Engine) runDebounce(key string, d *debounceState) {
	if e.flow.debounces[key] == d {
		delete(e.flow.debounces, key)
	}
	if e.fns[d.fn.ID] != d.fn {
		return // the function was replaced by a new sync
	}
	r := e.start(d.fn, d.event, d.from)
	r.log(Entry{Kind: EntryDebounced, Delay: e.now.Sub(d.first), Detail: fmt.Sprintf("%d event(s) since %s; the run has the last", d.events, d.first.Format(time.RFC3339))})
}

// eventTS reads an event's ts (Unix milliseconds).
func eventTS(raw json.RawMessage) int64 {
	var v struct {
		TS int64 `json:"ts"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.TS
}

// Skipped returns the events that triggered fn but started no run, in
// order, with the reason.
func (e *Engine) Skipped(fn Function) []Skip {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := fn.FullID()
	if f := e.lookup(fn); f != nil {
		id = f.ID
	}
	var out []Skip
	for _, s := range e.flow.skips {
		if s.Function == id {
			out = append(out, s)
		}
	}
	return out
}

// RequireSkipped requires exactly n events to have triggered fn without
// starting a run, for the reason given, and returns them.
func (e *Engine) RequireSkipped(t testing.TB, fn Function, reason SkipReason, n int) []Skip {
	t.Helper()
	var got []Skip
	all := e.Skipped(fn)
	for _, s := range all {
		if s.Reason == reason {
			got = append(got, s)
		}
	}
	if len(got) != n {
		t.Fatalf("inngesttest: %s: want %d event(s) skipped as %s, got %d; skipped:%s", e.fullID(fn), n, reason, len(got), listSkips(all))
	}
	return got
}

// RequireRuns requires fn to have exactly n runs, and returns them in
// the order they started.
func (e *Engine) RequireRuns(t testing.TB, fn Function, n int) []*Run {
	t.Helper()
	runs := e.RunsOf(fn)
	if len(runs) != n {
		var b strings.Builder
		for _, r := range runs {
			b.WriteString("\n")
			b.WriteString(r.String())
		}
		t.Fatalf("inngesttest: %s: want %d run(s), got %d; skipped:%s\nruns:%s", e.fullID(fn), n, len(runs), listSkips(e.Skipped(fn)), b.String())
	}
	return runs
}

func listSkips(skips []Skip) string {
	if len(skips) == 0 {
		return " none"
	}
	var b strings.Builder
	for _, s := range skips {
		b.WriteString("\n  ")
		b.WriteString(s.String())
	}
	return b.String()
}
