package inngesttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/require"
)

// The concurrency tests give each step "work…" a virtual duration of a
// second (other calls take none), and read when each step's body ran
// from Engine.CallSpans.

// perStep gives every step a duration of d, and calls that run no step
// none.
func perStep(d time.Duration) inngesttest.Option {
	return inngesttest.WithCallDuration(func(fn, step string) time.Duration {
		if step == "" {
			return 0
		}
		return d
	})
}

// work runs the steps named, one after the other, and returns data.n.
func work(steps ...string) func(context.Context, inngest.Input[keyed]) (any, error) {
	return func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
		for _, id := range steps {
			if _, err := step.Run(ctx, id, func(ctx context.Context) (int, error) { return in.Event.Data.N, nil }); err != nil {
				return nil, err
			}
		}
		return in.Event.Data.N, nil
	}
}

// span is when a step's body ran, by the run's data.n.
type span struct {
	n     int
	step  string
	start time.Duration
}

// stepSpans lists the calls of fn that ran a step body, in order, with
// their start from t0.
func stepSpans(t *testing.T, eng *inngesttest.Engine, fn inngesttest.Function, t0 time.Time) []span {
	t.Helper()
	var out []span
	for _, s := range eng.CallSpans(fn) {
		if s.Step == "" {
			continue
		}
		var ev struct {
			Data keyed `json:"data"`
		}
		require.NoError(t, jsonUnmarshal(s.Run.Event(), &ev))
		out = append(out, span{n: ev.Data.N, step: s.Step, start: s.Start.Sub(t0)})
	}
	return out
}

// entry returns the run's first timeline entry of the kind.
func entry(t *testing.T, r *inngesttest.Run, kind inngesttest.EntryKind) inngesttest.Entry {
	t.Helper()
	for _, en := range r.Timeline() {
		if en.Kind == kind {
			return en
		}
	}
	t.Fatalf("run %s has no %s entry:\n%v", r.ID(), kind, r)
	return inngesttest.Entry{}
}

// A function's concurrency limit (scope fn, no key: PartitionConcurrency
// in the Inngest server's pkg/inngest/concurrency.go) counts the steps in
// progress: each queue item holds a slot while the SDK runs it
// (pkg/constraintapi/lua/acquire.lua takes it while fewer than the limit
// are in progress, release.lua gives it back), and the items beyond the
// limit wait in the queue.
func TestConcurrencyLimitPerFunction(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "limited", Concurrency: []inngest.Concurrency{{Limit: 2}}},
		inngest.EventTrigger("shop/c", nil), work("work")))
	eng.Register(c)
	t0 := eng.Now()
	for i := range 5 {
		eng.Send(evt("shop/c", keyed{N: i}))
	}
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 5)
	for i, r := range runs {
		r.RequireOutput(t, i)
	}
	require.Equal(t, []span{{0, "work", 0}, {1, "work", 0}, {2, "work", time.Second}, {3, "work", time.Second}, {4, "work", 2 * time.Second}},
		stepSpans(t, eng, fn, t0))
	eng.RequireMaxConcurrent(t, fn, 2)

	// The run that waited says so, and for how long.
	en := entry(t, runs[4], inngesttest.EntryConcurrency)
	require.Equal(t, 2*time.Second, en.Delay)
	require.Contains(t, en.Detail, "queued behind concurrency limit 2 of the function")
	require.Equal(t, 3*time.Second, runs[4].Elapsed())
	// A call's entry comes when its answer does, with its duration.
	call := entry(t, runs[0], inngesttest.EntryCall)
	require.Equal(t, t0.Add(time.Second), call.At)
	require.Equal(t, time.Second, call.Delay)
}

// Without WithCallDuration calls take no virtual time: a limit never
// holds anything back, and runs behave as without it.
func TestConcurrencyLimitWithoutCallDuration(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "limited", Concurrency: []inngest.Concurrency{{Limit: 1}}},
		inngest.EventTrigger("shop/c", nil), work("work")))
	eng.Register(c)
	t0 := eng.Now()
	for i := range 3 {
		eng.Send(evt("shop/c", keyed{N: i}))
	}
	eng.Wait()
	for _, r := range eng.RequireRuns(t, fn, 3) {
		r.RequireCompleted(t)
		require.Equal(t, t0, r.EndedAt())
		for _, en := range r.Timeline() {
			require.NotEqual(t, inngesttest.EntryConcurrency, en.Kind, "%v", r)
		}
	}
	eng.RequireMaxConcurrent(t, fn, 1)
}

// A keyed limit counts each value of the key apart: the key is evaluated
// on the run's event when it is scheduled (GetCustomConcurrencyKeys in
// the Inngest server's pkg/execution/queue/item.go). Scope fn counts a
// function's runs only; scope env counts every function's runs with the
// same key expression and value in the environment (the in-progress set
// of ConcurrencyConstraint.InProgressLeasesKey in
// pkg/constraintapi/constraints.go is the scope's entity, the
// expression's hash and the value's).
func TestConcurrencyLimitPerKey(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	perFn := func(id string) *inngest.Function[keyed] {
		return must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: id, Concurrency: []inngest.Concurrency{{Limit: 1, Key: "event.data.key"}}},
			inngest.EventTrigger("shop/k", nil), work("work")))
	}
	perEnv := func(id string) *inngest.Function[keyed] {
		return must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: id, Concurrency: []inngest.Concurrency{{Limit: 1, Key: "event.data.key", Scope: inngest.ScopeEnv}}},
			inngest.EventTrigger("shop/e", nil), work("work")))
	}
	fnA, fnB := perFn("fn-a"), perFn("fn-b")
	envA, envB := perEnv("env-a"), perEnv("env-b")
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/k", keyed{Key: "x", N: 1}), evt("shop/k", keyed{Key: "x", N: 2}), evt("shop/k", keyed{Key: "y", N: 3}))
	eng.Send(evt("shop/e", keyed{Key: "x", N: 1}), evt("shop/e", keyed{Key: "y", N: 3}))
	eng.Wait()

	// Scope fn: each function's x runs one at a time, y beside them, and
	// the other function's runs do not count.
	for _, fn := range []*inngest.Function[keyed]{fnA, fnB} {
		require.Equal(t, []span{{1, "work", 0}, {3, "work", 0}, {2, "work", time.Second}}, stepSpans(t, eng, fn, t0), fn.ID())
		eng.RequireMaxConcurrent(t, fn, 2)
		en := entry(t, eng.RunsOf(fn)[1], inngesttest.EntryConcurrency)
		require.Contains(t, en.Detail, `limit 1 for key "x" (scope fn)`)
	}
	// Scope env: env-b's x waits for env-a's, y for env-a's y.
	require.Equal(t, []span{{1, "work", 0}, {3, "work", 0}}, stepSpans(t, eng, envA, t0))
	require.Equal(t, []span{{1, "work", time.Second}, {3, "work", time.Second}}, stepSpans(t, eng, envB, t0))
	en := entry(t, eng.RunsOf(envB)[0], inngesttest.EntryConcurrency)
	require.Contains(t, en.Detail, `limit 1 for key "x" (scope env)`)
}

// Two limits apply together: a step needs a slot of each (the backlog's
// constraints in the Inngest server's pkg/execution/queue/constraints.go,
// constraintItemsFromBacklog, one for the function's limit and one per
// key). The queue takes what it can: a call held by one key does not
// hold back another key's.
func TestTwoConcurrencyLimits(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "two", Concurrency: []inngest.Concurrency{{Limit: 2}, {Limit: 1, Key: "event.data.key"}}},
		inngest.EventTrigger("shop/two", nil), work("work")))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/two", keyed{Key: "a", N: 1}), evt("shop/two", keyed{Key: "a", N: 2}), evt("shop/two", keyed{Key: "b", N: 3}), evt("shop/two", keyed{Key: "c", N: 4}))
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 4)
	require.Equal(t, []span{{1, "work", 0}, {3, "work", 0}, {2, "work", time.Second}, {4, "work", time.Second}}, stepSpans(t, eng, fn, t0))
	eng.RequireMaxConcurrent(t, fn, 2)
	require.Contains(t, entry(t, runs[1], inngesttest.EntryConcurrency).Detail, `limit 1 for key "a"`)
	require.Contains(t, entry(t, runs[3], inngesttest.EntryConcurrency).Detail, "limit 2 of the function")
}

// The queue finishes older runs first: an item due now is scored by its
// run's start, not by when it became due (QueueItem.Score in the Inngest
// server's pkg/execution/queue/item.go), so with a limit of 1 a run's
// next step goes before a newer run's first.
func TestConcurrencyQueueOrder(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fifo", Concurrency: []inngest.Concurrency{{Limit: 1}}},
		inngest.EventTrigger("shop/f", nil), work("one", "two")))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/f", keyed{N: 1}))
	eng.Advance(500 * time.Millisecond)
	eng.Send(evt("shop/f", keyed{N: 2}))
	eng.Advance(200 * time.Millisecond)
	eng.Send(evt("shop/f", keyed{N: 3}))
	eng.Wait()
	require.Equal(t, []span{
		{1, "one", 0}, {1, "two", time.Second},
		{2, "one", 2 * time.Second}, {2, "two", 3 * time.Second},
		{3, "one", 4 * time.Second}, {3, "two", 5 * time.Second},
	}, stepSpans(t, eng, fn, t0))
	eng.RequireMaxConcurrent(t, fn, 1)
}

// A sleeping run holds no slot: it has no queue item in progress (a
// sleep is an item due later, leased only when it is due), so another
// run's steps go on meanwhile.
func TestSleepingRunHoldsNoSlot(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "nap", Concurrency: []inngest.Concurrency{{Limit: 1}}},
		inngest.EventTrigger("shop/nap", nil), func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
			if _, err := step.Run(ctx, "before", func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", 10*time.Second); err != nil {
				return nil, err
			}
			return step.Run(ctx, "after", func(ctx context.Context) (int, error) { return in.Event.Data.N, nil })
		}))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/nap", keyed{N: 1}))
	eng.Advance(500 * time.Millisecond)
	eng.Send(evt("shop/nap", keyed{N: 2}))
	eng.Wait()
	require.Equal(t, []span{
		{1, "before", 0}, {2, "before", time.Second},
		{1, "after", 11 * time.Second}, {2, "after", 12 * time.Second},
	}, stepSpans(t, eng, fn, t0))
	for _, r := range eng.RequireRuns(t, fn, 2) {
		r.RequireCompleted(t)
	}
}

// priorityByKey gives "high" 60 s and "mid" 30 s of priority.
const priorityByKey = `event.data.key == "high" ? 60 : (event.data.key == "mid" ? 30 : 0)`

// Priority moves a run ahead of the queue's other work by its factor in
// seconds: the queue scores its items the run's start less the factor
// (QueueItem.Score and Item.GetPriorityFactor in the Inngest server's
// pkg/execution/queue/item.go; the factor from RunPriorityFactor in
// pkg/inngest/function.go). Behind a limit of 1, the runs waiting for
// the first start highest first.
func TestPriorityOrdersHeldRuns(t *testing.T) {
	eng := inngesttest.New(t, perStep(10*time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "prio", Concurrency: []inngest.Concurrency{{Limit: 1}}, Priority: &inngest.Priority{Run: priorityByKey}},
		inngest.EventTrigger("shop/p", nil), work("work")))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/p", keyed{Key: "low", N: 0}))
	for i, k := range []string{"low", "high", "mid"} {
		eng.Advance(time.Second)
		eng.Send(evt("shop/p", keyed{Key: k, N: i + 1}))
	}
	eng.Wait()
	require.Equal(t, []span{{0, "work", 0}, {2, "work", 10 * time.Second}, {3, "work", 20 * time.Second}, {1, "work", 30 * time.Second}},
		stepSpans(t, eng, fn, t0))
}

// The factor is clamped to ±12 hours (PriorityFactorMax in the Inngest
// server's pkg/consts): a run asking for more than that does not pass
// an older one at the maximum. An expression that gives no integer (a
// number read from the event is a double) leaves the factor 0.
func TestPriorityClamped(t *testing.T) {
	eng := inngesttest.New(t, perStep(10*time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "prio", Concurrency: []inngest.Concurrency{{Limit: 1}},
		Priority: &inngest.Priority{Run: `event.data.key == "max" ? 43200 : (event.data.key == "more" ? 999999 : event.data.n)`}},
		inngest.EventTrigger("shop/p", nil), work("work")))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/p", keyed{Key: "first", N: 0}))
	eng.Advance(time.Second)
	eng.Send(evt("shop/p", keyed{Key: "double", N: 500})) // data.n is a double: no priority
	eng.Advance(time.Second)
	eng.Send(evt("shop/p", keyed{Key: "max", N: 2}))
	eng.Advance(time.Second)
	eng.Send(evt("shop/p", keyed{Key: "more", N: 3}))
	eng.Wait()
	require.Equal(t, []span{{0, "work", 0}, {2, "work", 10 * time.Second}, {3, "work", 20 * time.Second}, {500, "work", 30 * time.Second}},
		stepSpans(t, eng, fn, t0))
}

// A negative factor scores a run's items later than their due time,
// and the queue does not take them before: the run's calls wait until
// its start less the factor, with nothing else queued (QueueItem.Score;
// the Inngest server's TestRunPriorityFactor in
// pkg/execution/state/redis_state/queue_processor_test.go shows the
// score deciding when an item runs). A call queued after that is not
// held.
func TestNegativePriorityDelaysRun(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "later", Priority: &inngest.Priority{Run: `event.data.key == "late" ? -30 : 0`}},
		inngest.EventTrigger("shop/l", nil), work("one", "two")))
	eng.Register(c)
	t0 := eng.Now()
	late := eng.Send(evt("shop/l", keyed{Key: "late", N: 1}))[0]
	now := eng.Send(evt("shop/l", keyed{Key: "now", N: 2}))[0]
	eng.Wait()
	now.RequireOutput(t, 2)
	require.Equal(t, t0, now.EndedAt())
	late.RequireOutput(t, 1)
	require.Equal(t, t0.Add(30*time.Second), late.EndedAt())
	en := entry(t, late, inngesttest.EntryPriority)
	require.Equal(t, 30*time.Second, en.Delay)
	require.Equal(t, t0, en.At)
	n := 0
	for _, e := range late.Timeline() {
		if e.Kind == inngesttest.EntryPriority {
			n++
		}
	}
	require.Equal(t, 1, n, "only the first call waits:\n%v", late)
	_ = fn
}

// Priority orders the runs a throttle holds back too: the throttle is
// checked when the queue leases the start (pkg/constraintapi/lua/acquire.lua),
// and the queue offers the best-scored start first.
func TestPriorityOrdersThrottledRuns(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "prio", Throttle: &inngest.Throttle{Limit: 1, Period: 10 * time.Second}, Priority: &inngest.Priority{Run: priorityByKey}},
		inngest.EventTrigger("shop/p", nil), echo))
	eng.Register(c)
	eng.Send(evt("shop/p", keyed{Key: "low", N: 0}))
	eng.Advance(time.Second)
	eng.Send(evt("shop/p", keyed{Key: "low", N: 1}))
	eng.Advance(time.Second)
	eng.Send(evt("shop/p", keyed{Key: "high", N: 2}))
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 3)
	require.Equal(t, time.Duration(0), firstCall(t, runs[0]))
	require.Equal(t, 8*time.Second, firstCall(t, runs[2]), "high: at 10 s")
	require.Equal(t, 19*time.Second, firstCall(t, runs[1]), "low: at 20 s")
	en := entry(t, runs[2], inngesttest.EntryThrottled)
	require.Equal(t, 8*time.Second, en.Delay)
}

// RequireMaxConcurrent fails when more calls, or fewer, were in
// progress at once than it requires, and lists the calls.
func TestRequireMaxConcurrentMessage(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "free"}, inngest.EventTrigger("shop/free", nil), work("work")))
	eng.Register(c)
	eng.Send(evt("shop/free", keyed{N: 1}), evt("shop/free", keyed{N: 2}), evt("shop/free", keyed{N: 3}))
	eng.Wait()
	eng.RequireMaxConcurrent(t, fn, 3)
	msg := failure(t, func(tb testing.TB) { eng.RequireMaxConcurrent(tb, fn, 2) })
	require.Contains(t, msg, "shop-free: want at most 2 call(s) in progress at once, and that many at some point; got at most 3")
	require.Contains(t, msg, " work")
	msg = failure(t, func(tb testing.TB) { eng.RequireMaxConcurrent(tb, fn, 4) })
	require.Contains(t, msg, "want at most 4 call(s)")
}

// Scope account counts the runs of every app's functions with the same
// key expression and value (InProgressLeasesKey in the Inngest server's
// pkg/constraintapi/constraints.go, keyed by the account); a limit of 0
// is no limit (a function limit of 0 is left out of the constraints,
// constraintItemsFromBacklog in pkg/execution/queue/constraints.go).
func TestConcurrencyAccountScopeAndNoLimit(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	newApp := func(id string) *inngest.Client {
		c, err := inngest.NewClient(inngest.ClientOpts{AppID: id, Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(), Logger: quiet})
		require.NoError(t, err)
		return c
	}
	shop, billing := newApp("shop"), newApp("billing")
	opts := func(id string) inngest.FunctionOpts {
		return inngest.FunctionOpts{ID: id, Concurrency: []inngest.Concurrency{{Limit: 0}, {Limit: 1, Key: "event.data.key", Scope: inngest.ScopeAccount}}}
	}
	a := must(inngest.CreateFunction(shop, opts("sync"), inngest.EventTrigger("acct/x", nil), work("work")))
	b := must(inngest.CreateFunction(billing, opts("sync"), inngest.EventTrigger("acct/x", nil), work("work")))
	eng.Register(shop)
	eng.Register(billing)
	t0 := eng.Now()
	eng.Send(evt("acct/x", keyed{Key: "k", N: 1}), evt("acct/x", keyed{Key: "k", N: 2}))
	eng.Wait()
	// One at a time across both apps, in the order the runs came.
	require.Equal(t, []span{{1, "work", 0}, {2, "work", 2 * time.Second}}, stepSpans(t, eng, a, t0))
	require.Equal(t, []span{{1, "work", time.Second}, {2, "work", 3 * time.Second}}, stepSpans(t, eng, b, t0))
}

// A run a concurrency limit holds back has not started: its start
// timeout cancels it (handleEagerCancelStartTimeout in the Inngest
// server's pkg/execution/executor/service.go), and the runs behind it
// move up.
func TestConcurrencyHeldRunStartTimeout(t *testing.T) {
	eng := inngesttest.New(t, perStep(10*time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "prompt", Concurrency: []inngest.Concurrency{{Limit: 1}}, Timeouts: &inngest.Timeouts{Start: 5 * time.Second}},
		inngest.EventTrigger("shop/s", nil), work("work")))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/s", keyed{N: 1}), evt("shop/s", keyed{N: 2}))
	eng.Advance(6 * time.Second)
	eng.Send(evt("shop/s", keyed{N: 3}))
	eng.Wait()
	runs := eng.RequireRuns(t, fn, 3)
	runs[0].RequireOutput(t, 1)
	runs[1].RequireCancelled(t)
	require.Zero(t, runs[1].Calls())
	require.Equal(t, t0.Add(5*time.Second), runs[1].EndedAt())
	runs[2].RequireOutput(t, 3)
	require.Equal(t, []span{{1, "work", 0}, {3, "work", 10 * time.Second}}, stepSpans(t, eng, fn, t0))
}

// The limit counts steps, not runs: a run's parallel steps are queue
// items of their own, each needing a slot (the constraints apply to
// every item of a backlog, pkg/execution/queue/constraints.go), so one
// run with three parallel steps and a limit of 2 runs two at once.
func TestConcurrencyCountsParallelSteps(t *testing.T) {
	eng := inngesttest.New(t, perStep(time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fan", Concurrency: []inngest.Concurrency{{Limit: 2}}},
		inngest.EventTrigger("shop/fan", nil), func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
			g := step.NewGroup(ctx)
			for _, id := range []string{"p1", "p2", "p3"} {
				g.Go(func(ctx context.Context) error {
					_, err := step.Run(ctx, id, func(context.Context) (int, error) { return 1, nil })
					return err
				})
			}
			return nil, g.Wait()
		}))
	eng.Register(c)
	t0 := eng.Now()
	run := eng.Run(fn, evt("shop/fan", keyed{N: 7}))
	run.RequireCompleted(t)
	require.Equal(t, []span{{7, "p1", 0}, {7, "p2", 0}, {7, "p3", time.Second}}, stepSpans(t, eng, fn, t0))
	eng.RequireMaxConcurrent(t, fn, 2)
	require.Equal(t, time.Second, entry(t, run, inngesttest.EntryConcurrency).Delay)
}

// The call after a sleep is the sleep's queue item, which carries no
// priority factor (Item.GetPriorityFactor in the Inngest server's
// pkg/execution/queue/item.go counts it for start and edge items only):
// it is scored by its run's start alone, so a high-priority run's step
// after a sleep does not pass an older low-priority run's, though its
// first step did.
func TestPriorityNotOnTheCallAfterASleep(t *testing.T) {
	eng := inngesttest.New(t, perStep(10*time.Second))
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "prio", Concurrency: []inngest.Concurrency{{Limit: 1}}, Priority: &inngest.Priority{Run: priorityByKey}},
		inngest.EventTrigger("shop/p", nil), func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
			if _, err := step.Run(ctx, "one", func(context.Context) (int, error) { return 1, nil }); err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", time.Second); err != nil {
				return nil, err
			}
			return step.Run(ctx, "two", func(context.Context) (int, error) { return 2, nil })
		}))
	eng.Register(c)
	t0 := eng.Now()
	eng.Send(evt("shop/p", keyed{Key: "low", N: 1}))
	eng.Advance(500 * time.Millisecond)
	eng.Send(evt("shop/p", keyed{Key: "low", N: 2}))
	eng.Advance(500 * time.Millisecond)
	eng.Send(evt("shop/p", keyed{Key: "high", N: 3}))
	eng.Wait()
	require.Equal(t, []span{
		{1, "one", 0},
		{3, "one", 10 * time.Second}, // ahead of runs 1 and 2, by 60 s of priority
		{2, "one", 20 * time.Second},
		{1, "two", 30 * time.Second}, // ahead of run 3's call after its sleep, due since 21 s
		{3, "two", 40 * time.Second},
		{2, "two", 50 * time.Second},
	}, stepSpans(t, eng, fn, t0))
}
