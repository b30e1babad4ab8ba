package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// OnFailure runs exactly once after the final failure, with the original
// event, the error and the ID of the step that failed; a failure outside
// any step has no step ID.
func TestOnFailure(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})

	type report struct {
		calls   counter
		mu      sync.Mutex
		failure inngest.Failure[order]
	}
	handler := func(r *report) *inngest.FailureFunc[order] {
		return inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) {
			r.calls.inc()
			r.mu.Lock()
			r.failure = f
			r.mu.Unlock()
			return map[string]string{"handled": f.RunID, "step": f.StepID}, nil
		})
	}
	var stepFail, fnFail report
	var stepAttempts, fnAttempts counter
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "ship", Retries: inngest.Ptr(1), OnFailure: handler(&stepFail)},
		inngest.EventTrigger(a.event("ship"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			if _, err := step.Run(ctx, "reserve", func(ctx context.Context) (bool, error) { return true, nil }); err != nil {
				return nil, err
			}
			_, err := step.Run(ctx, "label", func(ctx context.Context) (string, error) {
				stepAttempts.inc()
				return "", fmt.Errorf("carrier rejected %s", in.Event.Data.ID)
			})
			return nil, err
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "bill", Retries: inngest.Ptr(1), OnFailure: handler(&fnFail)},
		inngest.EventTrigger(a.event("bill"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			fnAttempts.inc()
			return nil, errors.New("ledger locked")
		})
	require.NoError(t, err)
	a.sync()

	cases := []struct {
		name, fnID, event string
		data              order
		rep               *report
		attempts          *counter
		wantStep, wantMsg string
	}{
		{"step failure", "ship", a.event("ship"), order{ID: "o-1", Items: 2}, &stepFail, &stepAttempts, "label", "carrier rejected o-1"},
		{"function failure", "bill", a.event("bill"), order{ID: "o-2", Items: 3}, &fnFail, &fnAttempts, "", "ledger locked"},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = a.send(c.event, c.data)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := tg.finished(t, ids[i])
			require.Equal(t, "Failed", run.Status, "output: %s", run.Output)
			assert.Equal(t, 2, c.attempts.get(), "Retries 1: two attempts")

			// The handler's own run, as the server recorded it.
			tg.eventually(t, "the failure handler", func() (bool, string) { return c.rep.calls.get() > 0, "" })
			c.rep.mu.Lock()
			f := c.rep.failure
			c.rep.mu.Unlock()
			hr := tg.run(t, f.Handler.RunID, "to end", apiRun.ended)
			require.Equal(t, "Completed", hr.Status, "handler output: %s", hr.Output)
			assert.JSONEq(t, fmt.Sprintf(`{"handled":%q,"step":%q}`, run.RunID, c.wantStep), string(hr.Output))
			assert.Equal(t, 1, c.rep.calls.get(), "handler calls")

			// The step ID the SDK put in its error body reached the failure
			// event as data.result.data.step_id.
			var raw struct {
				Name string `json:"name"`
				ID   string `json:"id"`
				Data struct {
					Result struct {
						Data struct {
							StepID string `json:"step_id"`
						} `json:"data"`
					} `json:"result"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(f.Raw, &raw), "%s", f.Raw)
			assert.Equal(t, inngest.FunctionFailedEvent, raw.Name)
			assert.Equal(t, run.RunID, raw.ID, "the failure event's ID is the run's")
			assert.Equal(t, c.wantStep, raw.Data.Result.Data.StepID, "failure event: %s", f.Raw)

			assert.Equal(t, a.Client.AppID()+"-"+c.fnID, f.FunctionID)
			assert.Equal(t, run.RunID, f.RunID)
			assert.Equal(t, ids[i], f.Event.ID)
			assert.Equal(t, c.event, f.Event.Name)
			assert.Equal(t, c.data, f.Event.Data)
			require.Len(t, f.Events, 1)
			assert.Equal(t, c.data, f.Events[0].Data)
			require.NotNil(t, f.Error)
			assert.Equal(t, c.wantMsg, f.Error.Message)
			assert.Equal(t, c.wantStep, f.StepID)
		})
	}
}

// A cancel event stops a sleeping run, the code after the sleep never
// runs, and the OnCancel handler runs once with the original event.
func TestOnCancel(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	var started, after, handled counter
	var mu sync.Mutex
	var got inngest.Cancellation[order]
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{
		ID:     "fulfil",
		Cancel: []inngest.Cancel{{Event: a.event("cancelled"), Match: "data.id"}},
		OnCancel: inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[order]) (any, error) {
			handled.inc()
			mu.Lock()
			got = c
			mu.Unlock()
			return map[string]string{"cleaned_up": c.Event.Data.ID}, nil
		}),
	}, inngest.EventTrigger(a.event("placed"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			if _, err := step.Run(ctx, "start", func(ctx context.Context) (int, error) { return started.inc(), nil }); err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "await-pickup", 10*time.Minute); err != nil {
				return nil, err
			}
			n, err := step.Run(ctx, "finish", func(ctx context.Context) (int, error) { return after.inc(), nil })
			return n, err
		})
	require.NoError(t, err)
	a.sync()

	data := order{ID: "o-" + randomHex(4), Items: 1}
	eid := a.send(a.event("placed"), data)
	runID := tg.runsOf(t, eid, 1)[0].RunID
	tg.eventually(t, "the run's first step", func() (bool, string) { return started.get() > 0, "" })
	// An event that does not match leaves the run alone; the matching one
	// cancels it.
	a.send(a.event("cancelled"), order{ID: "someone-else"})
	a.send(a.event("cancelled"), order{ID: data.ID})

	run := tg.run(t, runID, "to end", apiRun.ended)
	require.Equal(t, "Cancelled", run.Status, "output: %s", run.Output)

	tg.eventually(t, "the cancellation handler", func() (bool, string) { return handled.get() > 0, "" })
	mu.Lock()
	hrID := got.Handler.RunID
	mu.Unlock()
	hr := tg.run(t, hrID, "to end", apiRun.ended)
	require.Equal(t, "Completed", hr.Status, "handler output: %s", hr.Output)
	assert.JSONEq(t, fmt.Sprintf(`{"cleaned_up":%q}`, data.ID), string(hr.Output))
	assert.Equal(t, 1, handled.get())
	assert.Equal(t, 1, started.get())
	assert.Equal(t, 0, after.get(), "code after the sleep ran")

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, a.Client.AppID()+"-fulfil", got.FunctionID)
	assert.Equal(t, runID, got.RunID)
	assert.Equal(t, eid, got.Event.ID)
	assert.Equal(t, data, got.Event.Data)
}
