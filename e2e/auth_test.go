package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
)

// needSigned skips t unless the server under test signs its requests.
func needSigned(t *testing.T) target {
	t.Helper()
	tg := needServer(t)
	if !tg.signed() {
		t.Skip("signed mode only: set " + envSigningKey + " and " + envEventKey + " for an `inngest start` server")
	}
	return tg
}

// wrongKey is a well-formed signing key the server does not know.
func wrongKey() string { return "signkey-test-" + randomHex(32) }

// With a signing key the server does not know, the SDK's sync is refused
// by the server.
func TestWrongKeySyncRefused(t *testing.T) {
	t.Parallel()
	tg := needSigned(t)
	key := wrongKey()
	a := newApp(t, tg, appConfig{signingKey: key})
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "never-synced"}, inngest.EventTrigger(a.event("x"), nil),
		func(ctx context.Context, in inngest.Input[struct{}]) (any, error) { return nil, nil })
	require.NoError(t, err)

	// A sync request signed with the server's key is refused by the SDK,
	// which holds another key.
	status, reply := a.put(tg.signingKey)
	assert.Equal(t, http.StatusUnauthorized, status, reply.Message)
	assert.False(t, reply.Modified)

	// Signed with the SDK's own key, the request gets through to the SDK,
	// whose registration the server refuses.
	status, reply = a.put(key)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, reply.Message, "answered 401")
	assert.False(t, reply.Modified)
}

// An app synced with the right key but served by an SDK holding another
// key refuses the server's calls: no user code runs and the run fails.
func TestWrongKeyCallsRefused(t *testing.T) {
	t.Parallel()
	tg := needSigned(t)
	bad := newApp(t, tg, appConfig{signingKey: wrongKey()})
	// good has the same app ID and functions, and syncs them with the
	// right key at bad's URL.
	good := newApp(t, tg, appConfig{serveOrigin: bad.srv.URL})
	var ran counter
	for _, a := range []*app{bad, good} {
		_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "guarded", Retries: inngest.Ptr(1)}, inngest.EventTrigger(a.event("go"), nil),
			func(ctx context.Context, in inngest.Input[struct{}]) (any, error) {
				ran.inc()
				return "ran", nil
			})
		require.NoError(t, err)
	}
	good.sync()

	run := tg.finished(t, good.send(good.event("go"), nil))
	assert.Equal(t, "Failed", run.Status, "output: %s", run.Output)
	t.Logf("the server recorded: %s", run.Output)
	assert.Equal(t, 0, ran.get(), "user code ran")
	calls := bad.callsTo("guarded")
	require.Len(t, calls, 2, "Retries 1: two refused attempts")
	for _, c := range calls {
		assert.True(t, c.Signed)
		assert.Equal(t, http.StatusUnauthorized, c.Status)
	}
	assert.Empty(t, good.callsTo("guarded"))
}
