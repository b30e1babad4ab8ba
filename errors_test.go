package inngest_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoRetryError(t *testing.T) {
	assert.NoError(t, inngest.NoRetryError(nil))

	base := fs.ErrNotExist
	err := inngest.NoRetryError(base)
	assert.Equal(t, base.Error(), err.Error(), "the message is the wrapped error's")
	assert.True(t, inngest.IsNoRetryError(err))
	assert.ErrorIs(t, err, base)
	assert.Equal(t, base, errors.Unwrap(err))

	wrapped := fmt.Errorf("loading config: %w", err)
	assert.True(t, inngest.IsNoRetryError(wrapped))
	assert.ErrorIs(t, wrapped, base)
	assert.True(t, inngest.IsNoRetryError(errors.Join(errors.New("other"), err)))

	var pe *fs.PathError
	assert.ErrorAs(t, inngest.NoRetryError(fmt.Errorf("open: %w", &fs.PathError{Op: "open", Path: "/x", Err: base})), &pe)
	assert.Equal(t, "/x", pe.Path)

	assert.False(t, inngest.IsNoRetryError(base))
	assert.False(t, inngest.IsNoRetryError(nil))
	assert.False(t, inngest.IsNoRetryError(inngest.RetryAtError(base, time.Now())))
}

func TestRetryAtError(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.NoError(t, inngest.RetryAtError(nil, at))
	assert.NoError(t, inngest.RetryAfterError(nil, time.Minute))

	base := errors.New("rate limited")
	err := inngest.RetryAtError(base, at)
	assert.Equal(t, "rate limited", err.Error())
	assert.ErrorIs(t, err, base)
	got, ok := inngest.RetryAt(err)
	assert.True(t, ok)
	assert.True(t, at.Equal(got))

	got, ok = inngest.RetryAt(fmt.Errorf("calling the API: %w", err))
	assert.True(t, ok, "found through %%w")
	assert.True(t, at.Equal(got))

	_, ok = inngest.RetryAt(base)
	assert.False(t, ok)
	_, ok = inngest.RetryAt(nil)
	assert.False(t, ok)
	assert.False(t, inngest.IsNoRetryError(err))

	// Both wrappers on one error are both found.
	both := inngest.NoRetryError(inngest.RetryAtError(base, at))
	assert.True(t, inngest.IsNoRetryError(both))
	_, ok = inngest.RetryAt(both)
	assert.True(t, ok)

	// RetryAfterError counts from now.
	before := time.Now()
	err = inngest.RetryAfterError(base, time.Hour)
	after := time.Now()
	got, ok = inngest.RetryAt(err)
	require.True(t, ok)
	assert.False(t, got.Before(before.Add(time.Hour)))
	assert.False(t, got.After(after.Add(time.Hour)))
}

func TestStepError(t *testing.T) {
	se := &inngest.StepError{StepID: "charge", Name: "Error", Message: "card declined"}
	assert.Equal(t, `step "charge" failed: card declined`, se.Error())
	assert.ErrorIs(t, se, inngest.ErrStepFailed)

	wrapped := fmt.Errorf("checkout: %w", se)
	assert.ErrorIs(t, wrapped, inngest.ErrStepFailed)
	var got *inngest.StepError
	require.ErrorAs(t, wrapped, &got)
	assert.Equal(t, "charge", got.StepID)
	assert.Equal(t, "card declined", got.Message)

	assert.NotErrorIs(t, errors.New("card declined"), inngest.ErrStepFailed)
	assert.NotErrorIs(t, inngest.NoRetryError(errors.New("x")), inngest.ErrStepFailed)
	assert.False(t, inngest.IsNoRetryError(se), "a StepError is not a NoRetryError")
}

// Errors reach the handler through any amount of %w wrapping, and each
// kind gets its status and headers.
func TestErrorsThroughTheHandler(t *testing.T) {
	c := testClient(t, inngest.ClientOpts{AppID: "demo", Mode: inngest.ModeDev})
	fn := func(id string, f func(ctx context.Context, in inngest.Input[map[string]any]) (any, error)) {
		_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: id}, inngest.EventTrigger("demo/"+id, nil), f)
		require.NoError(t, err)
	}
	fn("wrapped-noretry", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, fmt.Errorf("charging: %w", inngest.NoRetryError(errors.New("card expired")))
	})
	fn("wrapped-retryat", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, fmt.Errorf("charging: %w", inngest.RetryAtError(errors.New("rate limited"), protoRetryAt))
	})
	fn("wrapped-step", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, err := step.Run(ctx, "charge", func(ctx context.Context) (int, error) { return 0, nil })
		if err != nil {
			return nil, fmt.Errorf("checkout: %w", err)
		}
		return nil, errors.New("unreachable in this test")
	})
	fn("plain", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, errors.New("connection reset")
	})
	fn("nil", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, nil
	})
	fn("step-retryat", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "call", func(ctx context.Context) (int, error) {
			return 0, inngest.RetryAtError(errors.New("busy"), protoRetryAt)
		})
	})
	fn("step-noretry", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "call", func(ctx context.Context) (int, error) {
			return 0, fmt.Errorf("validating: %w", inngest.NoRetryError(errors.New("bad input")))
		})
	})

	const callHash = "bc8d8647b02deea0ab3e715c220d041ee78cc19d" // sha1("call")
	body := func(attempt, maxAttempts int, steps string) []byte {
		return []byte(fmt.Sprintf(`{"ctx":{"attempt":%d,"disable_immediate_execution":false,"env":"","fn_id":"f","max_attempts":%d,"run_id":"01RUN","stack":{"current":0,"stack":[]},"step_id":"step","use_api":false},"event":{"data":{},"id":"01EV","name":"demo/x","ts":1,"user":{}},"events":[{"data":{},"id":"01EV","name":"demo/x","ts":1,"user":{}}],"steps":%s,"use_api":false,"version":2}`,
			attempt, maxAttempts, steps))
	}
	for _, tc := range []struct {
		fn   string
		body []byte
		want protoWant
	}{
		{"wrapped-noretry", body(0, 5, `{}`), protoWant{400, protoNoRetry("true"), `{"name":"NonRetriableError","message":"charging: card expired"}`}},
		{"wrapped-retryat", body(0, 5, `{}`), protoWant{500,
			map[string]string{"X-Inngest-No-Retry": "false", "Retry-After": "2030-01-02T03:04:05Z"},
			`{"name":"RetryAfterError","message":"charging: rate limited"}`}},
		{"wrapped-step", body(0, 5, `{"5ea9c348e59fe73a4b15cb287e33e4546dcef782":{"error":{"name":"Error","message":"card declined","stack":"at charge"}}}`),
			protoWant{400, protoNoRetry("true"), `{"name":"Error","message":"card declined","stack":"at charge","data":{"step_id":"charge"}}`}},
		{"plain", body(0, 5, `{}`), protoWant{500, protoNoRetry("false"), `{"name":"Error","message":"connection reset"}`}},
		{"nil", body(0, 5, `{}`), protoWant{200, protoNoRetry(""), `null`}},
		// A step's RetryAtError delays the step's next attempt...
		{"step-retryat", body(0, 3, `{}`), protoWant{206,
			map[string]string{"X-Inngest-No-Retry": "false", "Retry-After": "2030-01-02T03:04:05Z"},
			`[{"id":"` + callHash + `","op":"StepError","name":"call","displayName":"call","data":null,"error":{"name":"Error","message":"busy"},"timing":"<timing>","userland":{"id":"call"}}]`}},
		// ...but adds no attempt: on the last one the step fails for good.
		{"step-retryat", body(2, 3, `{}`), protoWant{206, protoNoRetry("true"),
			`[{"id":"` + callHash + `","op":"StepFailed","name":"call","displayName":"call","data":null,"error":{"name":"Error","message":"busy"},"timing":"<timing>","userland":{"id":"call"}}]`}},
		// A step's NoRetryError fails the step at once.
		{"step-noretry", body(0, 3, `{}`), protoWant{206, protoNoRetry("true"),
			`[{"id":"` + callHash + `","op":"StepFailed","name":"call","displayName":"call","data":null,"error":{"name":"NonRetriableError","message":"validating: bad input"},"timing":"<timing>","userland":{"id":"call"}}]`}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			protoAssert(t, protoServe(t, c.Serve(), http.MethodPost, "/api/inngest?fnId=demo-"+tc.fn+"&stepId=step", tc.body, nil), tc.want)
		})
	}
}

func TestValidateEvents(t *testing.T) {
	require.NoError(t, inngest.ValidateEvents(inngest.Event[any]{Name: "a/b"}, inngest.Event[any]{Name: "a/c", Data: map[string]int{"n": 1}}))
	for _, tc := range []struct {
		events []inngest.Event[any]
		msg    string
	}{
		{nil, "at least one event is required"},
		{[]inngest.Event[any]{{Name: " "}}, "event 0: a name is required"},
		{[]inngest.Event[any]{{Name: "a/b"}, {Name: "inngest/function.failed"}}, `event 1: the name "inngest/function.failed" is reserved`},
		{[]inngest.Event[any]{{Name: "a/b", Data: []int{1}}}, "event 0 (a/b): data must be a JSON object"},
		{[]inngest.Event[any]{{Name: "a/b", Data: func() {}}}, "event 0 (a/b): data:"},
	} {
		err := inngest.ValidateEvents(tc.events...)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.msg)
	}
}
