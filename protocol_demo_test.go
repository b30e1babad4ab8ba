package inngest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/require"
)

// The demo app mirrors the functions the wire captures in
// testdata/protocol/calls were recorded against, so that the captured
// requests can be replayed against it. Where the recorded function
// depended on the clock, this one returns a fixed value.

// retryAtTime is when demo-retryat asks to be retried.
var protoRetryAt = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// bigSize is the length of each of demo-big's first two step results.
const protoBigSize = 2_500_000

type protoStepsData struct {
	N int `json:"n"`
}

type protoExhaustData struct {
	Key  string `json:"key"`
	User int    `json:"user"`
}

// call is one execution of user code seen by the demo app.
type protoCall struct {
	Fn   string
	Info inngest.RunInfo
}

// recorder collects the calls of the demo app's functions.
type protoRecorder struct {
	mu    sync.Mutex
	calls []protoCall
}

func (r *protoRecorder) add(fn string, info inngest.RunInfo) {
	r.mu.Lock()
	r.calls = append(r.calls, protoCall{fn, info})
	r.mu.Unlock()
}

func (r *protoRecorder) all() []protoCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protoCall(nil), r.calls...)
}

// newDemoApp creates the demo app's functions on c.
func protoDemoApp(t *testing.T, c *inngest.Client) *protoRecorder {
	t.Helper()
	rec := &protoRecorder{}
	must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "steps"}, inngest.EventTrigger("demo/steps", nil),
		func(ctx context.Context, in inngest.Input[protoStepsData]) (any, error) {
			rec.add("steps", in.RunInfo)
			a, err := step.Run(ctx, "a", func(ctx context.Context) (protoStepsData, error) {
				return protoStepsData{N: in.Event.Data.N}, nil
			})
			if err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", time.Second); err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) { return a.N + 1, nil })
			if err != nil {
				return nil, err
			}
			return map[string]any{"a": a, "b": b}, nil
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "retry", Retries: inngest.Ptr(2)}, inngest.EventTrigger("demo/retry", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("retry", in.RunInfo)
			return step.Run(ctx, "flaky", func(ctx context.Context) (int, error) {
				if in.Attempt < 2 {
					return 0, errors.New("flaky")
				}
				return 3, nil
			})
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{
		ID:      "exhaust",
		Retries: inngest.Ptr(1),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[protoExhaustData]) (any, error) {
			rec.add("exhaust-failure", f.Handler)
			return map[string]any{"failed_run": f.RunID, "message": f.Error.Message, "user": f.Event.Data.User}, nil
		}),
	}, inngest.EventTrigger("demo/exhaust", nil),
		func(ctx context.Context, in inngest.Input[protoExhaustData]) (any, error) {
			rec.add("exhaust", in.RunInfo)
			return step.Run(ctx, "charge", func(ctx context.Context) (string, error) {
				return "", errors.New("card declined")
			})
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "noretry", Retries: inngest.Ptr(3)}, inngest.EventTrigger("demo/noretry", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("noretry", in.RunInfo)
			return nil, inngest.NoRetryError(errors.New("fatal"))
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "caught", Retries: inngest.Ptr(0)}, inngest.EventTrigger("demo/caught", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("caught", in.RunInfo)
			_, err := step.Run(ctx, "risky", func(ctx context.Context) (string, error) {
				return "", errors.New("nope")
			})
			var se *inngest.StepError
			if !errors.As(err, &se) {
				return "not compensated", err
			}
			return step.Run(ctx, "compensate", func(ctx context.Context) (string, error) {
				return "compensated", nil
			})
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "retryat", Retries: inngest.Ptr(1)}, inngest.EventTrigger("demo/retryat", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("retryat", in.RunInfo)
			if in.Attempt == 0 {
				return nil, inngest.RetryAtError(errors.New("later"), protoRetryAt)
			}
			return map[string]int{"attempt": in.Attempt}, nil
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "big"}, inngest.EventTrigger("demo/big", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("big", in.RunInfo)
			s1, err := step.Run(ctx, "s1", func(ctx context.Context) (string, error) { return strings.Repeat("a", protoBigSize), nil })
			if err != nil {
				return nil, err
			}
			s2, err := step.Run(ctx, "s2", func(ctx context.Context) (string, error) { return strings.Repeat("b", protoBigSize), nil })
			if err != nil {
				return nil, err
			}
			return step.Run(ctx, "s3", func(ctx context.Context) (int, error) { return len(s1) + len(s2), nil })
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "boom"}, inngest.EventTrigger("demo/boom", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			rec.add("boom", in.RunInfo)
			panic("boom")
		}))
	return rec
}
