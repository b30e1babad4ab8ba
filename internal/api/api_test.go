package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest/internal/wire"
)

const (
	bearer   = "signkey-test-aaaa"
	fallback = "signkey-test-bbbb"
	eventKey = "evt-secret-key-0123456789"
)

// server is a fake Inngest that answers with answer and records what it
// was sent.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
}

func newServer(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.bodies = append(s.bodies, string(b))
		n := len(s.reqs)
		s.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) auths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		out = append(out, r.Header.Get("Authorization"))
	}
	return out
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func client(base string, logs io.Writer) *Client {
	if logs == nil {
		logs = io.Discard
	}
	return &Client{
		APIBase: base, EventBase: base,
		Bearer: bearer, FallbackBearer: fallback, EventKey: eventKey,
		Header:     http.Header{wire.HeaderSDK: {"go-inngest:v0.0.0"}},
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func TestDoRetriesServerAndNetworkErrors(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		case 2:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	})
	var logs bytes.Buffer
	resp, err := client(s.URL, &logs).Do(context.Background(), http.MethodPost, "/fn/register", []byte(`{"a":1}`), http.Header{"X-Extra": {"1"}})
	require.NoError(t, err)
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, `{"ok":true}`, string(resp.Body))
	require.Equal(t, 3, s.count())
	for i, r := range s.reqs {
		assert.Equal(t, `{"a":1}`, s.bodies[i], "attempt %d sends the same body", i+1)
		assert.Equal(t, "1", r.Header.Get("X-Extra"))
		assert.Equal(t, "go-inngest:v0.0.0", r.Header.Get(wire.HeaderSDK))
	}
	assert.Equal(t, 2, strings.Count(logs.String(), "level=DEBUG msg=\"inngest: a request to the Inngest API failed; retrying\""))
}

func TestDoReturnsClientErrorsWithoutRetrying(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"no such run"}`)
	})
	resp, err := client(s.URL, nil).Do(context.Background(), http.MethodGet, "/v0/runs/x/batch", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, s.count())
	assert.False(t, resp.OK())
	var ae *Error
	require.ErrorAs(t, resp.Err(), &ae)
	assert.Equal(t, 404, ae.Status)
	assert.Equal(t, "no such run", ae.Message)
	assert.Equal(t, "inngest: GET "+s.URL+"/v0/runs/x/batch answered 404: no such run", ae.Error())
}

func TestDoGivesUpAfterAPIAttempts(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"maintenance"}`)
	})
	_, err := client(s.URL, nil).Do(context.Background(), http.MethodPost, "/v1/signals", nil, nil)
	require.Error(t, err)
	assert.Equal(t, APIAttempts, s.count())
	var ae *Error
	require.ErrorAs(t, err, &ae, "the last answer is kept")
	assert.Equal(t, 503, ae.Status)
	assert.EqualError(t, err, "inngest: POST "+s.URL+"/v1/signals answered 503: maintenance (gave up after 3 attempts)")
}

// TestRetriesHonourContext: a context that ends in the wait before a
// retry ends the request at once, with the context's error and the last
// failure; one that ended before makes no request.
func TestRetriesHonourContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"down"}`)
	})
	c := client(s.URL, nil)
	// The retry is logged just before the wait: ctx ends there.
	c.Logger = slog.New(cancelOnRetry{slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}), cancel})
	_, err := c.SendEvents(ctx, []byte(`[]`), "1,seed", nil)
	require.ErrorIs(t, err, context.Canceled)
	// The wait returned the context's error: a wait that ran its course
	// would have been followed by an attempt, failing without the last
	// error.
	assert.Contains(t, err.Error(), "last error: inngest: POST "+s.URL+"/e/<event-key> answered 500: down")
	assert.Equal(t, 1, s.count(), "no retry after ctx ended")

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = client(s.URL, nil).Do(ctx, http.MethodGet, "/x", nil, nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, s.count(), "no request with a context that has ended")

	// A deadline while waiting for an answer ends the request at once.
	hang := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = client(hang.URL, nil).Do(ctx, http.MethodGet, "/x", nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, hang.count())
}

// cancelOnRetry is a log handler that calls cancel on the line of a
// retry.
type cancelOnRetry struct {
	slog.Handler
	cancel context.CancelFunc
}

func (h cancelOnRetry) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasSuffix(r.Message, "; retrying") {
		h.cancel()
	}
	return h.Handler.Handle(ctx, r)
}

func TestSendEventsRetriesWithOneSeed(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	var logs bytes.Buffer
	_, err := client(s.URL, &logs).SendEvents(context.Background(), []byte(`[{"name":"a"}]`), "123,seed",
		http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, wire.HeaderEventIDSeed: {"not-this"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 5 attempts")
	require.Equal(t, EventAttempts, s.count())
	for _, r := range s.reqs {
		assert.Equal(t, "/e/"+eventKey, r.URL.Path)
		assert.Equal(t, []string{"123,seed"}, r.Header.Values(wire.HeaderEventIDSeed), "extra headers cannot replace the seed")
		assert.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", r.Header.Get("Traceparent"), "extra headers are sent on every attempt")
		assert.Empty(t, r.Header.Get("Authorization"), "the event key is in the path")
	}
	assert.NotContains(t, err.Error(), eventKey)
	assert.NotContains(t, logs.String(), eventKey)
	assert.Contains(t, logs.String(), "sending events failed; retrying")
}

// TestFallbackKey: a 401 or 403 to the signing key is tried again at
// once with the fallback key, in the same attempt; without a fallback
// key the refusal is the answer.
func TestFallbackKey(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer "+bearer {
				w.WriteHeader(status)
				return
			}
			_, _ = io.WriteString(w, `{}`)
		})
		var logs bytes.Buffer
		resp, err := client(s.URL, &logs).DoOnce(context.Background(), http.MethodPost, "/v1/checkpoint/r/async", nil, nil)
		require.NoError(t, err)
		assert.True(t, resp.OK())
		assert.Equal(t, []string{"Bearer " + bearer, "Bearer " + fallback}, s.auths())
		assert.Contains(t, logs.String(), "level=WARN msg=\"inngest: the signing key was refused; trying the fallback key\"")
	}

	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	c := client(s.URL, nil)
	c.FallbackBearer = ""
	resp, err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 401, resp.Status)
	assert.Equal(t, []string{"Bearer " + bearer}, s.auths(), "a refusal is not retried")

	// Both keys refused: the answer is the fallback's refusal.
	s = newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
	resp, err = client(s.URL, nil).Do(context.Background(), http.MethodGet, "/x", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 403, resp.Status)
	assert.Equal(t, []string{"Bearer " + bearer, "Bearer " + fallback}, s.auths())
}

// TestErrorBodiesAreTruncated: an error keeps at most MaxErrorText bytes
// of the answer, and reads are bounded.
func TestErrorBodiesAreTruncated(t *testing.T) {
	long := strings.Repeat("x", 10*MaxErrorText)
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		if n == 1 {
			_, _ = io.WriteString(w, long)
			return
		}
		_, _ = io.WriteString(w, `{"error":"`+long+`"}`)
	})
	c := client(s.URL, nil)
	for range 2 {
		resp, err := c.DoOnce(context.Background(), http.MethodGet, "/x", nil, nil)
		require.NoError(t, err)
		var ae *Error
		require.ErrorAs(t, resp.Err(), &ae)
		assert.Equal(t, strings.Repeat("x", MaxErrorText)+"…", ae.Message)
		assert.LessOrEqual(t, len(ae.Body), MaxErrorText+len("…"))
		assert.Less(t, len(ae.Error()), MaxErrorText+100)
	}

	big := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("y"), MaxEventAnswer+1000))
	})
	resp, err := client(big.URL, nil).SendEvents(context.Background(), []byte(`[]`), "1,s", nil)
	require.NoError(t, err)
	assert.Len(t, resp.Body, MaxEventAnswer, "at most MaxEventAnswer bytes are read")
}

// TestNoSecretInErrors: neither key nor event key appears in an error or
// a log line, whatever fails.
func TestNoSecretInErrors(t *testing.T) {
	var logs bytes.Buffer
	refusing := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"down"}`)
	})
	var errs []string
	c := client(refusing.URL, &logs)
	_, err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil)
	errs = append(errs, err.Error())
	_, err = c.SendEvents(context.Background(), nil, "1,s", nil)
	errs = append(errs, err.Error())

	// A transport failure: net/http puts the URL, key and all, into it.
	c = client("http://127.0.0.1:1", &logs)
	c.HTTPClient = &http.Client{Transport: failing{}}
	_, err = c.SendEvents(context.Background(), nil, "1,s", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/e/<event-key>")
	errs = append(errs, err.Error())
	_, err = c.Do(context.Background(), http.MethodGet, "/x", nil, nil)
	errs = append(errs, err.Error())

	// A bad base URL fails before anything is sent.
	c = client("http://bad host", &logs)
	_, err = c.SendEvents(context.Background(), nil, "1,s", nil)
	require.Error(t, err)
	errs = append(errs, err.Error())

	for _, text := range append(errs, logs.String()) {
		for _, secret := range []string{bearer, fallback, eventKey} {
			assert.NotContains(t, text, secret)
		}
	}
}

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection reset by peer")
}

// TestDevServerHint: in dev mode a request that cannot connect says the
// dev server is not running; in cloud mode, and for other errors, the
// error is as it was.
func TestDevServerHint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	c := client(base, nil)
	c.Dev = true
	_, err = c.DoOnce(context.Background(), http.MethodGet, "/x", nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Inngest dev server is not reachable at "+base)

	c.Dev = false
	_, err = c.DoOnce(context.Background(), http.MethodGet, "/x", nil, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "dev server")
}

// TestBackoffGrowsWithJitterAndACap: the wait before retry n is between
// half and all of 100ms·2^(n-1), capped at 5s, so retries spread out and
// never wait long.
func TestBackoffGrowsWithJitterAndACap(t *testing.T) {
	for n := 1; n <= 10; n++ {
		ceil := min(100*time.Millisecond<<(n-1), 5*time.Second)
		lo, hi := ceil, time.Duration(0)
		for range 2000 {
			d := Backoff(n)
			require.GreaterOrEqual(t, d, ceil/2, "retry %d", n)
			require.LessOrEqual(t, d, ceil, "retry %d", n)
			lo, hi = min(lo, d), max(hi, d)
		}
		assert.Greater(t, hi-lo, ceil/4, "retry %d: the waits are jittered", n)
	}
	assert.LessOrEqual(t, Backoff(100), BackoffMax, "no overflow for large n")
}
