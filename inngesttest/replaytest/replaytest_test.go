package replaytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/inngesttest/replaytest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

// version is the code an app serves: the old code, an unpatched change
// or the change guarded with step.Patched.
type version int32

const (
	v1 version = iota
	unpatched
	patched
	auditBeforeSleep
)

// app is one app whose function's code can be switched, as a deploy
// would, while its runs are in flight.
type app struct {
	eng    *inngesttest.Engine
	client *inngest.Client
	fn     *inngest.Function[map[string]any]
	code   atomic.Int32
	bodies atomic.Int32 // step bodies run
	logs   *testkit.LogBuffer
}

// newApp serves, in v1, "reserve", a sleep, then "charge"; the change
// inserts "check-fraud" before "reserve".
func newApp(t *testing.T, mw ...inngest.Middleware) *app {
	t.Helper()
	a := &app{eng: inngesttest.New(t), logs: &testkit.LogBuffer{}}
	var err error
	a.client, err = inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: a.eng.HTTPClient(),
		Middleware: mw, Logger: slog.New(slog.NewTextHandler(a.logs, nil))})
	require.NoError(t, err)
	run := func(ctx context.Context, id string) error {
		_, err := step.Run(ctx, id, func(context.Context) (string, error) { a.bodies.Add(1); return id + " done", nil })
		return err
	}
	a.fn, err = inngest.CreateFunction(a.client, inngest.FunctionOpts{ID: "checkout"}, inngest.EventTrigger("shop/order", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			path := "old"
			switch version(a.code.Load()) {
			case unpatched:
				path = "new"
				if err := run(ctx, "check-fraud"); err != nil {
					return nil, err
				}
			case patched:
				if step.Patched(ctx, "check-fraud") {
					path = "new"
					if err := run(ctx, "check-fraud"); err != nil {
						return nil, err
					}
				}
			}
			if err := run(ctx, "reserve"); err != nil {
				return nil, err
			}
			if version(a.code.Load()) == auditBeforeSleep {
				if err := run(ctx, "audit"); err != nil {
					return nil, err
				}
			}
			if err := step.Sleep(ctx, "cool-off", time.Hour); err != nil {
				return nil, err
			}
			if err := run(ctx, "charge"); err != nil {
				return nil, err
			}
			return path, nil
		})
	require.NoError(t, err)
	a.eng.Register(a.client)
	return a
}

func (a *app) start(t *testing.T) *inngesttest.Run {
	t.Helper()
	r := a.eng.Start(a.fn, inngest.Event[any]{Name: "shop/order", Data: map[string]any{"id": "o1"}})
	r.RequireStatus(t, inngesttest.Running)
	return r
}

func TestCheckFlagsAnUnpatchedChange(t *testing.T) {
	a := newApp(t)
	rec := replaytest.FromRun(a.start(t))
	require.Len(t, rec.Steps, 1)
	assert.Equal(t, "reserve", rec.Steps[0].ID)
	assert.Equal(t, "shop-checkout", rec.FunctionID)

	a.code.Store(int32(unpatched))
	before := a.bodies.Load()
	err := (&replaytest.Checker{Handler: a.client.Serve()}).Check(context.Background(), rec)
	var d *replaytest.Divergence
	require.ErrorAs(t, err, &d)
	assert.Equal(t, 0, d.Position)
	assert.Equal(t, `step "reserve" (hash `+rec.Steps[0].Hash+`)`, d.Expected)
	assert.Equal(t, `reaches step "check-fraud" (hash `+sha1Hex("check-fraud")+`), which has no recorded result`, d.Found)
	assert.Equal(t, "replaytest: run "+rec.RunID+" of shop-checkout does not replay: after 0 recorded step(s) the record has "+d.Expected+", but the code "+d.Found, err.Error())
	assert.Equal(t, before, a.bodies.Load(), "a check runs no step body")
}

func TestCheckPassesAPatchedChange(t *testing.T) {
	a := newApp(t)
	old := a.start(t)
	a.code.Store(int32(patched))
	before := a.bodies.Load()
	replaytest.Require(t, a.client, replaytest.FromRun(old))
	assert.Equal(t, before, a.bodies.Load(), "a check runs no step body")

	// And on the engine: the old run finishes on the old path, a new
	// one takes the new path, and neither is warned about.
	started := a.start(t)
	a.eng.Wait(old, started)
	old.RequireCompleted(t).RequireOutput(t, "old").RequireNoStep(t, "check-fraud")
	started.RequireCompleted(t).RequireOutput(t, "new").RequireStep(t, "check-fraud").Completed()
	assert.NotContains(t, a.logs.String(), "level=WARN")
}

func TestUnpatchedChangeIsWarnedAboutAtRunTime(t *testing.T) {
	a := newApp(t)
	old := a.start(t)
	a.code.Store(int32(unpatched))
	a.eng.Wait(old)
	assert.Contains(t, a.logs.String(), "level=WARN msg=\"inngest: the function reached a step with no recorded result while completed steps of the run were unvisited")
	assert.Contains(t, a.logs.String(), "found=check-fraud")
}

func TestCheckReportsAReorderAndAReturn(t *testing.T) {
	a := newApp(t)
	r := a.start(t)
	a.eng.Advance(time.Hour)
	a.eng.Wait(r)
	r.RequireCompleted(t)
	rec := replaytest.FromRun(r)
	require.Len(t, rec.Steps, 3)

	// Swap the first two recorded steps: the code reaches them, but not
	// in the recorded order.
	swapped := *rec
	swapped.Steps = []replaytest.Step{rec.Steps[1], rec.Steps[0], rec.Steps[2]}
	err := (&replaytest.Checker{Handler: a.client.Serve()}).Check(context.Background(), &swapped)
	var d *replaytest.Divergence
	require.ErrorAs(t, err, &d)
	assert.Contains(t, d.Found, `reaches step "reserve"`)
	assert.Contains(t, d.Found, "a recorded step out of order")
	assert.Contains(t, d.Expected, `step "cool-off"`)

	// Unordered, the same steps replay.
	swapped.Unordered = true
	require.NoError(t, (&replaytest.Checker{Handler: a.client.Serve()}).Check(context.Background(), &swapped))

	// A record with a step the code never gets to.
	extra := *rec
	extra.Steps = append(append([]replaytest.Step{}, rec.Steps...), replaytest.Step{Hash: sha1Hex("refund"), ID: "refund", Data: json.RawMessage(`{"data":1}`)})
	err = (&replaytest.Checker{Handler: a.client.Serve()}).Check(context.Background(), &extra)
	require.ErrorAs(t, err, &d)
	assert.Equal(t, 3, d.Position)
	assert.Equal(t, "returns", d.Found)
}

func TestCaptureAndLoadDir(t *testing.T) {
	dir := t.TempDir()
	a := newApp(t, replaytest.Capture(dir, nil))
	r := a.start(t)
	recs, err := replaytest.LoadDir(dir)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	got := recs[0]
	want := replaytest.FromRun(r)
	assert.Equal(t, want.RunID, got.RunID)
	assert.Equal(t, want.FunctionID, got.FunctionID)
	assert.JSONEq(t, string(want.Events[0]), string(got.Events[0]))
	require.Len(t, got.Steps, 1)
	assert.Equal(t, want.Steps[0].Hash, got.Steps[0].Hash)
	assert.JSONEq(t, string(want.Steps[0].Data), string(got.Steps[0].Data))
	assert.False(t, got.Unordered)

	raw, err := os.ReadFile(filepath.Join(dir, r.ID()+".json"))
	require.NoError(t, err)
	assert.NotContains(t, strings.ToLower(string(raw)), "signature")

	a.code.Store(int32(unpatched))
	err = (&replaytest.Checker{Handler: a.client.Serve()}).Check(context.Background(), got)
	var d *replaytest.Divergence
	require.ErrorAs(t, err, &d)
	a.code.Store(int32(patched))
	replaytest.Require(t, a.client, got)
}

func TestLoadRefusesWhatIsNotARecord(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"run_id":"r"}`), 0o600))
	_, err := replaytest.Load(p)
	require.EqualError(t, err, "replaytest: "+p+": not a run record: no function_id, no events")
	_, err = replaytest.LoadDir(filepath.Join(dir, "missing"))
	require.Error(t, err)
}

const testKey = "signkey-prod-0123456789abcdef0123456789abcdef"

// fakeCloud answers the run listing and run state endpoints for the
// runs given, as Inngest's API does, requiring the signing key's bearer.
func fakeCloud(t *testing.T, runs ...*inngesttest.Run) *testkit.FakeAPI {
	return testkit.NewFakeAPI(t, testkit.Replying(func(r testkit.APIRequest) (int, string) {
		if r.Header.Get("Authorization") != "Bearer signkey-prod-"+bearerHash(t, testKey) {
			return 401, `{"error":"unauthorized"}`
		}
		switch {
		case r.Path == "/v2/apps/shop/functions/checkout/runs":
			assert.Equal(t, "RUNNING", r.URL.Query().Get("status"))
			// One run a page, to follow the cursor.
			i := 0
			if c := r.URL.Query().Get("cursor"); c != "" {
				fmt.Sscan(c, &i)
			}
			more := i+1 < len(runs)
			return 200, fmt.Sprintf(`{"data":[{"id":%q,"status":"RUNNING"}],"page":{"cursor":"%d","hasMore":%t,"limit":1}}`, runs[i].ID(), i+1, more)
		case strings.HasPrefix(r.Path, "/v0/runs/"):
			id, what, _ := strings.Cut(strings.TrimPrefix(r.Path, "/v0/runs/"), "/")
			for _, run := range runs {
				if run.ID() != id {
					continue
				}
				events, steps, _ := run.State()
				if what == "batch" {
					b, _ := json.Marshal(events)
					return 200, string(b)
				}
				b, _ := json.Marshal(steps)
				return 200, string(b)
			}
		}
		return 404, `{"error":"not found"}`
	}))
}

func TestCheckInFlight(t *testing.T) {
	a := newApp(t)
	runs := []*inngesttest.Run{a.start(t), a.start(t)}
	api := fakeCloud(t, runs...)
	opts := replaytest.InFlightOpts{API: replaytest.API{BaseURL: api.URL, SigningKey: testKey}, Functions: []replaytest.Function{a.fn}}

	a.code.Store(int32(patched))
	rep, err := replaytest.CheckInFlight(context.Background(), a.client, opts)
	require.NoError(t, err)
	assert.Equal(t, "2 in-flight run(s) of 1 function(s) replay cleanly against this build", rep.String())
	require.Len(t, rep.Results, 2)
	assert.Equal(t, runs[0].ID(), rep.Results[0].RunID)
	assert.Equal(t, runs[1].ID(), rep.Results[1].RunID)

	a.code.Store(int32(unpatched))
	rep, err = replaytest.CheckInFlight(context.Background(), a.client, opts)
	require.NoError(t, err)
	require.Len(t, rep.Failed(), 2)
	var d *replaytest.Divergence
	require.True(t, errors.As(rep.Failed()[0].Err, &d))
	assert.Equal(t, "one of: the step with hash "+sha1Hex("reserve"), d.Expected)
	assert.True(t, strings.HasPrefix(rep.String(), "2 of 2 in-flight run(s) do not replay against this build:\n  replaytest: run "), rep.String())

	// A wrong key: the listing fails, with the API's answer.
	opts.API.SigningKey = "signkey-prod-00"
	_, err = replaytest.CheckInFlight(context.Background(), a.client, opts)
	require.ErrorContains(t, err, "answered 401")
}

// A run asleep at "cool-off" resumes with it memoized: a change that
// inserts a step before the sleep breaks it, though every recorded step
// still replays.
func TestCheckRequiresThePendingStepNext(t *testing.T) {
	a := newApp(t)
	rec := replaytest.FromRun(a.start(t))
	require.Len(t, rec.Pending, 1)
	assert.Equal(t, "cool-off", rec.Pending[0].ID)

	a.code.Store(int32(v1))
	c := &replaytest.Checker{Handler: a.client.Serve()}
	require.NoError(t, c.Check(context.Background(), rec))

	// Today's code inserts "audit" before the sleep.
	a.code.Store(int32(auditBeforeSleep))
	err := c.Check(context.Background(), rec)
	var d *replaytest.Divergence
	require.ErrorAs(t, err, &d)
	assert.Equal(t, 1, d.Position)
	assert.Equal(t, `step "cool-off" (hash `+rec.Pending[0].Hash+`), which the run waits on`, d.Expected)
	assert.Equal(t, `reaches step "audit" (hash `+sha1Hex("audit")+`), which has no recorded result`, d.Found)
}
