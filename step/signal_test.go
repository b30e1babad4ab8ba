package step_test

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

func TestWaitForSignalAgainstTheServersRequests(t *testing.T) {
	// Requests the dev server sent to this SDK: s1 timed out after 2s, s2
	// received its signal.
	c, _ := newClient(t)
	var got step.Signal[map[string]string]
	var sigErr error
	fn(t, c, "signal", func(ctx context.Context, in inngest.Input[waitData]) (any, error) {
		got, sigErr = step.WaitForSignal[map[string]string](ctx, "sig", step.WaitForSignalOpts{
			Signal:  "sig-" + in.Event.Data.ID,
			Timeout: time.Duration(in.Event.Data.TimeoutS) * time.Second,
		})
		if errors.Is(sigErr, step.ErrSignalNotReceived) {
			return "timeout", nil
		}
		return got, sigErr
	})
	calls := loadCaptures(t, "server-signal")
	require.Len(t, calls, 4)
	requireResponse(t, replay(t, c, calls[0]), 206,
		`[{"id":"b3ed2cf313e7546085c3c50622143ff31e467d23","op":"WaitForSignal","name":"sig","displayName":"sig","opts":{"signal":"sig-s2","timeout":"30s","conflict":"fail"},"data":null,"userland":{"id":"sig"}}]`)
	requireResponse(t, replay(t, c, calls[1]), 206,
		`[{"id":"b3ed2cf313e7546085c3c50622143ff31e467d23","op":"WaitForSignal","name":"sig","displayName":"sig","opts":{"signal":"sig-s1","timeout":"2s","conflict":"fail"},"data":null,"userland":{"id":"sig"}}]`)

	requireResponse(t, replay(t, c, calls[2]), 200, `{"signal":"sig-s2","data":{"hello":"signal"}}`)
	require.NoError(t, sigErr)
	assert.Equal(t, step.Signal[map[string]string]{Signal: "sig-s2", Data: map[string]string{"hello": "signal"}}, got)

	requireResponse(t, replay(t, c, calls[3]), 200, `"timeout"`)
	assert.ErrorIs(t, sigErr, step.ErrSignalNotReceived)
	assert.Contains(t, sigErr.Error(), `"sig-s1"`)
}

func TestWaitForSignalOpts(t *testing.T) {
	c, _ := newClient(t)
	var got error
	opts := step.WaitForSignalOpts{Signal: "order/1", Timeout: 25 * time.Hour, OnConflict: step.SignalConflictReplace}
	fn(t, c, "sig", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.WaitForSignal[any](ctx, "approve", opts)
		return nil, got
	})
	requireResponse(t, call{fn: "sig"}.do(t, c), 206,
		`[{"id":"`+hash("approve")+`","op":"WaitForSignal","name":"approve","displayName":"approve","opts":{"signal":"order/1","timeout":"1d1h","conflict":"replace"},"data":null,"userland":{"id":"approve"}}]`)

	for _, tt := range []struct {
		name string
		opts step.WaitForSignalOpts
		msg  string
	}{
		{"no signal", step.WaitForSignalOpts{Timeout: time.Hour}, "Signal"},
		{"no timeout", step.WaitForSignalOpts{Signal: "s"}, "Timeout"},
		{"bad conflict", step.WaitForSignalOpts{Signal: "s", Timeout: time.Hour, OnConflict: "merge"}, "OnConflict"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts = tt.opts
			r := call{fn: "sig"}.do(t, c)
			require.Error(t, got)
			assert.Contains(t, got.Error(), tt.msg)
			assert.True(t, inngest.IsNoRetryError(got))
			assert.Equal(t, 400, r.Status, r.Body)
		})
	}
}

func TestWaitForSignalMemoThatDoesNotFit(t *testing.T) {
	c, _ := newClient(t)
	var got error
	fn(t, c, "sig", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.WaitForSignal[int](ctx, "s", step.WaitForSignalOpts{Signal: "x", Timeout: time.Hour})
		return nil, got
	})
	call{fn: "sig", steps: map[string]string{hash("s"): `{"data":{"signal":"x","data":"text"}}`}}.do(t, c)
	assert.True(t, inngest.IsNoRetryError(got), "%v", got)
}
