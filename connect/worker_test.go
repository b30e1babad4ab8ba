package connect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/go-inngest/inngest"
	pb "github.com/go-inngest/inngest/connect/internal/connectpb"
	"github.com/go-inngest/inngest/step"
)

const testKey = "signkey-test-3f2ac9"

// sha1 of the step ID "a", as the replay engine hashes it.
const hashA = "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"

type harness struct {
	t       testing.TB
	g       *fakeGateway
	client  *inngest.Client
	release chan struct{} // closes to let the "block" function and the "slow" step finish
	cancel  context.CancelFunc
	done    chan error
	// slowStarted gets a value when the "slow" step starts, slowCancelled
	// when its context is cancelled before release.
	slowStarted, slowCancelled chan struct{}
}

// newHarness makes a cloud-mode client with three functions — "flow" (a
// step "a", then "done"), "block" (waits for release) and "slow" (a step
// that waits for release or its context's end) — and runs a worker for it
// against a fake gateway configured by setup.
func newHarness(t testing.TB, setup func(*fakeGateway), opts Options) *harness {
	t.Setenv("INNGEST_DEV", "")
	t.Setenv("INNGEST_SIGNING_KEY", "")
	t.Setenv("INNGEST_SIGNING_KEY_FALLBACK", "")
	t.Setenv("INNGEST_CONNECT_MAX_WORKER_CONCURRENCY", "")
	h := &harness{t: t, g: newFakeGateway(t), release: make(chan struct{}), done: make(chan error, 1),
		slowStarted: make(chan struct{}, 8), slowCancelled: make(chan struct{}, 8)}
	if setup != nil {
		setup(h.g)
	}
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", SigningKey: testKey, APIBaseURL: h.g.srv.URL, Logger: quietLogger()})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "flow"}, inngest.EventTrigger("t/flow", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			if _, err := step.Run(ctx, "a", func(context.Context) (int, error) { return 1, nil }); err != nil {
				return nil, err
			}
			return "done", nil
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "block"}, inngest.EventTrigger("t/block", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			<-h.release
			return "released", nil
		})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "slow"}, inngest.EventTrigger("t/slow", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "wait", func(ctx context.Context) (string, error) {
				h.slowStarted <- struct{}{}
				select {
				case <-h.release:
					return "finished", nil
				case <-ctx.Done():
					h.slowCancelled <- struct{}{}
					return "", ctx.Err()
				}
			})
		})
	require.NoError(t, err)
	h.client = c
	if opts.SigningKey == "" {
		opts.SigningKey = testKey
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, c, opts) }()
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		cancel()
		select {
		case <-h.done:
		case <-time.After(15 * time.Second):
			t.Error("Run did not return within 15s of its context ending")
		}
	})
	return h
}

func callPayload(t testing.TB, steps map[string]any) []byte {
	t.Helper()
	if steps == nil {
		steps = map[string]any{}
	}
	b, err := json.Marshal(map[string]any{
		"event":   map[string]any{"name": "t/flow", "data": map[string]any{}, "id": "E1", "ts": 1},
		"events":  []any{map[string]any{"name": "t/flow", "data": map[string]any{}, "id": "E1", "ts": 1}},
		"steps":   steps,
		"version": 2,
		"ctx":     map[string]any{"run_id": "R1", "step_id": "step", "attempt": 0, "stack": map[string]any{"stack": []string{}}},
	})
	require.NoError(t, err)
	return b
}

func request(id, slug string, payload []byte) *pb.GatewayExecutorRequestData {
	step := "step"
	return &pb.GatewayExecutorRequestData{
		RequestId: id, AccountId: "acct", EnvId: "env", AppId: "app-id", AppName: "app",
		FunctionId: "fn-uuid", FunctionSlug: slug, StepId: &step, RequestPayload: payload,
		SystemTraceCtx: []byte("sys"), UserTraceCtx: []byte("user"), RunId: "R1", LeaseId: "L1",
	}
}

func decodeReply(t testing.TB, m *pb.ConnectMessage) *pb.SDKResponse {
	t.Helper()
	require.Equal(t, pb.GatewayMessageType_WORKER_REPLY, m.Kind)
	var r pb.SDKResponse
	require.NoError(t, proto.Unmarshal(m.Payload, &r))
	return &r
}

func ackReply(c *gwConn, id string) {
	c.send(pb.GatewayMessageType_WORKER_REPLY_ACK, &pb.WorkerReplyAckData{RequestId: id})
}

func TestHandshakeAndAStepRoundTrip(t *testing.T) {
	h := newHarness(t, nil, Options{InstanceID: "pod-7", MaxConcurrency: 3})
	g := h.g
	c := <-g.conns
	connect := c.next(pb.GatewayMessageType_WORKER_CONNECT)

	// The start call carries the hashed key.
	raw, _ := hex.DecodeString("3f2ac9")
	sum := sha256.Sum256(raw)
	g.mu.Lock()
	assert.Equal(t, []string{"Bearer signkey-test-" + hex.EncodeToString(sum[:])}, g.startAuth)
	g.mu.Unlock()

	var wc pb.WorkerConnectRequestData
	require.NoError(t, proto.Unmarshal(connect.Payload, &wc))
	assert.Equal(t, "conn-1", wc.ConnectionId)
	assert.Equal(t, "pod-7", wc.InstanceId)
	assert.Equal(t, "session-1", wc.AuthData.GetSessionToken())
	assert.Equal(t, "sync-1", wc.AuthData.GetSyncToken())
	assert.Equal(t, int64(3), wc.GetMaxWorkerConcurrency())
	assert.Equal(t, "go", wc.SdkLanguage)
	assert.Equal(t, inngest.SDKName+":v"+inngest.Version, wc.SdkVersion)
	assert.JSONEq(t, `{"trust_probe":"v1","connect":"v1"}`, string(wc.Capabilities))
	require.Len(t, wc.Apps, 1)
	assert.Equal(t, "app", wc.Apps[0].AppName)
	var fns []struct {
		ID    string `json:"id"`
		Steps map[string]struct {
			Runtime struct{ Type, URL string } `json:"runtime"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(wc.Apps[0].Functions, &fns))
	require.Len(t, fns, 3)
	assert.Equal(t, "app-flow", fns[0].ID)
	assert.Equal(t, "ws", fns[0].Steps["step"].Runtime.Type)
	assert.Equal(t, "ws://connect?fnId=app-flow&stepId=step", fns[0].Steps["step"].Runtime.URL)

	// First call: the step runs and is reported (206).
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-flow", callPayload(t, nil)))
	ackMsg := c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	var ack pb.WorkerRequestAckData
	require.NoError(t, proto.Unmarshal(ackMsg.Payload, &ack))
	assert.True(t, proto.Equal(&pb.WorkerRequestAckData{
		RequestId: "req-1", AccountId: "acct", EnvId: "env", AppId: "app-id", FunctionSlug: "app-flow",
		StepId: proto.String("step"), SystemTraceCtx: []byte("sys"), UserTraceCtx: []byte("user"), RunId: "R1",
	}, &ack), "the ack echoes the request: %v", &ack)

	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, "req-1", r.RequestId)
	assert.Equal(t, pb.SDKResponseStatus_NOT_COMPLETED, r.Status)
	assert.Equal(t, "acct", r.AccountId)
	assert.Equal(t, "R1", r.RunId)
	assert.Equal(t, []byte("sys"), r.SystemTraceCtx)
	assert.Equal(t, inngest.SDKName+":v"+inngest.Version, r.SdkVersion)
	assert.NotZero(t, r.RequestVersion)
	var ops []struct {
		ID   string          `json:"id"`
		Op   string          `json:"op"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &ops), string(r.Body))
	require.Len(t, ops, 1)
	assert.Equal(t, hashA, ops[0].ID)
	assert.Equal(t, "StepRun", ops[0].Op)
	assert.JSONEq(t, "1", string(ops[0].Data))
	ackReply(c, "req-1")

	// Second call, with the step memoized: the function finishes (200).
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-2", "app-flow", callPayload(t, map[string]any{hashA: map[string]any{"data": 1}})))
	r = decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, pb.SDKResponseStatus_DONE, r.Status)
	assert.JSONEq(t, `"done"`, string(r.Body))
	assert.False(t, r.NoRetry)
	ackReply(c, "req-2")
}

func TestBadInputFromTheWireNeverKillsTheWorker(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := h.g.conn()

	require.NoError(t, c.sendRaw(pb.GatewayMessageType(99), []byte("?")))                                   // unknown kind
	require.NoError(t, c.ws.Write(context.Background(), websocket.MessageBinary, []byte{0xff, 0xff, 0xff})) // not protobuf
	require.NoError(t, c.ws.Write(context.Background(), websocket.MessageText, []byte("hello")))            // text frame
	require.NoError(t, c.sendRaw(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, []byte{0x0a, 0xff}))       // truncated payload
	require.NoError(t, c.sendRaw(pb.GatewayMessageType_WORKER_REPLY_ACK, []byte{0x0a, 0xff}))

	// A function this worker does not have: a clear error reply.
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-x", "app-nope", callPayload(t, nil)))
	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, "req-x", r.RequestId)
	assert.Equal(t, pb.SDKResponseStatus_ERROR, r.Status)
	assert.Contains(t, string(r.Body), `no function \"app-nope\"`)
	ackReply(c, "req-x")

	// A body that is not a call: the handler's 400, as over HTTP.
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-y", "app-flow", []byte(`{"steps":[]}`)))
	r = decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, pb.SDKResponseStatus_ERROR, r.Status)
	assert.Contains(t, string(r.Body), "not a valid request")
	ackReply(c, "req-y")

	// And the worker still serves.
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-z", "app-flow", callPayload(t, map[string]any{hashA: map[string]any{"data": 1}})))
	r = decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, pb.SDKResponseStatus_DONE, r.Status)
	assert.Equal(t, int32(1), h.g.starts.Load(), "the connection survived")
}

func TestMissedGatewayHeartbeatsReconnect(t *testing.T) {
	h := newHarness(t, func(g *fakeGateway) { g.heartbeat = "50ms" }, Options{})
	c := h.g.conn()
	time.Sleep(300 * time.Millisecond)
	assert.GreaterOrEqual(t, c.hbs.Load(), int32(3), "heartbeats at the server's interval")
	assert.Equal(t, int32(1), h.g.starts.Load(), "answered heartbeats keep the connection")

	c.silent.Store(true)
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker kept a connection whose gateway stopped heartbeating")
	}
	n := c.hbs.Load()
	assert.LessOrEqual(t, n, int32(10), "dead after two missed heartbeats")
	c2 := h.g.conn()
	assert.Equal(t, int32(2), h.g.starts.Load())
	_ = c2
}

func TestLeaseIsExtendedWhileTheCallRuns(t *testing.T) {
	h := newHarness(t, func(g *fakeGateway) { g.leaseEvery = "50ms" }, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-block", callPayload(t, nil)))

	ext := func() *pb.WorkerRequestExtendLeaseData {
		m := c.next(pb.GatewayMessageType_WORKER_REQUEST_EXTEND_LEASE)
		var e pb.WorkerRequestExtendLeaseData
		require.NoError(t, proto.Unmarshal(m.Payload, &e))
		return &e
	}
	e := ext()
	assert.Equal(t, "req-1", e.RequestId)
	assert.Equal(t, "L1", e.LeaseId)
	assert.Equal(t, "R1", e.RunId)
	c.send(pb.GatewayMessageType_WORKER_REQUEST_EXTEND_LEASE_ACK, &pb.WorkerRequestExtendLeaseAckData{RequestId: "req-1", NewLeaseId: proto.String("L2")})
	for e.LeaseId != "L2" {
		e = ext()
		if e.LeaseId != "L1" && e.LeaseId != "L2" {
			t.Fatalf("lease %q", e.LeaseId)
		}
	}
	close(h.release)
	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, pb.SDKResponseStatus_DONE, r.Status)
	assert.JSONEq(t, `"released"`, string(r.Body))

	// No extensions once the call has replied.
	time.Sleep(150 * time.Millisecond)
	for len(c.in) > 0 {
		m := <-c.in
		assert.NotEqual(t, pb.GatewayMessageType_WORKER_REQUEST_EXTEND_LEASE, m.Kind)
	}
}

func TestAFinishedCallsReplySurvivesADroppedConnection(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-block", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)

	// The gateway goes away and neither it nor the flush API answers for a while.
	h.g.mu.Lock()
	h.g.startCode, h.g.flushCode = 503, 503
	h.g.mu.Unlock()
	_ = c.ws.Close(websocket.StatusGoingAway, "gone")
	<-c.closed
	close(h.release) // the call finishes while there is no connection
	time.Sleep(1500 * time.Millisecond)
	h.g.mu.Lock()
	h.g.startCode = 0
	h.g.mu.Unlock()

	c2 := h.g.conn()
	r := decodeReply(t, c2.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, "req-1", r.RequestId)
	assert.Equal(t, pb.SDKResponseStatus_DONE, r.Status)
	ackReply(c2, "req-1")
	require.Eventually(t, func() bool {
		h.cancel()
		select {
		case err := <-h.done:
			h.done <- err
			return true
		default:
			return false
		}
	}, 10*time.Second, 20*time.Millisecond)
	assert.NoError(t, <-h.done, "nothing left undelivered")
	h.done <- nil
}

func TestUnacknowledgedRepliesGoThroughTheFlushAPI(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-flow", callPayload(t, nil)))
	decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY)) // never acknowledged
	require.Eventually(t, func() bool {
		h.g.mu.Lock()
		defer h.g.mu.Unlock()
		return len(h.g.flushed) == 1 && h.g.flushed[0].RequestId == "req-1"
	}, 10*time.Second, 50*time.Millisecond)
}

func TestGatewayDrainMovesToAnotherGateway(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-block", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	require.NoError(t, c.sendRaw(pb.GatewayMessageType_GATEWAY_CLOSING, nil))

	c2 := h.g.conn()
	h.g.mu.Lock()
	require.Len(t, h.g.startBody, 2)
	assert.Equal(t, []string{"group-1"}, h.g.startBody[1].ExcludeGateways, "the draining gateway is excluded")
	h.g.mu.Unlock()
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the drained connection stayed open")
	}

	close(h.release)
	r := decodeReply(t, c2.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, "req-1", r.RequestId)
	assert.Equal(t, pb.SDKResponseStatus_DONE, r.Status)
	ackReply(c2, "req-1")
}

func TestGracefulShutdownFinishesInFlightCallsAndTakesNoNewOnes(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-block", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)

	h.cancel()
	c.next(pb.GatewayMessageType_WORKER_PAUSE)
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-2", "app-flow", callPayload(t, nil)))
	select {
	case err := <-h.done:
		t.Fatalf("Run returned (%v) with a call in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.release)
	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY, pb.GatewayMessageType_WORKER_REQUEST_ACK))
	assert.Equal(t, "req-1", r.RequestId, "only the call in flight replies; the one after the pause is left alone")
	ackReply(c, "req-1")
	select {
	case err := <-h.done:
		require.NoError(t, err)
		h.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its calls finished")
	}
	<-c.closed
	assert.Equal(t, websocket.StatusNormalClosure, c.code)
	assert.Equal(t, "WORKER_SHUTDOWN", c.reason)
	for len(c.in) > 0 {
		m := <-c.in
		assert.NotEqual(t, pb.GatewayMessageType_WORKER_REPLY, m.Kind, "req-2 was not run")
	}
}

func TestRefusedKeysAreFatalAfterTheFallback(t *testing.T) {
	h := newHarness(t, func(g *fakeGateway) { g.startCode = 401 }, Options{SigningKeyFallback: "signkey-test-abcd"})
	select {
	case err := <-h.done:
		assert.True(t, errors.Is(err, ErrUnauthenticated), "%v", err)
		h.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept going with refused keys")
	}
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	require.Len(t, h.g.startAuth, 2, "the fallback is tried second")
	assert.NotEqual(t, h.g.startAuth[0], h.g.startAuth[1])
}

func TestTooManyConnectionsIsFatalAtFirst(t *testing.T) {
	h := newHarness(t, func(g *fakeGateway) { g.startCode = 429 }, Options{})
	select {
	case err := <-h.done:
		assert.ErrorIs(t, err, ErrTooManyConnections)
		h.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept going")
	}
}

func TestConfigurationIsCheckedAtStart(t *testing.T) {
	t.Setenv("INNGEST_DEV", "")
	t.Setenv("INNGEST_SIGNING_KEY", "")
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", SigningKey: testKey, Logger: quietLogger()})
	require.NoError(t, err)

	err = Run(context.Background(), c, Options{})
	assert.ErrorContains(t, err, "INNGEST_SIGNING_KEY")

	t.Setenv("INNGEST_CONNECT_MAX_WORKER_CONCURRENCY", "lots")
	err = Run(context.Background(), c, Options{SigningKey: testKey})
	assert.ErrorContains(t, err, `INNGEST_CONNECT_MAX_WORKER_CONCURRENCY="lots"`)

	t.Setenv("INNGEST_CONNECT_MAX_WORKER_CONCURRENCY", "7")
	t.Setenv("INNGEST_SIGNING_KEY", testKey)
	t.Setenv("INNGEST_SIGNING_KEY_FALLBACK", "signkey-test-abcd")
	cfg, err := resolve(c, Options{})
	require.NoError(t, err)
	assert.Equal(t, 7, cfg.concurrency)
	assert.Len(t, cfg.keys, 2)
	assert.Equal(t, testKey, cfg.signKey)

	assert.Equal(t, 25*time.Second, cfg.shutdown, "the default shutdown timeout")

	_, err = resolve(c, Options{SigningKey: "signkey-test-zz"})
	assert.ErrorContains(t, err, "not hex")

	_, err = resolve(c, Options{ShutdownTimeout: -time.Second})
	assert.ErrorContains(t, err, "ShutdownTimeout -1s is negative")
}

func TestStatusReportsListTheCallsInFlight(t *testing.T) {
	h := newHarness(t, func(g *fakeGateway) { g.statusEvery = "50ms" }, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-block", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	for {
		m := c.next(pb.GatewayMessageType_WORKER_STATUS)
		var st pb.WorkerStatusData
		require.NoError(t, proto.Unmarshal(m.Payload, &st))
		if len(st.InFlightRequestIds) == 1 {
			assert.Equal(t, []string{"req-1"}, st.InFlightRequestIds)
			assert.False(t, st.ShutdownRequested)
			break
		}
	}
}

func TestADrainingConnectionCarriesItsCallsUntilTheyAreAnswered(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-block", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	// No other gateway to move to.
	h.g.mu.Lock()
	h.g.startCode = 503
	h.g.mu.Unlock()
	require.NoError(t, c.sendRaw(pb.GatewayMessageType_GATEWAY_CLOSING, nil))
	time.Sleep(300 * time.Millisecond)
	select {
	case <-c.closed:
		t.Fatal("the draining connection closed with a call in flight")
	default:
	}

	close(h.release)
	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, "req-1", r.RequestId, "the reply goes over the draining connection")
	ackReply(c, "req-1")
	select {
	case <-c.closed:
		assert.Equal(t, websocket.StatusNormalClosure, c.code)
		assert.Equal(t, "GATEWAY_DRAINING", c.reason)
	case <-time.After(5 * time.Second):
		t.Fatal("the drained connection stayed open after its last call")
	}
}

// logBuffer collects a worker's logs for a test.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitRun waits for Run to return, up to limit, and puts its error back
// for the harness's cleanup.
func (h *harness) waitRun(limit time.Duration) error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(limit):
		h.t.Fatalf("Run did not return within %v of its context ending", limit)
		return nil
	}
}

func TestShutdownTimeoutCancelsAStepThatOutlivesIt(t *testing.T) {
	const bound = 300 * time.Millisecond
	var logs logBuffer
	h := newHarness(t, nil, Options{ShutdownTimeout: bound, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-slow", "app-slow", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	<-h.slowStarted

	start := time.Now()
	h.cancel()
	c.next(pb.GatewayMessageType_WORKER_PAUSE)
	err := h.waitRun(15 * time.Second) // the step never finishes on its own
	elapsed := time.Since(start)

	require.ErrorIs(t, err, ErrShutdownTimeout)
	assert.Contains(t, err.Error(), "req-slow", "the error names the abandoned call")
	assert.GreaterOrEqual(t, elapsed, bound, "Run waited for the bound")
	// The bound, a second for the cancelled call to return and a second for
	// acknowledgements, with slack for a loaded machine.
	assert.Less(t, elapsed, bound+6*time.Second, "Run returned in about the bound")
	select {
	case <-h.slowCancelled:
	default:
		t.Error("the step's context was not cancelled")
	}
	assert.Contains(t, logs.String(), "abandoned a call")
	assert.Contains(t, logs.String(), "request_id=req-slow")
	assert.Contains(t, logs.String(), "function=app-slow")
	assert.NotContains(t, logs.String(), testKey[len("signkey-test-"):], "no secrets in the logs")
	<-c.closed
	assert.Equal(t, websocket.StatusNormalClosure, c.code)
	assert.Equal(t, "WORKER_SHUTDOWN", c.reason)
}

func TestAStepThatFinishesWithinTheShutdownTimeoutIsRepliedTo(t *testing.T) {
	h := newHarness(t, nil, Options{ShutdownTimeout: 10 * time.Second})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-1", "app-slow", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	<-h.slowStarted

	h.cancel()
	c.next(pb.GatewayMessageType_WORKER_PAUSE)
	time.Sleep(200 * time.Millisecond)
	close(h.release)
	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	assert.Equal(t, "req-1", r.RequestId)
	assert.Equal(t, pb.SDKResponseStatus_NOT_COMPLETED, r.Status, "the step's result, reported")
	assert.Contains(t, string(r.Body), `"finished"`)
	ackReply(c, "req-1")
	assert.NoError(t, h.waitRun(10*time.Second))
	select {
	case <-h.slowCancelled:
		t.Error("a step that finished in time was cancelled")
	default:
	}
}

func TestAReplyProducedBeforeTheShutdownTimeoutIsDeliveredWhenOthersAreAbandoned(t *testing.T) {
	h := newHarness(t, nil, Options{ShutdownTimeout: 300 * time.Millisecond})
	c := h.g.conn()
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-slow", "app-slow", callPayload(t, nil)))
	c.next(pb.GatewayMessageType_WORKER_REQUEST_ACK)
	<-h.slowStarted
	c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request("req-done", "app-flow", callPayload(t, nil)))
	r := decodeReply(t, c.next(pb.GatewayMessageType_WORKER_REPLY))
	require.Equal(t, "req-done", r.RequestId) // and the gateway never acknowledges it

	h.cancel()
	err := h.waitRun(15 * time.Second)
	require.ErrorIs(t, err, ErrShutdownTimeout)
	assert.Contains(t, err.Error(), "abandoned 1: req-slow")
	assert.NotContains(t, err.Error(), "req-done")
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	var flushed []string
	for _, f := range h.g.flushed {
		flushed = append(flushed, f.RequestId)
	}
	assert.Contains(t, flushed, "req-done", "the unacknowledged reply went through the flush API before Run returned")
}

func TestTheShutdownErrorNamesTheFirstAbandonedCallsAndLogsAll(t *testing.T) {
	var logs logBuffer
	w := newWorker(&config{concurrency: 1, shutdown: time.Second, log: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	for i := range 25 {
		id := fmt.Sprintf("req-%02d", i)
		w.leases.set(id, &lease{req: request(id, "app-slow", nil)})
	}
	err := w.abandon()
	require.ErrorIs(t, err, ErrShutdownTimeout)
	assert.Contains(t, err.Error(), "abandoned 25: req-00, req-01,")
	assert.Contains(t, err.Error(), "req-19 and 5 more (see the log)")
	assert.NotContains(t, err.Error(), "req-20")
	assert.Equal(t, 25, strings.Count(logs.String(), "abandoned a call"))
	assert.Contains(t, logs.String(), "request_id=req-24")
	assert.Error(t, w.calls.Err(), "the calls' context is cancelled")
}
