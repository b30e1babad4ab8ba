// Command safedeploy shows a change to a function that has runs in
// flight, made safely: the reminder function used to load the user,
// wait three days and send an email. This version checks the user's
// opt-out before the wait, and guards that with step.Patched, so that a
// run already waiting when the change ships goes on as it started.
//
// main_test.go is the point of the example: it replays runs recorded
// from the previous version (testdata/v1-runs, written by
// replaytest.Capture or replaytest.FromRun) against this code, and in
// CI, with INNGEST_SIGNING_KEY set, the runs in flight in the
// deployment.
//
//	go test ./examples/safedeploy
//	go run ./examples/safedeploy
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// Signup is the data of users/signed.up.
type Signup struct {
	UserID string `json:"user_id"`
}

// newApp creates the client and the reminder function.
func newApp(opts inngest.ClientOpts) (*inngest.Client, *inngest.Function[Signup], error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "reminder"},
		inngest.EventTrigger("users/signed.up", nil),
		func(ctx context.Context, in inngest.Input[Signup]) (any, error) {
			email, err := step.Run(ctx, "load-user", func(ctx context.Context) (string, error) {
				return in.Event.Data.UserID + "@example.com", nil
			})
			if err != nil {
				return nil, err
			}
			// New in this version. Runs that were already waiting when it
			// shipped have "wait-3-days" recorded right after
			// "load-user": Patched is false for them. Once none is left
			// in flight, delete the Patched call and keep the branch.
			if step.Patched(ctx, "check-opt-out") {
				optedOut, err := step.Run(ctx, "check-opt-out", func(ctx context.Context) (bool, error) {
					return false, nil
				})
				if err != nil {
					return nil, err
				}
				if optedOut {
					return "opted out", nil
				}
			}
			if err := step.Sleep(ctx, "wait-3-days", 72*time.Hour); err != nil {
				return nil, err
			}
			return step.Run(ctx, "send-email", func(ctx context.Context) (string, error) {
				return "reminded " + email, nil
			})
		})
	return client, fn, err
}

func main() {
	eng := inngesttest.New(nil)
	client, fn, err := newApp(inngest.ClientOpts{AppID: "onboarding", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	eng.Register(client)
	run := eng.Run(fn, inngest.Event[any]{Name: "users/signed.up", Data: Signup{UserID: "ada"}})
	fmt.Printf("%s: %s %s\n", run.FunctionID(), run.Status(), run.Output())
	fmt.Println("See main_test.go for the replay checks: go test ./examples/safedeploy")
}
