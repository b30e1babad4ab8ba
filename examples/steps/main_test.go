package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var start = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func newTestApp(t *testing.T) (*inngesttest.Engine, *Billing) {
	t.Helper()
	eng := inngesttest.New(t, inngesttest.WithStartTime(start))
	billing := &Billing{}
	client, _, err := newApp(inngest.ClientOpts{AppID: "billing", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, billing)
	require.NoError(t, err)
	eng.Register(client)
	return eng, billing
}

// closeMonth sends billing/month.closed for customer, as the event API
// would, and returns the close-month run it started.
func closeMonth(t *testing.T, eng *inngesttest.Engine, customer string) *inngesttest.Run {
	t.Helper()
	runs := eng.Send(inngest.Event[any]{Name: "billing/month.closed", Data: MonthClosed{CustomerID: customer, Month: "2026-05"}})
	require.Len(t, runs, 1)
	eng.Wait(runs...)
	return runs[0]
}

func TestInvoicePaid(t *testing.T) {
	eng, billing := newTestApp(t)
	eng.OnPause("wait-for-payment", func(p inngesttest.Pause) {
		// Another customer's payment does not match the wait.
		eng.Send(inngest.Event[any]{Name: "billing/invoice.paid", Data: Payment{CustomerID: "c-9", Method: "card"}})
		eng.After(48*time.Hour, func() {
			eng.Send(inngest.Event[any]{Name: "billing/invoice.paid", Data: Payment{CustomerID: "c-1", Method: "card"}})
		})
	})
	run := closeMonth(t, eng, "c-1")

	run.RequireCompleted(t).
		RequireOutput(t, Summary{Invoice: "INV-2026-05-c-1", Status: "paid"}).
		RequireElapsed(t, time.Hour+48*time.Hour)
	run.RequireStep(t, "wait-for-late-usage").Kind(inngesttest.KindSleep).Duration(time.Hour)
	run.RequireStep(t, "load-customer").Completed().Result("c-1@example.com")
	run.RequireStep(t, "load-usage").Completed().Result(103)
	run.RequireStep(t, "create-invoice").Kind(inngesttest.KindInvoke).Completed().Result(Invoice{
		Number:      "INV-2026-05-c-1",
		CustomerID:  "c-1",
		AmountCents: 103 * 25,
		DueAt:       start.Add(time.Hour + 14*24*time.Hour),
	})
	run.RequireStep(t, "wait-for-payment").Kind(inngesttest.KindWaitForEvent).Completed().Duration(48 * time.Hour)
	run.RequireNoStep(t, "until-due-date").RequireNoStep(t, "send-reminder")

	// The invoked function and the one the sent event triggered both ran.
	ran := map[string]inngesttest.Status{}
	for _, r := range run.Triggered() {
		ran[r.FunctionID()] = r.Status()
	}
	assert.Equal(t, map[string]inngesttest.Status{
		"billing-create-invoice": inngesttest.Completed,
		"billing-email-invoice":  inngesttest.Completed,
	}, ran)
	eng.RequireEvent(t, "billing/invoice.created")
	assert.Equal(t, []string{"c-1@example.com: Invoice INV-2026-05-c-1: $25.75"}, billing.Emails)
}

func TestInvoiceUnpaidGetsReminderOnDueDate(t *testing.T) {
	eng, billing := newTestApp(t)
	run := closeMonth(t, eng, "c-2")

	week := 7 * 24 * time.Hour
	run.RequireCompleted(t).RequireOutput(t, Summary{Invoice: "INV-2026-05-c-2", Status: "reminded"})
	run.RequireStep(t, "wait-for-payment").TimedOut().Duration(week)
	// The invoice is due 14 days after it was made; the wait used 7.
	run.RequireStep(t, "until-due-date").Kind(inngesttest.KindSleep).Duration(week)
	run.RequireStep(t, "send-reminder").Completed()
	run.RequireElapsed(t, time.Hour+2*week)
	assert.Equal(t, []string{
		"c-2@example.com: Invoice INV-2026-05-c-2: $25.75",
		"c-2@example.com: Invoice INV-2026-05-c-2 is due today",
	}, billing.Emails)
}

// The group's two steps are reported in one answer, so Inngest runs them
// in parallel.
func TestGroupReportsStepsTogether(t *testing.T) {
	eng, _ := newTestApp(t)
	run := closeMonth(t, eng, "c-3")
	together := false
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryCall && strings.Contains(e.Detail, `"load-customer"`) && strings.Contains(e.Detail, `"load-usage"`) {
			together = true
		}
	}
	assert.True(t, together, "no call reported load-customer and load-usage together:\n%s", run)
}

func TestSimulate(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, simulate(&out))
	assert.Contains(t, out.String(), `billing-close-month for c-1: Completed {"invoice":"INV-2026-05-c-1","status":"paid"} after 49h0m0s`)
	assert.Contains(t, out.String(), `billing-close-month for c-2: Completed {"invoice":"INV-2026-05-c-2","status":"reminded"} after 337h0m0s`)
}
