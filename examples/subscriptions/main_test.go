package main

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestApp(t *testing.T) (*inngesttest.Engine, *Billing) {
	t.Helper()
	eng := inngesttest.New(t)
	billing := NewBilling()
	client, err := NewApp(inngest.ClientOpts{
		AppID:      "billing",
		Mode:       inngest.ModeDev,
		HTTPClient: eng.HTTPClient(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, billing)
	require.NoError(t, err)
	eng.Register(client)
	return eng, billing
}

func check(user string) inngest.Event[any] {
	return inngest.Event[any]{Name: "billing/subscription.check", Data: SubscriptionCheck{UserID: user, Plan: "basic"}}
}

func TestRenewalWithFeedback(t *testing.T) {
	eng, billing := newTestApp(t)
	eng.OnPause("wait-for-feedback", func(p inngesttest.Pause) {
		eng.Send(inngest.Event[any]{Name: "billing/feedback.given", Data: Feedback{UserID: "someone-else", Score: 1}})
		eng.After(time.Hour, func() {
			eng.Send(inngest.Event[any]{Name: "billing/feedback.given", Data: Feedback{UserID: "u-1", Score: 7}})
		})
	})
	runs := eng.Send(check("u-1"))
	require.Len(t, runs, 1)
	eng.Wait(runs[0])
	runs[0].RequireCompleted(t).
		RequireOutput(t, Summary{ChargeID: "ch_u-1_1", Feedback: "score 7"}).
		RequireElapsed(t, 25*time.Hour).
		RequireNoFailureHandler(t)
	runs[0].RequireStep(t, "charge-card").Attempts(1).Result(Receipt{ChargeID: "ch_u-1_1", Amount: 900})
	runs[0].RequireStep(t, "settle").Duration(24 * time.Hour)
	runs[0].RequireNoStep(t, "send-reminder")
	assert.Equal(t, []string{"u-1@example.com: Receipt ch_u-1_1"}, billing.Mails)
}

func TestFlakyChargeIsRetriedAndSilentUserReminded(t *testing.T) {
	eng, billing := newTestApp(t)
	runs := eng.Send(check("u-flaky"))
	eng.Wait(runs...)
	run := runs[0]
	run.RequireCompleted(t).RequireOutput(t, Summary{ChargeID: "ch_u-flaky_2", Feedback: "none (reminded)"})
	run.RequireStep(t, "charge-card").Attempts(2).Completed()
	run.RequireStep(t, "wait-for-feedback").TimedOut().Duration(7 * 24 * time.Hour)
	run.RequireStep(t, "send-reminder").Completed()
	assert.Empty(t, billing.Canceled)
}

func TestDeclinedCardUnsubscribesOnce(t *testing.T) {
	eng, billing := newTestApp(t)
	runs := eng.Send(check("u-declined"))
	eng.Wait(runs...)
	run := runs[0]
	run.RequireFailed(t).RequireError(t, "card declined")
	run.RequireStep(t, "charge-card").Attempts(3).Failed()
	run.RequireNoStep(t, "send-receipt")
	run.RequireFailureHandlerRan(t)

	handlers := run.FailureHandlers()
	require.Len(t, handlers, 1)
	eng.Wait(handlers...)
	handlers[0].RequireCompleted(t).RequireOutput(t, map[string]string{"unsubscribed": "u-declined", "failed_step": "charge-card"})
	assert.Equal(t, []string{"u-declined"}, billing.Canceled)
	assert.Equal(t, []string{"u-declined@example.com: We could not renew your plan (step charge-card: card declined)"}, billing.Mails)
}

func TestSimulatePrintsEveryScenario(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, simulate(&out))
	text := out.String()
	for _, want := range []string{
		"1. A renewal that goes through",
		`step.error "charge-card" attempt 0 (15s): payment provider timed out; retrying`,
		`resumed "wait-for-feedback" (168h0m0s): timed out`,
		"then its failure handler:",
		`completed: {"failed_step":"charge-card","unsubscribed":"u-declined"}`,
		"Unsubscribed: u-declined",
	} {
		assert.Contains(t, text, want)
	}
}
