package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// Client.SendSignal resumes the run waiting at step.WaitForSignal with
// the signal's data, and returns that run's ID; with no run waiting it
// fails with ErrNoSignalWaiter.
func TestWaitForSignal(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	signal := a.prefix + ".approval"
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "approve"}, inngest.EventTrigger(a.event("approve"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			sig, err := step.WaitForSignal[map[string]string](ctx, "approval", step.WaitForSignalOpts{Signal: signal, Timeout: time.Minute})
			if err != nil {
				return nil, err
			}
			return map[string]string{"order": in.Event.Data.ID, "by": sig.Data["by"], "signal": sig.Signal}, nil
		})
	require.NoError(t, err)
	a.sync()

	_, err = a.Client.SendSignal(context.Background(), signal, nil)
	require.ErrorIs(t, err, inngest.ErrNoSignalWaiter, "no run waits yet")

	eventID := a.send(a.event("approve"), order{ID: "o-9"})
	// The server records the wait once the SDK has reported it: retry
	// until a run takes the signal.
	var runID string
	tg.eventually(t, "a run waiting for the signal", func() (bool, string) {
		id, err := a.Client.SendSignal(context.Background(), signal, map[string]string{"by": "ana"})
		if errors.Is(err, inngest.ErrNoSignalWaiter) {
			return false, err.Error()
		}
		require.NoError(t, err)
		runID = id
		return true, ""
	})
	run := tg.finished(t, eventID)
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.Equal(t, run.RunID, runID)
	assert.JSONEq(t, `{"order":"o-9","by":"ana","signal":"`+signal+`"}`, string(run.Output))
}
