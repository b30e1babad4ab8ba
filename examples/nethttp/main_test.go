package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestServer serves the app's mux over real HTTP with httptest, and
// wires its Inngest client to the engine, which receives the events the
// routes send and runs the functions they trigger.
func newTestServer(t *testing.T) (*httptest.Server, *inngesttest.Engine, *Mailer) {
	t.Helper()
	eng := inngesttest.New(t)
	mailer := &Mailer{}
	client, err := newApp(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, mailer)
	require.NoError(t, err)
	eng.Register(client)
	srv := httptest.NewServer(newMux(client))
	t.Cleanup(srv.Close)
	return srv, eng, mailer
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestHealthz(t *testing.T) {
	srv, _, _ := newTestServer(t)
	code, body := do(t, http.MethodGet, srv.URL+"/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
}

func TestPlacingAnOrderRunsTheConfirmation(t *testing.T) {
	srv, eng, mailer := newTestServer(t)

	code, body := do(t, http.MethodPost, srv.URL+"/orders", `{"order_id":"o-7","email":"ada@example.com"}`)
	require.Equal(t, http.StatusAccepted, code, body)
	var reply struct {
		OrderID string `json:"order_id"`
		EventID string `json:"event_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &reply))
	assert.Equal(t, "o-7", reply.OrderID)

	eng.Wait() // run everything the event triggered
	runs := eng.RunsOf(inngesttest.FunctionID("shop-confirm-order"))
	require.Len(t, runs, 1)
	runs[0].RequireCompleted(t).RequireOutput(t, "Order o-7 confirmed")
	// The run was started by the event the route sent.
	var evt struct {
		ID   string `json:"id"`
		Data Order  `json:"data"`
	}
	require.NoError(t, json.Unmarshal(runs[0].Event(), &evt))
	assert.Equal(t, reply.EventID, evt.ID)
	assert.Equal(t, Order{OrderID: "o-7", Email: "ada@example.com"}, evt.Data)
	assert.Equal(t, []string{"ada@example.com: Order o-7 confirmed"}, mailer.Sent)
}

func TestBadOrderSendsNoEvent(t *testing.T) {
	srv, eng, _ := newTestServer(t)
	code, _ := do(t, http.MethodPost, srv.URL+"/orders", `{"order_id":"o-8"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = do(t, http.MethodGet, srv.URL+"/orders", "")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	eng.Wait()
	assert.Empty(t, eng.Runs())
	assert.Empty(t, eng.EventsNamed("shop/order.placed"))
}

// refusing answers every request to Inngest with 401.
type refusing struct{}

func (refusing) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusUnauthorized, Body: io.NopCloser(strings.NewReader(`{"error":"bad key"}`)), Header: http.Header{}}, nil
}

func TestOrderWhoseEventIsRefused(t *testing.T) {
	client, err := newApp(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: &http.Client{Transport: refusing{}}}, &Mailer{})
	require.NoError(t, err)
	srv := httptest.NewServer(newMux(client))
	defer srv.Close()
	code, _ := do(t, http.MethodPost, srv.URL+"/orders", `{"order_id":"o-9","email":"ada@example.com"}`)
	assert.Equal(t, http.StatusBadGateway, code)
}

// Inngest's route sits next to the others, with and without a trailing
// slash: GET answers introspection.
func TestInngestRouteIsMounted(t *testing.T) {
	srv, _, _ := newTestServer(t)
	for _, path := range []string{"/api/inngest", "/api/inngest/"} {
		code, body := do(t, http.MethodGet, srv.URL+path, "")
		require.Equal(t, http.StatusOK, code, path)
		var info struct {
			FunctionCount int `json:"function_count"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &info), path)
		assert.Equal(t, 1, info.FunctionCount, path)
	}
}

func TestSimulate(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, simulate(&out))
	assert.Contains(t, out.String(), "POST /orders -> 202")
	assert.Contains(t, out.String(), `shop-confirm-order: Completed "Order o-1 confirmed"`)
}
