package inngest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routed is an app served by a real HTTP server behind a router, with
// a fake Inngest API that records what the sync registers.
type routed struct {
	srv *httptest.Server
	api *testkit.FakeAPI
	c   *inngest.Client
	tls bool
}

// newRouted starts the app "shop" with one function, "greet", mounted by
// mount on a real server (TLS and HTTP/2 when tls is set).
func newRouted(t *testing.T, opts inngest.ClientOpts, tls bool, mount func(h http.Handler) http.Handler) *routed {
	t.Helper()
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	opts.AppID, opts.Mode, opts.SigningKey, opts.APIBaseURL = "shop", inngest.ModeCloud, protoKey, api.URL
	c := testClient(t, opts)
	_, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "greet"}, inngest.EventTrigger("shop/greet", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return "hello", nil })
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(mount(c.Serve()))
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &routed{srv: srv, api: api, c: c, tls: tls}
}

// do sends a request signed with the app's key to the server.
func (a *routed) do(t *testing.T, method, url string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sig, err := inngest.Sign(protoKey, time.Now(), body)
	require.NoError(t, err)
	req.Header.Set("X-Inngest-Signature", sig)
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if a.tls {
		require.Equal(t, 2, resp.ProtoMajor, "HTTP/2")
	}
	rb, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(rb)
}

// syncAndCall syncs the app with a PUT to path and checks that the URL
// registered is the one the PUT came in on, then calls the function at
// its registered step URL, as Inngest would, and checks that it ran.
func (a *routed) syncAndCall(t *testing.T, path string) {
	t.Helper()
	resp, body := a.do(t, http.MethodPut, a.srv.URL+path, []byte(`{"url":"`+a.srv.URL+path+`"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	reqs := a.api.Requests()
	require.NotEmpty(t, reqs)
	var reg struct {
		URL       string `json:"url"`
		Functions []struct {
			ID    string `json:"id"`
			Steps map[string]struct {
				Runtime struct {
					URL string `json:"url"`
				} `json:"runtime"`
			} `json:"steps"`
		} `json:"functions"`
	}
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &reg))
	assert.Equal(t, a.srv.URL+path, reg.URL, "the registered URL is the one the sync came in on")
	require.Len(t, reg.Functions, 1)
	stepURL := reg.Functions[0].Steps["step"].Runtime.URL
	assert.Equal(t, a.srv.URL+path+"?fnId=shop-greet&stepId=step", stepURL)

	call := []byte(`{"event":{"name":"shop/greet","data":{}},"events":[{"name":"shop/greet","data":{}}],"steps":{},` +
		`"ctx":{"run_id":"01JROUTER0000000000000000","attempt":0,"stack":{"stack":[]}},"version":2}`)
	resp, body = a.do(t, http.MethodPost, stepURL, call)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the call at the registered URL reaches the function: %s", body)
	assert.Equal(t, `"hello"`, body)
	assert.Equal(t, "go-inngest:v"+inngest.Version, resp.Header.Get("X-Inngest-Sdk"), "the answer is the SDK's, not the router's")
}

// Mounted the ways Go apps mount handlers, the sync registers the URL
// the request really came in on, whatever the router did to
// r.URL.Path, and Inngest's calls at that URL reach the function.
func TestSyncBehindStdlibRouters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tls   bool
		mount func(h http.Handler) http.Handler
		paths []string
	}{
		{"StripPrefix", false, func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("/inngest", h)
			outer := http.NewServeMux()
			outer.Handle("/api/", http.StripPrefix("/api", inner))
			return outer
		}, []string{"/api/inngest"}},
		{"StripPrefix over HTTP/2", true, func(h http.Handler) http.Handler {
			return http.StripPrefix("/api", h)
		}, []string{"/api/inngest"}},
		{"nested StripPrefix", false, func(h http.Handler) http.Handler {
			return http.StripPrefix("/v1", http.StripPrefix("/api", h))
		}, []string{"/v1/api/inngest"}},
		{"ServeMux method patterns", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("PUT /api/inngest", h)
			mux.Handle("POST /api/inngest", h)
			mux.Handle("GET /api/inngest", h)
			return mux
		}, []string{"/api/inngest"}},
		{"ServeMux with and without the trailing slash", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/api/inngest", h)
			mux.Handle("/api/inngest/", h)
			return mux
		}, []string{"/api/inngest", "/api/inngest/"}},
		{"ServeMux subtree, trailing slash", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/api/inngest/", h)
			return mux
		}, []string{"/api/inngest/"}},
		{"ServeMux subtree under StripPrefix", false, func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("/inngest/", h)
			return http.StripPrefix("/api", inner)
		}, []string{"/api/inngest/"}},
		{"ServeMux wildcard pattern", false, func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/tenants/{tenant}/inngest", h)
			return mux
		}, []string{"/tenants/acme/inngest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.paths {
				a := newRouted(t, inngest.ClientOpts{}, tc.tls, tc.mount)
				a.syncAndCall(t, p)
			}
		})
	}
}

// A request the handler receives on a path other than ServePath, the
// path it registers, is logged at warn level: every such sync, and the
// first of the other requests. A request on ServePath is not.
func TestRequestOffServePathIsLogged(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 200, syncOK }))
	logger, logs := testkit.RecordingLogger()
	c := syncCloud(t, api, inngest.ClientOpts{ServePath: "/api/inngest", Logger: logger})
	h := c.Serve()
	serveAt := func(method, target string) {
		var body []byte
		var hdr http.Header
		if method != http.MethodGet {
			body = []byte(`{}`)
			hdr = protoSigned(t, protoKey, body)
		}
		protoServe(t, h, method, target, body, hdr)
	}
	warnings := func() []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "reached the handler on") {
				out = append(out, l)
			}
		}
		return out
	}

	serveAt(http.MethodPut, "http://shop.example.com/api/inngest")
	serveAt(http.MethodGet, "http://shop.example.com/api/inngest")
	assert.Empty(t, warnings(), "requests on ServePath are not logged")

	serveAt(http.MethodPut, "http://shop.example.com/inngest")
	got := warnings()
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "a request reached the handler on /inngest, but the handler registers the path /api/inngest (ClientOpts.ServePath or INNGEST_SERVE_PATH)")
	assert.Contains(t, got[0], "method=PUT")

	serveAt(http.MethodPut, "http://shop.example.com/api/inngest/")
	assert.Len(t, warnings(), 2, "every sync off ServePath is logged")

	serveAt(http.MethodPost, "http://shop.example.com/inngest?fnId=shop-charge&stepId=step")
	serveAt(http.MethodPost, "http://shop.example.com/inngest?fnId=shop-charge&stepId=step")
	serveAt(http.MethodGet, "http://shop.example.com/inngest")
	assert.Len(t, warnings(), 3, "of the other requests, the first is logged")
}
