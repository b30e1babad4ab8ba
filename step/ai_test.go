package step_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

const testKey = "sk-test-4f9c1e0b7d"

func chatRequest() step.InferRequest[step.OpenAIChatRequest] {
	return step.InferRequest[step.OpenAIChatRequest]{
		URL:    "http://127.0.0.1:9/v1/chat/completions",
		APIKey: testKey,
		Body: step.OpenAIChatRequest{
			Model:    "gpt-4o-mini",
			Messages: []step.OpenAIMessage{{Role: "user", Content: "Say hi"}},
		},
	}
}

// A new Infer step is reported as an AIGateway opcode in the shape the
// server reads: url, headers, auth_key, format and the body as JSON.
func TestInferReportsTheAIGatewayOpcode(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "infer", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, err := step.Infer[step.OpenAIChatResponse](ctx, "ask", chatRequest())
		return nil, err
	})
	requireResponse(t, call{fn: "infer"}.do(t, c), 206,
		`[{"id":"`+hash("ask")+`","op":"AIGateway","name":"ask","displayName":"ask","opts":{"url":"http://127.0.0.1:9/v1/chat/completions","auth_key":"`+testKey+`","format":"openai-chat","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi"}]}},"data":null,"userland":{"id":"ask"}}]`)
}

// The defaults per format: the providers' endpoints, and Anthropic's
// required version header (unless the request sets one).
func TestInferFormatDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  step.InferRequest[json.RawMessage]
		opts string
	}{
		{"openai", step.InferRequest[json.RawMessage]{Body: json.RawMessage(`{"model":"m"}`)},
			`{"url":"https://api.openai.com/v1/chat/completions","format":"openai-chat","body":{"model":"m"}}`},
		{"anthropic", step.InferRequest[json.RawMessage]{Format: step.AIAnthropic, APIKey: "k-1234", Body: json.RawMessage(`{"model":"m"}`)},
			`{"url":"https://api.anthropic.com/v1/messages","headers":{"anthropic-version":"2023-06-01"},"auth_key":"k-1234","format":"anthropic","body":{"model":"m"}}`},
		{"anthropic-own-version", step.InferRequest[json.RawMessage]{Format: step.AIAnthropic, Headers: map[string]string{"Anthropic-Version": "2024-01-01"}, Body: json.RawMessage(`{}`)},
			`{"url":"https://api.anthropic.com/v1/messages","headers":{"Anthropic-Version":"2024-01-01"},"format":"anthropic","body":{}}`},
		{"gemini", step.InferRequest[json.RawMessage]{Format: step.AIGemini, URL: step.GeminiURLPrefix + "gemini-2.0-flash:generateContent", APIKey: "g-1234", Body: json.RawMessage(`{"contents":[]}`)},
			`{"url":"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent","auth_key":"g-1234","format":"gemini","body":{"contents":[]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newClient(t)
			fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				_, err := step.Infer[json.RawMessage](ctx, "ask", tc.req)
				return nil, err
			})
			ops := decodeOps(t, call{fn: "f"}.do(t, c).Body)
			require.Len(t, ops, 1)
			assert.Equal(t, "AIGateway", ops[0].Op)
			assert.JSONEq(t, tc.opts, string(ops[0].Opts))
		})
	}
}

func TestInferRejectsBadRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  step.InferRequest[any]
		want string
	}{
		{"relative URL", step.InferRequest[any]{URL: "/v1/chat", Body: map[string]any{}}, "URL"},
		{"gemini without URL", step.InferRequest[any]{Format: step.AIGemini, Body: map[string]any{}}, "URL is required"},
		{"unknown format", step.InferRequest[any]{Format: "openai", Body: map[string]any{}}, `Format "openai"`},
		{"body not an object", step.InferRequest[any]{Body: []string{"hi"}}, "JSON object"},
		{"body not JSON", step.InferRequest[any]{Body: func() {}}, "Body"},
		{"key in a header", step.InferRequest[any]{Headers: map[string]string{"authorization": "Bearer k"}, Body: map[string]any{}}, "set APIKey instead"},
		{"anthropic key in a header", step.InferRequest[any]{Format: step.AIAnthropic, Headers: map[string]string{"X-Api-Key": "k"}, Body: map[string]any{}}, `"x-api-key"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newClient(t)
			var got error
			fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				_, got = step.Infer[json.RawMessage](ctx, "ask", tc.req)
				return nil, got
			})
			r := call{fn: "f"}.do(t, c)
			require.Error(t, got)
			assert.Contains(t, got.Error(), tc.want)
			assert.True(t, inngest.IsNoRetryError(got))
			assert.Equal(t, 400, r.Status, r.Body)
		})
	}
}

// A recorded answer is decoded into the response type, without a new
// request; a json.RawMessage gets it as it is.
func TestInferReturnsTheRecordedAnswer(t *testing.T) {
	c, _ := newClient(t)
	answer := `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
	var typed step.OpenAIChatResponse
	var raw json.RawMessage
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var err error
		if typed, err = step.Infer[step.OpenAIChatResponse](ctx, "ask", chatRequest()); err != nil {
			return nil, err
		}
		if raw, err = step.Infer[json.RawMessage](ctx, "ask", chatRequest()); err != nil {
			return nil, err
		}
		return typed.Choices[0].Message.Content, nil
	})
	r := call{fn: "f", steps: map[string]string{hash("ask"): `{"data":` + answer + `}`, hash("ask", 1): `{"data":` + answer + `}`}}.do(t, c)
	requireResponse(t, r, 200, `"Hi!"`)
	assert.Equal(t, 5, typed.Usage.TotalTokens)
	assert.Equal(t, "stop", typed.Choices[0].FinishReason)
	assert.JSONEq(t, answer, string(raw))

	_, err := step.Infer[json.RawMessage](context.Background(), "x", chatRequest())
	assert.ErrorIs(t, err, errNotInFunction())
}

func errNotInFunction() error {
	_, err := step.Run(context.Background(), "x", func(context.Context) (int, error) { return 0, nil })
	return err
}

// The provider's refusal, as the server records it, reaches the
// function as a StepError with the status and the provider's message;
// an answer that echoes the API key has it removed everywhere.
func TestInferProviderErrorIsAStepError(t *testing.T) {
	c, logs := newClient(t)
	var got error
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.Infer[step.OpenAIChatResponse](ctx, "ask", chatRequest())
		return nil, got
	})
	body := `{"error":{"message":"Incorrect API key provided: ` + testKey + `.","type":"invalid_request_error","code":"invalid_api_key"}}`
	memo := fmt.Sprintf(`{"error":{"name":"AIGatewayError","message":"Error making AI request: unsuccessful status code: 401","data":%s,"stack":%q}}`, body, body)
	r := call{fn: "f", steps: map[string]string{hash("ask"): memo}}.do(t, c)

	var se *inngest.StepError
	require.ErrorAs(t, got, &se)
	assert.Equal(t, "ask", se.StepID)
	assert.Equal(t, "AIGatewayError", se.Name)
	assert.Equal(t, "Error making AI request: unsuccessful status code: 401: Incorrect API key provided: [redacted].", se.Message)
	assert.JSONEq(t, `{"error":{"message":"Incorrect API key provided: [redacted].","type":"invalid_request_error","code":"invalid_api_key"}}`, string(se.Data))
	assert.NotContains(t, se.Stack, testKey)

	// The function returned the error: the run's output names the
	// status and message, without the key.
	assert.Equal(t, 400, r.Status)
	assert.Contains(t, r.Body, "unsuccessful status code: 401: Incorrect API key provided: [redacted].")
	assert.NotContains(t, r.Body, testKey)
	assert.NotContains(t, logs.String(), testKey)
}

// The other providers' error shapes give their messages too.
func TestInferProviderMessages(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, "invalid x-api-key"},
		{`{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`, "API key not valid. Please pass a valid API key."},
		{`{"error":"model not found"}`, "model not found"},
		{`{"message":"overloaded"}`, "overloaded"},
		{`{"detail":"nothing to read"}`, ""},
	} {
		c, _ := newClient(t)
		var got error
		fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			_, got = step.Infer[json.RawMessage](ctx, "ask", chatRequest())
			return nil, got
		})
		memo := fmt.Sprintf(`{"error":{"name":"AIGatewayError","message":"Error making AI request: unsuccessful status code: 400","data":%s}}`, tc.body)
		call{fn: "f", steps: map[string]string{hash("ask"): memo}}.do(t, c)
		var se *inngest.StepError
		require.ErrorAs(t, got, &se)
		want := "Error making AI request: unsuccessful status code: 400"
		if tc.want != "" {
			want += ": " + tc.want
		}
		assert.Equal(t, want, se.Message)
	}
}

// The API key is not in the request's printed, logged or JSON forms.
func TestInferRequestHidesTheKey(t *testing.T) {
	req := chatRequest()
	req.Headers = map[string]string{"OpenAI-Organization": "org-secret"}
	b, err := json.Marshal(req)
	require.NoError(t, err)
	var logs bytesBuffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("calling", "req", req, "ptr", &req)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("calling", "req", req)
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%v", &req), string(b), logs.String()} {
		assert.NotContains(t, s, testKey)
	}
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req)} {
		assert.NotContains(t, s, "org-secret")
	}
	assert.Equal(t, `step.InferRequest{URL: "http://127.0.0.1:9/v1/chat/completions", Format: "", APIKey: [redacted], Headers: [OpenAI-Organization] (values redacted)}`, req.String())
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *bytesBuffer) String() string              { return string(w.b) }

// WrapAI runs the call as a step whose StepRun opcode carries the input
// (type step.ai.wrap), and returns the recorded result afterwards.
func TestWrapAI(t *testing.T) {
	c, _ := newClient(t)
	var runs int
	var got string
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		var err error
		got, err = step.WrapAI(ctx, "summarize", map[string]string{"prompt": "Summarize <this>"},
			func(ctx context.Context, in map[string]string) (string, error) {
				runs++
				return "summary of " + in["prompt"], nil
			})
		return got, err
	})
	ops := decodeOps(t, call{fn: "f"}.do(t, c).Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepRun", ops[0].Op)
	assert.Equal(t, `{"type":"step.ai.wrap","input":[{"prompt":"Summarize <this>"}]}`, string(ops[0].Opts))
	assert.JSONEq(t, `"summary of Summarize <this>"`, string(ops[0].Data))
	assert.Equal(t, 1, runs)

	// In a parallel phase the step is planned, with its input.
	ops = decodeOps(t, call{fn: "f", disableImmediate: true}.do(t, c).Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepPlanned", ops[0].Op)
	assert.Equal(t, `{"type":"step.ai.wrap","input":[{"prompt":"Summarize <this>"}]}`, string(ops[0].Opts))
	assert.Equal(t, 1, runs)

	// Recorded: the result, without running the call again.
	r := call{fn: "f", steps: map[string]string{hash("summarize"): `{"data":"recorded"}`}}.do(t, c)
	requireResponse(t, r, 200, `"recorded"`)
	assert.Equal(t, 1, runs)
}

// A failing call is a step error, retried like Run's; an input that
// cannot be encoded fails at once.
func TestWrapAIErrors(t *testing.T) {
	c, _ := newClient(t)
	fn(t, c, "f", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		return step.WrapAI(ctx, "call", "prompt", func(ctx context.Context, in string) (string, error) {
			return "", errors.New("model overloaded")
		})
	})
	ops := decodeOps(t, call{fn: "f"}.do(t, c).Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepError", ops[0].Op)
	assert.Equal(t, "model overloaded", ops[0].Error.Message)

	var got error
	fn(t, c, "g", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		_, got = step.WrapAI(ctx, "call", func() {}, func(ctx context.Context, in func()) (string, error) { return "", nil })
		return nil, got
	})
	r := call{fn: "g"}.do(t, c)
	assert.Equal(t, 400, r.Status)
	assert.True(t, inngest.IsNoRetryError(got))
	assert.Contains(t, got.Error(), "encoding its input")
}

// Requests the dev server sent to this SDK (testdata/captures): the
// discovery call, the call with the model's answer to "ask", and the
// call with the provider's refusal of "bad" (with no retries), whose
// message echoed the bad key.
func TestInferAgainstTheServersRequests(t *testing.T) {
	const badKey = "sk-e2e-bad-77a0f3"
	c, logs := newClient(t)
	req := func(key string) step.InferRequest[step.OpenAIChatRequest] {
		r := chatRequest()
		r.APIKey = key
		r.Body.Messages[0].Content = "Say hello in French"
		return r
	}
	fn(t, c, "infer", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		res, err := step.Infer[step.OpenAIChatResponse](ctx, "ask", req("sk-e2e-good-5b1d9c"))
		if err != nil {
			return nil, err
		}
		_, err = step.Infer[step.OpenAIChatResponse](ctx, "bad", req(badKey))
		var se *inngest.StepError
		if errors.As(err, &se) {
			return res.Choices[0].Message.Content + " / " + se.Message, nil
		}
		return nil, err
	})
	calls := loadCaptures(t, "server-infer")
	require.Len(t, calls, 3)
	op := func(id, key string) string {
		return `[{"id":"` + hash(id) + `","op":"AIGateway","name":"` + id + `","displayName":"` + id + `","opts":{"url":"http://127.0.0.1:9/v1/chat/completions","auth_key":"` + key + `","format":"openai-chat","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in French"}]}},"data":null,"userland":{"id":"` + id + `"}}]`
	}
	requireResponse(t, replay(t, c, calls[0]), 206, op("ask", "sk-e2e-good-5b1d9c"))
	requireResponse(t, replay(t, c, calls[1]), 206, op("bad", badKey))
	requireResponse(t, replay(t, c, calls[2]), 200, `"Bonjour / Error making AI request: unsuccessful status code: 401: Incorrect API key provided: [redacted]"`)
	assert.NotContains(t, logs.String(), badKey)
}
