package inngest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validateNoop(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
	return nil, nil
}

// Every option the server would refuse at sync is refused by
// CreateFunction, with an error that names the function and the field.
func TestCreateFunctionValidation(t *testing.T) {
	ev := inngest.EventTrigger("app/thing.happened", nil)
	cron := inngest.CronTrigger("0 * * * *")
	many := func(n int) inngest.MultipleTriggers {
		var m inngest.MultipleTriggers
		for i := range n {
			m = append(m, inngest.EventTrigger("app/e"+strings.Repeat("x", i), nil))
		}
		return m
	}
	batch := &inngest.BatchEvents{MaxSize: 10, Timeout: time.Second}

	for _, tc := range []struct {
		name  string
		opts  inngest.FunctionOpts
		trig  inngest.Triggerable
		field string // the field the error names
		more  string // more text the error carries
	}{
		{"no ID", inngest.FunctionOpts{}, ev, "FunctionOpts.ID", "required"},
		{"bad ID", inngest.FunctionOpts{ID: "my fn"}, ev, "FunctionOpts.ID", "letters, digits"},
		{"ID starting with a dot", inngest.FunctionOpts{ID: ".fn"}, ev, "FunctionOpts.ID", ""},
		{"negative retries", inngest.FunctionOpts{ID: "f", Retries: inngest.Ptr(-1)}, ev, "FunctionOpts.Retries", "got -1"},
		{"too many retries", inngest.FunctionOpts{ID: "f", Retries: inngest.Ptr(21)}, ev, "FunctionOpts.Retries", "0 to 20"},

		{"no trigger", inngest.FunctionOpts{ID: "f"}, nil, "trigger", "at least one"},
		{"empty triggers", inngest.FunctionOpts{ID: "f"}, inngest.MultipleTriggers{}, "trigger", "at least one"},
		{"too many triggers", inngest.FunctionOpts{ID: "f"}, many(11), "trigger", "at most 10"},
		{"event and cron", inngest.FunctionOpts{ID: "f"}, inngest.Trigger{Event: "a/b", Cron: "0 * * * *"}, "trigger 0", "both"},
		{"neither event nor cron", inngest.FunctionOpts{ID: "f"}, inngest.MultipleTriggers{ev, {}}, "trigger 1", "needs an event name"},
		{"event with spaces", inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger(" a/b", nil), "trigger 0", "surrounding spaces"},
		{"jitter on an event", inngest.FunctionOpts{ID: "f"}, inngest.Trigger{Event: "a/b", Jitter: time.Second}, "trigger 0", "cron triggers only"},
		{"expression on a cron", inngest.FunctionOpts{ID: "f"}, inngest.Trigger{Cron: "0 * * * *", Expression: "true"}, "trigger 0", "event triggers only"},
		{"cron with 6 fields", inngest.FunctionOpts{ID: "f"}, inngest.CronTrigger("0 0 * * * *"), "trigger 0", "has 6 fields"},
		{"cron descriptor", inngest.FunctionOpts{ID: "f"}, inngest.CronTrigger("@daily"), "trigger 0", "descriptors"},
		{"cron descriptor with zone", inngest.FunctionOpts{ID: "f"}, inngest.CronTrigger("TZ=UTC @every 1h"), "trigger 0", "descriptors"},
		{"cron zone without schedule", inngest.FunctionOpts{ID: "f"}, inngest.CronTrigger("TZ=UTC"), "trigger 0", "no schedule"},
		{"cron unknown zone", inngest.FunctionOpts{ID: "f"}, inngest.CronTrigger("TZ=Mars/Olympus 0 * * * *"), "trigger 0", "unknown time zone"},
		{"jitter too small", inngest.FunctionOpts{ID: "f"}, inngest.Trigger{Cron: "0 * * * *", Jitter: time.Millisecond}, "trigger 0", "1s to 5m"},
		{"jitter too large", inngest.FunctionOpts{ID: "f"}, inngest.Trigger{Cron: "0 * * * *", Jitter: 6 * time.Minute}, "trigger 0", "1s to 5m"},
		{"repeated event trigger", inngest.FunctionOpts{ID: "f"}, inngest.MultipleTriggers{ev, cron, ev}, "trigger 2", "repeats trigger 0"},
		{"repeated cron, other jitter", inngest.FunctionOpts{ID: "f"}, inngest.MultipleTriggers{cron, {Cron: "0 * * * *", Jitter: time.Minute}}, "trigger 1", "repeats trigger 0"},

		{"too many concurrency limits", inngest.FunctionOpts{ID: "f", Concurrency: []inngest.Concurrency{{Limit: 1}, {Limit: 2}, {Limit: 3}}}, ev, "FunctionOpts.Concurrency", "at most 2"},
		{"negative concurrency", inngest.FunctionOpts{ID: "f", Concurrency: []inngest.Concurrency{{Limit: -1}}}, ev, "FunctionOpts.Concurrency[0].Limit", "negative"},
		{"bad concurrency scope", inngest.FunctionOpts{ID: "f", Concurrency: []inngest.Concurrency{{Limit: 1}, {Limit: 1, Scope: "app", Key: "k"}}}, ev, "FunctionOpts.Concurrency[1].Scope", `"app"`},
		{"env scope without key", inngest.FunctionOpts{ID: "f", Concurrency: []inngest.Concurrency{{Limit: 1, Scope: inngest.ScopeEnv}}}, ev, "FunctionOpts.Concurrency[0].Key", "needs a key"},
		{"account scope without key", inngest.FunctionOpts{ID: "f", Concurrency: []inngest.Concurrency{{Limit: 1, Scope: inngest.ScopeAccount}}}, ev, "FunctionOpts.Concurrency[0].Key", "needs a key"},

		{"throttle limit", inngest.FunctionOpts{ID: "f", Throttle: &inngest.Throttle{Period: time.Minute}}, ev, "FunctionOpts.Throttle.Limit", "at least 1"},
		{"throttle period", inngest.FunctionOpts{ID: "f", Throttle: &inngest.Throttle{Limit: 1, Period: time.Millisecond}}, ev, "FunctionOpts.Throttle.Period", "at least 1s"},
		{"throttle burst", inngest.FunctionOpts{ID: "f", Throttle: &inngest.Throttle{Limit: 1, Period: time.Second, Burst: -1}}, ev, "FunctionOpts.Throttle.Burst", "negative"},

		{"rate limit limit", inngest.FunctionOpts{ID: "f", RateLimit: &inngest.RateLimit{Period: time.Hour}}, ev, "FunctionOpts.RateLimit.Limit", "at least 1"},
		{"rate limit period too short", inngest.FunctionOpts{ID: "f", RateLimit: &inngest.RateLimit{Limit: 1, Period: time.Millisecond}}, ev, "FunctionOpts.RateLimit.Period", "1s to 24h"},
		{"rate limit period too long", inngest.FunctionOpts{ID: "f", RateLimit: &inngest.RateLimit{Limit: 1, Period: 25 * time.Hour}}, ev, "FunctionOpts.RateLimit.Period", "1s to 24h"},

		{"debounce too short", inngest.FunctionOpts{ID: "f", Debounce: &inngest.Debounce{Period: time.Millisecond}}, ev, "FunctionOpts.Debounce.Period", "1s to 7 days"},
		{"debounce too long", inngest.FunctionOpts{ID: "f", Debounce: &inngest.Debounce{Period: 8 * 24 * time.Hour}}, ev, "FunctionOpts.Debounce.Period", "1s to 7 days"},
		{"debounce timeout", inngest.FunctionOpts{ID: "f", Debounce: &inngest.Debounce{Period: time.Second, Timeout: -time.Second}}, ev, "FunctionOpts.Debounce.Timeout", "negative"},

		{"too many cancellations", inngest.FunctionOpts{ID: "f", Cancel: make([]inngest.Cancel, 6)}, ev, "FunctionOpts.Cancel", "at most 5"},
		{"cancel without event", inngest.FunctionOpts{ID: "f", Cancel: []inngest.Cancel{{Event: "a/b"}, {If: "true"}}}, ev, "FunctionOpts.Cancel[1].Event", "required"},
		{"cancel with If and Match", inngest.FunctionOpts{ID: "f", Cancel: []inngest.Cancel{{Event: "a/b", If: "true", Match: "data.id"}}}, ev, "FunctionOpts.Cancel[0]", "not both"},
		{"cancel timeout", inngest.FunctionOpts{ID: "f", Cancel: []inngest.Cancel{{Event: "a/b", Timeout: -time.Second}}}, ev, "FunctionOpts.Cancel[0].Timeout", "negative"},

		{"negative timeouts", inngest.FunctionOpts{ID: "f", Timeouts: &inngest.Timeouts{Start: -time.Second}}, ev, "FunctionOpts.Timeouts", "negative"},
		{"empty timeouts", inngest.FunctionOpts{ID: "f", Timeouts: &inngest.Timeouts{}}, ev, "FunctionOpts.Timeouts", "set Start, Finish or both"},

		{"batch of one", inngest.FunctionOpts{ID: "f", BatchEvents: &inngest.BatchEvents{MaxSize: 1, Timeout: time.Second}}, ev, "FunctionOpts.BatchEvents.MaxSize", "at least 2"},
		{"batch timeout", inngest.FunctionOpts{ID: "f", BatchEvents: &inngest.BatchEvents{MaxSize: 10, Timeout: time.Millisecond}}, ev, "FunctionOpts.BatchEvents.Timeout", "at least 1s"},
		{"batch and cancel", inngest.FunctionOpts{ID: "f", BatchEvents: batch, Cancel: []inngest.Cancel{{Event: "a/b"}}}, ev, "FunctionOpts.BatchEvents", "Cancel"},
		{"batch and debounce", inngest.FunctionOpts{ID: "f", BatchEvents: batch, Debounce: &inngest.Debounce{Period: time.Second}}, ev, "FunctionOpts.BatchEvents", "Debounce"},
		{"batch and singleton", inngest.FunctionOpts{ID: "f", BatchEvents: batch, Singleton: &inngest.Singleton{Mode: inngest.SingletonSkip}}, ev, "FunctionOpts.BatchEvents", "Singleton"},
		{"batch and priority", inngest.FunctionOpts{ID: "f", BatchEvents: batch, Priority: &inngest.Priority{Run: "1"}}, ev, "FunctionOpts.BatchEvents", "Priority"},

		{"empty priority", inngest.FunctionOpts{ID: "f", Priority: &inngest.Priority{Run: " "}}, ev, "FunctionOpts.Priority.Run", "required"},
		{"singleton mode", inngest.FunctionOpts{ID: "f", Singleton: &inngest.Singleton{Key: "event.data.id"}}, ev, "FunctionOpts.Singleton.Mode", `"skip" or "cancel"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
			fn, err := inngest.CreateFunction(c, tc.opts, tc.trig, validateNoop)
			require.Error(t, err)
			assert.Nil(t, fn)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, `inngest: CreateFunction "`+tc.opts.ID+`": `+tc.field+": "), "the error names the function and the field: %s", msg)
			assert.Contains(t, msg, tc.more)

			// Nothing was registered.
			res := protoServe(t, c.Serve(), "GET", "/api/inngest", nil, nil)
			assert.Contains(t, res.Body.String(), `"function_count":0`)
		})
	}
}

// Options the server accepts pass, at the edges of their ranges.
func TestCreateFunctionValidEdges(t *testing.T) {
	ev := inngest.EventTrigger("app/thing.happened", nil)
	for _, tc := range []struct {
		name string
		opts inngest.FunctionOpts
		trig inngest.Triggerable
	}{
		{"zero retries", inngest.FunctionOpts{Retries: inngest.Ptr(0)}, ev},
		{"max retries", inngest.FunctionOpts{Retries: inngest.Ptr(20)}, ev},
		{"ten triggers", inngest.FunctionOpts{}, func() inngest.MultipleTriggers {
			var m inngest.MultipleTriggers
			for i := range 10 {
				m = append(m, inngest.EventTrigger("app/e"+strings.Repeat("x", i), nil))
			}
			return m
		}()},
		{"same event, other expressions", inngest.FunctionOpts{}, inngest.MultipleTriggers{
			inngest.EventTrigger("a/b", inngest.Ptr("event.data.x == 1")), inngest.EventTrigger("a/b", inngest.Ptr("event.data.x == 2"))}},
		{"cron with zone and jitter", inngest.FunctionOpts{}, inngest.Trigger{Cron: "CRON_TZ=Europe/Paris 0 9 * * 1-5", Jitter: 5 * time.Minute}},
		{"rate limit of a day", inngest.FunctionOpts{RateLimit: &inngest.RateLimit{Limit: 1, Period: 24 * time.Hour}}, ev},
		{"debounce of a week", inngest.FunctionOpts{Debounce: &inngest.Debounce{Period: 7 * 24 * time.Hour}}, ev},
		{"batch of two", inngest.FunctionOpts{BatchEvents: &inngest.BatchEvents{MaxSize: 2, Timeout: time.Second}}, ev},
		{"five cancellations", inngest.FunctionOpts{Cancel: []inngest.Cancel{{Event: "a/1"}, {Event: "a/2"}, {Event: "a/3"}, {Event: "a/4"}, {Event: "a/5"}}}, ev},
		{"two concurrency limits", inngest.FunctionOpts{Concurrency: []inngest.Concurrency{{Limit: 1}, {Limit: 2, Key: "event.data.id", Scope: inngest.ScopeFunction}}}, ev},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
			tc.opts.ID = "f"
			fn, err := inngest.CreateFunction(c, tc.opts, tc.trig, validateNoop)
			require.NoError(t, err)
			assert.Equal(t, "app-f", fn.FullID())
		})
	}
}

func TestCreateFunctionRegistration(t *testing.T) {
	ev := inngest.EventTrigger("app/thing.happened", nil)

	t.Run("nil client", func(t *testing.T) {
		_, err := inngest.CreateFunction(nil, inngest.FunctionOpts{ID: "f"}, ev, validateNoop)
		assert.ErrorContains(t, err, "CreateFunction: the *inngest.Client is nil: inngest.NewClient returned an error that was not checked")
	})
	t.Run("nil body", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
		_, err := inngest.CreateFunction[map[string]any](c, inngest.FunctionOpts{ID: "f"}, ev, nil)
		assert.ErrorContains(t, err, `CreateFunction "f": the function body is nil`)
	})
	t.Run("duplicate ID", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, ev, validateNoop)
		require.NoError(t, err)
		_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f", Name: "Other"}, inngest.CronTrigger("0 * * * *"), validateNoop)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "FunctionOpts.ID")
		assert.Contains(t, err.Error(), `"f" is already used in app "app"`)
	})
	t.Run("ID taken by a companion", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{
			ID:        "f",
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[map[string]any]) (any, error) { return nil, nil }),
		}, ev, validateNoop)
		require.NoError(t, err)
		_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f-failure"}, ev, validateNoop)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "FunctionOpts.ID")
		assert.Contains(t, err.Error(), `"app-f-failure"`)
	})
	t.Run("companion would take an ID", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f-cancel"}, ev, validateNoop)
		require.NoError(t, err)
		_, err = inngest.CreateFunction(c, inngest.FunctionOpts{
			ID:       "f",
			OnCancel: inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[map[string]any]) (any, error) { return nil, nil }),
		}, ev, validateNoop)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "FunctionOpts.ID")
		// Neither the function nor its companion was added.
		res := protoServe(t, c.Serve(), "GET", "/api/inngest", nil, nil)
		assert.Contains(t, res.Body.String(), `"function_count":1`)
	})
	t.Run("failure handler of another event type", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{
			ID:        "f",
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[string]) (any, error) { return nil, nil }),
		}, ev, validateNoop)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `CreateFunction "f": OnFailure`)
	})
	t.Run("names", func(t *testing.T) {
		c := testClient(t, inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
		f, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, ev, validateNoop)
		require.NoError(t, err)
		assert.Equal(t, "f", f.ID())
		assert.Equal(t, "app-f", f.FullID())
		assert.Equal(t, "f", f.Name(), "the name defaults to the ID")
		g, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "g", Name: "Gee"}, ev, validateNoop)
		require.NoError(t, err)
		assert.Equal(t, "Gee", g.Name())
	})
}

func TestIdempotencyAndRateLimitAreExclusive(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:          "both",
		Idempotency: "event.data.id",
		RateLimit:   &inngest.RateLimit{Limit: 1, Period: time.Hour},
	}, inngest.EventTrigger("a/b", nil), func(context.Context, inngest.Input[map[string]any]) (any, error) { return nil, nil })
	require.ErrorContains(t, err, `CreateFunction "both": FunctionOpts.Idempotency: cannot be combined with RateLimit`)
}
