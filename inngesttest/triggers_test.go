package inngesttest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startFailure starts fn with event in a fresh engine's app, defined by
// define, and returns the message Start failed the test with, or "".
func startFailure(t *testing.T, define func(c *inngest.Client) inngesttest.Function, event inngest.Event[any]) string {
	t.Helper()
	return failure(t, func(tb testing.TB) {
		eng := inngesttest.New(tb)
		c := newClient(t, eng)
		fn := define(c)
		eng.Register(c)
		eng.Run(fn, event).RequireCompleted(tb)
	})
}

// Run and Start are as strict as the server: an event whose name or
// data does not trigger the function does not start it, so a test with
// the wrong trigger fails instead of passing.
func TestRunRefusesAnEventThatDoesNotTrigger(t *testing.T) {
	big := func(c *inngest.Client) inngesttest.Function {
		return must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "big"}, inngest.MultipleTriggers{
			inngest.EventTrigger("shop/order.created", inngest.Ptr("event.data.total > 10")),
			inngest.EventTrigger("shop/order.imported", nil),
		}, noop))
	}
	const triggers = `whose triggers are [event "shop/order.created" if event.data.total > 10, event "shop/order.imported"]`

	msg := startFailure(t, big, evt("shop/order.updated", map[string]any{"total": 20}))
	assert.Contains(t, msg, `inngesttest: Start shop-big: event "shop/order.updated" does not trigger shop-big, `+triggers)

	msg = startFailure(t, big, evt("shop/order.created", map[string]any{"total": 5}))
	assert.Contains(t, msg, `event "shop/order.created" does not trigger shop-big, `+triggers, "the expression is false")

	// An expression that does not evaluate for the event does not
	// trigger either, and the message says why.
	msg = startFailure(t, big, evt("shop/order.created", map[string]any{"count": 5}))
	assert.Contains(t, msg, `event "shop/order.created" does not trigger shop-big, `+triggers+`; expression "event.data.total > 10": no such key: total`+
		` (the engine cannot evaluate an expression over a field the event lacks, which the server reads as null: give the event the field)`)

	for _, ok := range []inngest.Event[any]{
		evt("shop/order.created", map[string]any{"total": 20}),
		evt("shop/order.imported", nil),
		evt("", map[string]any{"total": 11}), // the first event trigger's name
	} {
		assert.Empty(t, startFailure(t, big, ok), ok.Name)
	}
}

// A cron function runs with an event without a name, or named
// inngest/scheduled.timer as the server names it, and no other.
func TestRunCronFunction(t *testing.T) {
	cron := func(c *inngest.Client) inngesttest.Function {
		return must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "nightly"}, inngest.CronTrigger("0 3 * * *"), noop))
	}
	assert.Empty(t, startFailure(t, cron, evt("", nil)))
	assert.Empty(t, startFailure(t, cron, evt("inngest/scheduled.timer", nil)))
	msg := startFailure(t, cron, evt("shop/nightly", nil))
	assert.Contains(t, msg, `event "shop/nightly" does not trigger shop-nightly, whose triggers are [cron "0 3 * * *" (its runs get an event named inngest/scheduled.timer)]`)
}

// Wildcards work as on the server: a "*" after "/" or "." matches every
// name with that beginning; a "*" elsewhere is no wildcard.
func TestWildcardTriggers(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	for id, name := range map[string]string{
		"slash":   "shop/*",
		"dot":     "shop/order.*",
		"midword": "shop/ord*",
		"star":    "*",
	} {
		must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: id}, inngest.EventTrigger(name, nil), noop))
	}
	eng.Register(c)
	started := func(name string) []string {
		var ids []string
		for _, r := range eng.Send(evt(name, nil)) {
			ids = append(ids, r.FunctionID())
		}
		slices.Sort(ids)
		return ids
	}
	assert.Equal(t, []string{"shop-dot", "shop-slash"}, started("shop/order.created"))
	assert.Equal(t, []string{"shop-dot", "shop-slash"}, started("shop/order.created.v2"))
	assert.Equal(t, []string{"shop-slash"}, started("shop/orders"))
	assert.Equal(t, []string{"shop-slash"}, started("shop/a/b"))
	assert.Empty(t, started("shop"))
	assert.Empty(t, started("shopping/x"))
	assert.Equal(t, []string{"shop-midword", "shop-slash"}, started("shop/ord*"), "matched only by its own name")

	eng.Run(inngesttest.FunctionID("shop-slash"), evt("shop/refund", nil)).RequireCompleted(t)

	// A function with only wildcard triggers needs an event with a name.
	msg := failure(t, func(tb testing.TB) {
		eng := inngesttest.New(tb)
		c := newClient(t, eng)
		fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "any"}, inngest.EventTrigger("shop/*", nil), noop))
		eng.Register(c)
		eng.Run(fn, evt("", nil))
	})
	assert.Contains(t, msg, `event "inngest/scheduled.timer" does not trigger shop-any, whose triggers are [event "shop/*"]`)
}

// Cancellations match event names exactly, as the server's do: no
// wildcards.
func TestCancelNamesMatchExactly(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "wait",
		Cancel: []inngest.Cancel{{Event: "shop/*"}, {Event: "shop/stop"}},
	}, inngest.EventTrigger("shop/go", nil), func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, step.Sleep(ctx, "nap", time.Hour)
	}))
	eng.Register(c)

	r1 := eng.Start(fn, evt("shop/go", nil))
	eng.Send(evt("shop/halt", nil))
	require.Equal(t, inngesttest.Running, r1.Status(), "shop/* is not a wildcard in a cancellation")
	eng.Send(evt("shop/stop", nil))
	r1.RequireCancelled(t)
}

// The server's own CEL functions, which Register accepts, evaluate too,
// now() reading the virtual clock.
func TestServerFunctionsEvaluate(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	eng := inngesttest.New(t, inngesttest.WithStartTime(start))
	c := newClient(t, eng)
	for id, expr := range map[string]string{
		"lower":  `lowercase(event.data.tier) == 'vip'`,
		"upper":  `uppercase(event.data.tier) == 'VIP'`,
		"b64":    `b64decode(event.data.token) == 'hi'`,
		"json":   `json_parse(event.data.raw).n == 2.0`,
		"recent": `date(event.data.at) > now_minus("1h") && date(event.data.at) < now_plus("1m")`,
		"millis": `date(event.data.ms) == date("2026-03-01T11:30:00Z")`,
	} {
		must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: id}, inngest.EventTrigger("shop/vip", &expr), noop))
	}
	eng.Register(c)
	data := map[string]any{
		"tier": "ViP", "token": "aGk=", "raw": `{"n":2}`,
		"at": "2026-03-01T11:30:00Z", "ms": start.Add(-30 * time.Minute).UnixMilli(),
	}
	ids := startedBy(eng, "shop/vip", data)
	slices.Sort(ids)
	assert.Equal(t, []string{"shop-b64", "shop-json", "shop-lower", "shop-millis", "shop-recent", "shop-upper"}, ids)

	eng.Advance(2 * time.Hour)
	data["ms"] = eng.Now().Add(-30 * time.Minute).UnixMilli()
	ids = startedBy(eng, "shop/vip", data)
	slices.Sort(ids)
	assert.Equal(t, []string{"shop-b64", "shop-json", "shop-lower", "shop-upper"}, ids, "at is 90 minutes old by now; ms is not 11:30")
}

func startedBy(eng *inngesttest.Engine, name string, data any) []string {
	var ids []string
	for _, r := range eng.Send(evt(name, data)) {
		ids = append(ids, r.FunctionID())
	}
	return ids
}
