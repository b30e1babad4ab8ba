// Command ai triages support tickets with a model: step.Infer has Inngest
// make the model request (the function holds no process while the model
// works, and the request and answer are recorded in the run), step.WrapAI
// records a model call the app makes itself, and a failure handler
// (inngest.OnFailure) hands the ticket to a person when the model cannot
// be reached or refuses the request.
//
// With no Inngest server configured it runs two tickets on the in-process
// engine, against a stand-in for an OpenAI-compatible provider, and prints
// what happened to each:
//
//	go run ./examples/ai
//
// With INNGEST_DEV=1 (or INNGEST_SIGNING_KEY) it serves the app on
// http://127.0.0.1:3000/api/inngest instead (ADDR changes the address),
// asking the provider at OPENAI_BASE_URL (default https://api.openai.com)
// with the key OPENAI_API_KEY.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// Ticket is the data of the support/ticket.created event.
type Ticket struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Text  string `json:"text"`
}

// Model says where the model is and how to reach it; it is resolved once,
// at start-up.
type Model struct {
	URL    string // the chat-completions endpoint
	APIKey string
	Name   string
}

// Desk stands in for the help desk: the replies sent and the tickets
// handed to a person.
type Desk struct {
	mu        sync.Mutex
	Replies   []string
	Escalated []string
}

func (d *Desk) record(list *[]string, v string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	*list = append(*list, v)
}

// newApp returns the app's client and its triage function.
func newApp(opts inngest.ClientOpts, model Model, desk *Desk) (*inngest.Client, *inngest.Function[Ticket], error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, nil, err
	}
	triage, err := inngest.CreateFunction(client,
		inngest.FunctionOpts{
			ID:      "triage-ticket",
			Retries: inngest.Ptr(2),
			// Runs once when the run failed: a person takes the ticket.
			OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[Ticket]) (any, error) {
				_, err := step.Run(ctx, "escalate", func(ctx context.Context) (bool, error) {
					desk.record(&desk.Escalated, fmt.Sprintf("%s (failed at %s: %s)", f.Event.Data.ID, f.StepID, f.Error.Message))
					return true, nil
				})
				return nil, err
			}),
		},
		inngest.EventTrigger("support/ticket.created", nil),
		func(ctx context.Context, in inngest.Input[Ticket]) (any, error) {
			t := in.Event.Data
			// Inngest calls the model; a refusal is retried like a step,
			// and when the retries are used up, returning the
			// *inngest.StepError fails the run.
			res, err := step.Infer[step.OpenAIChatResponse](ctx, "classify", step.InferRequest[step.OpenAIChatRequest]{
				URL:    model.URL,
				APIKey: model.APIKey,
				Body: step.OpenAIChatRequest{
					Model: model.Name,
					Messages: []step.OpenAIMessage{
						{Role: "system", Content: "Name the team for this ticket, in one word: billing, shipping or other."},
						{Role: "user", Content: t.Text},
					},
				},
			})
			if err != nil {
				return nil, err
			}
			if len(res.Choices) == 0 {
				return nil, inngest.NoRetryError(errors.New("the model gave no answer"))
			}
			team := strings.ToLower(strings.TrimSpace(res.Choices[0].Message.Content))

			// A call the app makes itself (here a template; a local model
			// or another provider's SDK in practice), recorded with its
			// input for the run view.
			reply, err := step.WrapAI(ctx, "draft-reply", map[string]string{"team": team, "ticket": t.Text},
				func(ctx context.Context, in map[string]string) (string, error) {
					return fmt.Sprintf("Thanks for writing: our %s team is on it.", in["team"]), nil
				})
			if err != nil {
				return nil, err
			}
			if _, err := step.Run(ctx, "send-reply", func(ctx context.Context) (bool, error) {
				desk.record(&desk.Replies, t.Email+": "+reply)
				return true, nil
			}); err != nil {
				return nil, err
			}
			return map[string]any{"team": team, "tokens": res.Usage.TotalTokens}, nil
		})
	if err != nil {
		return nil, nil, err
	}
	return client, triage, nil
}

func main() {
	var err error
	if os.Getenv("INNGEST_DEV") != "" || os.Getenv("INNGEST_SIGNING_KEY") != "" {
		err = serve()
	} else {
		err = simulate(os.Stdout)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve() error {
	base := os.Getenv("OPENAI_BASE_URL")
	if base == "" {
		base = "https://api.openai.com"
	}
	key := os.Getenv("OPENAI_API_KEY")
	if key == "" {
		return errors.New("set OPENAI_API_KEY to the provider's API key")
	}
	model := Model{URL: strings.TrimSuffix(base, "/") + "/v1/chat/completions", APIKey: key, Name: "gpt-4o-mini"}
	client, _, err := newApp(inngest.ClientOpts{AppID: "support"}, model, &Desk{})
	if err != nil {
		return err
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	mux := http.NewServeMux()
	mux.Handle("/api/inngest", client.Serve())
	fmt.Printf("Serving the support app (%s mode) at http://%s/api/inngest\n", client.Mode(), addr)
	return http.ListenAndServe(addr, mux)
}

// fakeProvider stands in for an OpenAI-compatible provider: it names the
// team from the ticket's words, and refuses every request while down.
func fakeProvider(key string, down *atomic.Bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"invalid API key"}}`)
			return
		}
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"the model is overloaded, try again later"}}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		team := "other"
		switch {
		case strings.Contains(string(body), "charged"):
			team = "billing"
		case strings.Contains(string(body), "parcel"):
			team = "shipping"
		}
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","model":"small","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":1,"total_tokens":31}}`, team)
	}))
}

// simulate runs two tickets on the in-process engine and prints what
// happened to w.
func simulate(w io.Writer) error {
	const key = "sk-local-example"
	var down atomic.Bool
	provider := fakeProvider(key, &down)
	defer provider.Close()

	eng := inngesttest.New(nil, inngesttest.WithAIClient(provider.Client()))
	desk := &Desk{}
	model := Model{URL: provider.URL + "/v1/chat/completions", APIKey: key, Name: "small"}
	client, triage, err := newApp(inngest.ClientOpts{AppID: "support", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, model, desk)
	if err != nil {
		return err
	}
	eng.Register(client)

	report := func(title string, r *inngesttest.Run) {
		fmt.Fprintf(w, "%s\n  %s: %s", title, r.FunctionID(), r.Status())
		if out := r.Output(); out != nil {
			fmt.Fprintf(w, " %s", out)
		}
		if e := r.Err(); e != nil {
			fmt.Fprintf(w, " (%s)", e.Message)
		}
		fmt.Fprintf(w, " after %s\n", r.Elapsed())
		for _, h := range r.FailureHandlers() {
			fmt.Fprintf(w, "  then %s: %s\n", h.FunctionID(), h.Status())
		}
	}
	ticket := func(id, text string) inngest.Event[any] {
		return inngest.Event[any]{Name: "support/ticket.created", Data: Ticket{ID: id, Email: id + "@example.com", Text: text}}
	}

	report("1. The model names the team and the customer gets a reply.", eng.Run(triage, ticket("t-1", "I was charged twice")))
	down.Store(true)
	report("2. The model is down: the request is retried twice, then a person takes the ticket.", eng.Run(triage, ticket("t-2", "Where is my parcel?")))

	fmt.Fprintf(w, "\nReplies: %s\nEscalated: %s\n", strings.Join(desk.Replies, "; "), strings.Join(desk.Escalated, "; "))
	return nil
}
