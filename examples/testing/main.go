// Command testing holds a function written to be unit tested: its
// services are passed in, so that a test can replace them. The point of
// this example is main_test.go, which shows how to test it with package
// inngesttest: mocked steps, retries attempt by attempt, and a failure
// handler that runs exactly once.
//
//	go test ./examples/testing
//	go run ./examples/testing
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// InvoiceDue is the data of billing/invoice.due.
type InvoiceDue struct {
	InvoiceID string `json:"invoice_id"`
}

// Invoice is an invoice as the database stores it.
type Invoice struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	AmountCents int    `json:"amount_cents"`
}

// Services are what the function calls; tests pass fakes.
type Services struct {
	LoadInvoice       func(ctx context.Context, id string) (Invoice, error)
	RenderPDF         func(ctx context.Context, inv Invoice) (url string, err error)
	SendEmail         func(ctx context.Context, to, pdfURL string) error
	MarkUndeliverable func(ctx context.Context, id, reason string) error
}

// newApp creates the client and the send-invoice function.
func newApp(opts inngest.ClientOpts, svc Services) (*inngest.Client, *inngest.Function[InvoiceDue], error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	fn, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "send-invoice",
			Retries: inngest.Ptr(3), // 4 attempts per step
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[InvoiceDue]) (any, error) {
				_, err := step.Run(ctx, "mark-undeliverable", func(ctx context.Context) (bool, error) {
					return true, svc.MarkUndeliverable(ctx, f.Event.Data.InvoiceID, f.Error.Message)
				})
				return nil, err
			}),
		},
		inngest.EventTrigger("billing/invoice.due", nil),
		func(ctx context.Context, in inngest.Input[InvoiceDue]) (any, error) {
			inv, err := step.Run(ctx, "load-invoice", func(ctx context.Context) (Invoice, error) {
				return svc.LoadInvoice(ctx, in.Event.Data.InvoiceID)
			})
			if err != nil {
				return nil, err
			}
			pdf, err := step.Run(ctx, "render-pdf", func(ctx context.Context) (string, error) {
				return svc.RenderPDF(ctx, inv)
			})
			if err != nil {
				return nil, err
			}
			if _, err := step.Run(ctx, "email-invoice", func(ctx context.Context) (bool, error) {
				return true, svc.SendEmail(ctx, inv.Email, pdf)
			}); err != nil {
				return nil, err
			}
			return map[string]string{"invoice": inv.ID, "pdf": pdf}, nil
		})
	if err != nil {
		return nil, nil, err
	}
	return client, fn, nil
}

// main runs the function once on the in-process engine with stand-in
// services.
func main() {
	svc := Services{
		LoadInvoice: func(_ context.Context, id string) (Invoice, error) {
			return Invoice{ID: id, Email: "ada@example.com", AmountCents: 4200}, nil
		},
		RenderPDF: func(_ context.Context, inv Invoice) (string, error) {
			return "https://files.example.com/" + inv.ID + ".pdf", nil
		},
		SendEmail: func(_ context.Context, to, pdf string) error {
			fmt.Printf("emailing %s to %s\n", pdf, to)
			return nil
		},
		MarkUndeliverable: func(context.Context, string, string) error { return nil },
	}
	eng := inngesttest.New(nil)
	client, fn, err := newApp(inngest.ClientOpts{AppID: "invoices", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, svc)
	if err != nil {
		log.Fatal(err)
	}
	eng.Register(client)
	run := eng.Run(fn, inngest.Event[any]{Data: InvoiceDue{InvoiceID: "inv-1"}})
	fmt.Printf("%s: %s %s\n", run.FunctionID(), run.Status(), run.Output())
	fmt.Println("See main_test.go for how to test it: go test ./examples/testing")
}
