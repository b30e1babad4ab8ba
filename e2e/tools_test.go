package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

type approval struct {
	ID string `json:"id"`
	By string `json:"by"`
}

// reported waits until the handler has answered a call of function fnID
// with an opcode op, such as "WaitForEvent".
func (a *app) reported(t *testing.T, fnID, op string) {
	t.Helper()
	a.tg.eventually(t, fnID+" to report "+op, func() (bool, string) {
		for _, c := range a.callsTo(fnID) {
			if strings.Contains(c.Response, `"op":"`+op+`"`) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d call(s)", len(a.callsTo(fnID)))
	})
}

// step.WaitForEvent returns the matching event that arrived during the
// wait, skipping one that does not match; with no event it times out.
func TestWaitForEvent(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "review"}, inngest.EventTrigger(a.event("submitted"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			evt, err := step.WaitForEvent[approval](ctx, "approval", step.WaitForEventOpts{
				Event: a.event("approved"), Match: "data.id", Timeout: time.Minute,
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"approved_by": evt.Data.By, "event": evt.Name}, nil
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "expire"}, inngest.EventTrigger(a.event("expiring"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			_, err := step.WaitForEvent[approval](ctx, "approval", step.WaitForEventOpts{
				Event: a.event("approved"), If: "async.data.id == 'nobody-sends-this'", Timeout: 2 * time.Second,
			})
			if errors.Is(err, step.ErrEventNotReceived) {
				return map[string]any{"timed_out": true}, nil
			}
			return map[string]any{"timed_out": false, "error": fmt.Sprint(err)}, nil
		})
	require.NoError(t, err)
	a.sync()

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		run := tg.finished(t, a.send(a.event("expiring"), order{ID: "o-late"}))
		require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
		assert.JSONEq(t, `{"timed_out":true}`, string(run.Output))
	})
	t.Run("matched", func(t *testing.T) {
		t.Parallel()
		eid := a.send(a.event("submitted"), order{ID: "o-42"})
		runID := tg.runsOf(t, eid, 1)[0].RunID
		a.reported(t, "review", "WaitForEvent")
		// The server records the wait just after the SDK reports it; an
		// event sent before that is not seen, so the matching event is
		// sent again until the run has taken one.
		a.send(a.event("approved"), approval{ID: "o-41", By: "mallory"})
		var run apiRun
		tg.eventually(t, "the wait to match", func() (bool, string) {
			a.send(a.event("approved"), approval{ID: "o-42", By: "alice"})
			run = apiRun{}
			deadline := time.Now().Add(2 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := tg.apiGet(context.Background(), "/v1/runs/"+runID, &run); err == nil && run.ended() {
					return true, ""
				}
				time.Sleep(pollEvery)
			}
			return false, "status " + run.Status
		})
		require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
		assert.JSONEq(t, fmt.Sprintf(`{"approved_by":"alice","event":%q}`, a.event("approved")), string(run.Output))
	})
}

type sum struct {
	A int `json:"a"`
	B int `json:"b"`
}

// step.Invoke runs another function and returns its result; the
// invoked function's failure comes back as a StepError.
func TestInvoke(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	add, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "add"}, inngest.EventTrigger(a.event("add"), nil),
		func(ctx context.Context, in inngest.Input[sum]) (any, error) {
			if in.Event.Data.A < 0 {
				return nil, inngest.NoRetryError(fmt.Errorf("negative operand %d", in.Event.Data.A))
			}
			return map[string]int{"total": in.Event.Data.A + in.Event.Data.B}, nil
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "caller"}, inngest.EventTrigger(a.event("call"), nil),
		func(ctx context.Context, in inngest.Input[sum]) (any, error) {
			type result struct {
				Total int `json:"total"`
			}
			got, err := step.InvokeFunction[result](ctx, "add", add, in.Event.Data, time.Minute)
			var se *inngest.StepError
			if errors.As(err, &se) {
				return map[string]any{"invoke_failed": se.Message, "step": se.StepID}, nil
			}
			if err != nil {
				return nil, err
			}
			return map[string]any{"total": got.Total}, nil
		})
	require.NoError(t, err)
	a.sync()

	ok := a.send(a.event("call"), sum{A: 2, B: 40})
	bad := a.send(a.event("call"), sum{A: -1, B: 1})

	run := tg.finished(t, ok)
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"total":42}`, string(run.Output))

	run = tg.finished(t, bad)
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"invoke_failed":"negative operand -1","step":"add"}`, string(run.Output))
}

// step.SendEvent sends an event once, returns the ID the server stored
// it under, and the event triggers another function.
func TestSendEvent(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var after counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "signup"}, inngest.EventTrigger(a.event("signup"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			ids, err := step.SendEvent(ctx, "welcome", inngest.Event[any]{Name: a.event("welcome"), Data: map[string]string{"user": in.Event.Data.ID}})
			if err != nil {
				return nil, err
			}
			if _, err := step.Run(ctx, "after", func(ctx context.Context) (int, error) { return after.inc(), nil }); err != nil {
				return nil, err
			}
			return map[string]any{"ids": ids}, nil
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "welcome"}, inngest.EventTrigger(a.event("welcome"), nil),
		func(ctx context.Context, in inngest.Input[map[string]string]) (any, error) {
			return map[string]string{"welcomed": in.Event.Data["user"]}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("signup"), order{ID: "u-7"}))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	var out struct {
		IDs []string `json:"ids"`
	}
	require.NoError(t, json.Unmarshal(run.Output, &out))
	require.Len(t, out.IDs, 1)

	// The sent event's ID is the one the server stored: it finds the run
	// the event triggered.
	welcomed := tg.finished(t, out.IDs[0])
	require.Equal(t, "Completed", welcomed.Status, "output: %s", welcomed.Output)
	assert.JSONEq(t, `{"welcomed":"u-7"}`, string(welcomed.Output))
	assert.Equal(t, 1, after.get())
	// One request for the test's event, one for the step's: the replays
	// after the step did not send again.
	assert.Equal(t, 2, a.eventSends())
}

// A Group's steps are reported together and run in parallel, each in a
// targeted call; the function then goes on with all their results.
func TestParallelSteps(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var bodies [3]counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "fan-out"}, inngest.EventTrigger(a.event("fan"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			var res [3]int
			g := step.NewGroup(ctx)
			for i := range res {
				g.Go(func(ctx context.Context) (err error) {
					res[i], err = step.Run(ctx, fmt.Sprintf("part-%d", i), func(ctx context.Context) (int, error) {
						bodies[i].inc()
						return (i + 1) * 10, nil
					})
					return err
				})
			}
			if err := g.Wait(); err != nil {
				return nil, err
			}
			total, err := step.Run(ctx, "total", func(ctx context.Context) (int, error) { return res[0] + res[1] + res[2], nil })
			if err != nil {
				return nil, err
			}
			return map[string]any{"parts": res, "total": total}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("fan"), nil))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"parts":[10,20,30],"total":60}`, string(run.Output))
	for i := range bodies {
		assert.Equal(t, 1, bodies[i].get(), "part-%d body runs", i)
	}
	planned, targeted := 0, 0
	for _, c := range a.callsTo("fan-out") {
		planned += strings.Count(c.Response, `"op":"StepPlanned"`)
		if c.StepID != "step" {
			targeted++
		}
	}
	assert.Equal(t, 3, planned, "the three parts are planned together")
	assert.GreaterOrEqual(t, targeted, 3, "each part runs in a targeted call")
}

// A step that sends an event and then fails is retried; its retry sends
// the event again with the same event-ID seed, so the server gives it
// the same ID and the function it triggers runs once.
func TestRetriedStepSendsItsEventOnce(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var attempts, received counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "emit", Retries: inngest.Ptr(2)}, inngest.EventTrigger(a.event("emit"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			return step.Run(ctx, "notify", func(ctx context.Context) ([]string, error) {
				ids, err := a.Client.Send(ctx, inngest.Event[any]{Name: a.event("notified"), Data: map[string]string{"order": in.Event.Data.ID}})
				if err != nil {
					return nil, err
				}
				if attempts.inc() == 1 {
					return nil, errors.New("the mail server hung up after the event went out")
				}
				return ids, nil
			})
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "on-notified"}, inngest.EventTrigger(a.event("notified"), nil),
		func(ctx context.Context, in inngest.Input[map[string]string]) (any, error) {
			received.inc()
			return in.Event.Data["order"], nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("emit"), order{ID: "o-3"}))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.Equal(t, 2, attempts.get(), "the step ran twice")
	var ids []string
	require.NoError(t, json.Unmarshal(run.Output, &ids))
	require.Len(t, ids, 1)
	got := tg.finished(t, ids[0])
	require.Equal(t, "Completed", got.Status)
	// Give a duplicate time to show up: the receiver must still have run
	// once, and the event's ID must still name one run.
	time.Sleep(2 * time.Second)
	assert.Equal(t, 1, received.get(), "runs of the function the event triggers")
	tg.runsOf(t, ids[0], 1)
}
