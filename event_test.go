package inngest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedPattern is "<unix ms>,<base64 of 10 bytes>".
var seedPattern = regexp.MustCompile(`^[0-9]{13},[A-Za-z0-9+/]{14}==$`)

func sendClient(t *testing.T, api *testkit.FakeAPI) *inngest.Client {
	t.Helper()
	return testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, EventKey: hardEventKey, EventAPIBaseURL: api.URL})
}

var twoEvents = []inngest.Event[any]{
	{Name: "hard/one", Data: map[string]int{"n": 1}},
	{Name: "hard/two", Data: map[string]int{"n": 2}, ID: "dedup-2"},
}

// requireOneSend checks that the requests are attempts of one Send: the
// same path, body and event-ID seed, and no Authorization header.
func requireOneSend(t *testing.T, api *testkit.FakeAPI, attempts int) {
	t.Helper()
	reqs := api.Requests()
	require.Len(t, reqs, attempts)
	seed := reqs[0].Header.Get("X-Inngest-Event-Id-Seed")
	require.Regexp(t, seedPattern, seed)
	for i, r := range reqs {
		assert.Equal(t, "/e/"+hardEventKey, r.URL.Path)
		assert.Equal(t, seed, r.Header.Get("X-Inngest-Event-Id-Seed"), "attempt %d reuses the seed, so no event is stored twice", i+1)
		assert.Empty(t, r.Header.Get("Authorization"), "the event key is in the path")
		assert.Equal(t, string(api.Requests()[0].Body), string(api.Requests()[i].Body), "attempt %d sends the same body", i+1)
	}
}

func TestSendRetriesServerErrorsWithOneSeed(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"down"}`)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `<html>bad gateway</html>`)
		default:
			_, _ = io.WriteString(w, `{"ids":["01A","01B"],"status":200}`)
		}
	})
	ids, err := sendClient(t, api).Send(context.Background(), twoEvents...)
	require.NoError(t, err)
	assert.Equal(t, []string{"01A", "01B"}, ids)
	requireOneSend(t, api, 3)
	assert.JSONEq(t, `[{"name":"hard/one","data":{"n":1}},{"id":"dedup-2","name":"hard/two","data":{"n":2}}]`, string(api.Requests()[0].Body))
}

func TestSendRetriesNetworkErrorsWithOneSeed(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			// Hang up without answering.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		_, _ = io.WriteString(w, `{"ids":["01A","01B"],"status":200}`)
	})
	ids, err := sendClient(t, api).Send(context.Background(), twoEvents...)
	require.NoError(t, err)
	assert.Equal(t, []string{"01A", "01B"}, ids)
	requireOneSend(t, api, 2)
}

func TestSendNeverRetriesClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413, 422, 429} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"ids":[],"status":`+itoa(status)+`,"error":"refused on purpose"}`)
			})
			_, err := sendClient(t, api).Send(context.Background(), twoEvents...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), itoa(status))
			assert.Contains(t, err.Error(), "refused on purpose")
			requireOneSend(t, api, 1)
		})
	}
}

func TestSendGivesUpClearly(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"maintenance"}`)
	})
	_, err := sendClient(t, api).Send(context.Background(), twoEvents...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 5 attempts")
	assert.Contains(t, err.Error(), "503")
	assert.Contains(t, err.Error(), "maintenance")
	requireOneSend(t, api, 5)
}

func TestSendHonoursContext(t *testing.T) {
	t.Run("cancelled during an attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		_, err := sendClient(t, api).Send(ctx, twoEvents...)
		require.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, err.Error(), hardEventKey)
		requireOneSend(t, api, 1)
	})
	t.Run("cancelled after a failed attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"down"}`)
		})
		c := testClient(t, inngest.ClientOpts{Mode: inngest.ModeCloud, SigningKey: hardKey, EventKey: hardEventKey, EventAPIBaseURL: api.URL,
			HTTPClient: &http.Client{Transport: cancelAfter{next: api.Client().Transport, cancel: cancel}}})
		_, err := c.Send(ctx, twoEvents...)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "500: down", "the error tells what failed")
		requireOneSend(t, api, 1)
	})
	t.Run("deadline while waiting for the answer", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := sendClient(t, api).Send(ctx, twoEvents...)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotContains(t, err.Error(), hardEventKey)
		requireOneSend(t, api, 1)
	})
}

// cancelAfter is a transport that cancels a context once it has the
// whole answer to a request.
type cancelAfter struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	c.cancel()
	return resp, err
}

// TestSendErrorHidesEventKey: the event key is part of the send URL,
// which net/http puts into its errors.
func TestSendErrorHidesEventKey(t *testing.T) {
	log, logs := testkit.RecordingLogger()
	c := testClient(t, inngest.ClientOpts{
		Mode: inngest.ModeCloud, SigningKey: hardKey, EventKey: hardEventKey, EventAPIBaseURL: "http://127.0.0.1:1",
		Logger: log, HTTPClient: &http.Client{Transport: failingEventTransport{http.DefaultTransport}},
	})
	_, err := c.Send(context.Background(), inngest.Event[any]{Name: "hard/x", Data: map[string]int{"n": 1}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection reset by peer")
	assert.Contains(t, err.Error(), "/e/<event-key>")
	assert.NotContains(t, err.Error(), hardEventKey)
	assert.NotContains(t, logs.String(), hardEventKey)
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

// levelLog records log lines by level.
type levelLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *levelLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	return len(p), nil
}

// take returns the lines recorded at debug level and those above it,
// and resets the record.
func (l *levelLog) take() (debug, loud []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, "level=DEBUG") {
			debug = append(debug, line)
		} else {
			loud = append(loud, line)
		}
	}
	l.lines = nil
	return debug, loud
}

// With INNGEST_DEV=1 and no dev server running, each failed operation
// logs one line, at warn level or above, with the hint that the dev
// server is not running; its retries are logged at debug level.
func TestDevServerDownIsOneLinePerOperation(t *testing.T) {
	testkit.IsolateEnv(t)
	url := unusedPortURL(t)
	t.Setenv("INNGEST_DEV", url)
	logs := &levelLog{}
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:  "shop",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/x", nil),
		func(context.Context, inngest.Input[any]) (any, error) { return nil, nil })
	require.NoError(t, err)
	hint := "the Inngest dev server is not reachable at " + url + ": start it with `npx inngest-cli@latest dev`"

	_, err = c.Send(context.Background(), inngest.Event[any]{Name: "shop/order.placed"})
	require.Error(t, err)
	debug, loud := logs.take()
	require.Len(t, loud, 1, "one line for the failed Send: %q", loud)
	assert.Contains(t, loud[0], "level=WARN")
	assert.Contains(t, loud[0], `msg="inngest: Send failed"`)
	assert.Contains(t, loud[0], hint)
	assert.Contains(t, loud[0], "gave up after 5 attempts")
	assert.Len(t, debug, 4, "the four retries, at debug level")

	_, err = c.SendSignal(context.Background(), "shop/approved", nil)
	require.Error(t, err)
	debug, loud = logs.take()
	require.Len(t, loud, 1, "one line for the failed SendSignal: %q", loud)
	assert.Contains(t, loud[0], `msg="inngest: SendSignal failed"`)
	assert.Contains(t, loud[0], hint)
	assert.Len(t, debug, 2)

	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://127.0.0.1:3000/api/inngest", bytes.NewReader(nil)))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	debug, loud = logs.take()
	require.Len(t, loud, 1, "one line for the failed sync: %q", loud)
	assert.Contains(t, loud[0], `msg="inngest: sync failed"`)
	assert.Contains(t, loud[0], hint)
	assert.Len(t, debug, 2)

	// A send the caller stops is not logged as a failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Send(ctx, inngest.Event[any]{Name: "shop/order.placed"})
	require.Error(t, err)
	_, loud = logs.take()
	assert.Empty(t, loud)
}
