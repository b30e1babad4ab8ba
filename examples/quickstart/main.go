// Command quickstart is the smallest useful Inngest app: one function
// that sends a welcome email, sleeps for a day, then sends a follow-up.
//
// Run it anywhere, with no server: it runs the function once on the
// in-process engine (package inngesttest) and prints what happened, the
// day-long sleep included, in virtual time:
//
//	go run ./examples/quickstart
//
// Serve it to the Inngest dev server:
//
//	INNGEST_DEV=1 go run ./examples/quickstart
//	npx inngest-cli@latest dev -u http://127.0.0.1:3000/api/inngest
//
// then send {"name": "app/user.signed_up", "data": {"email": "ada@example.com"}}
// from the dev server's UI. With INNGEST_SIGNING_KEY (and INNGEST_EVENT_KEY)
// set instead, it serves Inngest Cloud. ADDR changes the listen address.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// SignUp is the data of the app/user.signed_up event.
type SignUp struct {
	Email string `json:"email"`
}

// newApp creates the client and its function. main and the tests share
// it: main serves it or runs it on the engine, the tests run it on the
// engine.
func newApp(opts inngest.ClientOpts) (*inngest.Client, *inngest.Function[SignUp], error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	fn, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{ID: "welcome-emails", Name: "Welcome emails"},
		inngest.EventTrigger("app/user.signed_up", nil),
		func(ctx context.Context, in inngest.Input[SignUp]) (any, error) {
			// A step runs once; when the function is called again, it
			// returns its recorded result instead of running again.
			welcome, err := step.Run(ctx, "send-welcome", func(ctx context.Context) (string, error) {
				return sendEmail(ctx, in.Event.Data.Email, "Welcome aboard!")
			})
			if err != nil {
				return nil, err
			}
			// No process waits: Inngest calls the function again tomorrow.
			if err := step.Sleep(ctx, "wait-a-day", 24*time.Hour); err != nil {
				return nil, err
			}
			tips, err := step.Run(ctx, "send-tips", func(ctx context.Context) (string, error) {
				return sendEmail(ctx, in.Event.Data.Email, "Three tips to get started")
			})
			if err != nil {
				return nil, err
			}
			return []string{welcome, tips}, nil
		})
	if err != nil {
		return nil, nil, err
	}
	return client, fn, nil
}

// sendEmail stands in for a real mailer and returns a message ID.
func sendEmail(_ context.Context, to, subject string) (string, error) {
	return fmt.Sprintf("sent %q to %s", subject, to), nil
}

func main() {
	var err error
	if os.Getenv("INNGEST_DEV") != "" || os.Getenv("INNGEST_SIGNING_KEY") != "" {
		err = serve()
	} else {
		err = runOnce(os.Stdout)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// serve serves the app at ADDR (default 127.0.0.1:3000) on /api/inngest.
func serve() error {
	client, _, err := newApp(inngest.ClientOpts{AppID: "quickstart"})
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
	fmt.Printf("Serving the quickstart app (%s mode) at %s\n", client.Mode(), url)
	if client.Mode() == inngest.ModeDev {
		fmt.Printf("Sync it with the dev server: npx inngest-cli@latest dev -u %s\n", url)
	}
	return http.ListenAndServe(addr, mux)
}

// runOnce runs the function once on the in-process engine and prints
// the result to w.
func runOnce(w io.Writer) error {
	eng := inngesttest.New(nil)
	client, fn, err := newApp(inngest.ClientOpts{
		AppID:      "quickstart",
		Mode:       inngest.ModeDev,
		HTTPClient: eng.HTTPClient(), // events the app sends go to the engine
	})
	if err != nil {
		return err
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Name: "app/user.signed_up", Data: SignUp{Email: "ada@example.com"}})
	fmt.Fprintln(w, "No INNGEST_DEV or INNGEST_SIGNING_KEY set: ran the function once on the in-process engine.")
	fmt.Fprintf(w, "%s: %s after %s of virtual time\n", run.FunctionID(), run.Status(), run.Elapsed())
	for _, e := range run.Timeline() {
		fmt.Fprintln(w, "  "+e.String())
	}
	fmt.Fprintf(w, "output: %s\n", run.Output())
	fmt.Fprintln(w, "To serve it to the dev server: INNGEST_DEV=1 go run ./examples/quickstart")
	if run.Status() != inngesttest.Completed {
		return fmt.Errorf("the run did not complete: %v", run.Err())
	}
	return nil
}
