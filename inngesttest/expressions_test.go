package inngesttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noop(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return nil, nil }

// registerFailure registers an app whose functions define makes, and
// returns the message Register failed the test with, or "".
func registerFailure(t *testing.T, define func(c *inngest.Client)) string {
	t.Helper()
	return failure(t, func(tb testing.TB) {
		eng := inngesttest.New(tb)
		c := newClient(t, eng)
		define(c)
		eng.Register(c)
	})
}

// syncThroughHandler syncs c's app as the server's PUT makes it, and
// returns the handler's error message when the sync failed.
func syncThroughHandler(t *testing.T, c *inngest.Client) error {
	t.Helper()
	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://shop.test/api/inngest", strings.NewReader("")))
	if rec.Code == http.StatusOK {
		return nil
	}
	var reply struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &reply), rec.Body.String())
	return errors.New(reply.Message)
}

// The example: CreateFunction accepts a trigger expression that
// does not compile, and the sync then fails with the server's bare "At
// least one function is invalid". Register refuses it, naming the
// function and the field.
func TestRegisterRefusesAnInvalidTriggerExpression(t *testing.T) {
	msg := registerFailure(t, func(c *inngest.Client) {
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "go"}, inngest.EventTrigger("m/go", inngest.Ptr("event.data.x ==")), noop)
		require.NoError(t, err, "the SDK cannot check CEL; the engine does")
	})
	assert.Contains(t, msg, `inngesttest: Register: app "shop": the server would refuse the sync ("At least one function is invalid")`)
	assert.Contains(t, msg, `function "shop-go": trigger 0 (event "m/go") Expression "event.data.x ==" does not compile: ERROR: <input>:1:16: Syntax error`)
}

// Trigger expressions are compiled (parsed and type-checked) in the
// server's environment: the variables event, async and vars (each a map
// of string to dyn), CEL's standard functions and macros with loosely
// typed +, ==, !=, <, <=, >, >=, and the server's own lowercase,
// uppercase, b64decode, json_parse, date, now, now_plus and now_minus;
// no "events" variable and no optional syntax. See the Inngest server's
// pkg/inngest/trigger.go (EventTrigger.Validate),
// pkg/expressions/validation.go (Validate) and
// pkg/expressions/exprenv (Env, customLibrary). Each verdict below was
// checked against the server's own Validate. The same check applies to
// debounce, rate-limit, idempotency and batch keys, batch if, and
// priority run.
func TestTriggerExpressionsAsTheServerChecksThem(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{`event.data.x == 1`, true},
		{`event.data.x == "a" && async.data.y == event.data.y`, true},
		{`vars.a == 1`, true},
		{`event.data.x + 1 == 2`, true},
		{`1 == 1.0`, true}, // loose ==: CEL alone refuses int == double
		{`"a" < 1`, true},  // loose <
		{`event.data.name.startsWith("a")`, true},
		{`size(event.data.items) > 1`, true},
		{`has(event.data.x)`, true},
		{`event.data.items.exists(i, i > 1)`, true},
		{`lowercase(event.data.s) == "a"`, true},
		{`date(event.data.ts) > now_minus("1h")`, true},
		{`json_parse(event.data.s).a == 1`, true},
		{`type(event.data.x) == int`, true},
		{`event.data.x in [1, 2]`, true},
		{`event.data.plan == 'pro' ? 120 : 0`, true},

		{`event.data.x ==`, false},            // syntax
		{`(event.data.x == 1`, false},         // syntax
		{`event.data.x = 1`, false},           // syntax
		{`events.length == 1`, false},         // no "events" variable
		{`foo == 1`, false},                   // undeclared variable
		{`nosuch(event.data.s)`, false},       // undeclared function
		{`event.data.x.startsWith(1)`, false}, // no such overload
		{`lowercase(1)`, false},               // no such overload
		{`event.data.?x == 1`, false},         // optional syntax
		{`has(event)`, false},                 // has() needs a field
		{`event.data.items.exists(1)`, false}, // not the macro, and no such function
		{`event.data.x == "unterminated`, false},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			msg := registerFailure(t, func(c *inngest.Client) {
				must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/x", inngest.Ptr(tc.expr)), noop))
			})
			if tc.ok {
				assert.Empty(t, msg)
				return
			}
			assert.Contains(t, msg, `function "shop-f": trigger 0 (event "shop/x") Expression `+strconv.Quote(tc.expr)+` does not compile: `)
		})
	}
}

// Cancel expressions are compiled and held to the server's restrictive
// policy: no macros, and no function calls but the logical and comparison
// operators, indexing, "in" and int/uint/double. Like the server's, the
// walk does not look into list literals. See the Inngest server's
// pkg/inngest/function.go (Function.Validate, "Cancellation expression
// is invalid") and pkg/expressions/validation.go
// (DefaultRestrictiveValidationPolicy, validateAST). Each verdict below
// was checked against the server's own Validate with that policy.
func TestCancelExpressionsAsTheServerChecksThem(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // "" when accepted
	}{
		{`event.data.id == async.data.id`, ""},
		{`async.data.account == event.data.account && event.data.amount > 100`, ""},
		{`event.data.x in [1, 2]`, ""},
		{`event.data.x in [1 + 1]`, ""},
		{`int(async.data.n) == 1`, ""},
		{`event.data.x == 1 ? true : false`, ""},
		{`!(event.data.x == async.data.x)`, ""},
		{`event.data.xs[0] == async.data.x`, ""},

		{`event.data.x + 1 == 2`, "function calls are not allowed (+)"},
		{`-async.data.x == 1`, "function calls are not allowed (-)"},
		{`async.data.name.startsWith("a")`, "function calls are not allowed (startsWith)"},
		{`size(async.data.items) > 1`, "function calls are not allowed (size)"},
		{`string(async.data.x) == "1"`, "function calls are not allowed (string)"},
		{`lowercase(async.data.s) == "a"`, "function calls are not allowed (lowercase)"},
		{`async.data.ts > now()`, "function calls are not allowed (now)"},
		{`has(async.data.x)`, "macros are not allowed (has)"},
		{`async.data.items.exists(i, i > 1)`, "macros are not allowed (all, exists, exists_one, map, filter)"},
		{`events[0].data.x == 1`, "does not compile"},
		{`async.data.x ==`, "does not compile"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			msg := registerFailure(t, func(c *inngest.Client) {
				must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f", Cancel: []inngest.Cancel{{Event: "shop/stop", If: tc.expr}}},
					inngest.EventTrigger("shop/x", nil), noop))
			})
			if tc.want == "" {
				assert.Empty(t, msg)
				return
			}
			assert.Contains(t, msg, `function "shop-f": FunctionOpts.Cancel[0].If (or Match) `+strconv.Quote(tc.expr)+` `)
			assert.Contains(t, msg, tc.want)
		})
	}
}

// Every field that holds an expression is checked, and the message names
// it. Concurrency keys the server only parses (pkg/inngest/concurrency.go,
// NewExpressionEvaluator), so an expression that parses but would not
// compile passes, as there; throttle and singleton keys the server does
// not check at sync, but it cannot evaluate one that does not parse
// (pkg/execution/queue/item.go GetThrottleConfig,
// pkg/execution/singleton/singleton.go SingletonKey), so the engine
// refuses those; priority run the server parses at sync and compiles
// before each run (pkg/inngest/function.go RunPriorityFactor), ignoring
// the priority when that fails, so the engine compiles it.
func TestEveryExpressionFieldIsChecked(t *testing.T) {
	const bad = "event.data.x =="
	trig := inngest.EventTrigger("shop/x", nil)
	for _, tc := range []struct {
		field string
		opts  func(expr string) inngest.FunctionOpts
		trig  func(expr string) inngest.Triggerable
		// compiles is an expression that parses but does not compile;
		// refused says whether the engine refuses it.
		refused bool
	}{
		{field: `trigger 0 (event "shop/x") Expression`, trig: func(x string) inngest.Triggerable { return inngest.EventTrigger("shop/x", &x) }, refused: true},
		{field: "FunctionOpts.Cancel[0].If (or Match)", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Cancel: []inngest.Cancel{{Event: "shop/stop", If: x}}}
		}, refused: true},
		{field: "FunctionOpts.Concurrency[1].Key", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Concurrency: []inngest.Concurrency{{Limit: 5}, {Limit: 1, Key: x}}}
		}, refused: false},
		{field: "FunctionOpts.Throttle.Key", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Throttle: &inngest.Throttle{Limit: 1, Period: time.Minute, Key: x}}
		}, refused: false},
		{field: "FunctionOpts.RateLimit.Key", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{RateLimit: &inngest.RateLimit{Limit: 1, Period: time.Minute, Key: x}}
		}, refused: true},
		{field: "FunctionOpts.Idempotency", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Idempotency: x}
		}, refused: true},
		{field: "FunctionOpts.Debounce.Key", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Debounce: &inngest.Debounce{Period: time.Second, Key: x}}
		}, refused: true},
		{field: "FunctionOpts.BatchEvents.Key", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{BatchEvents: &inngest.BatchEvents{MaxSize: 10, Timeout: time.Second, Key: x}}
		}, refused: true},
		{field: "FunctionOpts.BatchEvents.If", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{BatchEvents: &inngest.BatchEvents{MaxSize: 10, Timeout: time.Second, If: x}}
		}, refused: true},
		{field: "FunctionOpts.Priority.Run", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Priority: &inngest.Priority{Run: x}}
		}, refused: true},
		{field: "FunctionOpts.Singleton.Key", opts: func(x string) inngest.FunctionOpts {
			return inngest.FunctionOpts{Singleton: &inngest.Singleton{Mode: inngest.SingletonSkip, Key: x}}
		}, refused: false},
	} {
		t.Run(tc.field, func(t *testing.T) {
			define := func(expr string) func(c *inngest.Client) {
				return func(c *inngest.Client) {
					var opts inngest.FunctionOpts
					if tc.opts != nil {
						opts = tc.opts(expr)
					}
					opts.ID = "f"
					tr := inngest.Triggerable(trig)
					if tc.trig != nil {
						tr = tc.trig(expr)
					}
					must(inngest.CreateFunction(c, opts, tr, noop))
				}
			}
			// A good expression passes.
			assert.Empty(t, registerFailure(t, define("event.data.x == 1")))

			msg := registerFailure(t, define(bad))
			assert.Contains(t, msg, `function "shop-f": `+tc.field+` "`+bad+`" does not`)

			// An undeclared function parses but does not compile.
			msg = registerFailure(t, define("nosuch(event.data.x) == 1"))
			if tc.refused {
				assert.Contains(t, msg, `function "shop-f": `+tc.field+` "nosuch(event.data.x) == 1" does not compile: `)
			} else {
				assert.Empty(t, msg)
			}
		})
	}
}

// Keys the engine refuses although the server's sync lets them through
// say why.
func TestRefusalsBeyondTheSyncSayWhy(t *testing.T) {
	msg := registerFailure(t, func(c *inngest.Client) {
		must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f",
			Throttle: &inngest.Throttle{Limit: 1, Period: time.Minute, Key: "event.data.user =="},
		}, inngest.EventTrigger("shop/x", nil), noop))
		must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "g",
			Priority: &inngest.Priority{Run: "nosuch(event.data.plan)"},
		}, inngest.EventTrigger("shop/y", nil), noop))
	})
	assert.Contains(t, msg, `function "shop-f": FunctionOpts.Throttle.Key "event.data.user ==" does not parse: `)
	assert.Contains(t, msg, "(the server does not check it at sync, but cannot evaluate it, and throttles every run under one key)")
	// Every invalid function is listed, not only the first.
	assert.Contains(t, msg, `function "shop-g": FunctionOpts.Priority.Run "nosuch(event.data.plan)" does not compile: `)
	assert.Contains(t, msg, "(the server checks only its syntax at sync, but compiles it before each run, and ignores the priority when that fails)")
}

// A sync through the app's handler (PUT) is refused the same way: the
// engine keeps the functions it had.
func TestSyncThroughHandlerRefusesInvalidExpressions(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	first := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "first"}, inngest.EventTrigger("shop/first", nil), noop))
	eng.Register(c)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "late"}, inngest.EventTrigger("shop/late", inngest.Ptr("event.data.x ==")), noop))

	err := syncThroughHandler(t, c)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "the server does not say which", "the engine's answer says which")
	assert.Contains(t, err.Error(), `function "shop-late": trigger 0 (event "shop/late") Expression "event.data.x ==" does not compile`)
	assert.Empty(t, eng.Send(evt("shop/late", nil)), "the invalid sync changed nothing")
	eng.Run(first, evt("", nil)).RequireCompleted(t)
}

// A wait's expression is known only when the wait opcode arrives. One
// that does not compile fails the run at once, without retries, naming
// the step, as the server does (pkg/execution/executor/executor.go,
// handleGeneratorWaitForEvent: "InvalidExpression", and the run fails
// early); one that compiles but breaks the restrictive policy is only
// logged there, and works.
func TestWaitExpressionIsCheckedWhenTheWaitArrives(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	calls := 0
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "approve", Retries: inngest.Ptr(3)}, inngest.EventTrigger("shop/order", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			calls++
			_, err := step.WaitForEvent[map[string]any](ctx, "approval", step.WaitForEventOpts{
				Event: "shop/approved", If: "async.data.id == event.data.id &&", Timeout: time.Hour,
			})
			return nil, err
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/order", map[string]any{"id": 1}))
	run.RequireError(t, `step.WaitForEvent "approval": its If expression "async.data.id == event.data.id &&" does not compile: `)
	assert.Equal(t, "InvalidExpression", run.Err().Name)
	assert.Equal(t, 1, calls, "not retried")

	eng2 := inngesttest.New(t)
	c2 := newClient(t, eng2)
	fn2 := must(inngest.CreateFunction(c2, inngest.FunctionOpts{ID: "approve"}, inngest.EventTrigger("shop/order", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			return step.WaitForEvent[map[string]any](ctx, "approval", step.WaitForEventOpts{
				Event: "shop/approved", If: "size(async.data.items) > 0", Timeout: time.Hour,
			})
		}))
	eng2.Register(c2)
	eng2.OnPause("approval", func(inngesttest.Pause) {
		eng2.Send(evt("shop/approved", map[string]any{"items": []int{1}}))
	})
	run2 := eng2.Run(fn2, evt("shop/order", nil))
	run2.RequireCompleted(t).RequireStep(t, "approval").Completed()
	assert.True(t, strings.Contains(string(run2.Output()), `"items":[1]`), "%s", run2.Output())
}
