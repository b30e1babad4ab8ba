package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// The flow-control scenarios run twice, with the same events at the
// same offsets: on the server, in real time, and on inngesttest's
// engine, on its virtual clock. Each must start the same runs, each with
// the same event.

type flowEvent struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// flowSend is a batch of events sent at an offset from the scenario's
// start.
type flowSend struct {
	at     time.Duration
	events []flowEvent
}

type flowScenario struct {
	opts inngest.FunctionOpts
	// sends are in order of their offsets.
	sends []flowSend
	// settle is how long after the last send the server may still start
	// runs (a debounce's period and buffer).
	settle time.Duration
	// hold, when set, makes the function sleep for hold first; the
	// scenario then reports the runs that completed, and when.
	hold time.Duration
	// cancelWithin, when set, makes an event with the key "stop" cancel
	// the runs started less than cancelWithin before it.
	cancelWithin time.Duration
}

// started runs the scenario on the engine and on the server and returns
// the data.n of the events the runs started with, sorted: first the
// engine's, then the server's.
func (sc flowScenario) started(t *testing.T, tg target) (engine, server []int) {
	t.Helper()
	eng, srv := sc.run(t, tg)
	return slices.Sorted(maps.Keys(eng)), slices.Sorted(maps.Keys(srv))
}

// run runs the scenario on the engine and on the server and returns, by
// the data.n of the event each run started with, when the run's first
// call came, from the scenario's start.
func (sc flowScenario) run(t *testing.T, tg target) (engine, server map[int]time.Duration) {
	t.Helper()
	opts := sc.opts
	opts.ID = "flow"
	withCancel := func(stop string) inngest.FunctionOpts {
		o := opts
		if sc.cancelWithin > 0 {
			o.Cancel = []inngest.Cancel{{Event: stop, Timeout: sc.cancelWithin}}
		}
		return o
	}
	name := func(prefix func(string) string, ev flowEvent) string {
		if ev.Key == "stop" {
			return prefix("stop")
		}
		return prefix("go")
	}

	// The engine, on its virtual clock.
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "flow", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	engName := func(s string) string { return "flow/" + s }
	fn, err := inngest.CreateFunction(c, withCancel("flow/stop"), inngest.EventTrigger("flow/go", nil),
		func(ctx context.Context, in inngest.Input[flowEvent]) (any, error) {
			if sc.hold > 0 {
				if err := step.Sleep(ctx, "hold", sc.hold); err != nil {
					return nil, err
				}
			}
			return in.Event.Data.N, nil
		})
	require.NoError(t, err)
	eng.Register(c)
	start := eng.Now()
	for _, s := range sc.sends {
		eng.Advance(start.Add(s.at).Sub(eng.Now()))
		for _, ev := range s.events {
			eng.Send(inngest.Event[any]{Name: name(engName, ev), Data: ev})
		}
	}
	eng.Wait()
	engine = map[int]time.Duration{}
	for _, r := range eng.RunsOf(fn) {
		var ev struct {
			Data flowEvent `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.Event(), &ev))
		if sc.hold > 0 {
			if r.Status() == inngesttest.Completed {
				engine[ev.Data.N] = r.EndedAt().Sub(start)
			}
			continue
		}
		for _, en := range r.Timeline() {
			if en.Kind == inngesttest.EntryCall {
				engine[ev.Data.N] = en.At.Sub(start)
				break
			}
		}
	}

	// The server, in real time.
	a := newApp(t, tg, appConfig{})
	var mu sync.Mutex
	server = map[int]time.Duration{}
	var t0 time.Time
	_, err = inngest.CreateFunction(a.Client, withCancel(a.event("stop")), inngest.EventTrigger(a.event("go"), nil),
		func(ctx context.Context, in inngest.Input[flowEvent]) (any, error) {
			if sc.hold > 0 {
				if err := step.Sleep(ctx, "hold", sc.hold); err != nil {
					return nil, err
				}
			}
			mu.Lock()
			if _, ok := server[in.Event.Data.N]; !ok {
				server[in.Event.Data.N] = time.Since(t0)
			}
			mu.Unlock()
			return in.Event.Data.N, nil
		})
	require.NoError(t, err)
	a.sync()
	mu.Lock()
	t0 = time.Now()
	mu.Unlock()
	for _, s := range sc.sends {
		time.Sleep(time.Until(t0.Add(s.at)))
		for _, ev := range s.events {
			a.send(name(a.event, ev), ev)
		}
	}
	tg.eventually(t, fmt.Sprintf("%d run(s) to start", len(engine)), func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(server) >= len(engine), fmt.Sprint(server)
	})
	// Runs that the engine did not start have time to start too.
	time.Sleep(sc.settle + 2*time.Second)
	mu.Lock()
	defer mu.Unlock()
	return engine, maps.Clone(server)
}

// Rate limit 20 per minute and key: a burst of 2 (limit/10) over the
// first, then one every 3 s (the Inngest server's pkg/execution/ratelimit).
func TestRateLimitAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{RateLimit: &inngest.RateLimit{Limit: 20, Period: time.Minute, Key: "event.data.key"}},
		// 400 ms apart, since the server does not keep the order of
		// events sent close together (150 ms was not enough on a loaded
		// machine), and all within the first 3 s.
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 400 * time.Millisecond, events: []flowEvent{{"a", 2}}},
			{at: 800 * time.Millisecond, events: []flowEvent{{"a", 3}}},
			{at: 1200 * time.Millisecond, events: []flowEvent{{"a", 4}}},
			{at: 1600 * time.Millisecond, events: []flowEvent{{"a", 5}}},
			{at: 2000 * time.Millisecond, events: []flowEvent{{"b", 6}}},
			{at: 4 * time.Second, events: []flowEvent{{"a", 7}}},
			{at: 4150 * time.Millisecond, events: []flowEvent{{"a", 8}}},
		},
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{1, 2, 3, 6, 7}, engine)
	require.Equal(t, engine, server)
}

// Debounce 2 s per key: each key runs once, with its last event (the
// Inngest server's pkg/execution/debounce).
func TestDebounceAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{Debounce: &inngest.Debounce{Period: 2 * time.Second, Key: "event.data.key"}},
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}, {"b", 2}}},
			{at: time.Second, events: []flowEvent{{"a", 3}}},
			{at: 2 * time.Second, events: []flowEvent{{"a", 4}}},
			// b's debounce ran at about 3.05 s: this starts a new one.
			{at: 5 * time.Second, events: []flowEvent{{"b", 5}}},
		},
		settle: 4 * time.Second,
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{2, 4, 5}, engine)
	require.Equal(t, engine, server)
}

// Debounce with a timeout: events every 1.5 s, a period of 2 s and a
// timeout of 3 s. The second event of each debounce meets the timeout,
// which cuts its period to the whole second left (updateDebounce.lua),
// so the third event finds the debounce closed and starts another.
func TestDebounceTimeoutAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	var sends []flowSend
	for i := range 5 {
		sends = append(sends, flowSend{at: time.Duration(i) * 1500 * time.Millisecond, events: []flowEvent{{"a", i}}})
	}
	sc := flowScenario{
		opts:   inngest.FunctionOpts{Debounce: &inngest.Debounce{Period: 2 * time.Second, Timeout: 3 * time.Second}},
		sends:  sends,
		settle: 4 * time.Second,
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{1, 3, 4}, engine)
	require.Equal(t, engine, server)
}

// An idempotency key: one run per key (the Inngest server's
// pkg/sdk/function.go makes it a rate limit of 1 per 24 h).
func TestIdempotencyAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{Idempotency: "event.data.key"},
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 150 * time.Millisecond, events: []flowEvent{{"b", 2}}},
			{at: 300 * time.Millisecond, events: []flowEvent{{"a", 3}}},
			{at: 2 * time.Second, events: []flowEvent{{"b", 4}}},
		},
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{1, 2}, engine)
	require.Equal(t, engine, server)
}

// Throttle 1 per 2 s with a burst of 1, per key: two runs of a key start
// at once, then one every 2 s, and none is dropped (the Inngest server's
// pkg/constraintapi/lua/acquire.lua; the queue item of a run's start
// carries the throttle, pkg/execution/executor/executor.go). The server
// starts each held-back run when its queue next looks at it, so a start
// may come up to a second or two after the engine's.
func TestThrottleAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{Throttle: &inngest.Throttle{Limit: 1, Period: 2 * time.Second, Burst: 1, Key: "event.data.key"}},
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 150 * time.Millisecond, events: []flowEvent{{"a", 2}}},
			{at: 300 * time.Millisecond, events: []flowEvent{{"a", 3}}},
			{at: 450 * time.Millisecond, events: []flowEvent{{"a", 4}}},
			{at: 600 * time.Millisecond, events: []flowEvent{{"b", 5}}},
		},
		settle: 2 * time.Second,
	}
	engine, server := sc.run(t, tg)
	require.Equal(t, map[int]time.Duration{1: 0, 2: 150 * time.Millisecond, 3: 2 * time.Second, 4: 4 * time.Second, 5: 600 * time.Millisecond}, engine)
	t.Logf("first calls on the server: %v", server)
	require.ElementsMatch(t, slices.Collect(maps.Keys(engine)), slices.Collect(maps.Keys(server)))
	// The same starts, each no earlier than the engine's (less a little
	// for the clocks) and not much later. Which held-back run takes which
	// slot is the server's queue's choice (the engine keeps the order).
	want := slices.Sorted(maps.Values(engine))
	got := slices.Sorted(maps.Values(server))
	for i := range want {
		require.GreaterOrEqual(t, got[i], want[i]-100*time.Millisecond, "start %d of %v", i, got)
		require.LessOrEqual(t, got[i], want[i]+2*time.Second, "start %d of %v", i, got)
	}
}

// Singleton per key, each run sleeping 3 s: in skip mode a second event
// of a key while its run sleeps starts nothing, and one after that run
// ended starts a run (the Inngest server's pkg/execution/singleton and
// pkg/execution/executor/executor.go).
func TestSingletonSkipAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{Singleton: &inngest.Singleton{Key: "event.data.key", Mode: inngest.SingletonSkip}},
		hold: 3 * time.Second,
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: time.Second, events: []flowEvent{{"a", 2}}},
			{at: 1200 * time.Millisecond, events: []flowEvent{{"b", 3}}},
			{at: 5 * time.Second, events: []flowEvent{{"a", 4}}},
		},
		settle: 4 * time.Second,
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{1, 3, 4}, engine)
	require.Equal(t, engine, server)
}

// In cancel mode each event of a key cancels the run in progress: of
// a's three events only the last run completes.
func TestSingletonCancelAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{Singleton: &inngest.Singleton{Key: "event.data.key", Mode: inngest.SingletonCancel}},
		hold: 3 * time.Second,
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: time.Second, events: []flowEvent{{"a", 2}}},
			{at: 1200 * time.Millisecond, events: []flowEvent{{"b", 3}}},
			{at: 2 * time.Second, events: []flowEvent{{"a", 4}}},
		},
		settle: 4 * time.Second,
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{3, 4}, engine)
	require.Equal(t, engine, server)
}

// A start timeout of 5 s with a throttle of 1 per 3 s: the second run
// starts at 3 s, well within it (the server's queue may start it a
// little late), and the third, held back until 6 s, is cancelled before
// it starts (the Inngest
// server's handleEagerCancelStartTimeout in
// pkg/execution/executor/service.go).
func TestStartTimeoutAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{
			Throttle: &inngest.Throttle{Limit: 1, Period: 3 * time.Second},
			Timeouts: &inngest.Timeouts{Start: 5 * time.Second},
		},
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 100 * time.Millisecond, events: []flowEvent{{"a", 2}}},
			// 400 ms after the second: twice in many runs, with 150 ms
			// between them, the server's throttle started the third
			// before the second.
			{at: 500 * time.Millisecond, events: []flowEvent{{"a", 3}}},
		},
		settle: 4 * time.Second,
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{1, 2}, engine)
	require.Equal(t, engine, server)
}

// Batching by key with a max size of 3 and a timeout of 3 s, and an If
// that leaves some events out: the same events are batched together on
// the server and on the engine (the Inngest server's pkg/execution/batch
// and pkg/execution/runner/runner.go).
func TestBatchingAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	opts := inngest.FunctionOpts{ID: "batched", BatchEvents: &inngest.BatchEvents{MaxSize: 3, Timeout: 3 * time.Second, Key: "event.data.key", If: "event.data.n < 100"}}
	sends := []flowSend{
		{at: 0, events: []flowEvent{{"a", 1}}},
		{at: 150 * time.Millisecond, events: []flowEvent{{"b", 2}}},
		{at: 300 * time.Millisecond, events: []flowEvent{{"a", 3}}},
		{at: 450 * time.Millisecond, events: []flowEvent{{"a", 4}}},
		{at: time.Second, events: []flowEvent{{"a", 5}}},
		{at: 1200 * time.Millisecond, events: []flowEvent{{"a", 100}}},
	}
	body := func(mu *sync.Mutex, groups *[]string) func(context.Context, inngest.Input[flowEvent]) (any, error) {
		return func(ctx context.Context, in inngest.Input[flowEvent]) (any, error) {
			var g []int
			for _, ev := range in.Events {
				g = append(g, ev.Data.N)
			}
			slices.Sort(g)
			mu.Lock()
			*groups = append(*groups, fmt.Sprint(g))
			mu.Unlock()
			return len(g), nil
		}
	}

	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "flow", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	var engMu sync.Mutex
	var engine []string
	_, err = inngest.CreateFunction(c, opts, inngest.EventTrigger("flow/go", nil), body(&engMu, &engine))
	require.NoError(t, err)
	eng.Register(c)
	start := eng.Now()
	for _, s := range sends {
		eng.Advance(start.Add(s.at).Sub(eng.Now()))
		for _, ev := range s.events {
			eng.Send(inngest.Event[any]{Name: "flow/go", Data: ev})
		}
	}
	eng.Wait()
	slices.Sort(engine)
	require.Equal(t, []string{"[1 3 4]", "[100]", "[2]", "[5]"}, engine)

	a := newApp(t, tg, appConfig{})
	var srvMu sync.Mutex
	var server []string
	_, err = inngest.CreateFunction(a.Client, opts, inngest.EventTrigger(a.event("go"), nil), body(&srvMu, &server))
	require.NoError(t, err)
	a.sync()
	t0 := time.Now()
	for _, s := range sends {
		time.Sleep(time.Until(t0.Add(s.at)))
		for _, ev := range s.events {
			a.send(a.event("go"), ev)
		}
	}
	tg.eventually(t, "4 runs", func() (bool, string) {
		srvMu.Lock()
		defer srvMu.Unlock()
		return len(server) >= 4, fmt.Sprint(server)
	})
	time.Sleep(2 * time.Second)
	srvMu.Lock()
	defer srvMu.Unlock()
	got := slices.Clone(server)
	slices.Sort(got)
	require.Equal(t, engine, got)
}

// Cancel with a timeout of 2 s, runs sleeping 4 s: a stop event at 3 s
// cancels the run started at 2.5 s but not the one started at 0, whose
// window has passed (the Inngest server's createCancellationPauses in
// pkg/execution/executor/executor.go: the pause expires timeout after
// the run is scheduled).
func TestCancelTimeoutAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		hold:         4 * time.Second,
		cancelWithin: 2 * time.Second,
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 2500 * time.Millisecond, events: []flowEvent{{"a", 2}}},
			{at: 3 * time.Second, events: []flowEvent{{"stop", 0}}},
		},
		settle: 5 * time.Second,
	}
	engine, server := sc.started(t, tg)
	require.Equal(t, []int{1}, engine)
	require.Equal(t, engine, server)
}

// The concurrency and priority scenarios: each run does one step, "work",
// which takes work on the server (a real sleep) and as long on the
// engine's virtual clock (WithCallDuration). They compare the order in
// which the runs' work began and how many ran at once, in all and per
// key; the server's queue looks at held-back work again only from time
// to time, so its times are later than the engine's and are only
// logged.

type workScenario struct {
	opts  inngest.FunctionOpts
	sends []flowSend
	work  time.Duration
	// nap, when set, makes each run sleep for nap before its work.
	nap time.Duration
}

// workSpan is when a run's work ran, from the scenario's start.
type workSpan struct {
	n          int
	key        string
	start, end time.Duration
}

// run runs the scenario on the engine and on the server and returns the
// work spans of each, in the order the work began, and when each run's
// first call came, by data.n.
func (sc workScenario) run(t *testing.T, tg target) (engine, server []workSpan, entered [2]map[int]time.Duration) {
	t.Helper()
	opts := sc.opts
	opts.ID = "work"
	// body sleeps for the nap, then runs the step "work", whose body
	// calls do; enter is called on each call.
	body := func(enter, do func(flowEvent)) func(context.Context, inngest.Input[flowEvent]) (any, error) {
		return func(ctx context.Context, in inngest.Input[flowEvent]) (any, error) {
			enter(in.Event.Data)
			if sc.nap > 0 {
				if err := step.Sleep(ctx, "nap", sc.nap); err != nil {
					return nil, err
				}
			}
			return step.Run(ctx, "work", func(ctx context.Context) (int, error) {
				do(in.Event.Data)
				return in.Event.Data.N, nil
			})
		}
	}

	// The engine, on its virtual clock.
	eng := inngesttest.New(t, inngesttest.WithCallDuration(func(fn, stepID string) time.Duration {
		if stepID == "work" {
			return sc.work
		}
		return 0
	}))
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "flow", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	fn, err := inngest.CreateFunction(c, opts, inngest.EventTrigger("flow/go", nil), body(func(flowEvent) {}, func(flowEvent) {}))
	require.NoError(t, err)
	eng.Register(c)
	start := eng.Now()
	for _, s := range sc.sends {
		eng.Advance(start.Add(s.at).Sub(eng.Now()))
		for _, ev := range s.events {
			eng.Send(inngest.Event[any]{Name: "flow/go", Data: ev})
		}
	}
	eng.Wait()
	entered = [2]map[int]time.Duration{{}, {}}
	for _, s := range eng.CallSpans(fn) {
		var ev struct {
			Data flowEvent `json:"data"`
		}
		require.NoError(t, json.Unmarshal(s.Run.Event(), &ev))
		if _, ok := entered[0][ev.Data.N]; !ok {
			entered[0][ev.Data.N] = s.Start.Sub(start)
		}
		if s.Step != "work" {
			continue
		}
		engine = append(engine, workSpan{n: ev.Data.N, key: ev.Data.Key, start: s.Start.Sub(start), end: s.End.Sub(start)})
	}
	for _, r := range eng.RunsOf(fn) {
		r.RequireCompleted(t)
	}

	// The server, in real time.
	a := newApp(t, tg, appConfig{})
	var mu sync.Mutex
	var t0 time.Time
	ran := map[int]bool{}
	enter := func(ev flowEvent) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := entered[1][ev.N]; !ok {
			entered[1][ev.N] = time.Since(t0)
		}
	}
	_, err = inngest.CreateFunction(a.Client, opts, inngest.EventTrigger(a.event("go"), nil), body(enter, func(ev flowEvent) {
		mu.Lock()
		begin := time.Since(t0)
		dup := ran[ev.N]
		ran[ev.N] = true
		mu.Unlock()
		time.Sleep(sc.work)
		if dup {
			return // a retried body; the first counts
		}
		mu.Lock()
		server = append(server, workSpan{n: ev.N, key: ev.Key, start: begin, end: time.Since(t0)})
		mu.Unlock()
	}))
	require.NoError(t, err)
	a.sync()
	mu.Lock()
	t0 = time.Now()
	mu.Unlock()
	for _, s := range sc.sends {
		time.Sleep(time.Until(t0.Add(s.at)))
		for _, ev := range s.events {
			a.send(a.event("go"), ev)
		}
	}
	tg.eventually(t, fmt.Sprintf("%d run(s) to do their work", len(engine)), func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(server) >= len(engine), fmt.Sprint(server)
	})
	mu.Lock()
	defer mu.Unlock()
	server = slices.Clone(server)
	slices.SortStableFunc(server, func(a, b workSpan) int { return int(a.start - b.start) })
	entered[1] = maps.Clone(entered[1])
	t.Logf("engine: %v, first calls %v", engine, entered[0])
	t.Logf("server: %v, first calls %v", server, entered[1])
	return engine, server, entered
}

// workOrder is the runs' data.n in the order their work began.
func workOrder(spans []workSpan) []int {
	out := make([]int, len(spans))
	for i, s := range spans {
		out[i] = s.n
	}
	return out
}

// mostAtOnce is the most work spans in progress at one instant, of the
// key given, or of all with "".
func mostAtOnce(spans []workSpan, key string) int {
	most := 0
	for _, s := range spans {
		if key != "" && s.key != key {
			continue
		}
		n := 0
		for _, o := range spans {
			if (key == "" || o.key == key) && o.start <= s.start && s.start < o.end {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// A limit of 2 for the function and of 1 per key, the work taking
// 1.5 s: a's second run waits for its first, c waits for a slot of the
// function's two (the Inngest server's pkg/execution/queue/constraints.go,
// the backlog's constraints; pkg/constraintapi/lua/acquire.lua, the
// slots). On the engine a's second goes first, being older
// (QueueItem.Score in pkg/execution/queue/item.go). The server's queue
// looks at a function's held-back work again only after a delay
// (PartitionConcurrencyLimitRequeueExtension in
// pkg/execution/queue/consts.go) and its calls take real time, so
// which key goes first there varies from run to run: the runs of one
// key go in the same order, and as many run at once, in all and per
// key.
func TestConcurrencyAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := workScenario{
		opts: inngest.FunctionOpts{Concurrency: []inngest.Concurrency{{Limit: 2}, {Limit: 1, Key: "event.data.key"}}},
		work: 1500 * time.Millisecond,
		// 400 ms apart: the server does not keep the order of events
		// sent close together.
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 400 * time.Millisecond, events: []flowEvent{{"a", 2}}},
			{at: 800 * time.Millisecond, events: []flowEvent{{"b", 3}}},
			{at: 1200 * time.Millisecond, events: []flowEvent{{"c", 4}}},
			{at: 1600 * time.Millisecond, events: []flowEvent{{"a", 5}}},
		},
	}
	engine, server, _ := sc.run(t, tg)
	require.Equal(t, []workSpan{
		{1, "a", 0, 1500 * time.Millisecond},
		{3, "b", 800 * time.Millisecond, 2300 * time.Millisecond},
		{2, "a", 1500 * time.Millisecond, 3000 * time.Millisecond},
		{4, "c", 2300 * time.Millisecond, 3800 * time.Millisecond},
		{5, "a", 3000 * time.Millisecond, 4500 * time.Millisecond},
	}, engine)
	require.ElementsMatch(t, workOrder(engine), workOrder(server))
	for _, key := range []string{"a", "b", "c"} {
		require.Equal(t, workOrder(ofKey(engine, key)), workOrder(ofKey(server, key)), "key %q", key)
	}
	for _, key := range []string{"", "a"} {
		require.Equal(t, mostAtOnce(engine, key), mostAtOnce(server, key), "key %q", key)
	}
}

// ofKey is the spans of one key.
func ofKey(spans []workSpan, key string) []workSpan {
	var out []workSpan
	for _, s := range spans {
		if s.key == key {
			out = append(out, s)
		}
	}
	return out
}

// Behind a limit of 1, the runs held back while the first works start by
// priority, highest first, whatever their order of arrival (the Inngest
// server's RunPriorityFactor in pkg/inngest/function.go;
// QueueItem.Score and Item.GetPriorityFactor in
// pkg/execution/queue/item.go).
func TestPriorityAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := workScenario{
		opts: inngest.FunctionOpts{
			Concurrency: []inngest.Concurrency{{Limit: 1}},
			Priority:    &inngest.Priority{Run: `event.data.key == "high" ? 60 : (event.data.key == "mid" ? 30 : 0)`},
		},
		// Long enough for the other three to be queued on the server
		// before the first's work is done.
		work: 3 * time.Second,
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"low", 0}}},
			{at: 400 * time.Millisecond, events: []flowEvent{{"low", 1}}},
			{at: 800 * time.Millisecond, events: []flowEvent{{"high", 2}}},
			{at: 1200 * time.Millisecond, events: []flowEvent{{"mid", 3}}},
		},
	}
	engine, server, _ := sc.run(t, tg)
	require.Equal(t, []int{0, 2, 3, 1}, workOrder(engine))
	require.Equal(t, workOrder(engine), workOrder(server))
	require.Equal(t, 1, mostAtOnce(engine, ""))
	require.Equal(t, 1, mostAtOnce(server, ""))
}

// A negative priority holds a run back by its factor even with nothing
// else queued: the queue scores its items the run's start less the
// factor, and does not take them sooner (QueueItem.Score in the Inngest
// server's pkg/execution/queue/item.go).
func TestNegativePriorityAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := workScenario{
		opts: inngest.FunctionOpts{Priority: &inngest.Priority{Run: `event.data.key == "late" ? -4 : 0`}},
		work: 200 * time.Millisecond,
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"late", 1}}},
			{at: 400 * time.Millisecond, events: []flowEvent{{"now", 2}}},
		},
	}
	engine, server, _ := sc.run(t, tg)
	require.Equal(t, []workSpan{{2, "now", 400 * time.Millisecond, 600 * time.Millisecond}, {1, "late", 4 * time.Second, 4200 * time.Millisecond}}, engine)
	require.Equal(t, workOrder(engine), workOrder(server))
	// Generous: the server holds the late run back for most of its 4 s.
	require.Greater(t, server[1].start, 3*time.Second, "the late run's work on the server")
}

// A sleeping run holds no slot: behind a limit of 1, with each run
// sleeping 3 s before 1.5 s of work, the second run makes its first call
// and sleeps while the first sleeps, before the first works; then their
// work goes one at a time (the Inngest server's queue leases a sleep's
// item only when it is due: pkg/execution/queue/item.go, KindSleep).
func TestSleepHoldsNoSlotAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := workScenario{
		opts: inngest.FunctionOpts{Concurrency: []inngest.Concurrency{{Limit: 1}}},
		work: 1500 * time.Millisecond,
		nap:  3 * time.Second,
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 400 * time.Millisecond, events: []flowEvent{{"a", 2}}},
		},
	}
	engine, server, entered := sc.run(t, tg)
	require.Equal(t, []workSpan{
		{1, "a", 3 * time.Second, 4500 * time.Millisecond},
		{2, "a", 4500 * time.Millisecond, 6 * time.Second},
	}, engine)
	require.Equal(t, map[int]time.Duration{1: 0, 2: 400 * time.Millisecond}, entered[0])
	require.Equal(t, workOrder(engine), workOrder(server))
	require.Equal(t, 1, mostAtOnce(server, ""))
	require.Less(t, entered[1][2], server[0].start, "the second run's first call comes while the first sleeps")
}

// cronFire is one run of a cron function: its event, and when it came.
type cronFire struct {
	at time.Time
	ev inngest.Event[map[string]any]
}

// A function on a cron of every minute, on the engine's virtual clock and
// on the server's real one: each fires on the minute, a minute apart, and
// gives its run the same event (the Inngest server's
// pkg/execution/cron/cron.go schedules it; pkg/execution/executor/
// service.go builds the event: inngest/scheduled.timer, the scheduled
// time as ID, data.cron, data.scheduledAt and data.fireAt). The server
// fires in real time, so this scenario waits for two of its minutes.
func TestCronAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	const expr = "* * * * *"
	handler := func(fires *recorder[cronFire], now func() time.Time) func(context.Context, inngest.Input[map[string]any]) (any, error) {
		return func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			// The first call of each run (a run with no steps has one).
			fires.add(cronFire{at: now(), ev: in.Event})
			return nil, nil
		}
	}

	// The engine: two virtual minutes.
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "cron", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	var engFires recorder[cronFire]
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "tick"}, inngest.CronTrigger(expr), handler(&engFires, eng.Now))
	require.NoError(t, err)
	eng.Register(c)
	eng.Advance(2 * time.Minute)
	eng.Wait()

	// The server: until it has fired twice, which takes up to two of its
	// minutes whatever the suite's wait.
	a := newApp(t, tg, appConfig{})
	var srvFires recorder[cronFire]
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "tick"}, inngest.CronTrigger(expr), handler(&srvFires, time.Now))
	require.NoError(t, err)
	a.sync()
	minutes := tg
	minutes.wait = max(tg.wait, 2*time.Minute+30*time.Second)
	minutes.eventually(t, "the server to fire the cron twice", func() (bool, string) {
		n := len(srvFires.all())
		return n >= 2, fmt.Sprintf("%d fire(s)", n)
	})
	server := srvFires.all()[:2]
	engine := engFires.all()
	require.Len(t, engine, 2, "the engine fires once a minute")

	// late bounds how long after its minute a fire may come: none on the
	// engine; on the server, its queue's and the call's delay.
	check := func(who string, fires []cronFire, late time.Duration) {
		t.Helper()
		for i, f := range fires {
			ev := f.ev
			require.Equal(t, "inngest/scheduled.timer", ev.Name, "%s fire %d", who, i)
			scheduled := mustTime(t, ev.ID) // the ID is the scheduled time
			require.Equal(t, scheduled, scheduled.Truncate(time.Minute), "%s fire %d: on the minute", who, i)
			require.Equal(t, ev.ID, ev.Data["scheduledAt"], "%s fire %d", who, i)
			require.Equal(t, ev.ID, ev.Data["fireAt"], "%s fire %d: no jitter, fired when scheduled", who, i)
			require.Equal(t, expr, ev.Data["cron"], "%s fire %d", who, i)
			require.ElementsMatch(t, []string{"cron", "scheduledAt", "fireAt"}, slices.Collect(maps.Keys(ev.Data)), "%s fire %d: data", who, i)
			require.GreaterOrEqual(t, ev.Timestamp, scheduled.UnixMilli(), "%s fire %d: ts", who, i)
			require.LessOrEqual(t, ev.Timestamp, scheduled.Add(late).UnixMilli(), "%s fire %d: ts", who, i)
			require.False(t, f.at.Before(scheduled), "%s fire %d: ran before its minute", who, i)
			require.LessOrEqual(t, f.at.Sub(scheduled), late, "%s fire %d: ran %s after its minute", who, i, f.at.Sub(scheduled))
			if i > 0 {
				require.Equal(t, time.Minute, scheduled.Sub(mustTime(t, fires[i-1].ev.ID)), "%s: a minute apart", who)
			}
		}
	}
	check("engine", engine, 0)
	check("server", server, 15*time.Second)
	t.Logf("server fired at %s (+%s) and %s (+%s)", server[0].ev.ID, server[0].at.Sub(mustTime(t, server[0].ev.ID)).Round(time.Millisecond),
		server[1].ev.ID, server[1].at.Sub(mustTime(t, server[1].ev.ID)).Round(time.Millisecond))
}

// mustTime parses an RFC 3339 time.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return at
}

// A finish timeout of 3 s, and two runs that sleep 1 s and 6 s: the
// first completes and the second is cancelled at its timeout, while it
// sleeps, on the server and on the engine (the Inngest server's
// pkg/execution/executor/executor.go schedules an eager cancellation at
// the run's start plus Finish; service.go's handleEagerCancelFinishTimeout
// carries it out).
func TestFinishTimeoutAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	const finish = 3 * time.Second
	opts := inngest.FunctionOpts{ID: "finish", Timeouts: &inngest.Timeouts{Finish: finish}}
	body := func(woke *recorder[int]) func(context.Context, inngest.Input[flowEvent]) (any, error) {
		return func(ctx context.Context, in inngest.Input[flowEvent]) (any, error) {
			if err := step.Sleep(ctx, "hold", time.Duration(in.Event.Data.N)*time.Second); err != nil {
				return nil, err
			}
			woke.add(in.Event.Data.N)
			return in.Event.Data.N, nil
		}
	}

	// The engine.
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "finish", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	var engWoke recorder[int]
	fn, err := inngest.CreateFunction(c, opts, inngest.EventTrigger("flow/go", nil), body(&engWoke))
	require.NoError(t, err)
	eng.Register(c)
	short := eng.Start(fn, inngest.Event[any]{Name: "flow/go", Data: flowEvent{N: 1}})
	long := eng.Start(fn, inngest.Event[any]{Name: "flow/go", Data: flowEvent{N: 6}})
	eng.Wait()
	short.RequireCompleted(t)
	long.RequireCancelled(t).RequireElapsed(t, finish)
	require.Equal(t, []int{1}, engWoke.all())

	// The server.
	a := newApp(t, tg, appConfig{})
	var srvWoke recorder[int]
	_, err = inngest.CreateFunction(a.Client, opts, inngest.EventTrigger(a.event("go"), nil), body(&srvWoke))
	require.NoError(t, err)
	a.sync()
	shortRun := tg.finished(t, a.send(a.event("go"), flowEvent{N: 1}))
	longRun := tg.finished(t, a.send(a.event("go"), flowEvent{N: 6}))
	require.Equal(t, "Completed", shortRun.Status)
	require.Equal(t, "Cancelled", longRun.Status)
	require.NotNil(t, longRun.EndedAt)
	took := longRun.EndedAt.Sub(longRun.StartedAt)
	t.Logf("the server cancelled the 6 s run after %s", took.Round(time.Millisecond))
	require.GreaterOrEqual(t, took, finish-time.Second, "cancelled before its finish timeout")
	require.Less(t, took, 6*time.Second, "not cancelled while it slept")
	require.Equal(t, []int{1}, srvWoke.all())
}
