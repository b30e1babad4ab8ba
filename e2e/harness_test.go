package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
)

// Environment variables the suite reads.
const (
	// envServer is the URL of the Inngest server under test, such as
	// http://127.0.0.1:8288. Without it every test is skipped.
	envServer = "INNGEST_E2E_SERVER"
	// envSigningKey, when set, selects signed mode (`inngest start`):
	// the SDK verifies every request with this key and authenticates to
	// the server with it.
	envSigningKey = "INNGEST_SIGNING_KEY"
	// envEventKey is the event key for signed mode.
	envEventKey = "INNGEST_EVENT_KEY"
	// envTimeout optionally bounds each wait for the server, as a Go
	// duration; the default is defaultWait.
	envTimeout = "INNGEST_E2E_TIMEOUT"
)

// Bounds on waiting for the server. Polls stop as soon as the condition
// holds; the timeouts only bound a broken run.
const (
	pollEvery   = 150 * time.Millisecond
	defaultWait = 60 * time.Second
)

// target is the server under test, read once from the environment.
type target struct {
	url        string
	signingKey string
	eventKey   string
	wait       time.Duration
}

func (tg target) signed() bool { return tg.signingKey != "" }

var (
	targetOnce sync.Once
	theTarget  target
	targetErr  error
	// runTag makes this process's app IDs and event names unique, so
	// that repeated runs against one long-lived server do not meet.
	runTag = randomHex(3)
)

func loadTarget() (target, error) {
	targetOnce.Do(func() {
		raw := strings.TrimRight(strings.TrimSpace(os.Getenv(envServer)), "/")
		if raw == "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			targetErr = fmt.Errorf("%s=%q is not an http(s) URL", envServer, raw)
			return
		}
		theTarget = target{
			url:        raw,
			signingKey: strings.TrimSpace(os.Getenv(envSigningKey)),
			eventKey:   strings.TrimSpace(os.Getenv(envEventKey)),
			wait:       defaultWait,
		}
		if v := strings.TrimSpace(os.Getenv(envTimeout)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				targetErr = fmt.Errorf("%s=%q is not a positive Go duration such as 2m", envTimeout, v)
				return
			}
			theTarget.wait = d
		}
		if theTarget.signed() && theTarget.eventKey == "" {
			targetErr = fmt.Errorf("%s is set (signed mode) but %s is not", envSigningKey, envEventKey)
		}
	})
	return theTarget, targetErr
}

// needServer returns the server under test, or skips the test when
// INNGEST_E2E_SERVER is not set.
func needServer(t *testing.T) target {
	t.Helper()
	tg, err := loadTarget()
	require.NoError(t, err)
	if tg.url == "" {
		t.Skip("end-to-end test: set " + envServer + " to a running Inngest server (e.g. http://127.0.0.1:8288) to run it")
	}
	return tg
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// slug turns a test name into an ID fragment: lower case, letters,
// digits and dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// app is one SDK app served for one test: a client, its handler on a
// random port of 127.0.0.1, and a record of the calls it received.
type app struct {
	t      *testing.T
	tg     target
	Client *inngest.Client
	srv    *httptest.Server
	prefix string // event name prefix, unique to the test and the process
	public string // with appConfig.fixedURL, the URL the app syncs

	mu    sync.Mutex
	calls []call
	sends int // requests to the event API
}

// call is one request the handler received, as the suite saw it.
type call struct {
	Method    string
	FnID      string
	StepID    string
	Signed    bool // the request carried X-Inngest-Signature
	UseAPI    bool // the server asked the SDK to load the state itself
	BodyBytes int
	Status    int
	Response  string // the response body, cut at 64 KiB
}

// appConfig adjusts an app before its client is made.
type appConfig struct {
	// signingKey replaces the target's signing key (signed mode only).
	signingKey string
	// serveOrigin is the origin the app syncs as its URL, when it is not
	// the origin the sync request reached.
	serveOrigin string
	// fixedURL sets ServeOrigin and ServePath to the app's own URL, named
	// by host name: http://localhost:<port>/api/inngest (publicURL). With
	// its URL fixed, the app accepts unsigned sync requests.
	fixedURL bool
	// checkpointing enables checkpointing on the client.
	checkpointing *inngest.Checkpointing
	// wrap, when set, wraps the app's handler (after the recording), to
	// stand for a proxy in front of the app.
	wrap func(http.Handler) http.Handler
	// transport, when set, wraps the client's transport, to stand for a
	// proxy between the app and the server.
	transport func(http.RoundTripper) http.RoundTripper
}

// newApp starts an app for t. Its ID and event names are unique to the
// test and to this process.
func newApp(t *testing.T, tg target, cfg appConfig) *app {
	t.Helper()
	a := &app{t: t, tg: tg, prefix: "e2e-" + runTag + "/" + slug(t.Name())}
	opts := inngest.ClientOpts{
		AppID:         "e2e-" + runTag + "-" + slug(t.Name()),
		BaseURL:       tg.url,
		EventKey:      tg.eventKey,
		ServeOrigin:   cfg.serveOrigin,
		Checkpointing: cfg.checkpointing,
		HTTPClient:    &http.Client{Timeout: 30 * time.Second, Transport: roundTripper(cfg.transport, &countSends{a: a, next: http.DefaultTransport})},
		Logger:        slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if tg.signed() {
		opts.Mode = inngest.ModeCloud
		opts.SigningKey = tg.signingKey
		if cfg.signingKey != "" {
			opts.SigningKey = cfg.signingKey
		}
	} else {
		opts.Mode = inngest.ModeDev
	}
	// The server's listener exists before it starts, so the client can
	// be told its URL.
	a.srv = httptest.NewUnstartedServer(nil)
	if cfg.fixedURL {
		_, port, err := net.SplitHostPort(a.srv.Listener.Addr().String())
		require.NoError(t, err)
		a.public = "http://localhost:" + port + "/api/inngest"
		opts.ServeOrigin, opts.ServePath = "http://localhost:"+port, "/api/inngest"
	}
	c, err := inngest.NewClient(opts)
	require.NoError(t, err)
	a.Client = c
	h := a.record(c.Serve())
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	a.srv.Config.Handler = h
	a.srv.Start()
	t.Cleanup(func() {
		a.srv.Close()
		// The server signs every call in signed mode and none in dev mode.
		for _, c := range a.allCalls() {
			if c.Method == http.MethodPost {
				assert.Equal(t, tg.signed(), c.Signed, "signature on a call to %s", c.FnID)
			}
		}
	})
	return a
}

// event returns a name for an event of this test.
func (a *app) event(name string) string { return a.prefix + "." + name }

// url is the handler's URL.
func (a *app) url() string { return a.srv.URL + "/api/inngest" }

// record wraps the SDK's handler to note each request before passing it
// on unchanged.
func (a *app) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		c := call{
			Method:    r.Method,
			FnID:      r.URL.Query().Get("fnId"),
			StepID:    r.URL.Query().Get("stepId"),
			Signed:    r.Header.Get("X-Inngest-Signature") != "",
			BodyBytes: len(body),
		}
		if r.Method == http.MethodPost {
			var req struct {
				UseAPI bool `json:"use_api"`
				Ctx    struct {
					UseAPI bool `json:"use_api"`
				} `json:"ctx"`
			}
			_ = json.Unmarshal(body, &req)
			c.UseAPI = req.UseAPI || req.Ctx.UseAPI
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		c.Status = sw.status
		c.Response = sw.body.String()
		a.mu.Lock()
		a.calls = append(a.calls, c)
		a.mu.Unlock()
	})
}

// roundTripper is next, wrapped by wrap when it is set.
func roundTripper(wrap func(http.RoundTripper) http.RoundTripper, next http.RoundTripper) http.RoundTripper {
	if wrap == nil {
		return next
	}
	return wrap(next)
}

// countSends counts the client's requests to the event API.
type countSends struct {
	a    *app
	next http.RoundTripper
}

func (c *countSends) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/e/") {
		c.a.mu.Lock()
		c.a.sends++
		c.a.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

// eventSends returns how many requests the client made to the event API.
func (a *app) eventSends() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sends
}

// callsTo returns the POST calls made for the function with local ID id.
func (a *app) callsTo(id string) []call {
	full := a.Client.AppID() + "-" + id
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []call
	for _, c := range a.calls {
		if c.Method == http.MethodPost && c.FnID == full {
			out = append(out, c)
		}
	}
	return out
}

// allCalls returns every request the handler received.
func (a *app) allCalls() []call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]call(nil), a.calls...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if room := 64<<10 - w.body.Len(); room > 0 {
		w.body.Write(p[:min(room, len(p))])
	}
	return w.ResponseWriter.Write(p)
}

// testWriter sends the SDK's log lines to the test log.
type testWriter struct {
	t *testing.T
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncReply is the handler's answer to a sync request.
type syncReply struct {
	Message  string `json:"message"`
	Modified bool   `json:"modified"`
}

// put sends a sync request (PUT) to the handler, signed with key when key
// is not empty, and returns the status and decoded reply.
func (a *app) put(key string) (int, syncReply) {
	a.t.Helper()
	body := []byte(`{"url":"` + a.url() + `"}`)
	req, err := http.NewRequest(http.MethodPut, a.url(), bytes.NewReader(body))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		sig, err := inngest.Sign(key, time.Now(), body)
		require.NoError(a.t, err)
		req.Header.Set("X-Inngest-Signature", sig)
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

// sync registers the app's functions with the server, as the server's
// own sync request would: a PUT to the handler (signed in signed mode),
// which posts the app's configuration to the server.
func (a *app) sync() {
	a.t.Helper()
	status, reply := a.put(a.tg.signingKey)
	require.Equal(a.t, http.StatusOK, status, "sync failed: %s", reply.Message)
	require.Equal(a.t, "Successfully synced.", reply.Message)
}

// send sends one event and returns its ID.
func (a *app) send(name string, data any) string {
	a.t.Helper()
	ids, err := a.Client.Send(context.Background(), inngest.Event[any]{Name: name, Data: data})
	require.NoError(a.t, err)
	require.Len(a.t, ids, 1)
	return ids[0]
}

// apiRun is a function run as the server's REST API reports it.
type apiRun struct {
	RunID     string          `json:"run_id"`
	EventID   string          `json:"event_id"`
	Status    string          `json:"status"`
	EndedAt   *time.Time      `json:"ended_at"`
	Output    json.RawMessage `json:"output"`
	StartedAt time.Time       `json:"run_started_at"`
}

// ended reports whether the run has reached a final status.
func (r apiRun) ended() bool {
	switch r.Status {
	case "Completed", "Failed", "Cancelled", "Overflowed", "Skipped":
		return true
	}
	return false
}

var nocache atomic.Int64

// apiGet reads path from the server's REST API into out. The API caches
// responses by URL for several seconds, so every request gets a unique
// query parameter; in signed mode it authenticates with the signing key.
func (tg target) apiGet(ctx context.Context, path string, out any) (int, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	u := tg.url + path + sep + "nocache=" + strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + strconv.FormatInt(nocache.Add(1), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if tg.signed() {
		req.Header.Set("Authorization", "Bearer "+tg.signingKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	env := struct {
		Data any `json:"data"`
	}{Data: out}
	if err := json.Unmarshal(body, &env); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %w: %s", path, err, body)
	}
	return resp.StatusCode, nil
}

// eventually polls cond until it reports true or the wait for the
// server times out.
// cond returns a description of what it last saw, for the failure
// message.
func (tg target) eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	wait := tg.wait
	deadline := time.Now().Add(wait)
	last := ""
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if seen != "" {
			last = seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", wait, what, last)
		}
		time.Sleep(pollEvery)
	}
}

// runsOf polls GET /v1/events/{id}/runs until n runs triggered by the
// event exist, and returns them.
func (tg target) runsOf(t *testing.T, eventID string, n int) []apiRun {
	t.Helper()
	var runs []apiRun
	tg.eventually(t, fmt.Sprintf("%d run(s) of event %s", n, eventID), func() (bool, string) {
		runs = nil
		if _, err := tg.apiGet(context.Background(), "/v1/events/"+eventID+"/runs", &runs); err != nil {
			return false, err.Error()
		}
		return len(runs) >= n, fmt.Sprintf("%d run(s): %+v", len(runs), runs)
	})
	require.Len(t, runs, n, "runs of event %s", eventID)
	return runs
}

// run polls GET /v1/runs/{id} until cond holds for it, and returns it.
func (tg target) run(t *testing.T, runID, what string, cond func(apiRun) bool) apiRun {
	t.Helper()
	var r apiRun
	tg.eventually(t, "run "+runID+" "+what, func() (bool, string) {
		r = apiRun{}
		if _, err := tg.apiGet(context.Background(), "/v1/runs/"+runID, &r); err != nil {
			return false, err.Error()
		}
		return cond(r), fmt.Sprintf("status %s, output %s", r.Status, r.Output)
	})
	return r
}

// finished waits for the single run of eventID to end and returns it as
// GET /v1/runs/{id} reports it.
func (tg target) finished(t *testing.T, eventID string) apiRun {
	t.Helper()
	runs := tg.runsOf(t, eventID, 1)
	return tg.run(t, runs[0].RunID, "to end", apiRun.ended)
}

// counter counts calls of a piece of user code across requests.
type counter struct{ n atomic.Int32 }

func (c *counter) inc() int { return int(c.n.Add(1)) }
func (c *counter) get() int { return int(c.n.Load()) }

// recorder keeps values user code saw, in order, across requests.
type recorder[T any] struct {
	mu sync.Mutex
	vs []T
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	r.vs = append(r.vs, v)
	r.mu.Unlock()
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.vs...)
}
