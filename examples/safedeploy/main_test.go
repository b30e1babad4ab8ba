package main

import (
	"context"
	"os"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/inngesttest/replaytest"
)

// Runs recorded from the previous version, paused at "wait-3-days",
// replay against this code: the change is safe to ship under them.
func TestPreviousVersionRunsReplay(t *testing.T) {
	client, _, err := newApp(inngest.ClientOpts{AppID: "onboarding", Mode: inngest.ModeDev})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := replaytest.LoadDir("testdata/v1-runs")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no records in testdata/v1-runs")
	}
	replaytest.Require(t, client, recs...)
}

// A run that starts on this version checks the opt-out.
func TestNewRunsCheckTheOptOut(t *testing.T) {
	eng := inngesttest.New(t)
	client, fn, err := newApp(inngest.ClientOpts{AppID: "onboarding", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	eng.Register(client)
	run := eng.Run(fn, inngest.Event[any]{Name: "users/signed.up", Data: Signup{UserID: "ada"}})
	run.RequireCompleted(t).RequireOutput(t, "reminded ada@example.com")
	run.RequireStep(t, "check-opt-out").Completed()
}

// In CI, before a deploy: the runs in flight in the deployment replay
// against this build. It reads them from Inngest's API with the
// deployment's signing key (INNGEST_SIGNING_KEY; INNGEST_API_BASE_URL
// for a server other than Inngest Cloud), and is skipped without one.
func TestInFlightRunsReplay(t *testing.T) {
	key := os.Getenv("INNGEST_SIGNING_KEY")
	if key == "" {
		t.Skip("INNGEST_SIGNING_KEY is not set: no deployment to check")
	}
	client, fn, err := newApp(inngest.ClientOpts{AppID: "onboarding", SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replaytest.CheckInFlight(context.Background(), client, replaytest.InFlightOpts{
		API:       replaytest.API{SigningKey: key},
		Functions: []replaytest.Function{fn},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed()) > 0 {
		t.Fatal(rep)
	}
	t.Log(rep)
}
