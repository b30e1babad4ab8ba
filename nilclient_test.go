package inngest_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's mistake: NewClient's error dropped, so the client is nil.
// Its handler answers every request with a 500 that says so, and never
// panics; so do the methods that can fail.
func TestNilClient(t *testing.T) {
	testkit.IsolateEnv(t)
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "billing"}) // cloud mode, no signing key
	require.Error(t, err)
	require.Nil(t, client)

	const want = "the *inngest.Client is nil: inngest.NewClient returned an error that was not checked; " +
		"check the error NewClient returns (it says what is missing, for example a signing key)"
	// Serve logs the mistake once, at start-up, with the default logger:
	// a nil Client has no other.
	logger, logs := testkit.RecordingLogger()
	prev := slog.Default()
	slog.SetDefault(logger)
	h := client.Serve()
	slog.SetDefault(prev)
	assert.Contains(t, logs.String(), `level=ERROR msg="inngest: Serve: `+want+`; the handler answers every request with 500"`)
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		rec := httptest.NewRecorder()
		require.NotPanics(t, func() {
			h.ServeHTTP(rec, httptest.NewRequest(method, "http://app.example.com/api/inngest?fnId=billing-x", nil))
		}, method)
		assert.Equal(t, http.StatusInternalServerError, rec.Code, method)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		var body struct {
			Error string `json:"error"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
		assert.Equal(t, "inngest: Serve: "+want, body.Error, method)
	}

	_, err = client.Send(context.Background(), inngest.Event[any]{Name: "billing/x"})
	assert.EqualError(t, err, "inngest: Send: "+want)
	_, err = client.SendSignal(context.Background(), "sig", nil)
	assert.EqualError(t, err, "inngest: SendSignal: "+want)
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("billing/x", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	assert.EqualError(t, err, "inngest: CreateFunction: "+want)
	_, err = inngest.CreateFailureFunction(client, inngest.FunctionOpts{ID: "alerts"}, inngest.FailureFilter{},
		func(ctx context.Context, f inngest.Failure[any]) (any, error) { return nil, nil })
	assert.EqualError(t, err, "inngest: CreateFailureFunction: "+want)
	assert.Equal(t, "", client.AppID())
	assert.Equal(t, inngest.ModeAuto, client.Mode())
	assert.Equal(t, "", client.APIBaseURL())
	assert.Equal(t, "", client.EventAPIBaseURL())
}

// A Client that NewClient did not make (its zero value) is refused the
// same way.
func TestZeroClient(t *testing.T) {
	var client inngest.Client
	const want = "the inngest.Client was not created by inngest.NewClient; create it with NewClient"
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	h := client.Serve()
	slog.SetDefault(prev)
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://app.example.com/api/inngest", nil))
	})
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, `{"error":"inngest: Serve: `+want+`"}`, rec.Body.String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := client.Send(ctx, inngest.Event[any]{Name: "billing/x"})
	assert.EqualError(t, err, "inngest: Send: "+want)
	_, err = client.SendSignal(ctx, "sig", nil)
	assert.EqualError(t, err, "inngest: SendSignal: "+want)
	_, err = inngest.CreateFunction(&client, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("billing/x", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) { return nil, nil })
	assert.EqualError(t, err, "inngest: CreateFunction: "+want)
}
