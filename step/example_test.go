package step_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

type Order struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

type Payment struct {
	OrderID string `json:"order_id"`
	Method  string `json:"method"`
}

// Wait up to a day for the payment of the order that started the run:
// the "shop/payment.received" event whose data.order_id equals this
// event's data.id.
func ExampleWaitForEvent() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop"})
	if err != nil {
		panic(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "await-payment"},
		inngest.EventTrigger("shop/order.created", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			paid, err := step.WaitForEvent[Payment](ctx, "wait-for-payment", step.WaitForEventOpts{
				Event:   "shop/payment.received",
				If:      "async.data.order_id == event.data.id",
				Timeout: 24 * time.Hour,
			})
			if errors.Is(err, step.ErrEventNotReceived) {
				return step.SendEvent(ctx, "cancel-order", inngest.Event[any]{
					Name: "shop/order.cancelled",
					Data: map[string]string{"id": in.Event.Data.ID},
				})
			}
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("order %s paid by %s", in.Event.Data.ID, paid.Data.Method), nil
		})
	if err != nil {
		panic(err)
	}
	http.Handle("/api/inngest", client.Serve())
}

// Fetch a user's profile and orders in parallel, then combine them in a
// step that runs once both have finished.
func ExampleGroup() {
	type profile struct{ Name string }
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop"})
	if err != nil {
		panic(err)
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "summary"},
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
	http.Handle("/api/inngest", client.Serve())
}
