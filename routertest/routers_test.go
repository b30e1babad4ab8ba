package routertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
)

// key is the signing key the app and the test's requests share.
const key = "signkey-test-0123456789abcdef"

// fakeAPI is the Inngest API's register endpoint: it records the bodies
// the app posts and answers as the server does.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	api := &fakeAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		api.bodies = append(api.bodies, b)
		api.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"modified":true}`)
	}))
	t.Cleanup(api.Close)
	return api
}

func (api *fakeAPI) last(t *testing.T) []byte {
	t.Helper()
	api.mu.Lock()
	defer api.mu.Unlock()
	require.NotEmpty(t, api.bodies, "the sync posted nothing to the API")
	return api.bodies[len(api.bodies)-1]
}

// app is the app "shop", with one function, mounted by a router on a
// real server.
type app struct {
	srv *httptest.Server
	api *fakeAPI
}

func newApp(t *testing.T, mount func(h http.Handler) http.Handler) *app {
	t.Helper()
	api := newFakeAPI(t)
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID: "shop", Mode: inngest.ModeCloud, SigningKey: key, APIBaseURL: api.URL, EventAPIBaseURL: api.URL,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "greet"}, inngest.EventTrigger("shop/greet", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) { return "hello", nil })
	require.NoError(t, err)
	srv := httptest.NewServer(mount(c.Serve()))
	t.Cleanup(srv.Close)
	return &app{srv: srv, api: api}
}

// do sends a signed request and returns the status and body.
func (a *app) do(t *testing.T, method, url string, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sig, err := inngest.Sign(key, time.Now(), body)
	require.NoError(t, err)
	req.Header.Set("X-Inngest-Signature", sig)
	// No redirects followed: Inngest's own client does not turn a
	// redirected PUT or POST into a working request either.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(rb)
}

// syncAndCall syncs with a PUT to path, checks that the registered URL
// is the one the PUT came in on, and calls the function at its
// registered step URL as Inngest would.
func (a *app) syncAndCall(t *testing.T, path string) {
	t.Helper()
	status, _, body := a.do(t, http.MethodPut, a.srv.URL+path, []byte(`{"url":"`+a.srv.URL+path+`"}`))
	require.Equal(t, http.StatusOK, status, "sync at %s: %s", path, body)
	var reg struct {
		URL       string `json:"url"`
		Functions []struct {
			Steps map[string]struct {
				Runtime struct {
					URL string `json:"url"`
				} `json:"runtime"`
			} `json:"steps"`
		} `json:"functions"`
	}
	require.NoError(t, json.Unmarshal(a.api.last(t), &reg))
	assert.Equal(t, a.srv.URL+path, reg.URL, "the registered URL is the one the sync came in on")
	require.Len(t, reg.Functions, 1)
	stepURL := reg.Functions[0].Steps["step"].Runtime.URL
	assert.Equal(t, a.srv.URL+path+"?fnId=shop-greet&stepId=step", stepURL)

	call := []byte(`{"event":{"name":"shop/greet","data":{}},"events":[{"name":"shop/greet","data":{}}],"steps":{},` +
		`"ctx":{"run_id":"01JROUTER0000000000000000","attempt":0,"stack":{"stack":[]}},"version":2}`)
	status, hdr, body := a.do(t, http.MethodPost, stepURL, call)
	assert.Equal(t, http.StatusOK, status, "the call at the registered URL reaches the function: %s", body)
	assert.Equal(t, `"hello"`, body)
	assert.Equal(t, "go-inngest:v"+inngest.Version, hdr.Get("X-Inngest-Sdk"), "the answer is the SDK's, not the router's")
}

type routerCase struct {
	name  string
	mount func(h http.Handler) http.Handler
	paths []string // each synced on a fresh app
}

func run(t *testing.T, cases []routerCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.paths {
				newApp(t, tc.mount).syncAndCall(t, p)
			}
		})
	}
}

func TestChi(t *testing.T) {
	run(t, []routerCase{
		{"Handle", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Handle("/api/inngest", h)
			return r
		}, []string{"/api/inngest"}},
		{"Route", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Route("/api", func(r chi.Router) { r.Handle("/inngest", h) })
			return r
		}, []string{"/api/inngest"}},
		{"Mount", func(h http.Handler) http.Handler {
			sub := chi.NewRouter()
			sub.Method(http.MethodPut, "/inngest", h)
			sub.Method(http.MethodPost, "/inngest", h)
			r := chi.NewRouter()
			r.Mount("/api", sub)
			return r
		}, []string{"/api/inngest"}},
		{"Mount with StripPrefix", func(h http.Handler) http.Handler {
			inner := http.NewServeMux()
			inner.Handle("/inngest", h)
			r := chi.NewRouter()
			r.Mount("/api", http.StripPrefix("/api", inner))
			return r
		}, []string{"/api/inngest"}},
		{"StripSlashes, with and without the slash", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Use(middleware.StripSlashes)
			r.Handle("/api/inngest", h)
			return r
		}, []string{"/api/inngest", "/api/inngest/"}},
		{"URL parameter", func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Handle("/tenants/{tenant}/inngest", h)
			return r
		}, []string{"/tenants/acme/inngest"}},
	})
}

func TestGorillaMux(t *testing.T) {
	run(t, []routerCase{
		{"Handle with methods", func(h http.Handler) http.Handler {
			r := mux.NewRouter()
			r.Handle("/api/inngest", h).Methods(http.MethodGet, http.MethodPost, http.MethodPut)
			return r
		}, []string{"/api/inngest"}},
		{"Subrouter", func(h http.Handler) http.Handler {
			r := mux.NewRouter()
			r.PathPrefix("/api").Subrouter().Handle("/inngest", h)
			return r
		}, []string{"/api/inngest"}},
		{"PathPrefix with StripPrefix", func(h http.Handler) http.Handler {
			inner := mux.NewRouter()
			inner.Handle("/inngest", h)
			r := mux.NewRouter()
			r.PathPrefix("/api/").Handler(http.StripPrefix("/api", inner))
			return r
		}, []string{"/api/inngest"}},
		{"optional trailing slash", func(h http.Handler) http.Handler {
			r := mux.NewRouter()
			r.Handle("/api/inngest{slash:/?}", h)
			return r
		}, []string{"/api/inngest", "/api/inngest/"}},
	})
}
