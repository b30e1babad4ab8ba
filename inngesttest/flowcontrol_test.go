package inngesttest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/require"
)

type keyed struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// echo returns the triggering event's data.n.
func echo(ctx context.Context, in inngest.Input[keyed]) (any, error) { return in.Event.Data.N, nil }

// A rate limit is a GCRA with an emission interval of period/limit and a
// burst of limit/10 (the Inngest server's
// pkg/execution/ratelimit/ratelimit_lua.go and lua/ratelimit.lua): with
// limit 2 per minute one event passes at once, the next 30 s later;
// excess events start no run and are listed as rate limited.
func TestRateLimitSkipsExcessEvents(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "limited", RateLimit: &inngest.RateLimit{Limit: 2, Period: time.Minute}},
		inngest.EventTrigger("shop/ping", nil), echo))
	eng.Register(c)

	started := eng.Send(evt("shop/ping", keyed{N: 1}), evt("shop/ping", keyed{N: 2}), evt("shop/ping", keyed{N: 3}))
	require.Len(t, started, 1)
	eng.Wait()
	started[0].RequireOutput(t, 1)
	skips := eng.RequireSkipped(t, fn, inngesttest.SkippedRateLimited, 2)
	require.Contains(t, skips[0].Detail, "capacity again in 30s")

	eng.Advance(29 * time.Second)
	require.Empty(t, eng.Send(evt("shop/ping", keyed{N: 4})))
	eng.Advance(time.Second)
	require.Len(t, eng.Send(evt("shop/ping", keyed{N: 5})), 1)
	eng.Wait()
	eng.RequireRuns(t, fn, 2)
	eng.RequireSkipped(t, fn, inngesttest.SkippedRateLimited, 3)
}

// The burst is limit/10: with limit 20 per minute, three events pass at
// once; a key limits each key's events apart, and a key expression that
// is false does not limit the event (ratelimit.go, RateLimitKey).
func TestRateLimitBurstAndKey(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	burst := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "burst", RateLimit: &inngest.RateLimit{Limit: 20, Period: time.Minute}},
		inngest.EventTrigger("shop/burst", nil), echo))
	perKey := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "per-key", RateLimit: &inngest.RateLimit{Limit: 1, Period: time.Hour, Key: "event.data.key"}},
		inngest.EventTrigger("shop/keyed", nil), echo))
	unlessEmpty := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "unless-empty", RateLimit: &inngest.RateLimit{Limit: 1, Period: time.Hour, Key: `event.data.key != "" && event.data.key != "free"`}},
		inngest.EventTrigger("shop/free", nil), echo))
	eng.Register(c)

	for i := range 5 {
		eng.Send(evt("shop/burst", keyed{N: i}))
	}
	eng.RequireRuns(t, burst, 3)
	eng.RequireSkipped(t, burst, inngesttest.SkippedRateLimited, 2)

	eng.Send(evt("shop/keyed", keyed{Key: "a"}), evt("shop/keyed", keyed{Key: "b"}), evt("shop/keyed", keyed{Key: "a"}))
	eng.RequireRuns(t, perKey, 2)
	skip := eng.RequireSkipped(t, perKey, inngesttest.SkippedRateLimited, 1)
	require.Contains(t, skip[0].Detail, `key "a"`)

	eng.Send(evt("shop/free", keyed{Key: "free"}), evt("shop/free", keyed{Key: "free"}))
	eng.RequireRuns(t, unlessEmpty, 2)
	eng.Wait()
}

// Debounce runs the function once, with the last event, when a period
// passed without another event of its key; the server queues the run
// for the period's end plus 1.05 s (pkg/execution/debounce/debounce.go).
func TestDebounceLastEventWins(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "sync", Debounce: &inngest.Debounce{Period: 10 * time.Second, Key: "event.data.key"}},
		inngest.EventTrigger("shop/changed", nil), echo))
	eng.Register(c)
	start := eng.Now()

	require.Empty(t, eng.Send(evt("shop/changed", keyed{Key: "a", N: 1})))
	eng.Advance(3 * time.Second)
	eng.Send(evt("shop/changed", keyed{Key: "a", N: 2}), evt("shop/changed", keyed{Key: "b", N: 10}))
	eng.Advance(3 * time.Second)
	eng.Send(evt("shop/changed", keyed{Key: "a", N: 3}))
	eng.Advance(8*time.Second - time.Millisecond)
	eng.RequireRuns(t, fn, 0)
	eng.Advance(50*time.Millisecond + time.Millisecond) // b: 3 s + 10 s + 1.05 s
	eng.RequireRuns(t, fn, 1)
	eng.Advance(3*time.Second - time.Millisecond)
	eng.RequireRuns(t, fn, 1)
	eng.Advance(time.Millisecond) // a: 6 s + 10 s + 1.05 s
	runs := eng.RequireRuns(t, fn, 2)
	eng.Wait()
	runs[0].RequireOutput(t, 10)
	require.Equal(t, start.Add(14*time.Second+50*time.Millisecond), runs[0].StartedAt())
	runs[1].RequireOutput(t, 3)
	require.Equal(t, start.Add(17*time.Second+50*time.Millisecond), runs[1].StartedAt())
	tl := runs[1].Timeline()
	require.Equal(t, inngesttest.EntryDebounced, tl[1].Kind, "%v", runs[1])
	require.Equal(t, 17*time.Second+50*time.Millisecond, tl[1].Delay)
	require.Contains(t, tl[1].Detail, "3 event(s)")
	eng.RequireSkipped(t, fn, inngesttest.SkippedDebounced, 2)
}

// Debounce's timeout caps the wait from the first event: an update may
// move the run no later than the timeout, cut to the whole seconds left
// (pkg/execution/state/redis_state/lua/debounce/updateDebounce.lua).
func TestDebounceTimeout(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "capped", Debounce: &inngest.Debounce{Period: 10 * time.Second, Timeout: 15 * time.Second}},
		inngest.EventTrigger("shop/changed", nil), echo))
	eng.Register(c)
	start := eng.Now()
	for i := range 4 { // at 0, 4, 8 and 12 s
		if i > 0 {
			eng.Advance(4 * time.Second)
		}
		eng.Send(evt("shop/changed", keyed{N: i}))
	}
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 1)
	runs[0].RequireOutput(t, 3)
	require.Equal(t, start.Add(16*time.Second+50*time.Millisecond), runs[0].StartedAt())
}

// An idempotency key lets one run per key start in 24 hours: the server
// turns it into a rate limit of 1 per 24 h by that key (the Inngest
// server's pkg/sdk/function.go,
// FunctionIdempotencyPeriod in pkg/consts).
func TestIdempotencyOneRunPerKeyPerDay(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "once", Idempotency: "event.data.key"},
		inngest.EventTrigger("shop/once", nil), echo))
	eng.Register(c)

	eng.Send(evt("shop/once", keyed{Key: "a", N: 1}), evt("shop/once", keyed{Key: "b", N: 2}), evt("shop/once", keyed{Key: "a", N: 3}))
	eng.Advance(24*time.Hour - time.Second)
	eng.Send(evt("shop/once", keyed{Key: "a", N: 4}))
	eng.Advance(time.Second)
	eng.Send(evt("shop/once", keyed{Key: "a", N: 5}))
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 3)
	for i, want := range []int{1, 2, 5} {
		runs[i].RequireOutput(t, want)
	}
	skips := eng.RequireSkipped(t, fn, inngesttest.SkippedIdempotent, 2)
	require.Contains(t, skips[1].Detail, "capacity again in 1s")
	eng.RequireSkipped(t, fn, inngesttest.SkippedRateLimited, 0)
}

// firstCall is when the run's first call was made, from its start.
func firstCall(t *testing.T, r *inngesttest.Run) time.Duration {
	t.Helper()
	for _, en := range r.Timeline() {
		if en.Kind == inngesttest.EntryCall {
			return en.At.Sub(r.StartedAt())
		}
	}
	t.Fatalf("run %s made no call:\n%v", r.ID(), r)
	return 0
}

// Throttle holds runs' starts back, never drops them: limit+burst start
// at once, then one every period/limit, in order, per key (the Inngest
// server's pkg/constraintapi/lua/acquire.lua and helper/gcra.lua, with
// the throttle on the run's start item only, per
// pkg/execution/executor/executor.go and pkg/execution/queue/item.go).
func TestThrottleQueuesStarts(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "throttled", Throttle: &inngest.Throttle{Limit: 2, Period: 10 * time.Second, Burst: 1, Key: "event.data.key"}},
		inngest.EventTrigger("shop/t", nil), echo))
	eng.Register(c)

	for i := range 5 {
		eng.Send(evt("shop/t", keyed{Key: "a", N: i}))
	}
	eng.Send(evt("shop/t", keyed{Key: "b", N: 9}))
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 6)
	var waits []time.Duration
	for _, r := range runs {
		r.RequireCompleted(t)
		waits = append(waits, firstCall(t, r))
	}
	require.Equal(t, []time.Duration{0, 0, 0, 5 * time.Second, 10 * time.Second, 0}, waits)
	tl := runs[4].Timeline()
	require.Equal(t, inngesttest.EntryThrottled, tl[1].Kind, "%v", runs[4])
	require.Equal(t, 10*time.Second, tl[1].Delay)
	require.Contains(t, tl[1].Detail, `key "a"`)
	eng.RequireSkipped(t, fn, inngesttest.SkippedRateLimited, 0)

	// Capacity comes back one start per period/limit: Wait moved the
	// clock to the last start, 10 s, and the next is due 5 s later.
	require.Equal(t, runs[0].StartedAt().Add(10*time.Second), eng.Now())
	r := eng.Send(evt("shop/t", keyed{Key: "a", N: 5}))[0]
	eng.Wait()
	require.Equal(t, 5*time.Second, firstCall(t, r))
}

// holdFor sleeps for d, then returns data.n.
func holdFor(d time.Duration) func(context.Context, inngest.Input[keyed]) (any, error) {
	return func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
		if err := step.Sleep(ctx, "hold", d); err != nil {
			return nil, err
		}
		return in.Event.Data.N, nil
	}
}

// A singleton in skip mode starts no run while a run of the same key is
// in progress; the key is free again when that run ends (the Inngest
// server's pkg/execution/singleton/singleton.go, the executor's
// schedule in pkg/execution/executor/executor.go, and the queue's
// dequeue.lua, which releases the key).
func TestSingletonSkip(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "single", Singleton: &inngest.Singleton{Key: "event.data.key", Mode: inngest.SingletonSkip}},
		inngest.EventTrigger("shop/s", nil), holdFor(time.Minute)))
	eng.Register(c)

	first := eng.Send(evt("shop/s", keyed{Key: "a", N: 1}))[0]
	eng.Advance(10 * time.Second)
	require.Empty(t, eng.Send(evt("shop/s", keyed{Key: "a", N: 2})))
	other := eng.Send(evt("shop/s", keyed{Key: "b", N: 3}))
	require.Len(t, other, 1)
	eng.Advance(50 * time.Second) // the first run ends
	again := eng.Send(evt("shop/s", keyed{Key: "a", N: 4}))
	require.Len(t, again, 1)
	eng.Wait()
	first.RequireOutput(t, 1)
	again[0].RequireOutput(t, 4)
	skip := eng.RequireSkipped(t, fn, inngesttest.SkippedSingleton, 1)
	require.Contains(t, skip[0].Detail, first.ID())
	eng.RequireRuns(t, fn, 3)
}

// A singleton in cancel mode cancels the run in progress and starts the
// new one (executor.go, SingletonModeCancel); the cancelled run's
// timeline says why, and its cancellation handler runs.
func TestSingletonCancel(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "latest", Singleton: &inngest.Singleton{Mode: inngest.SingletonCancel}},
		inngest.EventTrigger("shop/s", nil), holdFor(time.Minute)))
	eng.Register(c)

	first := eng.Send(evt("shop/s", keyed{N: 1}))[0]
	eng.Advance(10 * time.Second)
	second := eng.Send(evt("shop/s", keyed{N: 2}))[0]
	eng.Wait()
	first.RequireCancelled(t)
	second.RequireOutput(t, 2)
	var reason string
	for _, en := range first.Timeline() {
		if en.Kind == inngesttest.EntryCancelled {
			reason = en.Detail
		}
	}
	require.Contains(t, reason, "cancelled by singleton", "%v", first)
	eng.RequireEvent(t, inngest.FunctionCancelledEvent)
	eng.RequireRuns(t, fn, 2)
}

// A start timeout cancels a run that has not started within it of its
// creation, here one a throttle holds back (the Inngest server's
// pkg/execution/executor/executor.go, createEagerCancellationForTimeout,
// and service.go, handleEagerCancelStartTimeout).
func TestStartTimeoutCancelsHeldBackRun(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "prompt",
		Throttle: &inngest.Throttle{Limit: 1, Period: 10 * time.Second},
		Timeouts: &inngest.Timeouts{Start: 15 * time.Second}},
		inngest.EventTrigger("shop/p", nil), echo))
	eng.Register(c)
	for i := range 3 {
		eng.Send(evt("shop/p", keyed{N: i}))
	}
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 3)
	runs[0].RequireOutput(t, 0)
	runs[1].RequireOutput(t, 1) // started at 10 s
	runs[2].RequireCancelled(t) // due at 20 s
	require.Equal(t, 15*time.Second, runs[2].Elapsed())
	require.Zero(t, runs[2].Calls())
	var reason string
	for _, en := range runs[2].Timeline() {
		if en.Kind == inngesttest.EntryCancelled {
			reason = en.Detail
		}
	}
	require.Contains(t, reason, "start timeout")
}

// ns returns the data.n of each event of the run.
func ns(t *testing.T, r *inngesttest.Run) []int {
	t.Helper()
	var out []int
	for _, raw := range r.Events() {
		var ev struct {
			Data keyed `json:"data"`
		}
		require.NoError(t, json.Unmarshal(raw, &ev))
		out = append(out, ev.Data.N)
	}
	return out
}

// Batching: the first event of a key opens a batch due timeout later,
// the event that fills it to MaxSize starts it at once, and an event for
// which If is false runs at once on its own (the Inngest server's
// pkg/execution/batch, lua/append.lua, AppendAndScheduleBatch in
// pkg/execution/executor/executor.go, and pkg/execution/runner/runner.go
// for If).
func TestBatching(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	var sizes []int
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "batched",
		BatchEvents: &inngest.BatchEvents{MaxSize: 3, Timeout: 10 * time.Second, Key: "event.data.key", If: "event.data.n < 100"}},
		inngest.EventTrigger("shop/b", nil),
		func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
			sizes = append(sizes, len(in.Events))
			return len(in.Events), nil
		}))
	eng.Register(c)

	eng.Send(evt("shop/b", keyed{Key: "a", N: 1}), evt("shop/b", keyed{Key: "b", N: 2}), evt("shop/b", keyed{Key: "a", N: 3}))
	eng.Advance(2 * time.Second)
	full := eng.Send(evt("shop/b", keyed{Key: "a", N: 4}), evt("shop/b", keyed{Key: "a", N: 5}))
	require.Empty(t, full) // batches start outside Send's results
	alone := eng.Send(evt("shop/b", keyed{Key: "a", N: 100}))
	require.Len(t, alone, 1)
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 4)
	require.Equal(t, []int{1, 3, 4}, ns(t, runs[0]))
	runs[0].RequireEvents(t, 3).RequireOutput(t, 3)
	require.Equal(t, []int{100}, ns(t, runs[1]))
	// a's second batch (5) and b's (2) wait for their timeouts.
	require.Equal(t, []int{2}, ns(t, runs[2]))
	require.Equal(t, eng.RunsOf(fn)[0].StartedAt().Add(8*time.Second), runs[2].StartedAt())
	require.Equal(t, []int{5}, ns(t, runs[3]))
	require.Equal(t, runs[0].StartedAt().Add(10*time.Second), runs[3].StartedAt())
	tl := runs[0].Timeline()
	require.Equal(t, inngesttest.EntryBatched, tl[1].Kind, "%v", runs[0])
	require.Contains(t, tl[1].Detail, "full")
	require.Equal(t, []int{3, 1, 1, 1}, sizes)
}
