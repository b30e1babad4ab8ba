package inngest_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

// logLines decodes the JSON lines of buf whose msg starts with "user:".
func logLines(t *testing.T, buf *testkit.LogBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, "user:") {
			out = append(out, m)
		}
	}
	return out
}

// A run replayed once per step logs each line of its code outside steps
// once, and each line of a step's body once per attempt of that body,
// with the run's attributes. A retried step's second attempt runs the
// code since the last finished step again, and logs it again with
// attempt 1.
func TestLoggerDoesNotRepeatOnReplay(t *testing.T) {
	buf := &testkit.LogBuffer{}
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	require.NoError(t, err)
	failedOnce := false
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "logs", Retries: inngest.Ptr(2)}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			log := inngest.Logger(ctx)
			log.Info("user: start")
			if _, err := step.Run(ctx, "a", func(ctx context.Context) (int, error) {
				inngest.Logger(ctx).Info("user: in a")
				return 1, nil
			}); err != nil {
				return nil, err
			}
			log.Info("user: after a")
			if _, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) {
				inngest.Logger(ctx).Info("user: in b")
				if !failedOnce {
					failedOnce = true
					return 0, errors.New("flaky")
				}
				return 2, nil
			}); err != nil {
				return nil, err
			}
			inngest.Logger(ctx).With("k", "v").WithGroup("g").Info("user: after b", "n", 1)
			if err := step.Sleep(ctx, "nap", 0); err != nil {
				return nil, err
			}
			log.Info("user: end")
			return "ok", nil
		})
	require.NoError(t, err)
	eng.Register(c)

	run := eng.Run(fn, inngest.Event[any]{Name: "a/b", Data: map[string]any{}})
	run.RequireCompleted(t)
	require.GreaterOrEqual(t, run.Calls(), 5, "the run must be replayed several times for this test to mean anything")

	lines := logLines(t, buf)
	var msgs []string
	for _, l := range lines {
		msgs = append(msgs, l["msg"].(string))
		assert.Equal(t, run.ID(), l["run_id"], l["msg"])
		assert.Equal(t, "app-logs", l["function_id"], l["msg"])
	}
	assert.Equal(t, []string{"user: start", "user: in a", "user: after a", "user: in b", "user: after a", "user: in b", "user: after b", "user: end"}, msgs)

	byMsg := func(msg string, nth int) map[string]any {
		for _, l := range lines {
			if l["msg"] == msg {
				if nth == 0 {
					return l
				}
				nth--
			}
		}
		t.Fatalf("no line %q", msg)
		return nil
	}
	assert.Equal(t, "a", byMsg("user: in a", 0)["step"])
	assert.NotContains(t, byMsg("user: start", 0), "step")
	assert.Equal(t, float64(0), byMsg("user: in b", 0)["attempt"])
	assert.Equal(t, float64(1), byMsg("user: in b", 1)["attempt"])
	assert.Equal(t, float64(0), byMsg("user: after a", 0)["attempt"])
	assert.Equal(t, float64(1), byMsg("user: after a", 1)["attempt"])
	assert.Equal(t, "v", byMsg("user: after b", 0)["k"])
	assert.Equal(t, map[string]any{"n": float64(1)}, byMsg("user: after b", 0)["g"])
}

// Outside a function, Logger is the client's logger or slog.Default.
func TestLoggerOutsideAFunction(t *testing.T) {
	assert.Same(t, slog.Default(), inngest.Logger(context.Background()))
	h := slog.NewTextHandler(&testkit.LogBuffer{}, nil)
	assert.Same(t, h, inngest.ReplayHandler(context.Background(), h))
}
