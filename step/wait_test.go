package step_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

type waitData struct {
	ID       string `json:"id"`
	TimeoutS int    `json:"timeout_s"`
}

type approved struct {
	ID string `json:"id"`
	OK bool   `json:"ok"`
}

func TestWaitForEventReplaysTheCapturedRuns(t *testing.T) {
	// demo-wait: wait for demo/approved with the same data.id, with the
	// timeout the event asks for; one run times out, one is approved.
	c, _ := newClient(t)
	var got inngest.Event[approved]
	var waitErr error
	fn(t, c, "wait", func(ctx context.Context, in inngest.Input[waitData]) (any, error) {
		ev, err := step.WaitForEvent[approved](ctx, "approval", step.WaitForEventOpts{
			Event:   "demo/approved",
			If:      "async.data.id == event.data.id",
			Timeout: time.Duration(in.Event.Data.TimeoutS) * time.Second,
		})
		got, waitErr = ev, err
		if errors.Is(err, step.ErrEventNotReceived) {
			return "timeout", nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]bool{"approved": ev.Data.OK}, nil
	})
	calls := loadCaptures(t, "demo-wait")
	require.Len(t, calls, 4)
	wait := `[{"id":"59494695a3172b5212f0a47857b0546e54320776","op":"WaitForEvent","name":"approval","displayName":"approval","opts":{"event":"demo/approved","timeout":"%s","if":"async.data.id == event.data.id"},"data":null,"userland":{"id":"approval"}}]`

	requireResponse(t, replay(t, c, calls[0]), 206, fmt.Sprintf(wait, "2s"))

	// Timed out: the memo is null.
	requireResponse(t, replay(t, c, calls[1]), 200, `"timeout"`)
	assert.ErrorIs(t, waitErr, step.ErrEventNotReceived)
	assert.Contains(t, waitErr.Error(), `"approval"`)

	requireResponse(t, replay(t, c, calls[2]), 206, fmt.Sprintf(wait, "30s"))

	// Received: the memo is the raw event.
	requireResponse(t, replay(t, c, calls[3]), 200, `{"approved":true}`)
	require.NoError(t, waitErr)
	assert.Equal(t, inngest.Event[approved]{
		ID:        "01M89CTDR1FBFB279H643F1YV3",
		Name:      "demo/approved",
		Data:      approved{ID: "k1795611766574057739", OK: true},
		User:      map[string]any{},
		Timestamp: 1795611768577,
	}, got)
}

func TestWaitForEventOpts(t *testing.T) {
	tests := []struct {
		name string
		opts step.WaitForEventOpts
		want string // opts JSON
	}{
		{"match", step.WaitForEventOpts{Event: "shop/paid", Match: "data.order_id", Timeout: 36 * time.Hour},
			`{"event":"shop/paid","timeout":"1d12h","if":"event.data.order_id == async.data.order_id"}`},
		{"match with event prefix", step.WaitForEventOpts{Event: "shop/paid", Match: "event.data.id", Timeout: time.Hour},
			`{"event":"shop/paid","timeout":"1h","if":"event.data.id == async.data.id"}`},
		{"no filter", step.WaitForEventOpts{Event: "shop/paid", Timeout: 90 * time.Minute},
			`{"event":"shop/paid","timeout":"1h30m"}`},
		{"366 days", step.WaitForEventOpts{Event: "x/y", Timeout: 366 * 24 * time.Hour},
			`{"event":"x/y","timeout":"366d"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t)
			fn(t, c, "w", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				_, err := step.WaitForEvent[map[string]any](ctx, "w", tt.opts)
				return nil, err
			})
			r := call{fn: "w"}.do(t, c)
			requireResponse(t, r, 206, `[{"id":"`+hash("w")+`","op":"WaitForEvent","name":"w","displayName":"w","opts":`+tt.want+`,"data":null,"userland":{"id":"w"}}]`)
		})
	}
}

func TestWaitForEventRejectsBadOpts(t *testing.T) {
	tests := []struct {
		name string
		opts step.WaitForEventOpts
		msg  string
	}{
		{"no event", step.WaitForEventOpts{Timeout: time.Hour}, "Event"},
		{"no timeout", step.WaitForEventOpts{Event: "a/b"}, "Timeout"},
		{"negative timeout", step.WaitForEventOpts{Event: "a/b", Timeout: -time.Second}, "Timeout"},
		{"too long", step.WaitForEventOpts{Event: "a/b", Timeout: 367 * 24 * time.Hour}, "366 days"},
		{"if and match", step.WaitForEventOpts{Event: "a/b", Timeout: time.Hour, If: "true", Match: "data.id"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t)
			var got error
			fn(t, c, "w", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				_, got = step.WaitForEvent[map[string]any](ctx, "w", tt.opts)
				return nil, got
			})
			r := call{fn: "w"}.do(t, c)
			require.Error(t, got)
			assert.Contains(t, got.Error(), tt.msg)
			assert.True(t, inngest.IsNoRetryError(got), "bad options never work: no retries")
			assert.Equal(t, 400, r.Status, "nothing is reported: %s", r.Body)
		})
	}
}

func TestWaitForEventMemoThatDoesNotFit(t *testing.T) {
	c, _ := newClient(t)
	var got error
	fn(t, c, "w", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.WaitForEvent[approved](ctx, "w", step.WaitForEventOpts{Event: "a/b", Timeout: time.Hour})
		return nil, got
	})
	r := call{fn: "w", steps: map[string]string{hash("w"): `{"name":"a/b","data":{"ok":"yes"}}`}}.do(t, c)
	assert.True(t, inngest.IsNoRetryError(got), "%v", got)
	assert.Equal(t, 400, r.Status)
}

func TestWaitForEventAgainstTheServersRequests(t *testing.T) {
	// Requests the dev server sent to this SDK for a wait with Match
	// "data.id": k1 timed out after 2s, k2 was approved.
	c, _ := newClient(t)
	fn(t, c, "wait", func(ctx context.Context, in inngest.Input[waitData]) (any, error) {
		ev, err := step.WaitForEvent[approved](ctx, "approval", step.WaitForEventOpts{Event: "demo/approved", Match: "data.id", Timeout: time.Duration(in.Event.Data.TimeoutS) * time.Second})
		if errors.Is(err, step.ErrEventNotReceived) {
			return "timeout", nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"approved": ev.Data.OK, "event_id": ev.ID}, nil
	})
	calls := loadCaptures(t, "server-wait")
	require.Len(t, calls, 4)
	wait := `[{"id":"59494695a3172b5212f0a47857b0546e54320776","op":"WaitForEvent","name":"approval","displayName":"approval","opts":{"event":"demo/approved","timeout":"%s","if":"event.data.id == async.data.id"},"data":null,"userland":{"id":"approval"}}]`
	requireResponse(t, replay(t, c, calls[0]), 206, fmt.Sprintf(wait, "30s"))
	requireResponse(t, replay(t, c, calls[1]), 206, fmt.Sprintf(wait, "2s"))
	requireResponse(t, replay(t, c, calls[2]), 200, `{"approved":true,"event_id":"01M89E9J7BBA327GCNFFF2EHP4"}`)
	requireResponse(t, replay(t, c, calls[3]), 200, `"timeout"`)
}
