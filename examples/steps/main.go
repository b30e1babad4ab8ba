// Command steps tours the step toolkit on a monthly billing run:
// step.Run, step.Sleep, step.SleepUntil, step.NewGroup (parallel steps),
// step.Invoke (another function, by reference), step.SendEvent (which
// triggers a third function) and step.WaitForEvent, both answered and
// timed out.
//
// With no Inngest server configured it bills two customers on the
// in-process engine, which delivers the events between functions, and
// prints each run's timeline in virtual time: one customer pays two days
// after the invoice, the other never does.
//
//	go run ./examples/steps
//
// With INNGEST_DEV=1 (or INNGEST_SIGNING_KEY) it serves the app on
// http://127.0.0.1:3000/api/inngest instead (ADDR changes the address).
package main

import (
	"context"
	"encoding/json"
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

// MonthClosed is the data of billing/month.closed, which starts a
// customer's monthly billing.
type MonthClosed struct {
	CustomerID string `json:"customer_id"`
	Month      string `json:"month"`
}

// InvoiceRequest is the data create-invoice is invoked with.
type InvoiceRequest struct {
	CustomerID string `json:"customer_id"`
	Month      string `json:"month"`
	Units      int    `json:"units"`
}

// Invoice is what create-invoice returns.
type Invoice struct {
	Number      string    `json:"number"`
	CustomerID  string    `json:"customer_id"`
	AmountCents int       `json:"amount_cents"`
	DueAt       time.Time `json:"due_at"`
}

// Payment is the data of billing/invoice.paid.
type Payment struct {
	CustomerID string `json:"customer_id"`
	Method     string `json:"method"`
}

// Summary is what close-month returns.
type Summary struct {
	Invoice string `json:"invoice"`
	Status  string `json:"status"`
}

// Billing stands in for the app's database and mailer.
type Billing struct {
	mu     sync.Mutex
	Emails []string
}

// Email records an email.
func (b *Billing) Email(_ context.Context, to, subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Emails = append(b.Emails, to+": "+subject)
	return nil
}

// newApp creates the billing app: close-month and the two functions it
// uses, create-invoice (invoked) and email-invoice (triggered by the
// event close-month sends).
func newApp(opts inngest.ClientOpts, billing *Billing) (*inngest.Client, *inngest.Function[MonthClosed], error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	createInvoice, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "create-invoice"},
		inngest.EventTrigger("billing/invoice.requested", nil),
		func(ctx context.Context, in inngest.Input[InvoiceRequest]) (any, error) {
			req := in.Event.Data
			return step.Run(ctx, "number-invoice", func(ctx context.Context) (Invoice, error) {
				return Invoice{
					Number:      "INV-" + req.Month + "-" + req.CustomerID,
					CustomerID:  req.CustomerID,
					AmountCents: req.Units * 25,
					DueAt:       in.Event.Time().Add(14 * 24 * time.Hour).UTC(),
				}, nil
			})
		})
	if err != nil {
		return nil, nil, err
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "email-invoice"},
		inngest.EventTrigger("billing/invoice.created", nil),
		func(ctx context.Context, in inngest.Input[Invoice]) (any, error) {
			return step.Run(ctx, "send-email", func(ctx context.Context) (bool, error) {
				inv := in.Event.Data
				return true, billing.Email(ctx, inv.CustomerID+"@example.com", fmt.Sprintf("Invoice %s: $%.2f", inv.Number, float64(inv.AmountCents)/100))
			})
		})
	if err != nil {
		return nil, nil, err
	}
	closeMonth, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "close-month"},
		inngest.EventTrigger("billing/month.closed", nil),
		func(ctx context.Context, in inngest.Input[MonthClosed]) (any, error) {
			customerID, month := in.Event.Data.CustomerID, in.Event.Data.Month

			// Late usage records trickle in for a while.
			if err := step.Sleep(ctx, "wait-for-late-usage", time.Hour); err != nil {
				return nil, err
			}

			// Two independent lookups, run in parallel.
			var (
				email string
				units int
			)
			g := step.NewGroup(ctx)
			g.Go(func(ctx context.Context) (err error) {
				email, err = step.Run(ctx, "load-customer", func(ctx context.Context) (string, error) {
					return customerID + "@example.com", nil
				})
				return err
			})
			g.Go(func(ctx context.Context) (err error) {
				units, err = step.Run(ctx, "load-usage", func(ctx context.Context) (int, error) {
					return 100 + len(customerID), nil
				})
				return err
			})
			if err := g.Wait(); err != nil {
				return nil, err
			}

			// Another function, called by reference; this run pauses
			// until it returns.
			inv, err := step.Invoke[Invoice](ctx, "create-invoice", step.InvokeOpts{
				Function: createInvoice,
				Data:     InvoiceRequest{CustomerID: customerID, Month: month, Units: units},
				Timeout:  time.Hour,
			})
			if err != nil {
				return nil, err
			}

			// An event, sent once: it triggers email-invoice.
			if _, err := step.SendEvent(ctx, "announce-invoice", inngest.Event[any]{Name: "billing/invoice.created", Data: inv}); err != nil {
				return nil, err
			}

			// Wait up to a week for this customer's payment.
			_, err = step.WaitForEvent[Payment](ctx, "wait-for-payment", step.WaitForEventOpts{
				Event:   "billing/invoice.paid",
				Match:   "data.customer_id",
				Timeout: 7 * 24 * time.Hour,
			})
			switch {
			case err == nil:
				return Summary{Invoice: inv.Number, Status: "paid"}, nil
			case !errors.Is(err, step.ErrEventNotReceived):
				return nil, err
			}

			// No payment: remind the customer on the due date.
			if err := step.SleepUntil(ctx, "until-due-date", inv.DueAt); err != nil {
				return nil, err
			}
			if _, err := step.Run(ctx, "send-reminder", func(ctx context.Context) (bool, error) {
				return true, billing.Email(ctx, email, "Invoice "+inv.Number+" is due today")
			}); err != nil {
				return nil, err
			}
			return Summary{Invoice: inv.Number, Status: "reminded"}, nil
		})
	if err != nil {
		return nil, nil, err
	}
	return client, closeMonth, nil
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
	client, _, err := newApp(inngest.ClientOpts{AppID: "billing"}, &Billing{})
	if err != nil {
		return err
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	mux := http.NewServeMux()
	mux.Handle("/api/inngest", client.Serve())
	fmt.Printf("Serving the billing app (%s mode) at http://%s/api/inngest\n", client.Mode(), addr)
	return http.ListenAndServe(addr, mux)
}

// simulate bills two customers on the in-process engine and prints the
// runs' timelines to w.
func simulate(w io.Writer) error {
	eng := inngesttest.New(nil, inngesttest.WithStartTime(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)))
	billing := &Billing{}
	client, _, err := newApp(inngest.ClientOpts{AppID: "billing", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, billing)
	if err != nil {
		return err
	}
	eng.Register(client)

	// Customer c-1 pays two days after the invoice goes out; c-2 never
	// does.
	eng.OnPause("wait-for-payment", func(p inngesttest.Pause) {
		var evt inngest.Event[MonthClosed]
		if json.Unmarshal(p.Run.Event(), &evt) != nil || evt.Data.CustomerID != "c-1" {
			return
		}
		eng.After(48*time.Hour, func() {
			eng.Send(inngest.Event[any]{Name: "billing/invoice.paid", Data: Payment{CustomerID: "c-1", Method: "card"}})
		})
	})
	for _, customer := range []string{"c-1", "c-2"} {
		runs := eng.Send(inngest.Event[any]{Name: "billing/month.closed", Data: MonthClosed{CustomerID: customer, Month: "2026-05"}})
		eng.Wait(runs...)
		for _, r := range runs {
			fmt.Fprintf(w, "%s for %s: %s %s after %s\n", r.FunctionID(), customer, r.Status(), r.Output(), r.Elapsed())
			for _, e := range r.Timeline() {
				if e.Kind != inngesttest.EntryCall {
					fmt.Fprintln(w, "  "+e.String())
				}
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Emails:\n  %s\n", strings.Join(billing.Emails, "\n  "))
	return nil
}
