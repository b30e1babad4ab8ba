package inngest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// OrderPlaced is the data of the examples' shop/order.placed event.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Total   int    `json:"total_cents"`
}

// engineClient returns a dev-mode client wired to eng: its events and
// sync go to the engine instead of an Inngest server, so the examples
// run anywhere.
func engineClient(eng *inngesttest.Engine) *inngest.Client {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		panic(err)
	}
	return client
}

// In production, keys come from the environment: INNGEST_SIGNING_KEY and
// INNGEST_EVENT_KEY for Inngest Cloud, or INNGEST_DEV=1 for the local
// dev server. A configuration that cannot work is an error that says
// what to do.
func ExampleNewClient() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	fmt.Println(client.AppID(), client.Mode())

	_, err = inngest.NewClient(inngest.ClientOpts{})
	fmt.Println(err)
	// Output:
	// shop dev
	// inngest: ClientOpts.AppID is required: it names your app in Inngest, for example inngest.ClientOpts{AppID: "billing"}
}

// A function with two steps, run here on the in-process engine.
func ExampleCreateFunction() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	receipt, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{ID: "send-receipt", Retries: inngest.Ptr(3)},
		inngest.EventTrigger("shop/order.placed", inngest.Ptr("event.data.total_cents > 0")),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			pdf, err := step.Run(ctx, "render", func(ctx context.Context) (string, error) {
				return "receipt-" + in.Event.Data.OrderID + ".pdf", nil
			})
			if err != nil {
				return nil, err
			}
			return step.Run(ctx, "email", func(ctx context.Context) (string, error) {
				return "emailed " + pdf, nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(receipt, inngest.Event[any]{Data: OrderPlaced{OrderID: "o-1", Total: 1200}})
	fmt.Println(receipt.FullID(), run.Status(), string(run.Output()))
	// Output:
	// shop-send-receipt Completed "emailed receipt-o-1.pdf"
}

// Serve is an http.Handler: mount it next to the app's other routes.
// Inngest calls it to sync the app (PUT) and to run functions (POST); a
// GET describes the configuration.
func ExampleClient_Serve() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "noop"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("/api/inngest", client.Serve())
	// In a program: http.ListenAndServe(":3000", mux)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/inngest", nil))
	var info struct {
		Mode          string `json:"mode"`
		FunctionCount int    `json:"function_count"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, info.Mode, info.FunctionCount)
	// Output:
	// 200 dev 1
}

// With its public URL fixed by ServeOrigin and ServePath (or
// INNGEST_SERVE_ORIGIN and INNGEST_SERVE_PATH), a cloud-mode handler
// accepts an unsigned sync, such as `curl -X PUT` in a deploy script,
// and registers that URL, whatever Host the request named. Here the
// Inngest API is a stand-in that prints the URL it is told.
func ExampleClient_Serve_unsignedSync() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reg struct {
			URL string `json:"url"`
		}
		_ = json.NewDecoder(r.Body).Decode(&reg)
		fmt.Println("registered", reg.URL)
		_, _ = w.Write([]byte(`{"ok":true,"modified":true}`))
	}))
	defer api.Close()

	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:       "billing",
		Mode:        inngest.ModeCloud,
		SigningKey:  "signkey-prod-0123456789abcdef",
		APIBaseURL:  api.URL,
		ServeOrigin: "https://billing.example.com",
		ServePath:   "/api/inngest",
	})
	if err != nil {
		panic(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "noop"},
		inngest.EventTrigger("billing/invoice.created", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/inngest", client.Serve())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://10.0.0.7:3000/api/inngest", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// registered https://billing.example.com/api/inngest
	// 200 {"message":"Successfully synced.","modified":true}
}

// Send sends events to Inngest, here to the engine, which starts the
// functions they trigger.
func ExampleClient_Send() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	_, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "confirm-order"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return "confirmed " + in.Event.Data.OrderID, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	ids, err := client.Send(context.Background(),
		inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1", Total: 500}},
		inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-2", Total: 700}},
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(ids), "events sent")
	eng.Wait()
	for _, r := range eng.Runs() {
		fmt.Println(r.Status(), string(r.Output()))
	}
	// Output:
	// 2 events sent
	// Completed "confirmed o-1"
	// Completed "confirmed o-2"
}

// The failure handler runs once, after the last attempt, with the error
// and the original event.
func ExampleOnFailure() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	charge, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "charge",
			Retries: inngest.Ptr(1),
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[OrderPlaced]) (any, error) {
				return step.Run(ctx, "notify", func(ctx context.Context) (string, error) {
					return fmt.Sprintf("order %s: %s failed: %s", f.Event.Data.OrderID, f.StepID, f.Error.Message), nil
				})
			}),
		},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return step.Run(ctx, "charge-card", func(ctx context.Context) (string, error) {
				return "", errors.New("card declined")
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(charge, inngest.Event[any]{Data: OrderPlaced{OrderID: "o-1"}})
	st, _ := run.Step("charge-card")
	fmt.Println(run.Status(), "after", st.Attempts, "attempts")
	for _, h := range run.FailureHandlers() {
		fmt.Println(h.FunctionID(), string(h.Output()))
	}
	// Output:
	// Failed after 2 attempts
	// shop-charge-failure "order o-1: charge-card failed: card declined"
}

// An error that retrying cannot fix fails the run at once.
func ExampleNoRetryError() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "ship"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			if in.Event.Data.OrderID == "" {
				return nil, inngest.NoRetryError(errors.New("the event has no order_id"))
			}
			return "shipped", nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: OrderPlaced{}})
	fmt.Println(run.Status(), "after", run.Calls(), "call:", run.Err().Message)
	// Output:
	// Failed after 1 call: the event has no order_id
}

// A rate-limited API says when to come back; RetryAtError makes the next
// attempt wait until then instead of the usual back-off.
func ExampleRetryAtError() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	calls := 0
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "sync-crm"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return step.Run(ctx, "push-to-crm", func(ctx context.Context) (string, error) {
				calls++
				if calls == 1 {
					resetAt := time.Now().Add(10 * time.Minute) // from the API's answer
					return "", inngest.RetryAtError(errors.New("rate limited"), resetAt)
				}
				return "pushed", nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: OrderPlaced{OrderID: "o-1"}})
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryStepError {
			fmt.Println("attempt", e.Attempt, "failed; next attempt in", e.Delay.Round(time.Minute))
		}
	}
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// attempt 0 failed; next attempt in 10m0s
	// Completed "pushed"
}

// A step whose attempts are used up returns a *StepError. Handle it with
// errors.As, for example to undo earlier steps, or return it to fail the
// run.
func ExampleStepError() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "checkout", Retries: inngest.Ptr(0)},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			if _, err := step.Run(ctx, "reserve-stock", func(ctx context.Context) (bool, error) {
				return true, nil
			}); err != nil {
				return nil, err
			}
			_, err := step.Run(ctx, "charge-card", func(ctx context.Context) (string, error) {
				return "", errors.New("card declined")
			})
			var se *inngest.StepError
			if errors.As(err, &se) {
				if _, err := step.Run(ctx, "release-stock", func(ctx context.Context) (bool, error) {
					return true, nil
				}); err != nil {
					return nil, err
				}
				return fmt.Sprintf("stock released: %s failed: %s", se.StepID, se.Message), nil
			}
			if err != nil {
				return nil, err
			}
			return "paid", nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: OrderPlaced{OrderID: "o-1"}})
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// Completed "stock released: charge-card failed: card declined"
}
