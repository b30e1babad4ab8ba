package inngesttest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/require"
)

type timer struct {
	Cron        string `json:"cron"`
	ScheduledAt string `json:"scheduledAt"`
	FireAt      string `json:"fireAt"`
}

func cronFn(t *testing.T, eng *inngesttest.Engine, id string, tr inngest.Trigger) *inngest.Function[timer] {
	t.Helper()
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: id}, tr,
		func(ctx context.Context, in inngest.Input[timer]) (any, error) { return in.Event.Data, nil }))
	eng.Register(c)
	return fn
}

// A daily cron in a time zone runs once a day at its local time, on the
// virtual clock, with the event the Inngest server's executor builds
// (pkg/execution/executor/service.go: inngest/scheduled.timer, the
// scheduled time as its ID, data.cron, scheduledAt and fireAt); the
// schedule is read as pkg/execution/cron/cron.go reads it.
func TestCronDailyInTimeZone(t *testing.T) {
	// 12:00 UTC is 07:00 in New York (EST): the first run is at 14:00 UTC.
	eng := inngesttest.New(t, inngesttest.WithStartTime(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)))
	fn := cronFn(t, eng, "nightly", inngest.CronTrigger("TZ=America/New_York 0 9 * * *"))

	eng.Wait() // Wait does not move the clock to a cron's time
	eng.RequireRuns(t, fn, 0)
	eng.Advance(2*time.Hour - time.Second)
	eng.RequireRuns(t, fn, 0)
	eng.Advance(time.Second)
	runs := eng.RequireRuns(t, fn, 1)
	require.Equal(t, time.Date(2026, 1, 5, 14, 0, 0, 0, time.UTC), runs[0].StartedAt())
	runs[0].RequireOutput(t, timer{Cron: "TZ=America/New_York 0 9 * * *", ScheduledAt: "2026-01-05T14:00:00Z", FireAt: "2026-01-05T14:00:00Z"})
	var ev struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		TS   int64  `json:"ts"`
	}
	require.NoError(t, json.Unmarshal(runs[0].Event(), &ev))
	require.Equal(t, "2026-01-05T14:00:00Z", ev.ID)
	require.Equal(t, "inngest/scheduled.timer", ev.Name)
	require.Equal(t, time.Date(2026, 1, 5, 14, 0, 0, 0, time.UTC).UnixMilli(), ev.TS)

	eng.Advance(24 * time.Hour)
	eng.RequireRuns(t, fn, 2)
	eng.Advance(7 * 24 * time.Hour)
	runs = eng.RequireRuns(t, fn, 9)
	require.Equal(t, time.Date(2026, 1, 13, 14, 0, 0, 0, time.UTC), runs[8].StartedAt())
}

// Daylight saving time moves a zoned cron's UTC time: 09:00 in New York
// is 14:00 UTC in winter and 13:00 UTC after 8 March 2026.
func TestCronFollowsDaylightSaving(t *testing.T) {
	eng := inngesttest.New(t, inngesttest.WithStartTime(time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)))
	fn := cronFn(t, eng, "nine", inngest.CronTrigger("CRON_TZ=America/New_York 0 9 * * *"))
	eng.Advance(48 * time.Hour)
	runs := eng.RequireRuns(t, fn, 2)
	require.Equal(t, time.Date(2026, 3, 7, 14, 0, 0, 0, time.UTC), runs[0].StartedAt())
	require.Equal(t, time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC), runs[1].StartedAt())
}

// Jitter delays each run by between 1 s and the jitter after its
// scheduled time, and says so in data.fireAt (service.go; DeterministicJitter
// and MinCronJitter in pkg/execution/cron/cron.go and pkg/inngest/trigger.go).
func TestCronJitter(t *testing.T) {
	eng := inngesttest.New(t, inngesttest.WithStartTime(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)))
	tr := inngest.CronTrigger("0 * * * *")
	tr.Jitter = 2 * time.Minute
	fn := cronFn(t, eng, "jittery", tr)
	eng.Advance(3*time.Hour + 3*time.Minute)
	runs := eng.RequireRuns(t, fn, 3)
	for i, r := range runs {
		scheduled := time.Date(2026, 1, 5, i+1, 0, 0, 0, time.UTC)
		delay := r.StartedAt().Sub(scheduled)
		require.GreaterOrEqual(t, delay, time.Second, "run %d", i)
		require.Less(t, delay, 2*time.Minute, "run %d", i)
		out, err := inngesttest.Output[timer](r)
		require.NoError(t, err)
		require.Equal(t, scheduled.Format(time.RFC3339), out.ScheduledAt)
		require.Equal(t, r.StartedAt().Truncate(time.Second).Format(time.RFC3339), out.FireAt)
	}
}

// The parser reads what robfig/cron's standard parser reads (the server's
// pkg/execution/cron/cron.go): steps, ranges, lists, names, and day of
// month OR day of week when both are restricted.
func TestCronSchedules(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a Thursday
	for _, tc := range []struct {
		cron  string
		until time.Duration
		want  []time.Time
	}{
		{"*/20 9-10 * * *", 24 * time.Hour, []time.Time{
			time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 9, 20, 0, 0, time.UTC), time.Date(2026, 1, 1, 9, 40, 0, 0, time.UTC),
			time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 10, 20, 0, 0, time.UTC), time.Date(2026, 1, 1, 10, 40, 0, 0, time.UTC),
		}},
		{"30 8 * * MON,fri", 7 * 24 * time.Hour, []time.Time{time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC), time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)}},
		// Day 10 of the month or any Saturday.
		{"0 0 10 * 6", 14 * 24 * time.Hour, []time.Time{time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}},
		{"0 0 * * 0", 14 * 24 * time.Hour, []time.Time{time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC)}},
		{"15 1/12 * * *", 24 * time.Hour, []time.Time{time.Date(2026, 1, 1, 1, 15, 0, 0, time.UTC), time.Date(2026, 1, 1, 13, 15, 0, 0, time.UTC)}},
		{"0 0 29 2 *", 4 * 365 * 24 * time.Hour, []time.Time{time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.cron, func(t *testing.T) {
			eng := inngesttest.New(t, inngesttest.WithStartTime(start))
			fn := cronFn(t, eng, "c", inngest.CronTrigger(tc.cron))
			eng.Advance(tc.until)
			var got []time.Time
			for _, r := range eng.RunsOf(fn) {
				got = append(got, r.StartedAt())
			}
			require.Equal(t, tc.want, got)
		})
	}
}
