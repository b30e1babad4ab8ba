// Command failures shows what an Inngest function can do when things go
// wrong: errors that must not be retried (inngest.NoRetryError), a failed
// step caught and compensated (*inngest.StepError), a failure handler
// (inngest.OnFailure) and a cancellation handler (inngest.OnCancel) of
// one function, and an alerting function for every failure in the app
// (inngest.CreateFailureFunction).
//
// With no Inngest server configured it runs four orders on the
// in-process engine and prints what happened to each:
//
//	go run ./examples/failures
//
// With INNGEST_DEV=1 (or INNGEST_SIGNING_KEY) it serves the app on
// http://127.0.0.1:3000/api/inngest instead (ADDR changes the address).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// Order is the data of the shop/order.placed and shop/order.cancelled
// events.
type Order struct {
	OrderID    string `json:"order_id"`
	Email      string `json:"email"`
	Card       string `json:"card"`
	TotalCents int    `json:"total_cents"`
}

// Shop stands in for the app's database, payment provider, warehouse and
// mailer, and records what they were asked to do.
type Shop struct {
	mu       sync.Mutex
	Charges  int      // charge attempts
	Reserved []string // orders whose stock is reserved
	Released []string // orders whose stock was released again
	Refunded []string
	Emails   []string
	Alerts   []string
}

func (s *Shop) record(list *[]string, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*list = append(*list, v)
}

// Charge charges the order's card; the card "declined" always fails.
func (s *Shop) Charge(_ context.Context, o Order) (string, error) {
	s.mu.Lock()
	s.Charges++
	s.mu.Unlock()
	if o.Card == "declined" {
		return "", errors.New("card declined")
	}
	return "ch_" + o.OrderID, nil
}

// newApp creates the shop app and its functions.
func newApp(opts inngest.ClientOpts, shop *Shop) (*inngest.Client, *inngest.Function[Order], error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	fulfil, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "fulfil-order",
			Retries: inngest.Ptr(2), // each step gets 3 attempts
			// The customer can cancel the order until it ships.
			Cancel: []inngest.Cancel{{Event: "shop/order.cancelled", Match: "data.order_id"}},
			// Runs once after the function failed for good.
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[Order]) (any, error) {
				_, err := step.Run(ctx, "apologise", func(ctx context.Context) (bool, error) {
					shop.record(&shop.Emails, fmt.Sprintf("%s: order %s failed at %s: %s",
						f.Event.Data.Email, f.Event.Data.OrderID, f.StepID, f.Error.Message))
					return true, nil
				})
				return nil, err
			}),
			// Runs once after a run was cancelled.
			OnCancel: inngest.OnCancel(func(ctx context.Context, c inngest.Cancellation[Order]) (any, error) {
				_, err := step.Run(ctx, "refund", func(ctx context.Context) (bool, error) {
					shop.record(&shop.Refunded, c.Event.Data.OrderID)
					return true, nil
				})
				return nil, err
			}),
		},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			order := in.Event.Data
			// A bad order will not get better by retrying: NoRetryError
			// fails the step at its first attempt.
			if _, err := step.Run(ctx, "validate", func(ctx context.Context) (bool, error) {
				if order.TotalCents <= 0 {
					return false, inngest.NoRetryError(fmt.Errorf("order %s: the total must be positive", order.OrderID))
				}
				return true, nil
			}); err != nil {
				return nil, err // the run fails; OnFailure and the alert run
			}
			if _, err := step.Run(ctx, "reserve-stock", func(ctx context.Context) (bool, error) {
				shop.record(&shop.Reserved, order.OrderID)
				return true, nil
			}); err != nil {
				return nil, err
			}
			charge, err := step.Run(ctx, "charge-card", func(ctx context.Context) (string, error) {
				return shop.Charge(ctx, order)
			})
			var failed *inngest.StepError
			if errors.As(err, &failed) {
				// The charge failed for good (all 3 attempts). Undo the
				// reservation in a step of its own, and end the run
				// normally: it is handled, not failed.
				if _, err := step.Run(ctx, "release-stock", func(ctx context.Context) (bool, error) {
					shop.record(&shop.Released, order.OrderID)
					return true, nil
				}); err != nil {
					return nil, err
				}
				return map[string]string{"status": "payment_failed", "reason": failed.Message}, nil
			} else if err != nil {
				return nil, err
			}
			// Give the customer an hour to change their mind.
			if err := step.Sleep(ctx, "cancellation-window", time.Hour); err != nil {
				return nil, err
			}
			return map[string]string{"status": "shipped", "charge": charge}, nil
		})
	if err != nil {
		return nil, nil, err
	}
	// One function alerts on every failure in the app. Its event type
	// must fit every function's events; json.RawMessage or map[string]any
	// fit all.
	_, err = inngest.CreateFailureFunction(client, inngest.FunctionOpts{ID: "alert-on-call"}, inngest.FailureFilter{},
		func(ctx context.Context, f inngest.Failure[map[string]any]) (any, error) {
			_, err := step.Run(ctx, "page", func(ctx context.Context) (bool, error) {
				shop.record(&shop.Alerts, fmt.Sprintf("%s run %s: %s", f.FunctionID, f.RunID, f.Error.Message))
				return true, nil
			})
			return nil, err
		})
	if err != nil {
		return nil, nil, err
	}
	return client, fulfil, nil
}

func main() {
	var err error
	if os.Getenv("INNGEST_DEV") != "" || os.Getenv("INNGEST_SIGNING_KEY") != "" {
		err = serve()
	} else {
		err = simulate(os.Stdout)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve() error {
	client, _, err := newApp(inngest.ClientOpts{AppID: "shop"}, &Shop{})
	if err != nil {
		return err
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	mux := http.NewServeMux()
	mux.Handle("/api/inngest", client.Serve())
	fmt.Printf("Serving the shop app (%s mode) at http://%s/api/inngest\n", client.Mode(), addr)
	return http.ListenAndServe(addr, mux)
}

// simulate runs four orders on the in-process engine and prints what
// happened to w.
func simulate(w io.Writer) error {
	eng := inngesttest.New(nil)
	shop := &Shop{}
	client, fulfil, err := newApp(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, shop)
	if err != nil {
		return err
	}
	eng.Register(client)

	placed := func(id, card string, total int) inngest.Event[any] {
		return inngest.Event[any]{Name: "shop/order.placed", Data: Order{OrderID: id, Email: id + "@example.com", Card: card, TotalCents: total}}
	}
	report := func(title string, r *inngesttest.Run) {
		fmt.Fprintf(w, "%s\n  %s: %s", title, r.FunctionID(), r.Status())
		if out := r.Output(); out != nil {
			fmt.Fprintf(w, " %s", out)
		}
		if e := r.Err(); e != nil {
			fmt.Fprintf(w, " (%s)", e.Message)
		}
		fmt.Fprintf(w, " after %s\n", r.Elapsed())
		for _, h := range append(r.FailureHandlers(), r.CancelHandlers()...) {
			fmt.Fprintf(w, "  then %s: %s\n", h.FunctionID(), h.Status())
		}
	}

	report("1. A good order ships after the cancellation window.", eng.Run(fulfil, placed("o-1", "visa", 4200)))
	report("2. An invalid order fails at once: no retries, a failure handler and an alert.", eng.Run(fulfil, placed("o-2", "visa", 0)))
	report("3. A declined card is retried, then the reservation is undone.", eng.Run(fulfil, placed("o-3", "declined", 1500)))

	run := eng.Start(fulfil, placed("o-4", "visa", 990))
	eng.Advance(10 * time.Minute)
	eng.Send(inngest.Event[any]{Name: "shop/order.cancelled", Data: Order{OrderID: "o-4"}})
	eng.Wait(run)
	report("4. An order cancelled during the window is refunded.", run)

	fmt.Fprintf(w, "\nEmails: %s\nAlerts: %d\nReleased: %s\nRefunded: %s\n",
		strings.Join(shop.Emails, "; "), len(shop.Alerts), strings.Join(shop.Released, ", "), strings.Join(shop.Refunded, ", "))
	return nil
}
