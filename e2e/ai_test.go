package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// fakeModel is an OpenAI-compatible provider on loopback: it answers a
// chat completion for the right key and refuses any other key, with a
// message that echoes the key it got (as some providers do).
type fakeModel struct {
	srv     *httptest.Server
	mu      sync.Mutex
	headers []http.Header
	bodies  []string
}

const goodKey, badKey = "sk-e2e-good-5b1d9c", "sk-e2e-bad-77a0f3"

func newFakeModel(t *testing.T) *fakeModel {
	m := &fakeModel{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.headers = append(m.headers, r.Header.Clone())
		m.bodies = append(m.bodies, string(b))
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"message":"no such endpoint"}}`)
			return
		}
		if key := r.Header.Get("Authorization"); key != "Bearer "+goodKey {
			w.WriteHeader(http.StatusUnauthorized)
			msg, _ := json.Marshal("Incorrect API key provided: " + key[len("Bearer "):])
			_, _ = io.WriteString(w, `{"error":{"message":`+string(msg)+`,"type":"invalid_request_error","code":"invalid_api_key"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"chatcmpl-e2e","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Bonjour"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeModel) requests() ([]http.Header, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]http.Header(nil), m.headers...), append([]string(nil), m.bodies...)
}

// The server makes the model request of step.Infer and the function
// receives the provider's answer; a provider's refusal is retried with
// the function's retries and then fails the step with the status and the
// provider's message, and the API key is in neither run's output. The run view's
// trace shows the inference as an AI_GATEWAY step, and a WrapAI step
// beside it.
func TestInfer(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	model := newFakeModel(t)
	a := newApp(t, tg, appConfig{})
	ask := func(ctx context.Context, key string) (step.OpenAIChatResponse, error) {
		return step.Infer[step.OpenAIChatResponse](ctx, "translate", step.InferRequest[step.OpenAIChatRequest]{
			URL:     model.srv.URL + "/v1/chat/completions",
			APIKey:  key,
			Headers: map[string]string{"X-Request-Source": "e2e"},
			Body: step.OpenAIChatRequest{
				Model:    "gpt-4o-mini",
				Messages: []step.OpenAIMessage{{Role: "user", Content: "Say hello in French"}},
			},
		})
	}
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "translate"}, inngest.EventTrigger(a.event("translate"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			res, err := ask(ctx, goodKey)
			if err != nil {
				return nil, err
			}
			word := res.Choices[0].Message.Content
			shout, err := step.WrapAI(ctx, "shout", word, func(ctx context.Context, w string) (string, error) {
				return w + "!", nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"answer": shout, "tokens": res.Usage.TotalTokens}, nil
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "translate-bad-key", Retries: inngest.Ptr(1)}, inngest.EventTrigger(a.event("bad"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
			_, err := ask(ctx, badKey)
			return "unreachable", err
		})
	require.NoError(t, err)
	a.sync()

	good := a.send(a.event("translate"), nil)
	bad := a.send(a.event("bad"), nil)

	run := tg.finished(t, good)
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"answer":"Bonjour!","tokens":10}`, string(run.Output))

	failed := tg.finished(t, bad)
	require.Equal(t, "Failed", failed.Status, "output: %s", failed.Output)
	var out struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(failed.Output, &out), "%s", failed.Output)
	assert.Equal(t, "AIGatewayError", out.Name)
	assert.Equal(t, "Error making AI request: unsuccessful status code: 401: Incorrect API key provided: [redacted]", out.Message)
	assert.NotContains(t, string(failed.Output), badKey)
	assert.NotContains(t, string(run.Output), goodKey)

	// The requests the server made, with the key where the format puts
	// it: one for the good key; for the bad one, the attempt and its one
	// retry, for which the server called the function again (which
	// reported the step again), as inngesttest does.
	headers, bodies := model.requests()
	require.Len(t, bodies, 3)
	byKey := map[string][]http.Header{}
	for i, h := range headers {
		byKey[h.Get("Authorization")] = append(byKey[h.Get("Authorization")], h)
		assert.JSONEq(t, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in French"}]}`, bodies[i])
	}
	require.Len(t, byKey["Bearer "+goodKey], 1)
	require.Len(t, byKey["Bearer "+badKey], 2)
	assert.Equal(t, "e2e", byKey["Bearer "+goodKey][0].Get("X-Request-Source"))
	assert.Equal(t, "application/json", byKey["Bearer "+goodKey][0].Get("Content-Type"))
	assert.Len(t, a.callsTo("translate-bad-key"), 3, "the attempt, its retry, and the call that got the error")

	var root traceSpan
	tg.eventually(t, "the run's trace with its AI step", func() (bool, string) {
		var err error
		if root, err = tg.runTrace(t, run.RunID); err != nil {
			return false, err.Error()
		}
		dump, _ := json.Marshal(root)
		ended := map[string]bool{}
		for _, s := range root.Children {
			if (s.Name == "translate" || s.Name == "shout") && s.EndedAt != nil {
				ended[s.Name] = true
			}
		}
		return root.EndedAt != nil && len(ended) == 2, string(dump)
	})
	dump, _ := json.Marshal(root)
	ops := map[string]string{}
	for _, s := range root.Children {
		if s.StepOp != nil {
			ops[s.Name] = *s.StepOp
		}
	}
	assert.Equal(t, "AI_GATEWAY", ops["translate"], "%s", dump)
	assert.Equal(t, "RUN", ops["shout"], "%s", dump)
}
