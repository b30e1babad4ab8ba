package step_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

type ab struct {
	A int `json:"a"`
	B int `json:"b"`
}

func adderFn(t *testing.T, c *inngest.Client) *inngest.Function[ab] {
	return fn(t, c, "adder", func(ctx context.Context, in inngest.Input[ab]) (any, error) {
		return in.Event.Data.A + in.Event.Data.B, nil
	})
}

func TestInvokeReplaysTheCapturedRun(t *testing.T) {
	// demo-invoke: Invoke("call", demo-adder, {a, b}).
	c, _ := newClient(t)
	fn(t, c, "invoke", func(ctx context.Context, in inngest.Input[ab]) (any, error) {
		return step.Invoke[int](ctx, "call", step.InvokeOpts{FunctionID: "demo-adder", Data: in.Event.Data})
	})
	calls := loadCaptures(t, "demo-invoke")
	require.Len(t, calls, 2)
	requireResponse(t, replay(t, c, calls[0]), 206,
		`[{"id":"bc8d8647b02deea0ab3e715c220d041ee78cc19d","op":"InvokeFunction","name":"call","displayName":"call","opts":{"function_id":"demo-adder","payload":{"data":{"a":2,"b":3}}},"data":null,"userland":{"id":"call"}}]`)
	requireResponse(t, replay(t, c, calls[1]), 200, `5`)
}

func TestInvokeAgainstTheServersRequests(t *testing.T) {
	// Requests the dev server sent to this SDK: an invoke by reference, one
	// of a function returning 0, one of a function that failed, and one
	// that timed out.
	c, _ := newClient(t)
	adder := adderFn(t, c)
	var failErr, timeoutErr error
	fn(t, c, "invoke", func(ctx context.Context, in inngest.Input[ab]) (any, error) {
		sum, err := step.InvokeFunction[int](ctx, "call", adder, in.Event.Data, 0)
		if err != nil {
			return nil, err
		}
		zero, err := step.InvokeFunction[int](ctx, "call-zero", adder, ab{}, 0)
		if err != nil {
			return nil, err
		}
		_, failErr = step.Invoke[int](ctx, "call-fail", step.InvokeOpts{FunctionID: "demo-failer", Data: map[string]any{"x": 1}})
		_, timeoutErr = step.Invoke[string](ctx, "call-slow", step.InvokeOpts{FunctionID: "demo-slow", Timeout: time.Second})
		return []int{sum, zero}, nil
	})
	calls := loadCaptures(t, "server-invoke")
	require.Len(t, calls, 5)
	want := []string{
		`[{"id":"bc8d8647b02deea0ab3e715c220d041ee78cc19d","op":"InvokeFunction","name":"call","displayName":"call","opts":{"function_id":"demo-adder","payload":{"data":{"a":2,"b":3}}},"data":null,"userland":{"id":"call"}}]`,
		`[{"id":"4ebdb3d04769b0761cabff8c744ea132d090d61a","op":"InvokeFunction","name":"call-zero","displayName":"call-zero","opts":{"function_id":"demo-adder","payload":{"data":{"a":0,"b":0}}},"data":null,"userland":{"id":"call-zero"}}]`,
		`[{"id":"055b45362489f68ce4d39cfc67d57fe39874f80a","op":"InvokeFunction","name":"call-fail","displayName":"call-fail","opts":{"function_id":"demo-failer","payload":{"data":{"x":1}}},"data":null,"userland":{"id":"call-fail"}}]`,
		`[{"id":"88e4d6824a66cf59132ddd91ae59ffcb79f72460","op":"InvokeFunction","name":"call-slow","displayName":"call-slow","opts":{"function_id":"demo-slow","payload":{"data":{}},"timeout":"1s"},"data":null,"userland":{"id":"call-slow"}}]`,
	}
	for i, w := range want {
		requireResponse(t, replay(t, c, calls[i]), 206, w)
	}
	requireResponse(t, replay(t, c, calls[4]), 200, `[5,0]`)

	// The invoked function's failure is a StepError.
	var se *inngest.StepError
	require.ErrorAs(t, failErr, &se)
	assert.Equal(t, &inngest.StepError{StepID: "call-fail", Name: "Error", Message: "adder exploded"}, se)
	assert.NotErrorIs(t, failErr, step.ErrInvokeTimeout)

	// A timeout is a StepError and ErrInvokeTimeout.
	require.ErrorAs(t, timeoutErr, &se)
	assert.Equal(t, "InngestInvokeTimeoutError", se.Name)
	assert.Equal(t, "Timed out waiting for invoked function to complete", se.Message)
	assert.ErrorIs(t, timeoutErr, step.ErrInvokeTimeout)
	assert.ErrorIs(t, timeoutErr, inngest.ErrStepFailed)
	assert.Equal(t, `step "call-slow" failed: Timed out waiting for invoked function to complete`, timeoutErr.Error())
}

func TestInvokeOfAFunctionThatReturnedNothing(t *testing.T) {
	// The server records {"data":null} for a null result.
	c, _ := newClient(t)
	var p *int
	var s string
	fn(t, c, "invoke-nothing", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var err error
		if p, err = step.Invoke[*int](ctx, "call", step.InvokeOpts{FunctionID: "demo-nothing"}); err != nil {
			return nil, err
		}
		s, err = step.Invoke[string](ctx, "call-str", step.InvokeOpts{FunctionID: "demo-nothing"})
		return "ok", err
	})
	calls := loadCaptures(t, "server-invoke-nothing")
	require.Len(t, calls, 3)
	requireResponse(t, replay(t, c, calls[0]), 206,
		`[{"id":"bc8d8647b02deea0ab3e715c220d041ee78cc19d","op":"InvokeFunction","name":"call","displayName":"call","opts":{"function_id":"demo-nothing","payload":{"data":{}}},"data":null,"userland":{"id":"call"}}]`)
	requireResponse(t, replay(t, c, calls[2]), 200, `"ok"`)
	assert.Nil(t, p)
	assert.Empty(t, s)

	// When the result is left out, the server records the whole
	// function-finished event instead: that is an empty result too.
	finished := `{"data":{"function_id":"demo-nothing","run_id":"01M89E9AX5","event":{},"events":[]},"id":"01M89E9B00","name":"inngest/function.finished","ts":1795613306000}`
	r := call{fn: "invoke-nothing", steps: map[string]string{hash("call"): finished, hash("call-str"): finished}}.do(t, c)
	requireResponse(t, r, 200, `"ok"`)
	assert.Nil(t, p)
	assert.Empty(t, s)
}

func TestInvokeOpts(t *testing.T) {
	c, _ := newClient(t)
	adder := adderFn(t, c)
	tests := []struct {
		name string
		opts step.InvokeOpts
		want string
	}{
		{"by reference", step.InvokeOpts{Function: adder, Data: ab{1, 2}},
			`{"function_id":"demo-adder","payload":{"data":{"a":1,"b":2}}}`},
		{"by ID with user and timeout", step.InvokeOpts{FunctionID: "billing-charge", Data: map[string]int{"n": 1}, User: map[string]any{"id": "u1"}, Timeout: 90 * time.Minute},
			`{"function_id":"billing-charge","payload":{"data":{"n":1},"user":{"id":"u1"}},"timeout":"1h30m"}`},
		{"both, agreeing", step.InvokeOpts{FunctionID: "demo-adder", Function: adder},
			`{"function_id":"demo-adder","payload":{"data":{}}}`},
		{"days", step.InvokeOpts{FunctionID: "a-b", Timeout: 48 * time.Hour},
			`{"function_id":"a-b","payload":{"data":{}},"timeout":"2d"}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "inv" + string(rune('a'+i))
			fn(t, c, id, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				return step.Invoke[int](ctx, "call", tt.opts)
			})
			r := call{fn: id}.do(t, c)
			requireResponse(t, r, 206, `[{"id":"`+hash("call")+`","op":"InvokeFunction","name":"call","displayName":"call","opts":`+tt.want+`,"data":null,"userland":{"id":"call"}}]`)
		})
	}
}

func TestInvokeRejectsBadOpts(t *testing.T) {
	c, _ := newClient(t)
	adder := adderFn(t, c)
	tests := []struct {
		name string
		opts step.InvokeOpts
		msg  string
	}{
		{"no function", step.InvokeOpts{Data: ab{}}, "FunctionID"},
		{"disagreeing", step.InvokeOpts{FunctionID: "demo-other", Function: adder}, "disagree"},
		{"data not an object", step.InvokeOpts{FunctionID: "demo-adder", Data: []int{1}}, "JSON object"},
		{"data not JSON", step.InvokeOpts{FunctionID: "demo-adder", Data: map[string]any{"f": func() {}}}, "Data"},
		{"negative timeout", step.InvokeOpts{FunctionID: "demo-adder", Timeout: -time.Second}, "Timeout"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			id := "bad" + string(rune('a'+i))
			fn(t, c, id, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				_, got = step.Invoke[int](ctx, "call", tt.opts)
				return nil, got
			})
			r := call{fn: id}.do(t, c)
			require.Error(t, got)
			assert.Contains(t, got.Error(), tt.msg)
			assert.True(t, inngest.IsNoRetryError(got))
			assert.Equal(t, 400, r.Status, r.Body)
		})
	}
	t.Run("nil function", func(t *testing.T) {
		var got error
		fn(t, c, "badnil", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			_, got = step.InvokeFunction[int](ctx, "call", (*inngest.Function[ab])(nil), ab{}, 0)
			return nil, got
		})
		call{fn: "badnil"}.do(t, c)
		require.Error(t, got)
		assert.Contains(t, got.Error(), "nil")
	})
}

func TestInvokeFailureUnhandledFailsTheRun(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "inv", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.Invoke[int](ctx, "call", step.InvokeOpts{FunctionID: "demo-adder"})
	})
	memo := `{"error":{"error":"invalid status code: 500","message":"adder exploded","name":"Error"}}`
	r := call{fn: "inv", steps: map[string]string{hash("call"): memo}, stack: []string{hash("call")}}.do(t, c)
	requireResponse(t, r, 400, `{"name":"Error","message":"adder exploded","data":{"step_id":"call"}}`)
	assert.Equal(t, "true", r.Header.Get("X-Inngest-No-Retry"))
}

func TestInvokeResultThatDoesNotFit(t *testing.T) {
	c, _ := newClient(t)
	var got error
	fn(t, c, "inv", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.Invoke[int](ctx, "call", step.InvokeOpts{FunctionID: "demo-adder"})
		return nil, got
	})
	call{fn: "inv", steps: map[string]string{hash("call"): `{"data":"five"}`}}.do(t, c)
	assert.True(t, inngest.IsNoRetryError(got), "%v", got)
	assert.False(t, errors.Is(got, inngest.ErrStepFailed))
}
