package inngesttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

const aiKey = "sk-engine-test-8d2f6a"

// provider is a fake model provider: it records each request and answers
// with the status and body its answer function gives.
type provider struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
}

func newProvider(t *testing.T, answer func(n int) (int, string)) *provider {
	p := &provider{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, r)
		p.bodies = append(p.bodies, string(b))
		n := len(p.reqs)
		p.mu.Unlock()
		status, body := answer(n)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

const chatAnswer = `{"id":"chatcmpl-7","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}`

// askFunction asks the model and returns its answer's text, or the
// step's error message.
func askFunction(t *testing.T, eng *inngesttest.Engine, c *inngest.Client, url string, retries int) *inngest.Function[map[string]any] {
	t.Helper()
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "ask", Retries: inngest.Ptr(retries)}, inngest.EventTrigger("shop/ask", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			res, err := step.Infer[step.OpenAIChatResponse](ctx, "ask-model", step.InferRequest[step.OpenAIChatRequest]{
				URL:     url,
				APIKey:  aiKey,
				Headers: map[string]string{"X-Team": "support"},
				Body: step.OpenAIChatRequest{
					Model:    "gpt-4o-mini",
					Messages: []step.OpenAIMessage{{Role: "user", Content: "Say hello"}},
				},
			})
			if err != nil {
				return nil, err
			}
			return res.Choices[0].Message.Content, nil
		}))
	eng.Register(c)
	return fn
}

// The engine makes the model request as the server does (a POST of the
// body with the key as a bearer token and the extra headers), and the
// function gets the provider's answer.
func TestEngineMakesTheInferenceRequest(t *testing.T) {
	p := newProvider(t, func(int) (int, string) { return 200, chatAnswer })
	eng := inngesttest.New(t, inngesttest.WithAIClient(p.srv.Client()))
	fn := askFunction(t, eng, newClient(t, eng), p.srv.URL+"/v1/chat/completions", 3)

	run := eng.Run(fn, evt("shop/ask", nil)).RequireCompleted(t).RequireOutput(t, "Hello there")
	require.Len(t, p.reqs, 1)
	req := p.reqs[0]
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "/v1/chat/completions", req.URL.Path)
	assert.Equal(t, "Bearer "+aiKey, req.Header.Get("Authorization"))
	assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
	assert.Equal(t, "support", req.Header.Get("X-Team"))
	assert.Equal(t, "Inngest", req.Header.Get("User-Agent"))
	assert.Equal(t, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`, p.bodies[0])

	st, ok := run.Step("ask-model")
	require.True(t, ok)
	assert.Equal(t, inngesttest.KindAI, st.Kind)
	assert.JSONEq(t, chatAnswer, string(st.Result))
	assert.JSONEq(t, `{"data":`+chatAnswer+`}`, string(st.Memo))
	// The step's record keeps the request but not the key, as the
	// server stores none.
	assert.JSONEq(t, `{"url":"`+p.srv.URL+`/v1/chat/completions","headers":{"X-Team":"support"},"auth_key":"[redacted]","format":"openai-chat","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}}`, string(st.Opts))
}

// Each format puts the key where its provider wants it.
func TestEngineInferenceAuthByFormat(t *testing.T) {
	for _, tc := range []struct {
		format step.AIFormat
		check  func(t *testing.T, r *http.Request)
	}{
		{step.AIAnthropic, func(t *testing.T, r *http.Request) {
			assert.Equal(t, aiKey, r.Header.Get("X-Api-Key"))
			assert.Equal(t, "2023-06-01", r.Header.Get("Anthropic-Version"))
			assert.Empty(t, r.Header.Get("Authorization"))
		}},
		{step.AIGemini, func(t *testing.T, r *http.Request) {
			assert.Equal(t, aiKey, r.URL.Query().Get("key"))
			assert.Equal(t, "1", r.URL.Query().Get("alt"))
			assert.Empty(t, r.Header.Get("Authorization"))
		}},
		{step.AIBedrock, func(t *testing.T, r *http.Request) {
			assert.Equal(t, aiKey, r.Header.Get("Authorization"))
		}},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			p := newProvider(t, func(int) (int, string) { return 200, `{"ok":true}` })
			eng := inngesttest.New(t, inngesttest.WithAIClient(p.srv.Client()))
			c := newClient(t, eng)
			fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/f", nil),
				func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
					return step.Infer[json.RawMessage](ctx, "ask", step.InferRequest[json.RawMessage]{
						URL: p.srv.URL + "/model?alt=1", Format: tc.format, APIKey: aiKey, Body: json.RawMessage(`{}`),
					})
				}))
			eng.Register(c)
			eng.Run(fn, evt("shop/f", nil)).RequireCompleted(t).RequireOutput(t, map[string]any{"ok": true})
			require.Len(t, p.reqs, 1)
			tc.check(t, p.reqs[0])
		})
	}
}

// A provider's refusal is retried with the function's retries, by
// calling the function again (which reports the step again), and then
// fails the step with the status and the provider's message; the key,
// which this provider echoes, appears in none of the run's records the
// SDK made, nor in the SDK's logs.
func TestEngineInferenceProviderError(t *testing.T) {
	refusal := `{"error":{"message":"Incorrect API key provided: ` + aiKey + `","type":"invalid_request_error","code":"invalid_api_key"}}`
	p := newProvider(t, func(int) (int, string) { return http.StatusUnauthorized, refusal })
	eng := inngesttest.New(t, inngesttest.WithAIClient(p.srv.Client()))
	logs := &testkit.LogBuffer{}
	c := must(inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}))
	fn := askFunction(t, eng, c, p.srv.URL+"/v1/chat/completions", 1)

	run := eng.Run(fn, evt("shop/ask", nil)).RequireFailed(t).
		RequireError(t, "Error making AI request: unsuccessful status code: 401: Incorrect API key provided: [redacted]")
	assert.Len(t, p.reqs, 2, "one attempt and one retry")
	st, _ := run.Step("ask-model")
	assert.Equal(t, inngesttest.StepFailed, st.Status)
	require.NotNil(t, st.Err)
	assert.Equal(t, "AIGatewayError", st.Err.Name)

	var stepErrors int
	for _, e := range run.Timeline() {
		if e.Kind == inngesttest.EntryStepError {
			stepErrors++
			assert.Equal(t, 15*time.Second, e.Delay)
		}
		assert.NotContains(t, e.Detail, aiKey)
	}
	assert.Equal(t, 1, stepErrors)
	assert.NotContains(t, string(run.Output()), aiKey)
	assert.NotContains(t, string(run.ErrorBody()), aiKey)
	assert.NotContains(t, run.Err().Error(), aiKey)
	assert.NotContains(t, string(st.Opts), aiKey)
	assert.NotContains(t, logs.String(), aiKey)
}

// A function that catches the step's error goes on; a request that
// cannot be made at all fails the step too.
func TestEngineInferenceUnreachable(t *testing.T) {
	p := newProvider(t, func(int) (int, string) { return 200, `{}` })
	url := p.srv.URL
	p.srv.Close()
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f", Retries: inngest.Ptr(0)}, inngest.EventTrigger("shop/f", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			_, err := step.Infer[json.RawMessage](ctx, "ask", step.InferRequest[json.RawMessage]{URL: url, APIKey: aiKey, Body: json.RawMessage(`{}`)})
			var se *inngest.StepError
			if errors.As(err, &se) {
				return "fallback: " + se.Message, nil
			}
			return nil, err
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/f", nil)).RequireCompleted(t)
	var out string
	require.NoError(t, json.Unmarshal(run.Output(), &out))
	assert.True(t, strings.HasPrefix(out, "fallback: Error making AI request: error performing request: "), out)
	assert.NotContains(t, out, aiKey)
}

// An AI step can be mocked like any other.
func TestEngineInferenceMock(t *testing.T) {
	eng := inngesttest.New(t)
	fn := askFunction(t, eng, newClient(t, eng), "http://127.0.0.1:1/never", 0)
	eng.Mock(inngesttest.Mock("ask-model", json.RawMessage(chatAnswer)))
	run := eng.Run(fn, evt("shop/ask", nil)).RequireCompleted(t).RequireOutput(t, "Hello there")
	run.RequireStep(t, "ask-model").Kind(inngesttest.KindAI)
}

// WrapAI is a run step whose record carries the input.
func TestEngineWrapAI(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/f", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			return step.WrapAI(ctx, "summarize", step.OpenAIChatRequest{Model: "local", Messages: []step.OpenAIMessage{{Role: "user", Content: "hi"}}},
				func(ctx context.Context, req step.OpenAIChatRequest) (string, error) {
					return "echo: " + req.Messages[0].Content, nil
				})
		}))
	eng.Register(c)
	run := eng.Run(fn, evt("shop/f", nil)).RequireCompleted(t).RequireOutput(t, "echo: hi")
	st, _ := run.Step("summarize")
	assert.Equal(t, inngesttest.KindRun, st.Kind)
	assert.JSONEq(t, `{"type":"step.ai.wrap","input":[{"model":"local","messages":[{"role":"user","content":"hi"}]}]}`, string(st.Opts))
}
