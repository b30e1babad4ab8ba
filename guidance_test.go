package inngest_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unusedPortURL returns the URL of a local port nothing listens on.
func unusedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	return u
}

func TestSendSaysTheDevServerIsNotRunning(t *testing.T) {
	t.Parallel()
	url := unusedPortURL(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, BaseURL: url, Logger: testkit.QuietLogger()})
	require.NoError(t, err)

	_, err = c.Send(context.Background(), inngest.Event[any]{Name: "shop/order.placed"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Inngest dev server is not reachable at "+url+": start it with `npx inngest-cli@latest dev`")
	var op *net.OpError
	assert.ErrorAs(t, err, &op, "the network error stays in the chain")
}

func TestSyncSaysTheDevServerIsNotRunning(t *testing.T) {
	t.Parallel()
	url := unusedPortURL(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, BaseURL: url, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/x", nil),
		func(context.Context, inngest.Input[any]) (any, error) { return nil, nil })
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://127.0.0.1:3000/api/inngest", nil))

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var reply struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &reply))
	assert.Contains(t, reply.Message, "the Inngest dev server is not reachable at "+url+": start it with `npx inngest-cli@latest dev`")
}

// In cloud mode an unreachable API is not the dev server: no hint.
func TestCloudModeUnreachableHasNoDevServerHint(t *testing.T) {
	t.Parallel()
	url := unusedPortURL(t)
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "shop",
		Mode:       inngest.ModeCloud,
		SigningKey: "signkey-test-12345678",
		EventKey:   "key",
		BaseURL:    url,
		Logger:     testkit.QuietLogger(),
	})
	require.NoError(t, err)
	_, err = c.Send(context.Background(), inngest.Event[any]{Name: "shop/order.placed"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "dev server")
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
}

// The first mistakes a newcomer makes get errors that say what to do.
func TestFirstMistakesSayWhatToDo(t *testing.T) {
	for _, name := range []string{"INNGEST_DEV", "INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY", "INNGEST_BASE_URL"} {
		t.Setenv(name, "")
	}
	noop := func(context.Context, inngest.Input[any]) (any, error) { return nil, nil }

	_, err := inngest.NewClient(inngest.ClientOpts{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `ClientOpts.AppID is required`)
	assert.Contains(t, err.Error(), `inngest.ClientOpts{AppID: "billing"}`)

	_, err = inngest.NewClient(inngest.ClientOpts{AppID: "shop"})
	require.Error(t, err, "cloud mode without a signing key")
	assert.Contains(t, err.Error(), "set INNGEST_SIGNING_KEY")
	assert.Contains(t, err.Error(), "set INNGEST_DEV=1")

	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, nil, noop)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `a function needs at least one trigger: inngest.EventTrigger("app/event.name", nil)`)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{}, inngest.EventTrigger("shop/x", nil), noop)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `an ID is required, for example FunctionOpts{ID: "charge-invoice"}`)

	cloud, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", SigningKey: "signkey-test-12345678"})
	require.NoError(t, err)
	_, err = cloud.Send(context.Background(), inngest.Event[any]{Name: "shop/x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set INNGEST_EVENT_KEY")
}
