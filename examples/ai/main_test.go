package main

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
)

const testKey = "sk-test-example"

func newTestApp(t *testing.T, down *atomic.Bool) (*inngesttest.Engine, *inngest.Function[Ticket], *Desk) {
	t.Helper()
	provider := fakeProvider(testKey, down)
	t.Cleanup(provider.Close)
	eng := inngesttest.New(t, inngesttest.WithAIClient(provider.Client()))
	desk := &Desk{}
	model := Model{URL: provider.URL + "/v1/chat/completions", APIKey: testKey, Name: "small"}
	client, triage, err := newApp(inngest.ClientOpts{AppID: "support", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, model, desk)
	require.NoError(t, err)
	eng.Register(client)
	return eng, triage, desk
}

func ticket(id, text string) inngest.Event[any] {
	return inngest.Event[any]{Name: "support/ticket.created", Data: Ticket{ID: id, Email: id + "@example.com", Text: text}}
}

func TestTicketIsTriagedAndAnswered(t *testing.T) {
	var down atomic.Bool
	eng, triage, desk := newTestApp(t, &down)
	run := eng.Run(triage, ticket("t-1", "my parcel is late"))

	run.RequireCompleted(t).RequireOutput(t, map[string]any{"team": "shipping", "tokens": 31}).RequireNoFailureHandler(t)
	run.RequireStep(t, "classify").Kind(inngesttest.KindAI).Completed()
	st, _ := run.Step("draft-reply")
	assert.JSONEq(t, `{"type":"step.ai.wrap","input":[{"team":"shipping","ticket":"my parcel is late"}]}`, string(st.Opts))
	assert.Equal(t, []string{"t-1@example.com: Thanks for writing: our shipping team is on it."}, desk.Replies)
	assert.Empty(t, desk.Escalated)
}

func TestModelDownEscalatesAfterRetries(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	eng, triage, desk := newTestApp(t, &down)
	run := eng.Run(triage, ticket("t-2", "I was charged twice"))

	const msg = "Error making AI request: unsuccessful status code: 503: the model is overloaded, try again later"
	run.RequireFailed(t).RequireError(t, msg).RequireFailureHandlerRan(t)
	// Three attempts (Retries: 2), with the server's backoff between them.
	run.RequireElapsed(t, 15*time.Second+30*time.Second)
	run.RequireNoStep(t, "send-reply")
	assert.Equal(t, []string{"t-2 (failed at classify: " + msg + ")"}, desk.Escalated)
	assert.Empty(t, desk.Replies)
	assert.NotContains(t, string(run.ErrorBody()), testKey)
}

func TestSimulate(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, simulate(&out))
	assert.Equal(t, `1. The model names the team and the customer gets a reply.
  support-triage-ticket: Completed {"team":"billing","tokens":31} after 0s
2. The model is down: the request is retried twice, then a person takes the ticket.
  support-triage-ticket: Failed (Error making AI request: unsuccessful status code: 503: the model is overloaded, try again later) after 45s
  then support-triage-ticket-failure: Completed

Replies: t-1@example.com: Thanks for writing: our billing team is on it.
Escalated: t-2 (failed at classify: Error making AI request: unsuccessful status code: 503: the model is overloaded, try again later)
`, out.String())
}
