package connect_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/connect/internal/connectpb"
	"github.com/go-inngest/inngest/step"
)

type order struct {
	ID string `json:"id"`
}

type number struct {
	N int `json:"n"`
}

// TestE2EScenariosOverConnect runs, over one Connect worker, the scenarios
// the SDK's e2e suite runs over HTTP: sleep, retries, a failure handler, a
// cancellation handler, waiting for an event, invoke, parallel steps and
// state of several MiB.
func TestE2EScenariosOverConnect(t *testing.T) {
	srv := needServer(t)
	w := newWorker(t, srv)
	c := w.client
	must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "sleep"}, inngest.EventTrigger(w.event("sleep"), nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			start := time.Now()
			if _, err := step.Run(ctx, "before", func(context.Context) (int64, error) { return start.UnixMilli(), nil }); err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "nap", 2*time.Second); err != nil {
				return nil, err
			}
			return "woke", nil
		}))

	var flakyTries atomic.Int32
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "retries", Retries: inngest.Ptr(3)}, inngest.EventTrigger(w.event("retries"), nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "flaky", func(context.Context) (string, error) {
				n := flakyTries.Add(1)
				if n < 3 {
					return "", fmt.Errorf("attempt %d failed", n)
				}
				return fmt.Sprintf("ok after %d", n), nil
			})
		}))

	var failMu sync.Mutex
	var failures []inngest.Failure[order]
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fails", Retries: inngest.Ptr(0),
		OnFailure: inngest.OnFailure(func(ctx context.Context, f inngest.Failure[order]) (any, error) {
			failMu.Lock()
			failures = append(failures, f)
			failMu.Unlock()
			return "handled", nil
		})}, inngest.EventTrigger(w.event("fails"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			_, err := step.Run(ctx, "charge", func(context.Context) (int, error) {
				return 0, inngest.NoRetryError(errors.New("card declined for " + in.Event.Data.ID))
			})
			return nil, err
		}))

	var cancelStarted atomic.Int32
	var cancelMu sync.Mutex
	var cancels []inngest.Cancellation[order]
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "cancellable",
		Cancel: []inngest.Cancel{{Event: w.event("cancel"), Match: "data.id"}},
		OnCancel: inngest.OnCancel(func(ctx context.Context, cn inngest.Cancellation[order]) (any, error) {
			cancelMu.Lock()
			cancels = append(cancels, cn)
			cancelMu.Unlock()
			return "cleaned up", nil
		})}, inngest.EventTrigger(w.event("cancellable"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			if _, err := step.Run(ctx, "start", func(context.Context) (int32, error) { return cancelStarted.Add(1), nil }); err != nil {
				return nil, err
			}
			if err := step.Sleep(ctx, "long", 10*time.Minute); err != nil {
				return nil, err
			}
			return "not cancelled", nil
		}))

	var waiting atomic.Int32
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "wait"}, inngest.EventTrigger(w.event("wait"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			if _, err := step.Run(ctx, "ready", func(context.Context) (int32, error) { return waiting.Add(1), nil }); err != nil {
				return nil, err
			}
			ev, err := step.WaitForEvent[order](ctx, "approval", step.WaitForEventOpts{
				Event: w.event("approved"), If: "async.data.id == event.data.id", Timeout: time.Minute})
			if err != nil {
				return nil, err
			}
			return "approved " + ev.Data.ID, nil
		}))

	child, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "child"}, inngest.EventTrigger(w.event("child"), nil),
		func(ctx context.Context, in inngest.Input[number]) (any, error) {
			return in.Event.Data.N * 2, nil
		})
	require.NoError(t, err)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "parent"}, inngest.EventTrigger(w.event("parent"), nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			n, err := step.InvokeFunction[int](ctx, "double", child, number{N: 21}, time.Minute)
			if err != nil {
				return nil, err
			}
			return n, nil
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "parallel"}, inngest.EventTrigger(w.event("parallel"), nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			g := step.NewGroup(ctx)
			var parts [3]int
			for i := range parts {
				g.Go(func(ctx context.Context) error {
					v, err := step.Run(ctx, fmt.Sprint("part-", i), func(context.Context) (int, error) { return (i + 1) * 100, nil })
					parts[i] = v
					return err
				})
			}
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return parts[0] + parts[1] + parts[2], nil
		}))

	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "large"}, inngest.EventTrigger(w.event("large"), nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			total := 0
			for i := range 6 {
				s, err := step.Run(ctx, fmt.Sprint("chunk-", i), func(context.Context) (string, error) {
					return strings.Repeat(string(rune('a'+i)), 512<<10), nil
				})
				if err != nil {
					return nil, err
				}
				total += len(s)
			}
			return total, nil
		}))

	w.start()

	t.Run("sleep", func(t *testing.T) {
		t.Parallel()
		requireOutput(t, w.finished(w.send("sleep", nil)), "Completed", `"woke"`)
	})
	t.Run("retries", func(t *testing.T) {
		t.Parallel()
		requireOutput(t, w.finished(w.send("retries", nil)), "Completed", `"ok after 3"`)
		require.Equal(t, int32(3), flakyTries.Load())
	})
	t.Run("failure handler", func(t *testing.T) {
		t.Parallel()
		r := w.finished(w.send("fails", order{ID: "o-1"}))
		require.Equal(t, "Failed", r.Status, "output %s", r.Output)
		w.eventually("the failure handler", func() (bool, string) {
			failMu.Lock()
			defer failMu.Unlock()
			return len(failures) == 1, ""
		})
		failMu.Lock()
		f := failures[0]
		failMu.Unlock()
		require.Equal(t, r.RunID, f.RunID)
		require.Equal(t, "o-1", f.Event.Data.ID)
		require.ErrorContains(t, f.Error, "card declined for o-1")
	})
	t.Run("cancel handler", func(t *testing.T) {
		t.Parallel()
		eid := w.send("cancellable", order{ID: "o-2"})
		w.eventually("the run to start", func() (bool, string) { return cancelStarted.Load() > 0, "" })
		time.Sleep(time.Second) // let the sleep be scheduled
		w.send("cancel", order{ID: "o-2"})
		r := w.finished(eid)
		require.Equal(t, "Cancelled", r.Status)
		w.eventually("the cancellation handler", func() (bool, string) {
			cancelMu.Lock()
			defer cancelMu.Unlock()
			return len(cancels) == 1, ""
		})
		cancelMu.Lock()
		require.Equal(t, "o-2", cancels[0].Event.Data.ID)
		cancelMu.Unlock()
	})
	t.Run("wait for event", func(t *testing.T) {
		t.Parallel()
		eid := w.send("wait", order{ID: "o-3"})
		w.eventually("the run to wait", func() (bool, string) { return waiting.Load() > 0, "" })
		time.Sleep(time.Second) // let the wait be registered
		w.send("approved", order{ID: "someone-else"})
		w.send("approved", order{ID: "o-3"})
		requireOutput(t, w.finished(eid), "Completed", `"approved o-3"`)
	})
	t.Run("invoke", func(t *testing.T) {
		t.Parallel()
		requireOutput(t, w.finished(w.send("parent", nil)), "Completed", `42`)
	})
	t.Run("parallel", func(t *testing.T) {
		t.Parallel()
		requireOutput(t, w.finished(w.send("parallel", nil)), "Completed", `600`)
	})
	t.Run("large state", func(t *testing.T) {
		t.Parallel()
		requireOutput(t, w.finished(w.send("large", nil)), "Completed", fmt.Sprint(6*512<<10))
	})
}

// TestE2EGatewayConnectionsDropMidRun cuts every connection between the
// worker and the gateway while runs are in flight and refuses new ones for
// a few seconds, as a gateway restart does; the worker reconnects and
// every run completes.
func TestE2EGatewayConnectionsDropMidRun(t *testing.T) {
	srv := needServer(t)
	p := newCutProxy(t, gatewayAddr(t, srv))
	t.Setenv("INNGEST_CONNECT_GATEWAY_URL", "ws://"+p.addr()+"/v0/connect")
	w := newWorker(t, srv)
	ids := startSlowRuns(t, w, 300*time.Millisecond)
	p.cut(3 * time.Second)
	requireSlowRunsCompleted(t, w, ids)
	require.GreaterOrEqual(t, p.accepted.Load(), int32(2), "the worker reconnected")
}

// TestE2EServerRestartMidRun restarts the server, its gateway included,
// while runs are in flight, with the shell command in INNGEST_E2E_RESTART
// (one that keeps the server's state, such as killing an `inngest start`
// backed by an external Redis that a supervisor starts again). The worker
// reconnects and every run completes.
func TestE2EServerRestartMidRun(t *testing.T) {
	srv := needServer(t)
	restart := os.Getenv("INNGEST_E2E_RESTART")
	if restart == "" {
		t.Skip("end-to-end test: set INNGEST_E2E_RESTART to a shell command that restarts the server and keeps its state")
	}
	w := newWorker(t, srv)
	ids := startSlowRuns(t, w, 500*time.Millisecond)
	out, err := exec.Command("sh", "-c", restart).CombinedOutput()
	require.NoError(t, err, "INNGEST_E2E_RESTART: %s", out)
	requireSlowRunsCompleted(t, w, ids)
}

// startSlowRuns starts w with a function of four steps that take each
// long, sends it five events and returns their IDs once three steps have
// run: runs are then in flight.
func startSlowRuns(t *testing.T, w *worker, each time.Duration) []string {
	t.Helper()
	var calls atomic.Int32
	_, err := inngest.CreateFunction(w.client, inngest.FunctionOpts{ID: "slow"}, inngest.EventTrigger(w.event("slow"), nil),
		func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) {
			sum := 0
			for i := range 4 {
				v, err := step.Run(ctx, fmt.Sprint("s", i), func(context.Context) (int, error) {
					calls.Add(1)
					time.Sleep(each)
					return i, nil
				})
				if err != nil {
					return nil, err
				}
				sum += v
			}
			return sum + in.Event.Data["n"], nil
		})
	require.NoError(t, err)
	w.start()
	var ids []string
	for i := range 5 {
		ids = append(ids, w.send("slow", map[string]int{"n": i * 100}))
	}
	w.eventually("steps to run", func() (bool, string) { return calls.Load() >= 3, "" })
	return ids
}

// requireSlowRunsCompleted requires every run startSlowRuns started to
// complete with its sum.
func requireSlowRunsCompleted(t *testing.T, w *worker, ids []string) {
	t.Helper()
	for i, id := range ids {
		requireOutput(t, w.finished(id), "Completed", fmt.Sprint(6+i*100))
	}
}

// gatewayAddr asks the server's start call where its gateway is.
func gatewayAddr(t *testing.T, srv e2eServer) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.url+"/v0/connect/start", nil)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/protobuf")
	if k := srv.signingKey; k != "" {
		i := strings.LastIndex(k, "-") + 1 // after "signkey-<env>-", if any
		prefix := k[:i]
		raw, err := hex.DecodeString(k[i:])
		require.NoError(t, err)
		sum := sha256.Sum256(raw)
		req.Header.Set("Authorization", "Bearer "+prefix+hex.EncodeToString(sum[:]))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST /v0/connect/start: %s", body)
	var start connectpb.StartResponse
	require.NoError(t, proto.Unmarshal(body, &start))
	u, err := url.Parse(start.GatewayEndpoint)
	require.NoError(t, err)
	require.Equal(t, "/v0/connect", u.Path, "the gateway's path, which the test dials through its proxy")
	return u.Host
}

// cutProxy forwards TCP to a target and can drop every connection.
type cutProxy struct {
	t        *testing.T
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    []net.Conn
	refuse   time.Time
	accepted atomic.Int32
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{t: t, ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut(0) })
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refusing := time.Now().Before(p.refuse)
		p.mu.Unlock()
		if refusing {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.accepted.Add(1)
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

// cut closes every connection and refuses new ones for d.
func (p *cutProxy) cut(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = time.Now().Add(d)
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
