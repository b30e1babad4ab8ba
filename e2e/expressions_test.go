package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and
// stops the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// engineRefusal registers, with an in-process engine, an app whose one
// function define creates, and returns Register's message, or "".
func engineRefusal(t *testing.T, define func(c *inngest.Client, event string)) string {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng := inngesttest.New(rec)
		c, err := inngest.NewClient(inngest.ClientOpts{AppID: "engine", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		define(c, "engine/x")
		eng.Register(c)
	}()
	<-done
	return rec.msg
}

// The engine refuses at Register exactly the expressions the real server
// refuses at sync, field by field; where the server's sync lets an
// expression through that it cannot use later (throttle keys, priority
// run), the engine refuses it too. A sync the server refuses fails with
// an error that lists the expressions to check.
func TestExpressionsRefusedLikeTheServer(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	for _, tc := range []struct {
		name         string
		expr         string
		define       func(c *inngest.Client, event, expr string)
		serverRefuse bool
		engineRefuse bool
	}{
		{"trigger syntax", "event.data.x ==", trigger, true, true},
		{"trigger events", "events[0].data.x == 1", trigger, true, true},
		{"trigger loose equality", "1 == 1.0", trigger, false, false},
		{"trigger macro", "event.data.items.exists(i, i > 1)", trigger, false, false},
		{"trigger custom function", "lowercase(event.data.s) == 'a'", trigger, false, false},
		{"cancel call", "event.data.x + 1 == async.data.x", cancel, true, true},
		{"cancel has", "has(async.data.x)", cancel, true, true},
		{"cancel comparison", "event.data.x == async.data.x && int(async.data.n) > 1", cancel, false, false},
		{"concurrency syntax", "event.data.x ==", concurrencyKey, true, true},
		{"concurrency undeclared", "nosuch(event.data.x)", concurrencyKey, false, false},
		{"debounce undeclared", "foo.bar", debounceKey, true, true},
		{"rate limit overload", "lowercase(1)", rateLimitKey, true, true},
		{"idempotency syntax", "event.data.id ==", idempotency, true, true},
		{"batch if", "has(event.data.x)", batchIf, false, false},
		{"batch key", "events.x", batchKey, true, true},
		{"priority undeclared", "nosuch(event.data.plan)", priorityRun, false, true},
		{"throttle syntax", "event.data.user ==", throttleKey, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, tg, appConfig{})
			tc.define(a.Client, a.event("x"), tc.expr)
			status, reply := a.put(tg.signingKey)
			if tc.serverRefuse {
				assert.Equal(t, http.StatusInternalServerError, status, reply.Message)
				assert.Contains(t, reply.Message, "answered 400: At least one function is invalid (the server does not say which; check these CEL expressions")
				assert.Contains(t, reply.Message, fmt.Sprintf("%q", tc.expr))
			} else {
				assert.Equal(t, http.StatusOK, status, reply.Message)
			}
			msg := engineRefusal(t, func(c *inngest.Client, event string) { tc.define(c, event, tc.expr) })
			if tc.engineRefuse {
				assert.Contains(t, msg, `function "engine-f": `)
				assert.Contains(t, msg, fmt.Sprintf("%q", tc.expr))
			} else {
				assert.Empty(t, msg)
			}
		})
	}
}

func exprFn(c *inngest.Client, opts inngest.FunctionOpts, trig inngest.Triggerable) {
	opts.ID = "f"
	_, err := inngest.CreateFunction(c, opts, trig, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
}

func trigger(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{}, inngest.EventTrigger(event, &expr))
}

func cancel(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{Cancel: []inngest.Cancel{{Event: event + ".stop", If: expr}}}, inngest.EventTrigger(event, nil))
}

func concurrencyKey(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{Concurrency: []inngest.Concurrency{{Limit: 1, Key: expr}}}, inngest.EventTrigger(event, nil))
}

func debounceKey(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{Debounce: &inngest.Debounce{Period: time.Second, Key: expr}}, inngest.EventTrigger(event, nil))
}

func rateLimitKey(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{RateLimit: &inngest.RateLimit{Limit: 1, Period: time.Minute, Key: expr}}, inngest.EventTrigger(event, nil))
}

func idempotency(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{Idempotency: expr}, inngest.EventTrigger(event, nil))
}

func batchIf(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{BatchEvents: &inngest.BatchEvents{MaxSize: 5, Timeout: time.Second, If: expr}}, inngest.EventTrigger(event, nil))
}

func batchKey(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{BatchEvents: &inngest.BatchEvents{MaxSize: 5, Timeout: time.Second, Key: expr}}, inngest.EventTrigger(event, nil))
}

func priorityRun(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{Priority: &inngest.Priority{Run: expr}}, inngest.EventTrigger(event, nil))
}

func throttleKey(c *inngest.Client, event, expr string) {
	exprFn(c, inngest.FunctionOpts{Throttle: &inngest.Throttle{Limit: 1, Period: time.Minute, Key: expr}}, inngest.EventTrigger(event, nil))
}

// A wait whose If does not compile fails the run at once, without
// retries, on the server as in the engine.
func TestWaitExpressionThatDoesNotCompileFailsTheRun(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	const bad = "async.data.id == event.data.id &&"
	var calls counter
	define := func(c *inngest.Client, event string) inngesttest.Function {
		f, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "wait-bad", Retries: inngest.Ptr(2)}, inngest.EventTrigger(event, nil),
			func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				calls.inc()
				return step.WaitForEvent[map[string]any](ctx, "approval", step.WaitForEventOpts{Event: event + ".approved", If: bad, Timeout: time.Hour})
			})
		require.NoError(t, err)
		return f
	}
	a := newApp(t, tg, appConfig{})
	define(a.Client, a.event("x"))
	a.sync()
	run := tg.finished(t, a.send(a.event("x"), map[string]any{"id": 1}))
	assert.Equal(t, "Failed", run.Status)
	var out struct {
		Error struct{ Name, Message, Stack string }
	}
	require.NoError(t, json.Unmarshal(run.Output, &out), "%s", run.Output)
	assert.Equal(t, "InvalidExpression", out.Error.Name)
	assert.Equal(t, "Wait for event If expression failed to compile", out.Error.Message)
	assert.Contains(t, out.Error.Stack, "Syntax error")
	assert.Equal(t, 1, calls.get(), "not retried")

	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "engine", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	fn := define(c, "engine/x")
	eng.Register(c)
	r := eng.Run(fn, inngest.Event[any]{Name: "engine/x", Data: map[string]any{"id": 1}})
	r.RequireError(t, `step.WaitForEvent "approval": its If expression "`+bad+`" does not compile`)
	assert.Equal(t, "InvalidExpression", r.Err().Name)
	assert.Equal(t, 2, calls.get(), "one call in the engine, not retried")
}
