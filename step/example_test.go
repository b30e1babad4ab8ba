package step_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// The examples run on the in-process engine (package inngesttest), which
// plays the Inngest server with a virtual clock: sleeps and waits finish
// at once and the output never depends on the real time. In production
// the same functions run unchanged, served with client.Serve() to
// Inngest Cloud, `inngest start` or `inngest dev`.

type Order struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

type Payment struct {
	OrderID string `json:"order_id"`
	Method  string `json:"method"`
}

// newShop returns a dev-mode client whose events and API calls go to the
// engine instead of an Inngest server.
func newShop(eng *inngesttest.Engine) *inngest.Client {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		panic(err)
	}
	return client
}

// A step runs once. The function is called again for every step, and a
// finished step returns its recorded result instead of running again:
// here the function is called three times, but each step body runs once.
func ExampleRun() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	charges := 0
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "checkout"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			chargeID, err := step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				charges++
				return fmt.Sprintf("ch_%s_%d", in.Event.Data.ID, in.Event.Data.Amount), nil
			})
			if err != nil {
				return nil, err
			}
			return step.Run(ctx, "receipt", func(ctx context.Context) (string, error) {
				return "receipt for " + chargeID, nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1", Amount: 42}})
	fmt.Println(run.Status(), string(run.Output()))
	fmt.Println("calls:", run.Calls(), "charges:", charges)
	// Output:
	// Completed "receipt for ch_o1_42"
	// calls: 3 charges: 1
}

// A failing step is retried; a step that keeps failing returns a
// *inngest.StepError once its attempts are used up, which the function
// may handle.
func ExampleRun_retries() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "notify", Retries: inngest.Ptr(2)},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			_, err := step.Run(ctx, "sms", func(ctx context.Context) (bool, error) {
				return false, errors.New("SMS gateway down")
			})
			var se *inngest.StepError
			if errors.As(err, &se) {
				return step.Run(ctx, "email", func(ctx context.Context) (string, error) {
					return "emailed instead: " + se.Message, nil
				})
			}
			return "texted", err
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}})
	sms, _ := run.Step("sms")
	fmt.Println("sms attempts:", sms.Attempts, "back-off:", run.Elapsed())
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// sms attempts: 3 back-off: 45s
	// Completed "emailed instead: SMS gateway down"
}

// Sleep pauses a run for a duration; no process waits meanwhile.
func ExampleSleep() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "review-request"},
		inngest.EventTrigger("shop/order.delivered", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			if err := step.Sleep(ctx, "let-them-try-it", 3*24*time.Hour); err != nil {
				return nil, err
			}
			return step.Run(ctx, "ask-for-review", func(ctx context.Context) (string, error) {
				return "review requested for " + in.Event.Data.ID, nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}})
	st, _ := run.Step("let-them-try-it")
	fmt.Println(st.Kind, st.Duration)
	fmt.Println(run.Status(), string(run.Output()), "after", run.Elapsed())
	// Output:
	// sleep 72h0m0s
	// Completed "review requested for o1" after 72h0m0s
}

// SleepUntil pauses a run until a point in time: here, until the next
// 09:00 UTC. The engine starts its virtual clock at a fixed time so that
// the output does not depend on when the example runs.
func ExampleSleepUntil() {
	start := time.Date(2026, time.March, 2, 17, 30, 0, 0, time.UTC)
	eng := inngesttest.New(nil, inngesttest.WithStartTime(start))
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "morning-digest"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			placed := in.Event.Time().UTC()
			nine := time.Date(placed.Year(), placed.Month(), placed.Day()+1, 9, 0, 0, 0, time.UTC)
			if err := step.SleepUntil(ctx, "until-9am", nine); err != nil {
				return nil, err
			}
			return step.Run(ctx, "send-digest", func(ctx context.Context) (string, error) {
				return "digest for " + nine.Format(time.DateOnly), nil
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}, Timestamp: start.UnixMilli()})
	fmt.Println(run.Status(), string(run.Output()))
	fmt.Println("woke at", run.EndedAt().UTC().Format(time.DateTime), "after", run.Elapsed())
	// Output:
	// Completed "digest for 2026-03-03"
	// woke at 2026-03-03 09:00:00 after 15h30m0s
}

// Wait up to a day for the payment of the order that started the run:
// the "shop/payment.received" event whose data.order_id equals this
// event's data.id. Here one order is paid two hours later; the other
// never is, and its wait times out.
func ExampleWaitForEvent() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "await-payment"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			paid, err := step.WaitForEvent[Payment](ctx, "wait-for-payment", step.WaitForEventOpts{
				Event:   "shop/payment.received",
				If:      "async.data.order_id == event.data.id",
				Timeout: 24 * time.Hour,
			})
			if errors.Is(err, step.ErrEventNotReceived) {
				return "order " + in.Event.Data.ID + " expired", nil
			}
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("order %s paid by %s", in.Event.Data.ID, paid.Data.Method), nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	paid := eng.Start(fn, inngest.Event[any]{Name: "shop/order.created", Data: Order{ID: "o1"}})
	unpaid := eng.Start(fn, inngest.Event[any]{Name: "shop/order.created", Data: Order{ID: "o2"}})
	eng.Advance(2 * time.Hour)
	eng.Send(inngest.Event[any]{Name: "shop/payment.received", Data: Payment{OrderID: "o1", Method: "card"}})
	eng.Wait()
	fmt.Println(string(paid.Output()), "after", paid.Elapsed())
	fmt.Println(string(unpaid.Output()), "after", unpaid.Elapsed())
	// Output:
	// "order o1 paid by card" after 2h0m0s
	// "order o2 expired" after 24h0m0s
}

// Invoke calls another function by its full ID, "<app ID>-<function ID>",
// which may belong to another app, and returns its result.
func ExampleInvoke() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	_, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "quote-shipping"},
		inngest.EventTrigger("shop/shipping.quote", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return in.Event.Data.Amount / 10, nil
		})
	if err != nil {
		panic(err)
	}
	checkout, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "checkout"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			shipping, err := step.Invoke[int](ctx, "quote", step.InvokeOpts{
				FunctionID: "shop-quote-shipping",
				Data:       in.Event.Data,
				Timeout:    time.Hour,
			})
			if err != nil {
				return nil, err
			}
			return in.Event.Data.Amount + shipping, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(checkout, inngest.Event[any]{Data: Order{ID: "o1", Amount: 250}})
	st, _ := run.Step("quote")
	fmt.Println(st.Kind, string(st.Result))
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// invoke 25
	// Completed 275
}

// InvokeFunction calls a function of this app by the value CreateFunction
// returned, so its event data is type-checked; a failure of the invoked
// function is a *inngest.StepError in the caller.
func ExampleInvokeFunction() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	reserve, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "reserve-stock", Retries: inngest.Ptr(0)},
		inngest.EventTrigger("shop/stock.reserve", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			if in.Event.Data.Amount > 100 {
				return nil, inngest.NoRetryError(errors.New("not enough stock"))
			}
			return "reserved " + in.Event.Data.ID, nil
		})
	if err != nil {
		panic(err)
	}
	checkout, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "checkout"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			// Out (string) is written; In (Order) is inferred from reserve.
			res, err := step.InvokeFunction[string](ctx, "reserve", reserve, in.Event.Data, time.Hour)
			var se *inngest.StepError
			if errors.As(err, &se) {
				return "back-ordered: " + se.Message, nil
			}
			return res, err
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	for _, o := range []Order{{ID: "o1", Amount: 5}, {ID: "o2", Amount: 500}} {
		run := eng.Run(checkout, inngest.Event[any]{Data: o})
		fmt.Println(run.Status(), string(run.Output()))
	}
	// Output:
	// Completed "reserved o1"
	// Completed "back-ordered: not enough stock"
}

// SendEvent sends events as a step, once: a replay returns the recorded
// event IDs. The events start the functions they trigger.
func ExampleSendEvent() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	checkout, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "checkout"},
		inngest.EventTrigger("shop/cart.checked_out", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			ids, err := step.SendEvent(ctx, "order-created", inngest.Event[any]{
				Name: "shop/order.created",
				Data: in.Event.Data,
			})
			if err != nil {
				return nil, err
			}
			return len(ids), nil
		})
	if err != nil {
		panic(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "send-confirmation"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return "confirmation for " + in.Event.Data.ID, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(checkout, inngest.Event[any]{Data: Order{ID: "o1"}})
	fmt.Println(run.Status(), "events sent:", string(run.Output()))
	for _, r := range run.Triggered() {
		fmt.Println(r.FunctionID(), r.Status(), string(r.Output()))
	}
	// Output:
	// Completed events sent: 1
	// shop-send-confirmation Completed "confirmation for o1"
}

// NewGroup starts a group of parallel steps: Inngest runs the branches'
// steps concurrently, each in a call of its own.
func ExampleNewGroup() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "price-check"},
		inngest.EventTrigger("shop/price.check", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			prices := make([]int, 3)
			g := step.NewGroup(ctx)
			for i, supplier := range []string{"acme", "globex", "initech"} {
				g.Go(func(ctx context.Context) (err error) {
					prices[i], err = step.Run(ctx, "quote-"+supplier, func(ctx context.Context) (int, error) {
						return 100 + 10*i, nil // call the supplier's API here
					})
					return err
				})
			}
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return prices, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}})
	fmt.Println(run.Status(), string(run.Output()))
	for _, s := range run.Steps() {
		fmt.Println(s.ID, s.Kind, s.Status)
	}
	// Output:
	// Completed [100,110,120]
	// quote-acme run completed
	// quote-globex run completed
	// quote-initech run completed
}

// Fetch a user's profile and orders in parallel, then combine them once
// both have finished.
func ExampleGroup() {
	type profile struct{ Name string }
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "summary"},
		inngest.EventTrigger("shop/summary.requested", nil),
		func(ctx context.Context, in inngest.Input[struct{ UserID string }]) (any, error) {
			var (
				p      profile
				orders []Order
			)
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) (err error) {
				p, err = step.Run(ctx, "load-profile", func(ctx context.Context) (profile, error) {
					return profile{Name: "Ada"}, nil // call the profile service here
				})
				return err
			})
			g.Go(func(ctx context.Context) (err error) {
				orders, err = step.Run(ctx, "load-orders", func(ctx context.Context) ([]Order, error) {
					return []Order{{ID: "o1", Amount: 42}}, nil // query the order database here
				})
				return err
			})
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return fmt.Sprintf("%s has %d orders", p.Name, len(orders)), nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: map[string]string{"UserID": "u1"}})
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// Completed "Ada has 1 orders"
}

// A branch may run several steps in a row; each branch goes on past its
// finished steps independently of the others.
func ExampleGroup_Go() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "fulfil"},
		inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			var label, invoice string
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) error {
				parcel, err := step.Run(ctx, "pack", func(ctx context.Context) (string, error) {
					return "parcel-" + in.Event.Data.ID, nil
				})
				if err != nil {
					return err
				}
				label, err = step.Run(ctx, "label", func(ctx context.Context) (string, error) {
					return "label for " + parcel, nil
				})
				return err
			})
			g.Go(func(ctx context.Context) (err error) {
				invoice, err = step.Run(ctx, "invoice", func(ctx context.Context) (string, error) {
					return "invoice for " + in.Event.Data.ID, nil
				})
				return err
			})
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return []string{label, invoice}, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}})
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// Completed ["label for parcel-o1","invoice for o1"]
}

// Wait returns the first error of the group's branches, after every
// branch has finished; a branch's failed step is a *inngest.StepError.
func ExampleGroup_Wait() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "notify-all", Retries: inngest.Ptr(0)},
		inngest.EventTrigger("shop/order.shipped", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) error {
				_, err := step.Run(ctx, "email", func(ctx context.Context) (bool, error) { return true, nil })
				return err
			})
			g.Go(func(ctx context.Context) error {
				_, err := step.Run(ctx, "sms", func(ctx context.Context) (bool, error) {
					return false, errors.New("no phone number")
				})
				return err
			})
			if err := g.Wait(); err != nil {
				return "partly notified: " + err.Error(), nil
			}
			return "notified", nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}})
	email, _ := run.Step("email")
	fmt.Println("email:", email.Status)
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// email: completed
	// Completed "partly notified: step \"sms\" failed: no phone number"
}

// WaitForSignal pauses a run until a signal with a name of your choosing
// is sent with Client.SendSignal, for example from an HTTP handler when a
// person approves the order.
func ExampleWaitForSignal() {
	type Approval struct {
		By string `json:"by"`
	}
	eng := inngesttest.New(nil)
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "approve-refund"},
		inngest.EventTrigger("shop/refund.requested", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			sig, err := step.WaitForSignal[Approval](ctx, "approval", step.WaitForSignalOpts{
				Signal:  "refund-approval/" + in.Event.Data.ID,
				Timeout: 7 * 24 * time.Hour,
			})
			if errors.Is(err, step.ErrSignalNotReceived) {
				return "refund " + in.Event.Data.ID + " not approved in time", nil
			}
			if err != nil {
				return nil, err
			}
			return "refund " + in.Event.Data.ID + " approved by " + sig.Data.By, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Start(fn, inngest.Event[any]{Name: "shop/refund.requested", Data: Order{ID: "o1"}})
	eng.Advance(30 * time.Minute)
	// In the app, e.g. in the handler of the "approve" button:
	if _, err := client.SendSignal(context.Background(), "refund-approval/o1", Approval{By: "alice"}); err != nil {
		panic(err)
	}
	eng.Wait(run)
	fmt.Println(run.Status(), string(run.Output()), "after", run.Elapsed())
	// Output:
	// Completed "refund o1 approved by alice" after 30m0s
}

// Fetch has Inngest make an HTTP request for the function, which is
// paused, not running, while the request is in flight. The engine makes
// the request itself, here to a local test server.
func ExampleFetch() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"method":%q,"token":%q}`, r.Method, r.Header.Get("X-Token"))
	}))
	defer api.Close()

	eng := inngesttest.New(nil, inngesttest.WithFetchClient(api.Client()))
	client := newShop(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "notify-warehouse"},
		inngest.EventTrigger("shop/order.paid", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			res, err := step.Fetch(ctx, "post-order", step.FetchRequest{
				URL:     api.URL + "/orders",
				Method:  http.MethodPost,
				Headers: map[string]string{"X-Token": "secret-token"},
				Body:    `{"id":"` + in.Event.Data.ID + `"}`,
			})
			if err != nil {
				return nil, err
			}
			return fmt.Sprint(res.StatusCode, " ", res.Headers["Content-Type"], " ", res.Body), nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Order{ID: "o1"}})
	st, _ := run.Step("post-order")
	fmt.Println(st.Kind)
	fmt.Println(run.Status(), string(run.Output()))
	// Output:
	// fetch
	// Completed "202 application/json {\"method\":\"POST\",\"token\":\"secret-token\"}"
}

// A change guarded with Patched: a run that was asleep when the new code
// was deployed keeps the steps it recorded, while a run that starts on
// the new code takes the new branch. (The variable v2 plays the deploy.)
func ExamplePatched() {
	eng := inngesttest.New(nil)
	client := newShop(eng)
	v2 := false
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "follow-up"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			var sent string
			var err error
			if v2 && step.Patched(ctx, "survey-instead-of-email") {
				sent, err = step.Run(ctx, "send-survey", func(ctx context.Context) (string, error) { return "survey", nil })
			} else {
				sent, err = step.Run(ctx, "send-email", func(ctx context.Context) (string, error) { return "email", nil })
			}
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "wait-a-day", 24*time.Hour); err != nil {
				return nil, err
			}
			return "followed up on the " + sent, nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)
	old := eng.Start(fn, inngest.Event[any]{Name: "shop/order.created", Data: Order{ID: "o1"}})
	v2 = true // deploy the change while the first run sleeps
	started := eng.Start(fn, inngest.Event[any]{Name: "shop/order.created", Data: Order{ID: "o2"}})
	eng.Wait(old, started)
	fmt.Println("old run:", string(old.Output()))
	fmt.Println("new run:", string(started.Output()))
	// Output:
	// old run: "followed up on the email"
	// new run: "followed up on the survey"
}
