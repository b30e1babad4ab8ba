package step_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

type Ticket struct {
	Text string `json:"text"`
}

// newSupport returns a dev-mode client whose events and API calls go to
// the engine instead of an Inngest server.
func newSupport(eng *inngesttest.Engine) *inngest.Client {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "support", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	if err != nil {
		panic(err)
	}
	return client
}

func ExampleInfer() {
	// A stand-in for an OpenAI-compatible provider.
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer sk-example" || strings.Contains(string(body), `"content":""`) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"a message has no content"}}`)
			return
		}
		io.WriteString(w, `{"id":"c1","model":"small","choices":[{"index":0,"message":{"role":"assistant","content":"billing"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}`)
	}))
	defer model.Close()

	apiKey := "sk-example" // in production: from the environment, read once at start-up

	// The engine makes the model request, as Inngest does in production.
	eng := inngesttest.New(nil, inngesttest.WithAIClient(model.Client()))
	client := newSupport(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "triage", Retries: inngest.Ptr(0)},
		inngest.EventTrigger("support/ticket.created", nil),
		func(ctx context.Context, in inngest.Input[Ticket]) (any, error) {
			res, err := step.Infer[step.OpenAIChatResponse](ctx, "classify", step.InferRequest[step.OpenAIChatRequest]{
				URL:    model.URL + "/v1/chat/completions", // empty: OpenAI's
				APIKey: apiKey,
				Body: step.OpenAIChatRequest{
					Model: "small",
					Messages: []step.OpenAIMessage{
						{Role: "system", Content: "Answer with one word: the ticket's team."},
						{Role: "user", Content: in.Event.Data.Text},
					},
				},
			})
			if err != nil {
				return nil, err // a *inngest.StepError once the retries are used up
			}
			return fmt.Sprintf("%s (%d tokens)", res.Choices[0].Message.Content, res.Usage.TotalTokens), nil
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Ticket{Text: "I was charged twice"}})
	st, _ := run.Step("classify")
	fmt.Println(st.Kind, run.Status(), string(run.Output()))

	run = eng.Run(fn, inngest.Event[any]{Data: Ticket{Text: ""}})
	fmt.Println(run.Status(), run.Err().Message)
	// Output:
	// ai Completed "billing (13 tokens)"
	// Failed Error making AI request: unsuccessful status code: 400: a message has no content
}

func ExampleWrapAI() {
	eng := inngesttest.New(nil)
	client := newSupport(eng)
	fn, err := inngest.CreateFunction(client, inngest.FunctionOpts{ID: "summarize"},
		inngest.EventTrigger("support/ticket.created", nil),
		func(ctx context.Context, in inngest.Input[Ticket]) (any, error) {
			// The model call, through any provider's SDK; Inngest records
			// the request beside the answer in the run view.
			req := step.AnthropicRequest{
				Model:     "claude-haiku",
				MaxTokens: 100,
				Messages:  []step.AnthropicMessage{{Role: "user", Content: []step.AnthropicContent{{Type: "text", Text: in.Event.Data.Text}}}},
			}
			return step.WrapAI(ctx, "summarize", req, func(ctx context.Context, req step.AnthropicRequest) (string, error) {
				return "summary: " + req.Messages[0].Content[0].Text, nil // call the model here
			})
		})
	if err != nil {
		panic(err)
	}
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Data: Ticket{Text: "printer on fire"}})
	st, _ := run.Step("summarize")
	fmt.Println(string(run.Output()))
	fmt.Println(string(st.Opts))
	// Output:
	// "summary: printer on fire"
	// {"type":"step.ai.wrap","input":[{"model":"claude-haiku","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"printer on fire"}]}]}]}
}
