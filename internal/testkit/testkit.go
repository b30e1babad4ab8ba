// Package testkit is the helper kit the SDK's own tests share: an
// environment without INNGEST_* settings, loggers that record or drop,
// a stand-in for the Inngest API, and byte-exact comparison of answers
// that carry timings. It is imported by tests only.
package testkit

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// EnvVars lists every environment variable NewClient reads (besides any
// other INNGEST_* variable, which IsolateEnv blanks too).
var EnvVars = []string{
	"INNGEST_SIGNING_KEY", "INNGEST_SIGNING_KEY_FALLBACK", "INNGEST_EVENT_KEY", "INNGEST_ENV",
	"INNGEST_DEV", "INNGEST_BASE_URL", "INNGEST_API_BASE_URL", "INNGEST_EVENT_API_BASE_URL",
	"INNGEST_SERVE_ORIGIN", "INNGEST_SERVE_PATH", "INNGEST_SERVE_HOST", "INNGEST_ALLOW_IN_BAND_SYNC", "INNGEST_ALLOW_UNSIGNED_SYNC",
	"VERCEL", "NETLIFY", "CF_PAGES", "RENDER", "RAILWAY_ENVIRONMENT", "RAILWAY_PROJECT_ID", "FLY_APP_NAME",
}

// IsolateEnv blanks, for the test, every variable NewClient reads and
// every other INNGEST_* variable, so that the environment of whoever
// runs the tests cannot change their results.
func IsolateEnv(tb testing.TB) {
	tb.Helper()
	for _, k := range EnvVars {
		tb.Setenv(k, "")
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "INNGEST_") {
			tb.Setenv(k, "")
		}
	}
}

// LogBuffer collects log output; loggers may write to it concurrently.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RecordingLogger returns a text logger that writes every level, debug
// included, to the returned buffer.
func RecordingLogger() (*slog.Logger, *LogBuffer) {
	buf := &LogBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// QuietLogger drops everything.
func QuietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// APIRequest is a request the fake API received.
type APIRequest struct {
	N                      int // 1 for the first request
	Method, Path, RawQuery string
	URL                    *url.URL
	Header                 http.Header
	Body                   []byte
}

// FakeAPI is a stand-in for the Inngest API: it records every request
// and answers with the function the test gives it.
type FakeAPI struct {
	*httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	reqs   []APIRequest
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

// NewFakeAPI starts a fake API answering with answer, which gets the
// request's 1-based number and the request (its body still readable),
// and closes it when the test ends.
func NewFakeAPI(tb testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *FakeAPI {
	tb.Helper()
	f := &FakeAPI{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(f.calls.Add(1))
		u := *r.URL
		f.mu.Lock()
		f.reqs = append(f.reqs, APIRequest{N: n, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, URL: &u, Header: r.Header.Clone(), Body: body})
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.answer(n, w, r)
	}))
	tb.Cleanup(func() {
		f.Close()
		f.Client().CloseIdleConnections()
	})
	return f
}

// Replying adapts reply, which sees the recorded request and returns a
// status and a JSON body, to NewFakeAPI.
func Replying(reply func(r APIRequest) (int, string)) func(n int, w http.ResponseWriter, r *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u := *r.URL
		status, out := reply(APIRequest{N: n, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, URL: &u, Header: r.Header, Body: body})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}
}

// Requests returns the requests received so far, in order.
func (f *FakeAPI) Requests() []APIRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]APIRequest(nil), f.reqs...)
}

// Calls returns how many requests the fake API received.
func (f *FakeAPI) Calls() int { return int(f.calls.Load()) }
