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

// EventTrigger starts a function on an event; an optional CEL expression
// filters the events. Only the large order starts a run here.
func ExampleEventTrigger() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	_, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "flag-large-order"},
		inngest.EventTrigger("shop/order.placed", inngest.Ptr("event.data.total_cents >= 100000")),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return "flagged " + in.Event.Data.OrderID, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	runs := eng.Send(
		inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1", Total: 2500}},
		inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-2", Total: 250000}},
	)
	eng.Wait()
	for _, r := range runs {
		fmt.Println(r.FunctionID(), r.Status(), string(r.Output()))
	}
	// Output:
	// shop-flag-large-order Completed "flagged o-2"
}

// CronTrigger runs a function on a schedule, here at 02:00 every day in
// Paris. Inngest starts the runs; the engine runs a cron function when
// asked. A schedule Inngest would refuse is an error at CreateFunction.
func ExampleCronTrigger() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	cleanup, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "nightly-cleanup"},
		inngest.CronTrigger("TZ=Europe/Paris 0 2 * * *"),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "delete-stale-carts", func(ctx context.Context) (int, error) {
				return 12, nil // delete them here
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(cleanup, inngest.Event[any]{})
	fmt.Println(run.Status(), string(run.Output()))

	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "hourly"},
		inngest.CronTrigger("@hourly"),
		func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	fmt.Println(err != nil)
	// Output:
	// Completed 12
	// true
}

// Ptr fills the optional pointer fields of the options, where nil means
// "the server's default" and a pointer to zero means zero.
func ExamplePtr() {
	opts := inngest.FunctionOpts{ID: "charge", Retries: inngest.Ptr(0)} // no retries: one attempt
	trigger := inngest.EventTrigger("shop/order.placed", inngest.Ptr("event.data.total_cents > 0"))
	fmt.Println(*opts.Retries, trigger.Expression)
	// Output:
	// 0 event.data.total_cents > 0
}

// IsNoRetryError reports whether an error, or one it wraps, was made by
// NoRetryError.
func ExampleIsNoRetryError() {
	err := fmt.Errorf("import row 7: %w", inngest.NoRetryError(errors.New("malformed CSV")))
	fmt.Println(inngest.IsNoRetryError(err), err)
	fmt.Println(inngest.IsNoRetryError(errors.New("timeout")))
	// Output:
	// true import row 7: malformed CSV
	// false
}

// RetryAfterError is RetryAtError with a delay from now: the next
// attempt waits at least that long instead of the usual back-off.
func ExampleRetryAfterError() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	calls := 0
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "sync-erp"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return step.Run(ctx, "push-to-erp", func(ctx context.Context) (string, error) {
				calls++
				if calls == 1 {
					return "", inngest.RetryAfterError(errors.New("ERP in maintenance"), 30*time.Minute)
				}
				return "pushed", nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: OrderPlaced{OrderID: "o-1"}})
	st, _ := run.Step("push-to-erp")
	fmt.Println(run.Status(), string(run.Output()), "after", st.Attempts, "attempts and", run.Elapsed().Round(time.Minute))
	// Output:
	// Completed "pushed" after 2 attempts and 30m0s
}

// RetryAt reads the time set by RetryAtError, through any wrapping.
func ExampleRetryAt() {
	reset := time.Date(2026, time.March, 2, 12, 0, 0, 0, time.UTC)
	err := fmt.Errorf("push: %w", inngest.RetryAtError(errors.New("rate limited"), reset))
	at, ok := inngest.RetryAt(err)
	fmt.Println(ok, at.Format(time.RFC3339))
	_, ok = inngest.RetryAt(errors.New("other"))
	fmt.Println(ok)
	// Output:
	// true 2026-03-02T12:00:00Z
	// false
}

// ValidateEvents checks events as Client.Send does, before anything is
// sent: for example in an HTTP handler that forwards events, to answer
// 400 rather than fail later.
func ExampleValidateEvents() {
	fmt.Println(inngest.ValidateEvents(inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1"}}))
	fmt.Println(inngest.ValidateEvents(
		inngest.Event[any]{Name: "shop/order.placed"},
		inngest.Event[any]{Name: "shop/order.placed", Data: []int{1, 2}},
	))
	fmt.Println(inngest.ValidateEvents(inngest.Event[any]{Name: "inngest/function.failed"}))
	// Output:
	// <nil>
	// inngest: event 1 (shop/order.placed): data must be a JSON object (a struct or map), got [1,2]
	// inngest: event 0: the name "inngest/function.failed" is reserved for Inngest's own events
}

// Sign computes the X-Inngest-Signature header Inngest sends, for a
// signing key, a time and a body: to sign requests to the handler in
// tests, or to check a captured request by hand.
func ExampleSign() {
	at := time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
	sig, err := inngest.Sign("signkey-test-0123456789abcdef", at, []byte(`{"event":{}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output:
	// t=1767225600&s=581eb3cdb3ff12f39d4bc7808c9e4eddfcec603a2504de78d8bd59659e4f0b68
}

// ClientFromContext gives a function's code the client that runs it, to
// send events from a helper without passing the client around.
func ExampleClientFromContext() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "whoami"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return "served by app " + inngest.ClientFromContext(ctx).AppID(), nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{})
	fmt.Println(string(run.Output()))
	fmt.Println(inngest.ClientFromContext(context.Background()) == nil)
	// Output:
	// "served by app shop"
	// true
}

// AppID and Mode are what NewClient resolved.
func ExampleClient_AppID() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "billing", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	fmt.Println(client.AppID())
	// Output:
	// billing
}

// Mode is ModeDev or ModeCloud once NewClient has resolved ModeAuto from
// INNGEST_DEV. Cloud mode needs a signing key.
func ExampleClient_Mode() {
	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "billing",
		Mode:       inngest.ModeCloud,
		SigningKey: "signkey-prod-0123456789abcdef",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(client.Mode(), client.Mode() == inngest.ModeCloud)
	// Output:
	// cloud true
}

// A self-hosted server (inngest start) serves both APIs at one address:
// set BaseURL, or INNGEST_BASE_URL.
func ExampleClient_APIBaseURL() {
	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "billing",
		Mode:       inngest.ModeCloud,
		SigningKey: "signkey-prod-0123456789abcdef",
		BaseURL:    "http://inngest.internal:8288",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(client.APIBaseURL())
	fmt.Println(client.EventAPIBaseURL())
	// Output:
	// http://inngest.internal:8288
	// http://inngest.internal:8288
}

// The event API can live elsewhere than the API, for example behind a
// proxy of its own.
func ExampleClient_EventAPIBaseURL() {
	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:           "billing",
		Mode:            inngest.ModeCloud,
		SigningKey:      "signkey-prod-0123456789abcdef",
		APIBaseURL:      "https://api.inngest.com",
		EventAPIBaseURL: "https://events.example.com",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(client.APIBaseURL(), client.EventAPIBaseURL())
	// Output:
	// https://api.inngest.com https://events.example.com
}

// SendSignal resumes the run waiting at step.WaitForSignal for that
// signal; with no run waiting it fails with ErrNoSignalWaiter.
func ExampleClient_SendSignal() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "hold-order"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			sig, err := step.WaitForSignal[string](ctx, "review", step.WaitForSignalOpts{
				Signal:  "order-review/" + in.Event.Data.OrderID,
				Timeout: 48 * time.Hour,
			})
			if err != nil {
				return nil, err
			}
			return "released: " + sig.Data, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Start(fn, inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1"}})
	runID, err := client.SendSignal(context.Background(), "order-review/o-1", "looks fine")
	if err != nil {
		panic(err)
	}
	eng.Wait(run)
	fmt.Println(runID == run.ID(), run.Status(), string(run.Output()))

	_, err = client.SendSignal(context.Background(), "order-review/o-1", "again")
	fmt.Println(errors.Is(err, inngest.ErrNoSignalWaiter))
	// Output:
	// true Completed "released: looks fine"
	// true
}

// Time converts the event's Unix-millisecond timestamp.
func ExampleEvent_Time() {
	e := inngest.Event[OrderPlaced]{Name: "shop/order.placed", Timestamp: 1767225600123}
	fmt.Println(e.Time().UTC().Format(time.RFC3339Nano))
	// Output:
	// 2026-01-01T00:00:00.123Z
}

// A function's ID is unique within its app; Inngest knows it by its full
// ID, prefixed with the app's ID, which is also what step.Invoke takes.
func ExampleFunction_FullID() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "send-receipt"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
	fmt.Println(fn.ID(), fn.FullID())
	// Output:
	// send-receipt shop-send-receipt
}

// ID is the function's ID as given in FunctionOpts.
func ExampleFunction_ID() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "refund"},
		inngest.EventTrigger("shop/refund.requested", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
	fmt.Println(fn.ID())
	// Output:
	// refund
}

// Name is what the Inngest dashboard shows; it defaults to the ID.
func ExampleFunction_Name() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	named, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "refund", Name: "Refund an order"},
		inngest.EventTrigger("shop/refund.requested", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
	unnamed, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "restock"},
		inngest.EventTrigger("shop/refund.requested", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
	fmt.Println(named.Name())
	fmt.Println(unnamed.Name())
	// Output:
	// Refund an order
	// restock
}

// WithRetries gives a failure handler retries of its own (it has one by
// default): here its step fails once and succeeds on the retry.
func ExampleFailureFunc_WithRetries() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	pages := 0
	fn, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "charge",
			Retries: inngest.Ptr(0),
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[OrderPlaced]) (any, error) {
				return step.Run(ctx, "page-on-call", func(ctx context.Context) (string, error) {
					pages++
					if pages == 1 {
						return "", errors.New("pager API unavailable")
					}
					return "paged about " + f.Event.Data.OrderID, nil
				})
			}).WithRetries(3),
		},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return nil, errors.New("card declined")
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: OrderPlaced{OrderID: "o-1"}})
	for _, h := range run.FailureHandlers() {
		st, _ := h.Step("page-on-call")
		fmt.Println(h.Status(), string(h.Output()), "after", st.Attempts, "attempts")
	}
	// Output:
	// Completed "paged about o-1" after 2 attempts
}

// A Cancel option cancels a run when a matching event arrives; OnCancel
// then runs once, with the run's original event, to clean up.
func ExampleOnCancel() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	fulfil, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:     "fulfil",
			Cancel: []inngest.Cancel{{Event: "shop/order.cancelled", Match: "data.order_id"}},
			OnCancel: inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[OrderPlaced]) (any, error) {
				return step.Run(ctx, "release-stock", func(ctx context.Context) (string, error) {
					return "released stock of " + c.Event.Data.OrderID, nil
				})
			}),
		},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			if err := step.Sleep(ctx, "cooling-off-period", 24*time.Hour); err != nil {
				return nil, err
			}
			return step.Run(ctx, "ship", func(ctx context.Context) (string, error) {
				return "shipped", nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Start(fulfil, inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1"}})
	eng.Advance(2 * time.Hour)
	eng.Send(inngest.Event[any]{Name: "shop/order.cancelled", Data: map[string]string{"order_id": "o-1"}})
	eng.Wait(run)
	_, shipped := run.Step("ship")
	fmt.Println(run.Status(), "after", run.Elapsed(), "shipped:", shipped)
	for _, h := range run.CancelHandlers() {
		fmt.Println(h.FunctionID(), string(h.Output()))
	}
	// Output:
	// Cancelled after 2h0m0s shipped: false
	// shop-fulfil-cancel "released stock of o-1"
}

// WithRetries gives a cancellation handler retries of its own (it has
// one by default).
func ExampleCancelFunc_WithRetries() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	refunds := 0
	fn, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:     "subscription",
			Cancel: []inngest.Cancel{{Event: "shop/subscription.ended", Match: "data.order_id"}},
			OnCancel: inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[OrderPlaced]) (any, error) {
				return step.Run(ctx, "refund-unused-days", func(ctx context.Context) (string, error) {
					refunds++
					if refunds < 3 {
						return "", errors.New("payment provider timeout")
					}
					return "refunded " + c.Event.Data.OrderID, nil
				})
			}).WithRetries(5),
		},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
			return nil, step.Sleep(ctx, "until-renewal", 30*24*time.Hour)
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Start(fn, inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1"}})
	eng.Send(inngest.Event[any]{Name: "shop/subscription.ended", Data: map[string]string{"order_id": "o-1"}})
	eng.Wait(run)
	for _, h := range run.CancelHandlers() {
		st, _ := h.Step("refund-unused-days")
		fmt.Println(h.Status(), string(h.Output()), "after", st.Attempts, "attempts")
	}
	// Output:
	// Completed "refunded o-1" after 3 attempts
}

// CreateFailureFunction handles the failures of every function of the
// app (or of those a FailureFilter names) in one place, for alerting.
// Each function may still have its own OnFailure.
func ExampleCreateFailureFunction() {
	eng := inngesttest.New(nil)
	client := engineClient(eng)
	alerts, err := inngest.CreateFailureFunction(client, inngest.FunctionOpts{ID: "alert-on-failure"},
		inngest.FailureFilter{}, // every function of the app
		func(ctx context.Context, f inngest.Failure[json.RawMessage]) (any, error) {
			return step.Run(ctx, "post-to-chat", func(ctx context.Context) (string, error) {
				return fmt.Sprintf("%s failed at step %q: %s", f.FunctionID, f.StepID, f.Error.Message), nil
			})
		})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"charge", "ship"} {
		_, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: id, Retries: inngest.Ptr(0)},
			inngest.EventTrigger("shop/order.placed", nil),
			func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
				return step.Run(ctx, id+"-order", func(ctx context.Context) (string, error) {
					return "", errors.New(id + " service down")
				})
			})
		if err != nil {
			panic(err)
		}
	}
	eng.Register(client)

	eng.Send(inngest.Event[any]{Name: "shop/order.placed", Data: OrderPlaced{OrderID: "o-1"}})
	eng.Wait()
	for _, r := range eng.RunsOf(alerts) {
		fmt.Println(string(r.Output()))
	}
	// Output:
	// "shop-charge failed at step \"charge-order\": charge service down"
	// "shop-ship failed at step \"ship-order\": ship service down"
}

// auditLog is a middleware that records, for each call, the step the
// call ran or what the function returned. It embeds BaseMiddleware, so it
// implements only the hooks it needs.
type auditLog struct {
	inngest.BaseMiddleware
	lines *[]string
}

type tenantKey struct{}

// TransformInput reads the tenant from the raw event and puts it into
// the function's context.
func (m auditLog) TransformInput(ctx context.Context, call *inngest.Call) context.Context {
	var evt struct {
		Data struct {
			Tenant string `json:"tenant"`
		} `json:"data"`
	}
	if err := json.Unmarshal(call.Event, &evt); err != nil {
		return ctx
	}
	return context.WithValue(ctx, tenantKey{}, evt.Data.Tenant)
}

// TransformOutput sees each call's outcome.
func (m auditLog) TransformOutput(ctx context.Context, call *inngest.Call, out *inngest.Output) {
	switch {
	case out.Step != nil:
		*m.lines = append(*m.lines, fmt.Sprintf("%s attempt %d: step %s -> %s", call.FunctionID, call.Attempt, out.Step.ID, out.Step.Data))
	case out.Err != nil:
		*m.lines = append(*m.lines, fmt.Sprintf("%s attempt %d: error %v", call.FunctionID, call.Attempt, out.Err))
	default:
		*m.lines = append(*m.lines, fmt.Sprintf("%s attempt %d: returned %v", call.FunctionID, call.Attempt, out.Result))
	}
}

// Middleware runs around every call of the client's functions
// (ClientOpts.Middleware) or of one function (FunctionOpts.Middleware):
// here it passes a value from the event to the function's context and
// logs each call's outcome.
func ExampleMiddleware() {
	var lines []string
	eng := inngesttest.New(nil)
	client, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "shop",
		Mode:       inngest.ModeDev,
		HTTPClient: eng.HTTPClient(),
		Middleware: []inngest.Middleware{auditLog{lines: &lines}},
	})
	if err != nil {
		panic(err)
	}
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "invoice"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[map[string]string]) (any, error) {
			tenant, _ := ctx.Value(tenantKey{}).(string)
			n, err := step.Run(ctx, "number", func(ctx context.Context) (string, error) {
				return tenant + "-0001", nil
			})
			if err != nil {
				return nil, err
			}
			return "invoice " + n, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: map[string]string{"tenant": "acme"}})
	fmt.Println(run.Status(), string(run.Output()))
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// Completed "invoice acme-0001"
	// shop-invoice attempt 0: step number -> "acme-0001"
	// shop-invoice attempt 0: returned invoice acme-0001
}

// With Checkpointing, one call runs step after step, saving each with
// Inngest's checkpoint API, instead of one call per step; with
// BatchSteps, several steps are saved in one checkpoint request. What
// the function computes is the same.
func ExampleCheckpointing() {
	for _, c := range []struct {
		name string
		cp   *inngest.Checkpointing
	}{
		{"off", nil},
		{"each step", &inngest.Checkpointing{MaxRuntime: 5 * time.Second}},
		{"in batches of 4", &inngest.Checkpointing{BatchSteps: 4}},
	} {
		cp := c.cp
		eng := inngesttest.New(nil)
		client, err := inngest.NewClient(inngest.ClientOpts{
			AppID:         "shop",
			Mode:          inngest.ModeDev,
			HTTPClient:    eng.HTTPClient(),
			Checkpointing: cp,
		})
		if err != nil {
			panic(err)
		}
		fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "import"},
			inngest.EventTrigger("shop/catalog.uploaded", nil),
			func(ctx context.Context, in inngest.Input[OrderPlaced]) (any, error) {
				total := 0
				for _, page := range []string{"page-1", "page-2", "page-3", "page-4"} {
					n, err := step.Run(ctx, page, func(ctx context.Context) (int, error) {
						return 25, nil // import one page of the catalog here
					})
					if err != nil {
						return nil, err
					}
					total += n
				}
				return total, nil
			})
		if err != nil {
			panic(err)
		}
		eng.Register(client)

		run := eng.Run(fn, inngest.Event[any]{})
		st, _ := run.Step("page-1")
		fmt.Printf("checkpointing %s: %s %s in %d calls (page-1 checkpointed: %v)\n",
			c.name, run.Status(), run.Output(), run.Calls(), st.Checkpointed)
	}
	// Output:
	// checkpointing off: Completed 100 in 5 calls (page-1 checkpointed: false)
	// checkpointing each step: Completed 100 in 1 calls (page-1 checkpointed: true)
	// checkpointing in batches of 4: Completed 100 in 1 calls (page-1 checkpointed: true)
}

// FunctionConfigs shows what a sync would register: here the step runtime
// of a function served over Connect.
func ExampleClient_FunctionConfigs() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	if err != nil {
		panic(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "ship"}, inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	if err != nil {
		panic(err)
	}
	b, err := client.FunctionConfigs("ws://connect")
	if err != nil {
		panic(err)
	}
	var fns []struct {
		ID    string `json:"id"`
		Steps map[string]struct {
			Runtime struct {
				Type string `json:"type"`
				URL  string `json:"url"`
			} `json:"runtime"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &fns); err != nil {
		panic(err)
	}
	fmt.Println(fns[0].ID, fns[0].Steps["step"].Runtime.Type, fns[0].Steps["step"].Runtime.URL)
	// Output: shop-ship ws ws://connect?fnId=shop-ship&stepId=step
}
