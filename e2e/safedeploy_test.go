package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest/replaytest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

// build is one build of the app: a client with its own copy of the
// function, as a deploy would bring.
type build struct {
	client *inngest.Client
	fn     *inngest.Function[map[string]any]
	logs   *testkit.LogBuffer
}

// newBuild makes a build of a's app: v1 does "reserve", sleeps, then
// "charge"; "unpatched" inserts "check-fraud" before "reserve";
// "patched" inserts it under step.Patched.
func newBuild(t *testing.T, tg target, a *app, version string, sleep time.Duration) *build {
	t.Helper()
	b := &build{logs: &testkit.LogBuffer{}}
	opts := inngest.ClientOpts{
		AppID:    a.Client.AppID(),
		BaseURL:  tg.url,
		EventKey: tg.eventKey,
		Mode:     inngest.ModeDev,
		Logger:   slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if tg.signed() {
		opts.Mode, opts.SigningKey = inngest.ModeCloud, tg.signingKey
	}
	var err error
	b.client, err = inngest.NewClient(opts)
	require.NoError(t, err)
	run := func(ctx context.Context, id string) error {
		_, err := step.Run(ctx, id, func(context.Context) (string, error) { return id, nil })
		return err
	}
	b.fn, err = inngest.CreateFunction(b.client, inngest.FunctionOpts{ID: "checkout"}, inngest.EventTrigger(a.event("order"), nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			path := "old"
			if version == "unpatched" || (version == "patched" && step.Patched(ctx, "check-fraud")) {
				path = "new"
				if err := run(ctx, "check-fraud"); err != nil {
					return nil, err
				}
			}
			if err := run(ctx, "reserve"); err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "cool-off", sleep); err != nil {
				return nil, err
			}
			if err := run(ctx, "charge"); err != nil {
				return nil, err
			}
			return path, nil
		})
	require.NoError(t, err)
	return b
}

// TestSafeDeploy: runs of v1 sleep; while they sleep, the checker flags
// the unpatched build and passes the patched one against the server's
// in-flight runs; the patched build, deployed, lets the old runs finish
// on the old path while a new run takes the new one; and an unpatched
// build, deployed under a sleeping run, logs the run-time warning.
func TestSafeDeploy(t *testing.T) {
	tg := needServer(t)
	var serving atomic.Pointer[http.Handler]
	a := newApp(t, tg, appConfig{wrap: func(h http.Handler) http.Handler {
		serving.Store(&h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*serving.Load()).ServeHTTP(w, r) })
	}})
	const sleep = 10 * time.Second
	v1 := newBuild(t, tg, a, "v1", sleep)
	deploy := func(b *build) {
		h := a.record(b.client.Serve())
		serving.Store(&h)
	}
	deploy(v1)
	a.sync()

	api := replaytest.API{BaseURL: tg.url, SigningKey: tg.signingKey}
	appID, fnID := v1.client.AppID(), v1.fn.ID()
	ev1, ev2 := a.send(a.event("order"), map[string]any{"n": 1}), a.send(a.event("order"), map[string]any{"n": 2})
	old := []string{tg.runsOf(t, ev1, 1)[0].RunID, tg.runsOf(t, ev2, 1)[0].RunID}
	// Both runs are asleep once the server has recorded "reserve".
	tg.eventually(t, "both runs asleep after their first step", func() (bool, string) {
		ids, err := api.InFlight(context.Background(), appID, fnID)
		if err != nil {
			return false, err.Error()
		}
		if len(ids) != 2 {
			return false, strings.Join(ids, ",")
		}
		for _, id := range old {
			rec, err := api.Record(context.Background(), v1.fn.FullID(), id)
			if err != nil {
				return false, err.Error()
			}
			if len(rec.Steps) != 1 {
				return false, id + " has not one step yet"
			}
		}
		return true, ""
	})

	// Before the deploy: the checker, against the server's in-flight
	// runs, flags the unpatched build and passes the patched one.
	unpatched := newBuild(t, tg, a, "unpatched", sleep)
	rep, err := replaytest.CheckInFlight(context.Background(), unpatched.client,
		replaytest.InFlightOpts{API: api, Functions: []replaytest.Function{unpatched.fn}})
	require.NoError(t, err)
	require.Len(t, rep.Results, 2, rep.String())
	require.Len(t, rep.Failed(), 2, rep.String())
	assert.Contains(t, rep.String(), `but the code reaches step "check-fraud"`)
	t.Log(rep)
	patched := newBuild(t, tg, a, "patched", sleep)
	rep, err = replaytest.CheckInFlight(context.Background(), patched.client,
		replaytest.InFlightOpts{API: api, Functions: []replaytest.Function{patched.fn}})
	require.NoError(t, err)
	assert.Equal(t, "2 in-flight run(s) of 1 function(s) replay cleanly against this build", rep.String())
	t.Log(rep)

	// Deploy the patched build while the runs sleep; start a new run.
	deploy(patched)
	ev3 := a.send(a.event("order"), map[string]any{"n": 3})
	for _, ev := range []string{ev1, ev2} {
		r := tg.finished(t, ev)
		assert.Equal(t, "Completed", r.Status)
		assert.JSONEq(t, `"old"`, string(r.Output), "a run in flight before the deploy")
	}
	r3 := tg.finished(t, ev3)
	assert.Equal(t, "Completed", r3.Status)
	assert.JSONEq(t, `"new"`, string(r3.Output), "a run started after the deploy")
	assert.NotContains(t, patched.logs.String(), "level=WARN")

	// An unpatched build deployed under a sleeping run: the run-time
	// warning names the run, the function and the unvisited step.
	deploy(v1)
	ev4 := a.send(a.event("order"), map[string]any{"n": 4})
	r4 := tg.runsOf(t, ev4, 1)[0]
	tg.eventually(t, "run 4 asleep", func() (bool, string) {
		rec, err := api.Record(context.Background(), v1.fn.FullID(), r4.RunID)
		if err != nil {
			return false, err.Error()
		}
		return len(rec.Steps) == 1, ""
	})
	unpatched2 := newBuild(t, tg, a, "unpatched", sleep)
	deploy(unpatched2)
	tg.finished(t, ev4)
	logs := unpatched2.logs.String()
	assert.Contains(t, logs, "level=WARN msg=\"inngest: the function reached a step with no recorded result while completed steps of the run were unvisited")
	assert.Contains(t, logs, "function="+v1.fn.FullID()+" run_id="+r4.RunID)
	assert.Contains(t, logs, "found=check-fraud")
	t.Log(logs)
}
