package e2e

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// envCapture, when set, names a directory where TestServerFailedRuns
// writes, for each scenario, the call that carried the scenario's
// inngest/function.failed event, exactly as the server sent it. The
// SDK's testdata/failure files were made this way.
const envCapture = "INNGEST_E2E_CAPTURE"

// failureWatch is a failure function that records what it received,
// keyed by the failed function's ID, along with the raw calls.
type failureWatch struct {
	mu       sync.Mutex
	failures map[string]inngest.Failure[json.RawMessage]
	calls    map[string][]byte // failed function ID → the call's body
}

// capture wraps the watcher app's handler to keep the body of each call.
func (w *failureWatch) capture(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(rw, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		var req struct {
			Event struct {
				Data struct {
					FunctionID string `json:"function_id"`
				} `json:"data"`
			} `json:"event"`
		}
		if json.Unmarshal(body, &req) == nil && req.Event.Data.FunctionID != "" {
			w.mu.Lock()
			w.calls[req.Event.Data.FunctionID] = body
			w.mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(rw, r)
	})
}

func (w *failureWatch) get(fnID string) (inngest.Failure[json.RawMessage], []byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.failures[fnID]
	return f, w.calls[fnID], ok
}

// closedPort returns a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	return u
}

// proxyGatewayTimeout stands for a proxy in front of the app that times
// out on the calls of one function: it answers 504 with an HTML page, as
// nginx does.
func proxyGatewayTimeout(fnID string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Query().Get("fnId") == fnID {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusGatewayTimeout)
				_, _ = io.WriteString(w, "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// growStepOutput is middleware that pads a step's output past the
// server's limit after step.Run checked it.
type growStepOutput struct{ inngest.BaseMiddleware }

func (growStepOutput) TransformOutput(_ context.Context, _ *inngest.Call, out *inngest.Output) {
	if out.Step != nil {
		out.Step.Data = json.RawMessage(`"` + strings.Repeat("y", inngest.MaxStepOutputSize) + `"`)
	}
}

// stepHash is the hash of the first step with ID id: its SHA-1.
func stepHash(id string) string {
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

// Runs the server fails itself (it could not reach the app, a proxy
// answered 504, a step's output was over the server's limit, the run's
// state overflowed) reach the failure handler with the innermost error's
// name and message, not the JSON the server wrapped them in. A step
// output over the limit that the SDK catches first fails the step with
// an error naming it and the size, and the 5 MiB are never sent.
//
// Each scenario's function lives in an app of its own, whose ID extends
// the watcher app's; one failure function in the watcher app handles
// them all, so that it is reachable when the failed app is not.
func TestServerFailedRuns(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	watch := &failureWatch{failures: map[string]inngest.Failure[json.RawMessage]{}, calls: map[string][]byte{}}
	w := newApp(t, tg, appConfig{wrap: watch.capture})
	victim := func(scenario string) string { return w.Client.AppID() + "-" + scenario + "-victim" }
	scenarios := []string{"unreachable", "gateway-timeout", "step-output-too-large", "step-output-over-sdk-limit", "state-overflowed"}
	ids := make([]string, len(scenarios))
	for i, s := range scenarios {
		ids[i] = victim(s)
	}
	_, err := inngest.CreateFailureFunction(w.Client, inngest.FunctionOpts{ID: "watch"}, inngest.FailureFilter{Functions: ids},
		func(ctx context.Context, f inngest.Failure[json.RawMessage]) (any, error) {
			watch.mu.Lock()
			watch.failures[f.FunctionID] = f
			watch.mu.Unlock()
			return f.Error.Name, nil
		})
	require.NoError(t, err)
	w.sync()

	// newVictim makes the scenario's app, whose ID is the watcher's and
	// the scenario's, with one function "victim" that runs body.
	newVictim := func(t *testing.T, cfg appConfig, body func(ctx context.Context) (any, error), mw ...inngest.Middleware) *app {
		a := newApp(t, tg, cfg)
		require.Equal(t, w.Client.AppID()+"-"+slug(t.Name()[strings.LastIndex(t.Name(), "/")+1:]), a.Client.AppID())
		_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "victim", Retries: inngest.Ptr(0), Middleware: mw},
			inngest.EventTrigger(a.event("go"), nil),
			func(ctx context.Context, in inngest.Input[struct{}]) (any, error) { return body(ctx) })
		require.NoError(t, err)
		return a
	}
	// failed waits for the scenario's failure to reach the watcher.
	failed := func(t *testing.T, a *app, eventID string) inngest.Failure[json.RawMessage] {
		run := tg.finished(t, eventID)
		require.Equal(t, "Failed", run.Status, "output: %s", run.Output)
		fnID := a.Client.AppID() + "-victim"
		var f inngest.Failure[json.RawMessage]
		var raw []byte
		tg.eventually(t, "the failure handler for "+fnID, func() (bool, string) {
			var ok bool
			f, raw, ok = watch.get(fnID)
			return ok, ""
		})
		t.Logf("the handler got %s: %q", f.Error.Name, f.Error.Message)
		if dir := os.Getenv(envCapture); dir != "" {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			name := filepath.Join(dir, slug(t.Name()[strings.LastIndex(t.Name(), "/")+1:])+".json")
			require.NoError(t, os.WriteFile(name, raw, 0o644))
			t.Logf("wrote %s", name)
		}
		return f
	}
	step1 := func(ctx context.Context) (any, error) {
		return step.Run(ctx, "one", func(ctx context.Context) (int, error) { return 1, nil })
	}

	t.Run("unreachable", func(t *testing.T) {
		// Synced at a port nothing listens on.
		a := newVictim(t, appConfig{serveOrigin: closedPort(t)}, step1)
		a.sync()
		f := failed(t, a, a.send(a.event("go"), nil))
		assert.Equal(t, "Error", f.Error.Name)
		assert.Equal(t, "Unable to reach SDK URL", f.Error.Message)
	})
	t.Run("gateway-timeout", func(t *testing.T) {
		a := newVictim(t, appConfig{wrap: proxyGatewayTimeout(victim("gateway-timeout"))}, step1)
		a.sync()
		f := failed(t, a, a.send(a.event("go"), nil))
		assert.Equal(t, "Server returned a fatal error", f.Error.Name)
		assert.Equal(t, "Your server returned HTTP 504 before the SDK responded.", f.Error.Message)
		assert.Contains(t, f.Error.Stack, "504 Gateway Time-out", "the stack holds the proxy's page")
	})
	t.Run("step-output-too-large", func(t *testing.T) {
		// The SDK refuses such a step itself, so middleware grows the
		// output after step.Run checked it.
		a := newVictim(t, appConfig{}, func(ctx context.Context) (any, error) {
			return step.Run(ctx, "big", func(ctx context.Context) (string, error) { return "small", nil })
		}, growStepOutput{})
		a.sync()
		f := failed(t, a, a.send(a.event("go"), nil))
		assert.Equal(t, "Error", f.Error.Name)
		assert.Equal(t, "error validating generator opcode "+stepHash("big")+": step output size is greater than the limit", f.Error.Message)
	})
	t.Run("step-output-over-sdk-limit", func(t *testing.T) {
		a := newVictim(t, appConfig{}, func(ctx context.Context) (any, error) {
			return step.Run(ctx, "big", func(ctx context.Context) (string, error) { return strings.Repeat("x", 5<<20), nil })
		})
		a.sync()
		f := failed(t, a, a.send(a.event("go"), nil))
		assert.Equal(t, "NonRetriableError", f.Error.Name)
		assert.Equal(t, `step "big": its result (string) is 5242891 bytes of JSON, over Inngest's limit of 4194304 bytes for a step's output (inngest.MaxStepOutputSize); return less, such as a reference to data stored elsewhere`, f.Error.Message)
		assert.Equal(t, "big", f.StepID)
		calls := a.callsTo("victim")
		require.Len(t, calls, 2, "the step failed at once and the function returned its error")
		assert.Less(t, len(calls[0].Response), 1<<10, "the 5 MiB result was not sent")
	})
	t.Run("state-overflowed", func(t *testing.T) {
		a := newVictim(t, appConfig{}, func(ctx context.Context) (any, error) {
			// Ten outputs of 3.5 MiB, each under the 4 MiB step limit,
			// are 35 MiB of state, over the 32 MiB run limit.
			for i := range 10 {
				if _, err := step.Run(ctx, "part-"+string(rune('a'+i)), func(ctx context.Context) (string, error) {
					return strings.Repeat(string(rune('a'+i)), 3<<20+1<<19), nil
				}); err != nil {
					return nil, err
				}
			}
			return "done", nil
		})
		a.sync()
		f := failed(t, a, a.send(a.event("go"), nil))
		assert.Equal(t, "InngestErrStateOverflowed", f.Error.Name)
		assert.Equal(t, "The function run exceeded the state size limit of 33554432 bytes.", f.Error.Message)
	})
}
