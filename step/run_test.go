package step_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

type num struct {
	N int `json:"n"`
}

// stepsFn is demo-steps: Run "a", Sleep "nap" 1s, Run "b".
func stepsFn(t *testing.T, c *inngest.Client, runs *counter) {
	fn(t, c, "steps", func(ctx context.Context, in inngest.Input[num]) (any, error) {
		a, err := step.Run(ctx, "a", func(ctx context.Context) (num, error) {
			runs.inc("a")
			return num{in.Event.Data.N}, nil
		})
		if err != nil {
			return nil, err
		}
		if err := step.Sleep(ctx, "nap", time.Second); err != nil {
			return nil, err
		}
		b, err := step.Run(ctx, "b", func(ctx context.Context) (int, error) {
			runs.inc("b")
			return a.N + 1, nil
		})
		return map[string]any{"a": a, "b": b}, err
	})
}

func TestRunAndSleepReplayTheCapturedRuns(t *testing.T) {
	c, _ := newClient(t)
	var runs counter
	stepsFn(t, c, &runs)
	calls := loadCaptures(t, "demo-steps")
	require.Len(t, calls, 8)
	stepA := `[{"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepRun","name":"a","displayName":"a","data":{"n":%d},"timing":"<timing>","userland":{"id":"a"}}]`
	nap := `[{"id":"c2640f79b4ed481b838ce4ad75330aa3f825d4d9","op":"Sleep","name":"nap","displayName":"nap","opts":{"duration":"1s"},"data":null,"userland":{"id":"nap"}}]`
	stepB := `[{"id":"e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98","op":"StepRun","name":"b","displayName":"b","data":%d,"timing":"<timing>","userland":{"id":"b"}}]`
	want := []struct {
		status int
		body   string
	}{
		{206, fmt.Sprintf(stepA, 1)},
		{206, nap},
		{206, fmt.Sprintf(stepA, 41)},
		{206, nap},
		{206, fmt.Sprintf(stepB, 2)},
		{200, `{"a":{"n":1},"b":2}`},
		{206, fmt.Sprintf(stepB, 42)},
		{200, `{"a":{"n":41},"b":42}`},
	}
	for i, cp := range calls {
		r := replay(t, c, cp)
		requireResponse(t, r, want[i].status, want[i].body)
		assert.Empty(t, r.Header.Get("X-Inngest-No-Retry"), "call %d: only step errors set X-Inngest-No-Retry", i)
		assert.Equal(t, "2", r.Header.Get("X-Inngest-Req-Version"))
	}
	// Each body ran once per run: memoized steps are never run again.
	assert.Equal(t, 2, runs.get("a"))
	assert.Equal(t, 2, runs.get("b"))
}

func TestRunErrorIsRetriedThenSucceeds(t *testing.T) {
	// demo-retry (Retries 2): "flaky" fails on its first two attempts.
	c, _ := newClient(t)
	fn(t, c, "retry", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "flaky", func(ctx context.Context) (int, error) {
			if in.Attempt < 2 {
				return 0, errors.New("flaky")
			}
			return 3, nil
		})
	}, func(o *inngest.FunctionOpts) { o.Retries = inngest.Ptr(2) })
	calls := loadCaptures(t, "demo-retry")
	require.Len(t, calls, 4)
	stepErr := `[{"id":"0612bcf5b16a1ec368ef4ebb92d6be2f7040260b","op":"StepError","name":"flaky","displayName":"flaky","data":null,"error":{"name":"Error","message":"flaky"},"timing":"<timing>","userland":{"id":"flaky"}}]`
	for i := range 2 {
		r := replay(t, c, calls[i])
		requireResponse(t, r, 206, stepErr)
		assert.Equal(t, "false", r.Header.Get("X-Inngest-No-Retry"), "attempt %d", i)
	}
	r := replay(t, c, calls[2])
	requireResponse(t, r, 206, `[{"id":"0612bcf5b16a1ec368ef4ebb92d6be2f7040260b","op":"StepRun","name":"flaky","displayName":"flaky","data":3,"timing":"<timing>","userland":{"id":"flaky"}}]`)
	assert.Empty(t, r.Header.Get("X-Inngest-No-Retry"))
	requireResponse(t, replay(t, c, calls[3]), 200, `3`)
}

func TestRunFailsForGoodOnItsLastAttempt(t *testing.T) {
	// demo-exhaust (Retries 1): "charge" always fails; the function
	// returns the step's error.
	c, _ := newClient(t)
	var seen error
	fn(t, c, "exhaust", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, err := step.Run(ctx, "charge", func(ctx context.Context) (int, error) {
			return 0, errors.New("card declined")
		})
		seen = err
		return nil, err
	}, func(o *inngest.FunctionOpts) { o.Retries = inngest.Ptr(1) })
	calls := loadCaptures(t, "demo-exhaust")
	require.Len(t, calls, 3)

	r := replay(t, c, calls[0]) // attempt 0 of 2
	requireResponse(t, r, 206, `[{"id":"5ea9c348e59fe73a4b15cb287e33e4546dcef782","op":"StepError","name":"charge","displayName":"charge","data":null,"error":{"name":"Error","message":"card declined"},"timing":"<timing>","userland":{"id":"charge"}}]`)
	assert.Equal(t, "false", r.Header.Get("X-Inngest-No-Retry"))

	r = replay(t, c, calls[1]) // attempt 1 of 2: the last
	requireResponse(t, r, 206, `[{"id":"5ea9c348e59fe73a4b15cb287e33e4546dcef782","op":"StepFailed","name":"charge","displayName":"charge","data":null,"error":{"name":"Error","message":"card declined"},"timing":"<timing>","userland":{"id":"charge"}}]`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))

	// The server stored the error; the function returns it unhandled:
	// 400, no retry, the step's error with its ID.
	r = replay(t, c, calls[2])
	requireResponse(t, r, 400, `{"name":"Step failed","message":"card declined","data":{"step_id":"charge"}}`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	var se *inngest.StepError
	require.ErrorAs(t, seen, &se)
	assert.Equal(t, "charge", se.StepID)
	assert.Equal(t, "Step failed", se.Name)
	assert.Equal(t, "card declined", se.Message)
	assert.ErrorIs(t, seen, inngest.ErrStepFailed)
}

func TestRunMemoizedErrorCanBeHandled(t *testing.T) {
	// demo-caught (Retries 0): "risky" fails at once; the function
	// handles the error with a compensating step.
	c, _ := newClient(t)
	fn(t, c, "caught", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, err := step.Run(ctx, "risky", func(ctx context.Context) (int, error) {
			return 0, errors.New("nope")
		})
		var se *inngest.StepError
		if !errors.As(err, &se) || se.Message != "nope" {
			return nil, errors.New("expected the step error")
		}
		return step.Run(ctx, "compensate", func(ctx context.Context) (string, error) { return "compensated", nil })
	}, func(o *inngest.FunctionOpts) { o.Retries = inngest.Ptr(0) })
	calls := loadCaptures(t, "demo-caught")
	require.Len(t, calls, 3)
	r := replay(t, c, calls[0])
	requireResponse(t, r, 206, `[{"id":"f8a3616d7e58ff6242563873b1cfc46048094eb9","op":"StepFailed","name":"risky","displayName":"risky","data":null,"error":{"name":"Error","message":"nope"},"timing":"<timing>","userland":{"id":"risky"}}]`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	r = replay(t, c, calls[1])
	requireResponse(t, r, 206, `[{"id":"3ff7e0af1ff10be8dee1243e20ab99ea3a8ffc99","op":"StepRun","name":"compensate","displayName":"compensate","data":"compensated","timing":"<timing>","userland":{"id":"compensate"}}]`)
	assert.Empty(t, r.Header.Get("X-Inngest-No-Retry"))
	requireResponse(t, replay(t, c, calls[2]), 200, `"compensated"`)
}

func TestRunNoRetryErrorFailsTheStepAtOnce(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "fatal", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "charge", func(ctx context.Context) (int, error) {
			return 0, inngest.NoRetryError(errors.New("card stolen"))
		})
	})
	r := call{fn: "fatal"}.do(t, c) // attempt 0 of 5
	requireResponse(t, r, 206, `[{"id":"`+hash("charge")+`","op":"StepFailed","name":"charge","displayName":"charge","data":null,"error":{"name":"NonRetriableError","message":"card stolen"},"timing":"<timing>","userland":{"id":"charge"}}]`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
}

func TestRunRetryAtErrorSetsRetryAfter(t *testing.T) {
	c, _ := newClient(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fn(t, c, "later", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "poll", func(ctx context.Context) (int, error) {
			return 0, inngest.RetryAtError(errors.New("not yet"), at)
		})
	})
	r := call{fn: "later", attempt: 0, maxAttempts: 3}.do(t, c)
	require.Equal(t, 206, r.Status, r.Body)
	assert.Contains(t, r.Body, `"op":"StepError"`)
	assert.Equal(t, "2030-01-02T03:04:05Z", r.Header.Get("Retry-After"))
	assert.Equal(t, "false", r.Header.Get("X-Inngest-No-Retry"))

	// On the last attempt there is nothing to retry.
	r = call{fn: "later", attempt: 2, maxAttempts: 3}.do(t, c)
	assert.Contains(t, r.Body, `"op":"StepFailed"`)
	assert.Empty(t, r.Header.Get("Retry-After"))
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
}

func TestRunPanicInBodyIsAStepErrorWithStack(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "panics", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "boom", func(ctx context.Context) (int, error) { panic("kaboom") })
	})
	r := call{fn: "panics"}.do(t, c)
	require.Equal(t, 206, r.Status, r.Body)
	ops := decodeOps(t, r.Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepError", ops[0].Op)
	assert.Equal(t, "panic: kaboom", ops[0].Error.Message)
	assert.Contains(t, ops[0].Error.Stack, "run_test.go", "the stack points at the panicking body")
}

func TestRunMemoizedErrorKeepsEveryField(t *testing.T) {
	c, _ := newClient(t)
	var got *inngest.StepError
	fn(t, c, "memoerr", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, err := step.Run(ctx, "x", func(ctx context.Context) (int, error) {
			t.Error("a memoized step must not run")
			return 0, nil
		})
		errors.As(err, &got)
		return "handled", nil
	})
	memo := `{"error":{"name":"NonRetriableError","message":"bad card","stack":"at charge()","data":{"code":7}}}`
	r := call{fn: "memoerr", steps: map[string]string{hash("x"): memo}, stack: []string{hash("x")}}.do(t, c)
	requireResponse(t, r, 200, `"handled"`)
	require.NotNil(t, got)
	assert.Equal(t, &inngest.StepError{StepID: "x", Name: "NonRetriableError", Message: "bad card", Stack: "at charge()", Data: []byte(`{"code":7}`)}, got)
}

func TestRunIsDecodedIntoItsType(t *testing.T) {
	c, _ := newClient(t)
	type order struct {
		ID    string   `json:"id"`
		Items []string `json:"items"`
	}
	var got order
	fn(t, c, "typed", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		o, err := step.Run(ctx, "load", func(ctx context.Context) (order, error) { return order{}, nil })
		got = o
		return nil, err
	})
	r := call{fn: "typed", steps: map[string]string{hash("load"): `{"data":{"id":"o1","items":["a","b"]}}`}}.do(t, c)
	requireResponse(t, r, 200, `null`)
	assert.Equal(t, order{ID: "o1", Items: []string{"a", "b"}}, got)

	// A recorded result that does not fit the type fails without retries.
	r = call{fn: "typed", steps: map[string]string{hash("load"): `{"data":[1,2]}`}}.do(t, c)
	assert.Equal(t, 400, r.Status, r.Body)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	assert.Contains(t, r.Body, `does not fit`)
}

func TestRepeatedStepIDsGetACounter(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "loop", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		sum := 0
		for i := range 3 {
			v, err := step.Run(ctx, "item", func(ctx context.Context) (int, error) { return i, nil })
			if err != nil {
				return nil, err
			}
			sum += v
		}
		return sum, nil
	})
	r := call{fn: "loop", steps: map[string]string{hash("item"): `{"data":10}`, hash("item", 1): `{"data":20}`}}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("item", 2)+`","op":"StepRun","name":"item","displayName":"item","data":2,"timing":"<timing>","userland":{"id":"item","index":2}}]`)
}

// User code runs on a coroutine of the handler's goroutine, which must
// leave the OS thread's locking as it found it: a function that locks
// its thread and unlocks it in a deferred call, stopped at a step and
// then finishing, is served as any other.
func TestBalancedThreadLockingInUserCode(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "locked", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		n, err := step.Run(ctx, "on-the-thread", func(ctx context.Context) (int, error) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			return 7, nil
		})
		return n, err
	})
	r := call{fn: "locked"}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("on-the-thread")+`","op":"StepRun","name":"on-the-thread","displayName":"on-the-thread","data":7,"timing":"<timing>","userland":{"id":"on-the-thread"}}]`)
	r = call{fn: "locked", steps: map[string]string{hash("on-the-thread"): `{"data":7}`}}.do(t, c)
	requireResponse(t, r, 200, `7`)
}

func TestRecoverCannotSwallowTheStop(t *testing.T) {
	c, _ := newClient(t)
	var recovered any
	var after, deferred bool
	fn(t, c, "recover", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		defer func() {
			recovered = recover()
			deferred = true
		}()
		if err := step.Sleep(ctx, "nap", time.Hour+30*time.Minute); err != nil {
			return nil, err
		}
		after = true
		return "done", nil
	})
	r := call{fn: "recover"}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("nap")+`","op":"Sleep","name":"nap","displayName":"nap","opts":{"duration":"1h30m"},"data":null,"userland":{"id":"nap"}}]`)
	assert.True(t, deferred, "deferred calls run when the function stops")
	assert.Nil(t, recovered, "the stop is not a panic")
	assert.False(t, after, "code after an unfinished step does not run")
}

func TestSleepUntilSendsRFC3339(t *testing.T) {
	c, _ := newClient(t)
	// Ten days ahead, at 12:00 in UTC+2: sent as 10:00 UTC.
	day := time.Now().UTC().AddDate(0, 0, 10)
	at := time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, time.FixedZone("X", 2*3600))
	want := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05Z")
	fn(t, c, "until", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return nil, step.SleepUntil(ctx, "wake", at)
	})
	r := call{fn: "until"}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("wake")+`","op":"Sleep","name":"wake","displayName":"wake","opts":{"duration":"`+want+`"},"data":null,"userland":{"id":"wake"}}]`)
	// A finished sleep (memo null) returns at once.
	r = call{fn: "until", steps: map[string]string{hash("wake"): `null`}}.do(t, c)
	requireResponse(t, r, 200, `null`)
}

func TestStepFromAnUnmanagedGoroutineFailsTheRequest(t *testing.T) {
	c, _ := newClient(t)
	var stepErr error
	fn(t, c, "leak", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			stepErr = step.Sleep(ctx, "nap", time.Second)
		}()
		wg.Wait()
		return "returned", nil
	})
	r := call{fn: "leak"}.do(t, c)
	assert.ErrorIs(t, stepErr, inngest.ErrUnmanagedGoroutine)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	assert.Contains(t, r.Body, "step.NewGroup")
}

func TestNestedStepIsAnError(t *testing.T) {
	c, _ := newClient(t)
	var inner error
	fn(t, c, "nested", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Run(ctx, "outer", func(ctx context.Context) (int, error) {
			_, inner = step.Run(ctx, "inner", func(ctx context.Context) (int, error) { return 1, nil })
			return 2, nil
		})
	})
	// No retry can fix it: the call fails for good, although the outer
	// body went on and returned a result.
	r := call{fn: "nested"}.do(t, c)
	requireResponse(t, r, 400, `{"name":"NonRetriableError","message":"inngest: step tool called inside another step's body; steps cannot be nested"}`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	assert.ErrorIs(t, inner, inngest.ErrNestedStep)
}

func TestStepToolsOutsideAFunction(t *testing.T) {
	ctx := context.Background()
	_, err := step.Run(ctx, "a", func(ctx context.Context) (int, error) { return 1, nil })
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	assert.ErrorIs(t, step.Sleep(ctx, "s", time.Second), inngest.ErrNotInFunction)
	assert.ErrorIs(t, step.SleepUntil(ctx, "s", time.Now()), inngest.ErrNotInFunction)
	_, err = step.WaitForEvent[any](ctx, "w", step.WaitForEventOpts{Event: "x", Timeout: time.Second})
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	_, err = step.Invoke[int](ctx, "i", step.InvokeOpts{FunctionID: "app-fn"})
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	_, err = step.InvokeFunction[int, any](ctx, "i", nil, nil, 0)
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	_, err = step.SendEvent(ctx, "e", inngest.Event[any]{Name: "x"})
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	_, err = step.WaitForSignal[any](ctx, "s", step.WaitForSignalOpts{Signal: "x", Timeout: time.Second})
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	_, err = step.Fetch(ctx, "f", step.FetchRequest{URL: "https://example.com"})
	assert.ErrorIs(t, err, inngest.ErrNotInFunction)
	g := step.NewGroup(ctx)
	ran := false
	g.Go(func(ctx context.Context) error { ran = true; return nil })
	assert.ErrorIs(t, g.Wait(), inngest.ErrNotInFunction)
	assert.False(t, ran)
}

func TestStepAfterTheRequestFinished(t *testing.T) {
	c, _ := newClient(t)
	var saved context.Context
	fn(t, c, "leaked", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		saved = ctx
		return "ok", nil
	})
	requireResponse(t, call{fn: "leaked"}.do(t, c), 200, `"ok"`)
	assert.ErrorIs(t, step.Sleep(saved, "late", time.Second), inngest.ErrRunFinished)
}

// The server draws a step's span from its opcode's timing: when the body
// started, in Unix nanoseconds, and how long it ran. Both a success and
// an error carry the body's real start and duration.
func TestRunReportsWhenItsBodyRan(t *testing.T) {
	c, _ := newClient(t)
	const nap = 30 * time.Millisecond
	fn(t, c, "timed", func(ctx context.Context, in inngest.Input[map[string]bool]) (any, error) {
		return step.Run(ctx, "slow", func(ctx context.Context) (int, error) {
			time.Sleep(nap)
			if in.Event.Data["fail"] {
				return 0, errors.New("late and wrong")
			}
			return 1, nil
		})
	})
	for _, event := range []string{`{}`, `{"fail":true}`} {
		before := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/api/inngest?"+call{fn: "timed"}.query(), bytes.NewReader(call{fn: "timed", event: event}.body()))
		rec := httptest.NewRecorder()
		c.Serve().ServeHTTP(rec, req)
		after := time.Now()
		require.Equal(t, 206, rec.Code, rec.Body.String())
		var ops []struct {
			Op     string `json:"op"`
			Timing *struct {
				A int64 `json:"a"`
				B int64 `json:"b"`
			} `json:"timing"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ops))
		require.Len(t, ops, 1)
		require.NotNil(t, ops[0].Timing, "%s has no timing: %s", ops[0].Op, rec.Body.String())
		start, d := time.Unix(0, ops[0].Timing.A), time.Duration(ops[0].Timing.B)
		assert.False(t, start.Before(before), "%s started %s before the call", ops[0].Op, before.Sub(start))
		assert.GreaterOrEqual(t, d, nap, "%s: the body slept %s", ops[0].Op, nap)
		assert.False(t, start.Add(d).After(after), "%s ended after the call", ops[0].Op)
	}
}

// TestRunOutputOverTheLimitFailsTheStep: a result whose stored form
// ({"data":…}) is over inngest.MaxStepOutputSize is not sent: the step
// fails at once, without retries, with an error naming the step and the
// size, and the function catches it on the next call like any step
// error. A result of exactly the limit is sent.
func TestRunOutputOverTheLimitFailsTheStep(t *testing.T) {
	c, _ := newClient(t)
	// A JSON string of n bytes, quotes included.
	str := func(n int) string { return strings.Repeat("x", n-2) }
	var caught *inngest.StepError
	fn(t, c, "big", func(ctx context.Context, in inngest.Input[struct {
		N int `json:"n"`
	}]) (any, error) {
		_, err := step.Run(ctx, "export", func(ctx context.Context) (string, error) { return str(in.Event.Data.N), nil })
		if errors.As(err, &caught) {
			return "caught: " + caught.StepID, nil
		}
		return nil, err
	}, func(o *inngest.FunctionOpts) { o.Retries = inngest.Ptr(3) })

	limit := inngest.MaxStepOutputSize - len(`{"data":}`)
	r := call{fn: "big", event: `{"n":` + strconv.Itoa(limit) + `}`}.do(t, c)
	require.Equal(t, 206, r.Status)
	ops := decodeOps(t, r.Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepRun", ops[0].Op, "a result of exactly the limit is sent")
	assert.Len(t, ops[0].Data, limit)

	r = call{fn: "big", event: `{"n":` + strconv.Itoa(limit+1) + `}`}.do(t, c)
	require.Equal(t, 206, r.Status)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
	ops = decodeOps(t, r.Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepFailed", ops[0].Op)
	assert.Equal(t, "null", string(ops[0].Data))
	require.NotNil(t, ops[0].Error)
	e := *ops[0].Error
	assert.Equal(t, "NonRetriableError", e.Name)
	assert.Equal(t, `step "export": its result (string) is 4194305 bytes of JSON, over Inngest's limit of 4194304 bytes for a step's output (inngest.MaxStepOutputSize); return less, such as a reference to data stored elsewhere`, e.Message)
	assert.Less(t, len(r.Body), 1<<10, "the result itself is not sent")

	// The server stores the error; the function catches it.
	memo, err := json.Marshal(map[string]any{"error": e})
	require.NoError(t, err)
	r = call{fn: "big", event: `{"n":` + strconv.Itoa(limit+1) + `}`, steps: map[string]string{hash("export"): string(memo)}, stack: []string{hash("export")}}.do(t, c)
	requireResponse(t, r, 200, `"caught: export"`)
	require.NotNil(t, caught)
	assert.Contains(t, caught.Message, "4194305 bytes")
}

// TestRunBodyThatOutlivesItsCall: when the call's ctx is cancelled (the
// server hung up) while a step body runs, a body that returns anyway is
// logged as a warning through the client's logger, with the step, the
// run and whether the body honoured ctx; a body that returns in time is
// not.
func TestRunBodyThatOutlivesItsCall(t *testing.T) {
	for _, tc := range []struct {
		name    string
		honour  bool
		cancel  bool
		warning string
	}{
		{"ignores ctx", false, true, "honoured_ctx=false"},
		{"honours ctx", true, true, "honoured_ctx=true"},
		{"not cancelled", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newClient(t)
			started, release := make(chan struct{}), make(chan struct{})
			returned := make(chan struct{})
			fn(t, c, "slow", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				return step.Run(ctx, "export", func(ctx context.Context) (int, error) {
					defer close(returned)
					close(started)
					if tc.honour {
						<-ctx.Done()
						return 0, ctx.Err()
					}
					<-release
					return 1, nil
				})
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequest(http.MethodPost, "/api/inngest?"+call{fn: "slow"}.query(), bytes.NewReader(call{fn: "slow"}.body())).WithContext(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.Serve().ServeHTTP(httptest.NewRecorder(), req)
			}()
			<-started
			if tc.cancel {
				cancel()
			}
			close(release)
			<-returned
			<-done
			if tc.warning == "" {
				assert.NotContains(t, logs.String(), "returned after its call was cancelled")
				return
			}
			out := logs.String()
			assert.Contains(t, out, "level=WARN")
			assert.Contains(t, out, "a step body returned after its call was cancelled")
			assert.Contains(t, out, "step=export")
			assert.Contains(t, out, "run_id=01M89CTC00Y1RFEX6HGGCHG9VY")
			assert.Contains(t, out, `cause="context canceled"`)
			assert.Contains(t, out, tc.warning)
		})
	}
}
