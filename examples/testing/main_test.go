package main

// These tests show how to unit test an Inngest function with package
// inngesttest. The engine runs the function through the SDK's real
// handler, as the Inngest server would: every step is recorded, retried
// and replayed for real, but in process, with no server, and on a
// virtual clock, so back-offs and sleeps cost no time.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakes holds test doubles for the function's services and records how
// they were called. Every service fails the test unless a test sets it:
// a unit test should know exactly what its function calls.
type fakes struct {
	t           *testing.T
	mu          sync.Mutex
	emails      []string
	undelivered []string
	// mailError, when set, decides the outcome of the n-th (1-based)
	// SendEmail call.
	mailError func(n int) error
}

func (f *fakes) services() Services {
	return Services{
		LoadInvoice: func(context.Context, string) (Invoice, error) {
			f.t.Error("LoadInvoice was called; the test mocks the load-invoice step")
			return Invoice{}, errors.New("no database in unit tests")
		},
		RenderPDF: func(context.Context, Invoice) (string, error) {
			f.t.Error("RenderPDF was called; the test mocks the render-pdf step")
			return "", errors.New("no renderer in unit tests")
		},
		SendEmail: func(_ context.Context, to, pdf string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.emails = append(f.emails, to+" "+pdf)
			if f.mailError != nil {
				return f.mailError(len(f.emails))
			}
			return nil
		},
		MarkUndeliverable: func(_ context.Context, id, reason string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.undelivered = append(f.undelivered, id+": "+reason)
			return nil
		},
	}
}

// setup creates an engine, the app with fake services, and registers it.
// inngesttest.New(t) reports misuse of the engine through t.
func setup(t *testing.T) (*inngesttest.Engine, *inngest.Function[InvoiceDue], *fakes) {
	t.Helper()
	f := &fakes{t: t}
	eng := inngesttest.New(t)
	client, fn, err := newApp(inngest.ClientOpts{
		AppID: "invoices",
		// Dev mode: the engine's calls need no signing key.
		Mode: inngest.ModeDev,
		// Events the function sends reach the engine, not Inngest.
		HTTPClient: eng.HTTPClient(),
	}, f.services())
	require.NoError(t, err)
	// Register reads the functions from the app's sync payload, as
	// Inngest would: triggers, retries and the failure handler.
	eng.Register(client)
	return eng, fn, f
}

var (
	due     = inngest.Event[any]{Name: "billing/invoice.due", Data: InvoiceDue{InvoiceID: "inv-42"}}
	invoice = Invoice{ID: "inv-42", Email: "ada@example.com", AmountCents: 1999}
	pdfURL  = "https://files.example.com/inv-42.pdf"
)

// Technique 1: mock steps by ID. A mocked step's body never runs (so the
// database and the renderer are not needed); the function receives the
// mocked value exactly as it would a recorded result.
func TestSendInvoice(t *testing.T) {
	eng, fn, f := setup(t)

	run := eng.Run(fn, due,
		inngesttest.Mock("load-invoice", invoice),
		inngesttest.Mock("render-pdf", pdfURL),
	)

	// Require* methods fail the test with the run's timeline.
	run.RequireCompleted(t).
		RequireOutput(t, map[string]string{"invoice": "inv-42", "pdf": pdfURL}).
		RequireNoFailureHandler(t)
	run.RequireStep(t, "load-invoice").Mocked()
	run.RequireStep(t, "render-pdf").Mocked()
	run.RequireStep(t, "email-invoice").Attempts(1).Completed()
	assert.Equal(t, []string{"ada@example.com " + pdfURL}, f.emails)
}

// Technique 2: mock a step's error. MockError fails the step for good,
// without retries; the function receives a *inngest.StepError, which
// send-invoice returns, so the run fails and its failure handler runs.
func TestRendererDownFailsTheRun(t *testing.T) {
	eng, fn, f := setup(t)

	run := eng.Run(fn, due,
		inngesttest.Mock("load-invoice", invoice),
		inngesttest.MockError("render-pdf", errors.New("renderer unavailable")),
	)

	run.RequireFailed(t).RequireError(t, "renderer unavailable")
	run.RequireStep(t, "render-pdf").Mocked().Failed()
	run.RequireNoStep(t, "email-invoice")
	run.RequireFailureHandlerRan(t)
	assert.Empty(t, f.emails)
	assert.Len(t, f.undelivered, 1)
}

// Technique 3: retries, attempt by attempt. The fake mailer fails twice,
// then works. The engine retries the step as Inngest does, with the
// server's back-off (15s, then 30s) on the virtual clock.
func TestFlakyMailerIsRetried(t *testing.T) {
	eng, fn, f := setup(t)
	f.mailError = func(n int) error {
		if n <= 2 {
			return errors.New("mail server busy")
		}
		return nil
	}

	run := eng.Run(fn, due, inngesttest.Mock("load-invoice", invoice), inngesttest.Mock("render-pdf", pdfURL))

	run.RequireCompleted(t).RequireNoFailureHandler(t)
	run.RequireStep(t, "email-invoice").Attempts(3).Completed()
	assert.Len(t, f.emails, 3) // the body ran once per attempt

	// The timeline records each failed attempt and the wait before the
	// next one.
	type failure struct {
		Attempt int
		Delay   time.Duration
	}
	var failures []failure
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryStepError && e.Step == "email-invoice" {
			failures = append(failures, failure{e.Attempt, e.Delay})
		}
	}
	assert.Equal(t, []failure{{0, 15 * time.Second}, {1, 30 * time.Second}}, failures)
	run.RequireElapsed(t, 45*time.Second)
}

// Technique 4: a failure handler runs once, after the last attempt, not
// after each failed one.
func TestFailureHandlerRunsOnce(t *testing.T) {
	eng, fn, f := setup(t)
	f.mailError = func(int) error { return errors.New("mailbox does not exist") }

	run := eng.Run(fn, due, inngesttest.Mock("load-invoice", invoice), inngesttest.Mock("render-pdf", pdfURL))

	run.RequireFailed(t).RequireError(t, "mailbox does not exist")
	run.RequireStep(t, "email-invoice").Attempts(4).Failed() // Retries: 3
	handler := run.RequireFailureHandlerRan(t)               // exactly one run, completed
	handler.RequireStep(t, "mark-undeliverable").Attempts(1).Completed()
	assert.Equal(t, []string{"inv-42: mailbox does not exist"}, f.undelivered)
}

// Technique 5: test a failure handler on its own, by sending it the
// inngest/function.failed event Inngest would send. The engine accepts
// Inngest's own event names for this purpose.
func TestFailureHandlerAlone(t *testing.T) {
	eng, _, f := setup(t)

	runs := eng.Send(inngest.Event[any]{
		Name: inngest.FunctionFailedEvent,
		Data: map[string]any{
			"function_id": "invoices-send-invoice",
			"run_id":      "01JAAAAAAAAAAAAAAAAAAAAAAA",
			"event":       map[string]any{"name": "billing/invoice.due", "data": map[string]any{"invoice_id": "inv-7"}},
			"error":       map[string]any{"name": "Error", "message": "bounced"},
		},
	})
	require.Len(t, runs, 1)
	eng.Wait(runs...)
	runs[0].RequireCompleted(t)
	assert.Equal(t, "invoices-send-invoice-failure", runs[0].FunctionID())
	assert.Equal(t, []string{"inv-7: bounced"}, f.undelivered)
}
