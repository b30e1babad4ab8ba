package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
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
}

// started runs the scenario on the engine and on the server and returns
// the data.n of the events the runs started with, sorted: first the
// engine's, then the server's.
func (sc flowScenario) started(t *testing.T, tg target) (engine, server []int) {
	t.Helper()
	body := func(rec *recorder[int]) func(context.Context, inngest.Input[flowEvent]) (any, error) {
		return func(ctx context.Context, in inngest.Input[flowEvent]) (any, error) {
			if in.Attempt == 0 {
				rec.add(in.Event.Data.N)
			}
			return in.Event.Data.N, nil
		}
	}

	// The engine.
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "flow", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	var engRec recorder[int]
	opts := sc.opts
	opts.ID = "flow"
	_, err = inngest.CreateFunction(c, opts, inngest.EventTrigger("flow/go", nil), body(&engRec))
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
	engine = engRec.all()
	slices.Sort(engine)

	// The server.
	a := newApp(t, tg, appConfig{})
	var srvRec recorder[int]
	_, err = inngest.CreateFunction(a.Client, opts, inngest.EventTrigger(a.event("go"), nil), body(&srvRec))
	require.NoError(t, err)
	a.sync()
	t0 := time.Now()
	for _, s := range sc.sends {
		time.Sleep(time.Until(t0.Add(s.at)))
		for _, ev := range s.events {
			a.send(a.event("go"), ev)
		}
	}
	tg.eventually(t, fmt.Sprintf("%d run(s) to start", len(engine)), func() (bool, string) {
		got := srvRec.all()
		return len(got) >= len(engine), fmt.Sprint(got)
	})
	// Runs that the engine did not start have time to start too.
	time.Sleep(sc.settle + 2*time.Second)
	server = srvRec.all()
	slices.Sort(server)
	return engine, server
}

// Rate limit 20 per minute and key: a burst of 2 (limit/10) over the
// first, then one every 3 s (the Inngest server's pkg/execution/ratelimit).
func TestRateLimitAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	sc := flowScenario{
		opts: inngest.FunctionOpts{RateLimit: &inngest.RateLimit{Limit: 20, Period: time.Minute, Key: "event.data.key"}},
		// 150 ms apart, since the server does not keep the order of
		// events sent at once.
		sends: []flowSend{
			{at: 0, events: []flowEvent{{"a", 1}}},
			{at: 150 * time.Millisecond, events: []flowEvent{{"a", 2}}},
			{at: 300 * time.Millisecond, events: []flowEvent{{"a", 3}}},
			{at: 450 * time.Millisecond, events: []flowEvent{{"a", 4}}},
			{at: 600 * time.Millisecond, events: []flowEvent{{"a", 5}}},
			{at: 750 * time.Millisecond, events: []flowEvent{{"b", 6}}},
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
