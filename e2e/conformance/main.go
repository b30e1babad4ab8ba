// Command conformance is the app the Inngest server's own conformance
// runner (`inngest alpha conformance run`, transport "serve") tests: the
// six serve cases of its suite, written with this SDK.
//
// It listens on ADDR (127.0.0.1:3939 by default) and serves the SDK at
// /api/inngest, in dev mode, with in-band sync on and INNGEST_SIGNING_KEY
// (the runner signs its sync request with the key it is given). The retry
// case decides its failures from the attempt number, so the app needs no
// restart between runs. scripts/e2e.sh starts it and runs the runner
// against it when INNGEST_CLI names the Inngest CLI; see e2e/README.md.
package main

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// DefaultSigningKey is the signing key the runner's reference
// configuration uses.
const DefaultSigningKey = "7468697320697320612074657374206b6579"

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3939"
	}
	key := os.Getenv("INNGEST_SIGNING_KEY")
	if key == "" {
		key = DefaultSigningKey
	}
	client, err := NewApp(key, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/inngest", client.Serve())
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	log.Printf("conformance app on http://%s/api/inngest", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// Result is what most of the cases' functions return.
type Result struct {
	Name string `json:"name"`
	Body string `json:"body"`
}

// NewApp creates the client, in dev mode with in-band sync, and the
// functions the runner's cases call (their IDs are the runner's).
func NewApp(signingKey string, logger *slog.Logger) (*inngest.Client, error) {
	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:           "conformance-go-inngest",
		Mode:            inngest.ModeDev,
		SigningKey:      signingKey,
		AllowInBandSync: true,
		Logger:          logger,
	})
	if err != nil {
		return nil, err
	}
	type data = map[string]any
	errs := []error{
		create(client, inngest.FunctionOpts{ID: "test-suite-simple-fn"}, "tests/function.test",
			func(ctx context.Context, in inngest.Input[data]) (any, error) {
				return Result{Name: in.Event.Name, Body: "ok"}, nil
			}),

		create(client, inngest.FunctionOpts{ID: "test-suite-step-test"}, "tests/step.test",
			func(ctx context.Context, in inngest.Input[data]) (any, error) {
				first, err := step.Run(ctx, "first step", func(ctx context.Context) (string, error) {
					return "first step", nil
				})
				if err != nil {
					return nil, err
				}
				if err := step.Sleep(ctx, "sleep", 2*time.Second); err != nil {
					return nil, err
				}
				if _, err := step.Run(ctx, "second step", func(ctx context.Context) (data, error) {
					return data{"first": first, "second": true}, nil
				}); err != nil {
					return nil, err
				}
				return Result{Name: in.Event.Name, Body: "ok"}, nil
			}),

		// The step fails on its first attempt and succeeds on its retry;
		// then the function fails on its first attempt and succeeds on
		// its retry.
		create(client, inngest.FunctionOpts{ID: "test-suite-retry-test"}, "tests/retry.test",
			func(ctx context.Context, in inngest.Input[data]) (any, error) {
				if _, err := step.Run(ctx, "first step", func(ctx context.Context) (string, error) {
					if in.Attempt == 0 {
						return "", errors.New("broken")
					}
					return "yes: 2", nil
				}); err != nil {
					return nil, err
				}
				if in.Attempt == 0 {
					return nil, errors.New("broken func")
				}
				return Result{Name: in.Event.Name, Body: "ok"}, nil
			}),

		create(client, inngest.FunctionOpts{
			ID:     "test-suite-cancel-test",
			Cancel: []inngest.Cancel{{Event: "cancel/please", If: "async.data.request_id == event.data.request_id"}},
		}, "tests/cancel.test",
			func(ctx context.Context, in inngest.Input[data]) (any, error) {
				if err := step.Sleep(ctx, "sleep", 10*time.Second); err != nil {
					return nil, err
				}
				if _, err := step.Run(ctx, "After the sleep", func(ctx context.Context) (string, error) {
					return "this runs only when no cancel event came", nil
				}); err != nil {
					return nil, err
				}
				return Result{Name: in.Event.Name, Body: "ok"}, nil
			}),

		create(client, inngest.FunctionOpts{ID: "test-suite-wait-for-event"}, "tests/wait.test",
			func(ctx context.Context, in inngest.Input[data]) (any, error) {
				evt, err := step.WaitForEvent[data](ctx, "wait", step.WaitForEventOpts{
					Event:   "test/resume",
					If:      "async.data.resume == true && async.data.id == event.data.id",
					Timeout: 10 * time.Second,
				})
				if errors.Is(err, step.ErrEventNotReceived) {
					return data{}, nil
				}
				if err != nil {
					return nil, err
				}
				return data{"result": evt.Data}, nil
			}),
	}
	return client, errors.Join(errs...)
}

func create(c *inngest.Client, opts inngest.FunctionOpts, event string, fn func(context.Context, inngest.Input[map[string]any]) (any, error)) error {
	_, err := inngest.CreateFunction(c, opts, inngest.EventTrigger(event, nil), fn)
	return err
}
