package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// SubscriptionCheck is the event that starts a renewal:
// billing/subscription.check.
type SubscriptionCheck struct {
	UserID string `json:"user_id"`
	Plan   string `json:"plan"`
}

// Feedback is the event a user sends after a renewal:
// billing/feedback.given.
type Feedback struct {
	UserID string `json:"user_id"`
	Score  int    `json:"score"`
}

// Account is what the billing system knows about a user.
type Account struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Card   string `json:"card"`
}

// Receipt is the result of a successful charge.
type Receipt struct {
	ChargeID string `json:"charge_id"`
	Amount   int    `json:"amount_cents"`
}

// Billing stands in for the app's real dependencies: a database, a
// payment provider and a mailer. Its methods are what the steps call.
type Billing struct {
	mu       sync.Mutex
	attempts map[string]int // charge attempts per user
	Mails    []string       // every mail sent, in order
	Canceled []string       // users whose subscription was cancelled
}

// NewBilling returns a Billing with no history.
func NewBilling() *Billing { return &Billing{attempts: map[string]int{}} }

// LoadAccount looks a user up.
func (b *Billing) LoadAccount(_ context.Context, userID string) (Account, error) {
	return Account{UserID: userID, Email: userID + "@example.com", Card: "tok_" + userID}, nil
}

// Charge charges the user's card. Cards of users whose ID contains
// "declined" are always declined; "flaky" users hit a timeout on their
// first attempt.
func (b *Billing) Charge(_ context.Context, acct Account, plan string) (Receipt, error) {
	b.mu.Lock()
	b.attempts[acct.UserID]++
	n := b.attempts[acct.UserID]
	b.mu.Unlock()
	switch {
	case strings.Contains(acct.UserID, "declined"):
		return Receipt{}, errors.New("card declined")
	case strings.Contains(acct.UserID, "flaky") && n == 1:
		return Receipt{}, errors.New("payment provider timed out")
	}
	amount := 900
	if plan == "pro" {
		amount = 2900
	}
	return Receipt{ChargeID: fmt.Sprintf("ch_%s_%d", acct.UserID, n), Amount: amount}, nil
}

// Mail sends an email.
func (b *Billing) Mail(_ context.Context, to, subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Mails = append(b.Mails, to+": "+subject)
	return nil
}

// Unsubscribe cancels a user's subscription.
func (b *Billing) Unsubscribe(_ context.Context, userID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Canceled = append(b.Canceled, userID)
	return nil
}

// Summary is what a successful renewal returns.
type Summary struct {
	ChargeID string `json:"charge_id"`
	Feedback string `json:"feedback"`
}

// NewApp creates the client and registers the app's functions.
func NewApp(opts inngest.ClientOpts, billing *Billing) (*inngest.Client, error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, err
	}
	_, err = inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "renew-subscription",
			Name:    "Renew subscription",
			Retries: inngest.Ptr(2), // each step gets 3 attempts
			// Runs once, after the renewal has failed for good.
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[SubscriptionCheck]) (any, error) {
				user := f.Event.Data.UserID
				if _, err := step.Run(ctx, "unsubscribe", func(ctx context.Context) (bool, error) {
					return true, billing.Unsubscribe(ctx, user)
				}); err != nil {
					return nil, err
				}
				_, err := step.Run(ctx, "tell-the-user", func(ctx context.Context) (bool, error) {
					return true, billing.Mail(ctx, user+"@example.com",
						fmt.Sprintf("We could not renew your plan (step %s: %s)", f.StepID, f.Error.Message))
				})
				return map[string]string{"unsubscribed": user, "failed_step": f.StepID}, err
			}),
		},
		inngest.EventTrigger("billing/subscription.check", nil),
		func(ctx context.Context, in inngest.Input[SubscriptionCheck]) (any, error) {
			acct, err := step.Run(ctx, "load-account", func(ctx context.Context) (Account, error) {
				return billing.LoadAccount(ctx, in.Event.Data.UserID)
			})
			if err != nil {
				return nil, err
			}
			receipt, err := step.Run(ctx, "charge-card", func(ctx context.Context) (Receipt, error) {
				return billing.Charge(ctx, acct, in.Event.Data.Plan)
			})
			if err != nil {
				return nil, err // a *inngest.StepError: the run fails and OnFailure runs
			}
			if _, err := step.Run(ctx, "send-receipt", func(ctx context.Context) (bool, error) {
				return true, billing.Mail(ctx, acct.Email, "Receipt "+receipt.ChargeID)
			}); err != nil {
				return nil, err
			}
			// Give the user a day before asking how it went.
			if err := step.Sleep(ctx, "settle", 24*time.Hour); err != nil {
				return nil, err
			}
			fb, err := step.WaitForEvent[Feedback](ctx, "wait-for-feedback", step.WaitForEventOpts{
				Event:   "billing/feedback.given",
				Match:   "data.user_id",
				Timeout: 7 * 24 * time.Hour,
			})
			switch {
			case errors.Is(err, step.ErrEventNotReceived):
				if _, err := step.Run(ctx, "send-reminder", func(ctx context.Context) (bool, error) {
					return true, billing.Mail(ctx, acct.Email, "How was your renewal?")
				}); err != nil {
					return nil, err
				}
				return Summary{ChargeID: receipt.ChargeID, Feedback: "none (reminded)"}, nil
			case err != nil:
				return nil, err
			}
			return Summary{ChargeID: receipt.ChargeID, Feedback: fmt.Sprintf("score %d", fb.Data.Score)}, nil
		})
	if err != nil {
		return nil, err
	}
	return client, nil
}
