package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
)

// putUnsigned sends an unsigned sync request (curl -X PUT) to the
// handler, with the Host header set to host when it is not empty.
func (a *app) putUnsigned(host string) (int, syncReply) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPut, a.url(), nil)
	require.NoError(a.t, err)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	var reply syncReply
	require.NoError(a.t, json.Unmarshal(rb, &reply), "sync reply: %s", rb)
	return resp.StatusCode, reply
}

// gqlApp is an app as the server's GraphQL API lists it.
type gqlApp struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Error     string `json:"error"`
	Functions []struct {
		Slug string `json:"slug"`
		URL  string `json:"url"`
	} `json:"functions"`
}

// gql runs a GraphQL query or mutation against the server (the API its
// UI uses) and decodes its data into out.
func (tg target) gql(t *testing.T, query string, out any) error {
	t.Helper()
	body, err := json.Marshal(map[string]string{"query": query})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, tg.url+"/v0/gql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(rb, &env), "GraphQL answer %d: %s", resp.StatusCode, rb)
	if len(env.Errors) > 0 {
		msgs := make([]string, len(env.Errors))
		for i, e := range env.Errors {
			msgs[i] = e.Message
		}
		return fmt.Errorf("GraphQL: %s", strings.Join(msgs, "; "))
	}
	require.NoError(t, json.Unmarshal(env.Data, out), "GraphQL data: %s", env.Data)
	return nil
}

// serverApp returns the app named name as the server lists it, if any.
func (tg target) serverApp(t *testing.T, name string) (gqlApp, bool) {
	t.Helper()
	var data struct {
		Apps []gqlApp `json:"apps"`
	}
	require.NoError(t, tg.gql(t, `{ apps { name url error functions { slug url } } }`, &data))
	for _, a := range data.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return gqlApp{}, false
}

// requireRegisteredAt checks that the server holds a's function fn at
// url, the URL the app's configuration fixes.
func requireRegisteredAt(t *testing.T, tg target, a *app, fn, url string) {
	t.Helper()
	got, ok := tg.serverApp(t, a.Client.AppID())
	require.True(t, ok, "the server has no app %s", a.Client.AppID())
	assert.Equal(t, url, got.URL)
	assert.Empty(t, got.Error)
	require.Len(t, got.Functions, 1)
	assert.Equal(t, a.Client.AppID()+"-"+fn, got.Functions[0].Slug)
	assert.Equal(t, url+"?fnId="+a.Client.AppID()+"-"+fn+"&stepId=step", got.Functions[0].URL)
}

// An app in cloud mode whose public URL is configured (ServeOrigin and
// ServePath) accepts an unsigned sync, as sent by `curl -X PUT` in a
// deploy script, and registers the configured URL, not the request's
// Host; the server then runs its functions there. Without the
// configuration the unsigned sync is refused with a 401 that says what
// to set, and the server never hears of the app.
func TestUnsignedSync(t *testing.T) {
	t.Parallel()
	tg := needSigned(t)

	t.Run("configured URL", func(t *testing.T) {
		t.Parallel()
		a := newApp(t, tg, appConfig{fixedURL: true})
		_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "hello"}, inngest.EventTrigger(a.event("go"), nil),
			func(ctx context.Context, in inngest.Input[struct{}]) (any, error) { return "hello", nil })
		require.NoError(t, err)

		status, reply := a.putUnsigned("attacker.invalid:8080")
		require.Equal(t, http.StatusOK, status, reply.Message)
		assert.Equal(t, "Successfully synced.", reply.Message)
		requireRegisteredAt(t, tg, a, "hello", a.public)

		run := tg.finished(t, a.send(a.event("go"), nil))
		assert.Equal(t, "Completed", run.Status, "output: %s", run.Output)
		assert.JSONEq(t, `"hello"`, string(run.Output))
	})

	t.Run("not configured", func(t *testing.T) {
		t.Parallel()
		a := newApp(t, tg, appConfig{})
		_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "hello"}, inngest.EventTrigger(a.event("go"), nil),
			func(ctx context.Context, in inngest.Input[struct{}]) (any, error) { return "hello", nil })
		require.NoError(t, err)

		status, reply := a.putUnsigned("")
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, reply.Message, "set INNGEST_SERVE_ORIGIN and INNGEST_SERVE_PATH")
		_, ok := tg.serverApp(t, a.Client.AppID())
		assert.False(t, ok, "the server registered an app whose sync was refused")
	})
}

// The self-hosted server's own "add app" (the UI's createApp mutation)
// sends the sync request unsigned: an app whose URL is configured, added
// at that URL, is synced; one without is refused, and the server says
// so.
func TestAddAppFromServer(t *testing.T) {
	t.Parallel()
	tg := needSigned(t)
	createApp := func(url string) (gqlApp, error) {
		var data struct {
			CreateApp gqlApp `json:"createApp"`
		}
		err := tg.gql(t, `mutation { createApp(input: {url: "`+url+`"}) { name url error functions { slug url } } }`, &data)
		return data.CreateApp, err
	}

	t.Run("configured URL", func(t *testing.T) {
		t.Parallel()
		a := newApp(t, tg, appConfig{fixedURL: true})
		_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "hello"}, inngest.EventTrigger(a.event("go"), nil),
			func(ctx context.Context, in inngest.Input[struct{}]) (any, error) { return "hello", nil })
		require.NoError(t, err)

		got, err := createApp(a.public)
		require.NoError(t, err)
		assert.Equal(t, a.Client.AppID(), got.Name)
		assert.Equal(t, a.public, got.URL)
		requireRegisteredAt(t, tg, a, "hello", a.public)
		var puts []call
		for _, c := range a.allCalls() {
			if c.Method == http.MethodPut {
				puts = append(puts, c)
			}
		}
		require.NotEmpty(t, puts)
		assert.False(t, puts[0].Signed, "the server's add-app sync is unsigned")

		run := tg.finished(t, a.send(a.event("go"), nil))
		assert.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	})

	t.Run("not configured", func(t *testing.T) {
		t.Parallel()
		a := newApp(t, tg, appConfig{})
		_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "hello"}, inngest.EventTrigger(a.event("go"), nil),
			func(ctx context.Context, in inngest.Input[struct{}]) (any, error) { return "hello", nil })
		require.NoError(t, err)
		_, err = createApp(a.url())
		require.Error(t, err)
		t.Logf("the server says: %v", err)
		_, ok := tg.serverApp(t, a.Client.AppID())
		assert.False(t, ok)
	})
}
