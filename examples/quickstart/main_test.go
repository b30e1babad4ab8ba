package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWelcomeEmails(t *testing.T) {
	eng := inngesttest.New(t)
	client, fn, err := newApp(inngest.ClientOpts{AppID: "quickstart", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	eng.Register(client)

	run := eng.Run(fn, inngest.Event[any]{Name: "app/user.signed_up", Data: SignUp{Email: "ada@example.com"}})

	run.RequireCompleted(t).
		RequireOutput(t, []string{
			`sent "Welcome aboard!" to ada@example.com`,
			`sent "Three tips to get started" to ada@example.com`,
		}).
		RequireElapsed(t, 24*time.Hour)
	run.RequireStep(t, "send-welcome").Kind(inngesttest.KindRun).Attempts(1).Completed()
	run.RequireStep(t, "wait-a-day").Kind(inngesttest.KindSleep).Duration(24 * time.Hour)
	run.RequireStep(t, "send-tips").Attempts(1).Completed()
}

// The event triggers the function: an event sent to the engine starts a
// run, as it would on Inngest.
func TestSignUpEventTriggersTheFunction(t *testing.T) {
	eng := inngesttest.New(t)
	client, _, err := newApp(inngest.ClientOpts{AppID: "quickstart", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	eng.Register(client)

	runs := eng.Send(
		inngest.Event[any]{Name: "app/user.signed_up", Data: SignUp{Email: "bob@example.com"}},
		inngest.Event[any]{Name: "app/user.deleted", Data: SignUp{Email: "eve@example.com"}},
	)
	require.Len(t, runs, 1)
	eng.Wait(runs...)
	runs[0].RequireCompleted(t)
	runs[0].RequireStep(t, "send-tips").Result(`sent "Three tips to get started" to bob@example.com`)
}

// What serve mounts answers Inngest's introspection request.
func TestServedHandler(t *testing.T) {
	client, _, err := newApp(inngest.ClientOpts{AppID: "quickstart", Mode: inngest.ModeDev})
	require.NoError(t, err)
	srv := httptest.NewServer(client.Serve())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var info struct {
		FunctionCount int    `json:"function_count"`
		Mode          string `json:"mode"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	assert.Equal(t, 1, info.FunctionCount)
	assert.Equal(t, "dev", info.Mode)
}

func TestRunOnce(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, runOnce(&out))
	assert.Contains(t, out.String(), "quickstart-welcome-emails: Completed after 24h0m0s of virtual time")
	assert.Contains(t, out.String(), `sleep "wait-a-day" (24h0m0s)`)
}
