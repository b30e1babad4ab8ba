package connect_test

// End-to-end tests of a Connect worker against a real Inngest server (the
// dev server or `inngest start`, whose gateway the worker reaches through
// the server's start call). They skip unless INNGEST_E2E_SERVER is set;
// INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY select signed mode, as in the
// SDK's e2e suite.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/connect"
	"github.com/go-inngest/inngest/step"
)

type e2eServer struct {
	url, signingKey, eventKey string
	wait                      time.Duration
}

func needServer(t *testing.T) e2eServer {
	t.Helper()
	u := strings.TrimRight(os.Getenv("INNGEST_E2E_SERVER"), "/")
	if u == "" {
		t.Skip("end-to-end test: set INNGEST_E2E_SERVER to a running Inngest server (e.g. http://127.0.0.1:8288) to run it")
	}
	s := e2eServer{url: u, signingKey: os.Getenv("INNGEST_SIGNING_KEY"), eventKey: os.Getenv("INNGEST_EVENT_KEY"), wait: 60 * time.Second}
	if v := os.Getenv("INNGEST_E2E_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "INNGEST_E2E_TIMEOUT")
		s.wait = d
	}
	return s
}

// worker is an app served over Connect for one test.
type worker struct {
	t      *testing.T
	srv    e2eServer
	client *inngest.Client
	prefix string
	cancel context.CancelFunc
	done   chan error
}

func newWorker(t *testing.T, srv e2eServer) *worker {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "e2e-connect-" + hex.EncodeToString(b)
	for _, k := range []string{"INNGEST_DEV", "INNGEST_BASE_URL", "INNGEST_SIGNING_KEY_FALLBACK"} {
		t.Setenv(k, "")
	}
	opts := inngest.ClientOpts{AppID: prefix, BaseURL: srv.url, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if srv.signingKey != "" {
		opts.Mode, opts.SigningKey, opts.EventKey = inngest.ModeCloud, srv.signingKey, srv.eventKey
	} else {
		opts.Mode = inngest.ModeDev
	}
	c, err := inngest.NewClient(opts)
	require.NoError(t, err)
	return &worker{t: t, srv: srv, client: c, prefix: prefix, done: make(chan error, 1)}
}

func (w *worker) event(name string) string { return w.prefix + "/" + name }

// start runs the worker until the test ends and waits for Inngest to
// list the app.
func (w *worker) start() {
	w.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	logger := slog.New(slog.NewTextHandler(testWriter{w.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() { w.done <- connect.Run(ctx, w.client, connect.Options{Logger: logger, InstanceID: w.prefix}) }()
	w.t.Cleanup(func() {
		cancel()
		select {
		case err := <-w.done:
			if err != nil {
				w.t.Errorf("connect.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			w.t.Error("connect.Run did not return within 30s of its context ending")
		}
	})
	// Inngest syncs the app in the handshake; wait until its functions run.
	w.eventually("the app to be synced", func() (bool, string) {
		var apps []struct {
			Name string `json:"name"`
		}
		if err := w.get("/v1/apps", &apps); err != nil {
			// Not every server lists apps over REST; the first event then
			// tells.
			return true, err.Error()
		}
		for _, a := range apps {
			if a.Name == w.prefix {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d apps", len(apps))
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (w *worker) send(name string, data any) string {
	w.t.Helper()
	ids, err := w.client.Send(context.Background(), inngest.Event[any]{Name: w.event(name), Data: data})
	require.NoError(w.t, err)
	return ids[0]
}

func (w *worker) get(path string, out any) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(http.MethodGet, w.srv.url+path+sep+"nocache="+fmt.Sprint(time.Now().UnixNano()), nil)
	if err != nil {
		return err
	}
	if w.srv.signingKey != "" {
		req.Header.Set("Authorization", "Bearer "+w.srv.signingKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, &struct {
		Data any `json:"data"`
	}{out})
}

func (w *worker) eventually(what string, cond func() (bool, string)) {
	w.t.Helper()
	deadline := time.Now().Add(w.srv.wait)
	last := ""
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s; last seen: %s", w.srv.wait, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type run struct {
	RunID  string          `json:"run_id"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
}

// finished waits for the one run eventID triggers to end.
func (w *worker) finished(eventID string) run {
	w.t.Helper()
	return w.finishedN(eventID, 1)[0]
}

// finishedN waits for the n runs eventID triggers to end.
func (w *worker) finishedN(eventID string, n int) []run {
	w.t.Helper()
	var runs []run
	w.eventually(fmt.Sprintf("%d run(s) of %s to end", n, eventID), func() (bool, string) {
		runs = nil
		if err := w.get("/v1/events/"+eventID+"/runs", &runs); err != nil {
			return false, err.Error()
		}
		if len(runs) < n {
			return false, fmt.Sprintf("%d runs", len(runs))
		}
		for i, r := range runs {
			var full run
			if err := w.get("/v1/runs/"+r.RunID, &full); err != nil {
				return false, err.Error()
			}
			switch full.Status {
			case "Completed", "Failed", "Cancelled":
			default:
				return false, "status " + full.Status
			}
			runs[i] = full
		}
		return true, ""
	})
	return runs
}

func requireOutput(t *testing.T, r run, status, output string) {
	t.Helper()
	require.Equal(t, status, r.Status, "output %s", r.Output)
	require.JSONEq(t, output, string(r.Output))
}

func TestE2EStepsOverConnect(t *testing.T) {
	srv := needServer(t)
	w := newWorker(t, srv)
	var calls atomic.Int32
	_, err := inngest.CreateFunction(w.client, inngest.FunctionOpts{ID: "steps"}, inngest.EventTrigger(w.event("steps"), nil),
		func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) {
			calls.Add(1)
			a, err := step.Run(ctx, "a", func(context.Context) (int, error) { return in.Event.Data["n"] + 1, nil })
			if err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "b", func(context.Context) (int, error) { return a * 10, nil })
			if err != nil {
				return nil, err
			}
			c, err := step.Run(ctx, "c", func(context.Context) (string, error) { return fmt.Sprint("total ", a+b), nil })
			if err != nil {
				return nil, err
			}
			return c, nil
		})
	require.NoError(t, err)
	w.start()

	r := w.finished(w.send("steps", map[string]int{"n": 1}))
	requireOutput(t, r, "Completed", `"total 22"`)
	require.GreaterOrEqual(t, calls.Load(), int32(4), "one call per step and one to finish")
}
