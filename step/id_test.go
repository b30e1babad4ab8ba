package step_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// A step tool given an empty ID returns ErrStepID as a non-retriable
// error, and reports nothing.
func TestEmptyStepIDIsRefused(t *testing.T) {
	tools := map[string]func(ctx context.Context) error{
		"Run": func(ctx context.Context) error {
			_, err := step.Run(ctx, " ", func(context.Context) (int, error) { return 1, nil })
			return err
		},
		"Sleep": func(ctx context.Context) error { return step.Sleep(ctx, "", time.Second) },
		"WaitForEvent": func(ctx context.Context) error {
			_, err := step.WaitForEvent[map[string]any](ctx, "", step.WaitForEventOpts{Event: "a/b", Timeout: time.Hour})
			return err
		},
		"Invoke": func(ctx context.Context) error {
			_, err := step.Invoke[int](ctx, "", step.InvokeOpts{FunctionID: "a-f", Data: map[string]any{}})
			return err
		},
		"SendEvent": func(ctx context.Context) error {
			_, err := step.SendEvent(ctx, "", inngest.Event[any]{Name: "a/b"})
			return err
		},
	}
	for name, tool := range tools {
		t.Run(name, func(t *testing.T) {
			c, err := inngest.NewClient(inngest.ClientOpts{AppID: "a", Mode: inngest.ModeDev})
			require.NoError(t, err)
			var got error
			_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("a/b", nil),
				func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
					got = tool(ctx)
					return nil, got
				})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			body := `{"ctx":{"run_id":"R","attempt":0,"max_attempts":5,"stack":{"stack":[]}},"event":{"name":"a/b","data":{}},"events":[],"steps":{}}`
			c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/?fnId=a-f&stepId=step", strings.NewReader(body)))
			assert.True(t, errors.Is(got, step.ErrStepID), "got %v", got)
			assert.True(t, inngest.IsNoRetryError(got))
			assert.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			assert.Equal(t, "true", rec.Header().Get("X-Inngest-No-Retry"))
		})
	}
}

func TestSleepLongerThanAYearIsRefused(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "a", Mode: inngest.ModeDev})
	require.NoError(t, err)
	var errs []error
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			errs = append(errs, step.Sleep(ctx, "long", 367*24*time.Hour))
			return nil, errors.Join(errs...)
		})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	body := `{"ctx":{"run_id":"R","attempt":0,"max_attempts":5,"stack":{"stack":[]}},"event":{"name":"a/b","data":{}},"events":[],"steps":{}}`
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/?fnId=a-f&stepId=step", strings.NewReader(body)))
	require.Len(t, errs, 1)
	for _, err := range errs {
		assert.True(t, inngest.IsNoRetryError(err), "%v", err)
		assert.ErrorContains(t, err, "at most 366 days")
	}
	assert.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
}
