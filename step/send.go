package step

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/run"
)

// SendEvent sends events to Inngest as a step and returns their IDs, in
// order. It is a Run step whose body calls Client.Send, so the events are
// sent once: a replay returns the recorded IDs. Every event is checked
// before anything is sent; a bad event is a non-retriable error.
func SendEvent(ctx context.Context, id string, events ...inngest.Event[any]) ([]string, error) {
	if _, _, err := run.From(ctx); err != nil {
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
	const tool = "SendEvent"
	if len(events) == 0 {
		return optsError(tool, id, "at least one event is required")
	}
	for i, e := range events {
		if strings.TrimSpace(e.Name) == "" {
			return optsError(tool, id, "event %d: a name is required", i)
		}
		if strings.HasPrefix(e.Name, "inngest/") {
			return optsError(tool, id, "event %d: the name %q is reserved for Inngest's own events", i, e.Name)
		}
		if _, err := jsonObject(e.Data); err != nil {
			return optsError(tool, id, "event %d (%s): data: %v", i, e.Name, err)
		}
		if _, err := json.Marshal(e.User); err != nil {
			return optsError(tool, id, "event %d (%s): user: %v", i, e.Name, err)
		}
	}
	return nil
}
