// Command subscriptions is the main example: a subscription renewal with
// retries, a sleep, a wait for the user's feedback and a failure handler
// that unsubscribes the user when the card cannot be charged.
//
// With no Inngest server configured it runs three renewals on the
// in-process engine (inngesttest) and prints each run's timeline, in
// virtual time:
//
//	go run ./examples/subscriptions
//
// With INNGEST_DEV set (or INNGEST_SIGNING_KEY for a self-hosted server
// or Inngest Cloud) it serves the same function over HTTP instead:
//
//	INNGEST_DEV=1 go run ./examples/subscriptions
//	npx inngest-cli@latest dev -u http://127.0.0.1:3000/api/inngest
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
)

func main() {
	if os.Getenv("INNGEST_DEV") != "" || os.Getenv("INNGEST_SIGNING_KEY") != "" {
		if err := serve(); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := simulate(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// serve mounts the app's handler for a real Inngest server.
func serve() error {
	client, err := NewApp(inngest.ClientOpts{AppID: "billing"}, NewBilling())
	if err != nil {
		return err
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	mux := http.NewServeMux()
	mux.Handle("/api/inngest", client.Serve())
	url := "http://" + addr + "/api/inngest"
	fmt.Printf("Serving the billing app (%s mode) at %s\n", client.Mode(), url)
	if client.Mode() == inngest.ModeDev {
		fmt.Printf("Sync it with the dev server:  npx inngest-cli@latest dev -u %s\n", url)
		fmt.Printf("or, with a dev server running: curl -X PUT %s\n", url)
		fmt.Println(`Then send {"name":"billing/subscription.check","data":{"user_id":"u-1","plan":"pro"}} from the dev server's UI.`)
	} else {
		fmt.Printf("Sync it from the Inngest dashboard, or: curl -X PUT %s (the request must be signed)\n", url)
	}
	return http.ListenAndServe(addr, mux)
}

// simulate runs three renewals on the in-process engine and prints their
// timelines to w.
func simulate(w io.Writer) error {
	eng := inngesttest.New(nil, inngesttest.WithStartTime(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)))
	billing := NewBilling()
	client, err := NewApp(inngest.ClientOpts{
		AppID:      "billing",
		Mode:       inngest.ModeDev,
		HTTPClient: eng.HTTPClient(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, billing)
	if err != nil {
		return err
	}
	eng.Register(client)

	// The happy user answers the feedback request two days in.
	eng.OnPause("wait-for-feedback", func(p inngesttest.Pause) {
		var evt inngest.Event[SubscriptionCheck]
		if err := json.Unmarshal(p.Run.Event(), &evt); err != nil || evt.Data.UserID != "u-happy" {
			return
		}
		eng.After(48*time.Hour, func() {
			eng.Send(inngest.Event[any]{Name: "billing/feedback.given", Data: Feedback{UserID: "u-happy", Score: 9}})
		})
	})

	scenarios := []struct{ title, user string }{
		{"A renewal that goes through, with feedback two days later", "u-happy"},
		{"A flaky payment provider: the charge is retried, and the user never answers", "u-flaky"},
		{"A declined card: retries run out, the failure handler unsubscribes the user", "u-declined"},
	}
	for i, sc := range scenarios {
		runs := eng.Send(inngest.Event[any]{Name: "billing/subscription.check", Data: SubscriptionCheck{UserID: sc.user, Plan: "pro"}})
		if len(runs) != 1 {
			return fmt.Errorf("scenario %q: want 1 run, got %d", sc.title, len(runs))
		}
		eng.Wait(runs[0])
		fmt.Fprintf(w, "\n%d. %s\n", i+1, sc.title)
		printRun(w, runs[0], "   ")
		for _, h := range runs[0].FailureHandlers() {
			eng.Wait(h)
			fmt.Fprintf(w, "   then its failure handler:\n")
			printRun(w, h, "     ")
		}
	}
	fmt.Fprintf(w, "\nMail sent: %s\nUnsubscribed: %s\n", strings.Join(billing.Mails, "; "), strings.Join(billing.Canceled, ", "))
	if len(billing.Canceled) != 1 {
		return errors.New("expected exactly one unsubscribed user")
	}
	return nil
}

// printRun prints a run's status, steps and timeline.
func printRun(w io.Writer, r *inngesttest.Run, indent string) {
	fmt.Fprintf(w, "%s%s %s: %s after %s of virtual time, %d calls\n", indent, r.FunctionID(), r.ID(), r.Status(), r.Elapsed(), r.Calls())
	for _, e := range r.Timeline() {
		if e.Kind == inngesttest.EntryCall {
			continue // one line per call is noise here; see Calls above
		}
		fmt.Fprintf(w, "%s  %s\n", indent, e)
	}
	switch r.Status() {
	case inngesttest.Completed:
		fmt.Fprintf(w, "%s  output: %s\n", indent, r.Output())
	case inngesttest.Failed:
		fmt.Fprintf(w, "%s  error: %v\n", indent, r.Err())
	}
}
