package step

import (
	"context"
	"errors"
	"strings"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
)

// SendEvent sends events to Inngest as a step and returns their IDs, in
// order. It is a Run step whose body calls Client.Send, so the events are
// sent once: a replay returns the recorded IDs. Every event is checked
// before anything is sent; a bad event is a non-retriable error.
func SendEvent(ctx context.Context, id string, events ...inngest.Event[any]) ([]string, error) {
	if _, _, err := replay.From(ctx); err != nil {
		return nil, err
	}
	if err := checkEvents(id, events); err != nil {
		return nil, err
	}
	return Run(ctx, id, func(ctx context.Context) ([]string, error) {
		c := inngest.ClientFromContext(ctx)
		if c == nil {
			return nil, inngest.NoRetryError(errors.New("step.SendEvent: the context carries no inngest.Client; call step tools with the context the function received"))
		}
		return c.Send(ctx, events...)
	})
}

// checkEvents applies the rules Client.Send checks, before the step runs,
// so that a bad event fails at once instead of using up the step's
// retries.
func checkEvents(id string, events []inngest.Event[any]) error {
	if err := inngest.ValidateEvents(events...); err != nil {
		return optsError("SendEvent", id, "%s", strings.TrimPrefix(err.Error(), "inngest: "))
	}
	return nil
}
