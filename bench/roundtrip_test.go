package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	connectproto "github.com/inngest/inngest/proto/gen/connect/v1"
	official "github.com/inngest/inngestgo"
	"google.golang.org/protobuf/proto"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/connect"
)

// The round trip of one step over each transport: from the moment
// Inngest's side sends the call to the moment it holds the answer. Over
// HTTP that is a signed POST to the SDK's handler on a loopback server;
// over Connect, a GATEWAY_EXECUTOR_REQUEST to a connected worker on a
// loopback WebSocket until its WORKER_REPLY, then the WORKER_REPLY_ACK
// (the worker's WORKER_REQUEST_ACK and the protobuf framing on both ends
// included). Each SDK runs the same function (the steps function's first
// call: step s0 runs and is reported) in cloud mode, so the difference
// between an SDK's two rows is the transport.

// stepCall sends the call with request ID id once and returns the
// answer's body, failing unless the answer reports a step (a 206 over
// HTTP, NOT_COMPLETED over Connect).
type stepCall func(tb testing.TB, id int) []byte

var roundTrips = []struct {
	name  string
	setup func(tb testing.TB) stepCall
}{
	{"sdk=ours/transport=http", func(tb testing.TB) stepCall { return httpCall(tb, ours(tb, true).handler) }},
	{"sdk=ours/transport=connect", ourConnect},
	{"sdk=official/transport=http", func(tb testing.TB) stepCall { return httpCall(tb, theirs(tb, true).handler) }},
	{"sdk=official/transport=connect", theirConnect},
}

// BenchmarkStepRoundTrip measures one step's round trip over HTTP and over
// Connect, for this SDK and the official one. It is apart from
// BenchmarkCall (and the benchtable), which times the handler alone.
func BenchmarkStepRoundTrip(b *testing.B) {
	for _, rt := range roundTrips {
		b.Run(rt.name, func(b *testing.B) {
			call := rt.setup(b)
			checkStepRunBody(b, call(b, -1), "s0")
			b.ReportAllocs()
			stop := cpuMeter(b)
			for i := 0; b.Loop(); i++ {
				call(b, i)
			}
			stop()
		})
	}
}

// TestStepRoundTrip checks that every transport of the benchmark gives
// the same answer, the StepRun of s0, several times over one connection.
func TestStepRoundTrip(t *testing.T) {
	for _, rt := range roundTrips {
		t.Run(rt.name, func(t *testing.T) {
			call := rt.setup(t)
			for i := range 3 {
				checkStepRunBody(t, call(t, i), "s0")
			}
		})
	}
}

// httpCall serves h on a loopback server and posts the call to it, signed
// afresh each time as Inngest signs it.
func httpCall(tb testing.TB, h http.Handler) stepCall {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	rq := stepsRequest(tb, 0)
	u := srv.URL + rq.url.RequestURI()
	client := srv.Client()
	return func(tb testing.TB, _ int) []byte {
		req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(rq.body))
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Inngest-Signature", sign(tb, rq))
		resp, err := client.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if resp.StatusCode != http.StatusPartialContent {
			tb.Fatalf("status %d, want 206: %s", resp.StatusCode, truncate(body))
		}
		return body
	}
}

// ourConnect runs this SDK's Connect worker against a fake gateway.
func ourConnect(tb testing.TB) stepCall {
	g := newGateway(tb)
	c := ourClient(tb, inngest.ClientOpts{AppID: appID, Mode: inngest.ModeCloud, SigningKey: signingKey, Logger: discard})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- connect.Run(ctx, c, connect.Options{InstanceID: "bench", SigningKey: signingKey, APIBaseURL: g.srv.URL, Logger: discard})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("connect.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Error("connect.Run did not return within 30s of its context ending")
		}
	})
	return g.call(tb)
}

// theirConnect runs the official SDK's Connect worker against a fake
// gateway.
func theirConnect(tb testing.TB) stepCall {
	g := newGateway(tb)
	c := theirClient(tb, official.ClientOpts{AppID: appID, Dev: official.BoolPtr(false), SigningKey: official.StrPtr(signingKey),
		APIBaseURL: official.StrPtr(g.srv.URL), Logger: discard})
	ws, err := official.Connect(context.Background(), official.ConnectOpts{Apps: []official.Client{c}, InstanceID: official.StrPtr("bench")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := ws.Close(); err != nil {
			tb.Errorf("closing the official worker: %v", err)
		}
	})
	return g.call(tb)
}

// gateway plays Inngest's side of Connect, as little of it as a worker
// needs to take calls: the start and flush calls, and a WebSocket gateway
// that completes the handshake, answers heartbeats and hands each
// worker's replies to the benchmark.
type gateway struct {
	srv    *httptest.Server
	conns  chan *gwConn
	starts atomic.Int32
}

// gwConn is one worker connection as the gateway sees it.
type gwConn struct {
	ws      *websocket.Conn
	replies chan *connectproto.SDKResponse
	closed  chan struct{}
}

const subprotocol = "v0.connect.inngest.com"

func newGateway(tb testing.TB) *gateway {
	g := &gateway{conns: make(chan *gwConn, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v0/connect/start", func(w http.ResponseWriter, r *http.Request) {
		n := g.starts.Add(1)
		out, err := proto.Marshal(&connectproto.StartResponse{
			// The official SDK takes the connection ID for a ULID.
			ConnectionId:    fmt.Sprintf("01M89CTBSH2GFBMWW3PWMMWM%02d", n%100),
			GatewayEndpoint: "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/gateway",
			GatewayGroup:    "bench",
			SessionToken:    "session",
			SyncToken:       "sync",
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(out)
	})
	mux.HandleFunc("POST /v0/connect/flush", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var resp connectproto.SDKResponse
		if err := proto.Unmarshal(b, &resp); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, _ := proto.Marshal(&connectproto.FlushResponse{RequestId: resp.RequestId})
		_, _ = w.Write(out)
	})
	mux.HandleFunc("/gateway", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{subprotocol}})
		if err != nil {
			return
		}
		ws.SetReadLimit(10 << 20)
		c := &gwConn{ws: ws, replies: make(chan *connectproto.SDKResponse, 1), closed: make(chan struct{})}
		c.serve(g.conns)
	})
	g.srv = httptest.NewServer(mux)
	tb.Cleanup(g.srv.Close)
	return g
}

// serve greets the worker, readies it (then hands it over on ready), and
// reads what it sends until the connection ends.
func (c *gwConn) serve(ready chan<- *gwConn) {
	defer close(c.closed)
	ctx := context.Background()
	if c.send(connectproto.GatewayMessageType_GATEWAY_HELLO, nil) != nil {
		return
	}
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		var m connectproto.ConnectMessage
		if err := proto.Unmarshal(b, &m); err != nil {
			return
		}
		switch m.Kind {
		case connectproto.GatewayMessageType_WORKER_CONNECT:
			err = c.send(connectproto.GatewayMessageType_GATEWAY_CONNECTION_READY,
				&connectproto.GatewayConnectionReadyData{HeartbeatInterval: "10s", ExtendLeaseInterval: "5s"})
			ready <- c
		case connectproto.GatewayMessageType_WORKER_HEARTBEAT:
			err = c.send(connectproto.GatewayMessageType_GATEWAY_HEARTBEAT, nil)
		case connectproto.GatewayMessageType_WORKER_REPLY:
			var r connectproto.SDKResponse
			if err := proto.Unmarshal(m.Payload, &r); err != nil {
				return
			}
			c.replies <- &r
		}
		if err != nil {
			return
		}
	}
}

func (c *gwConn) send(kind connectproto.GatewayMessageType, m proto.Message) error {
	var payload []byte
	if m != nil {
		var err error
		if payload, err = proto.Marshal(m); err != nil {
			return err
		}
	}
	b, err := proto.Marshal(&connectproto.ConnectMessage{Kind: kind, Payload: payload})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, b)
}

// call waits for a worker to connect and returns the stepCall that sends
// it the call and acknowledges the reply.
func (g *gateway) call(tb testing.TB) stepCall {
	tb.Helper()
	var c *gwConn
	select {
	case c = <-g.conns:
	case <-time.After(20 * time.Second):
		tb.Fatal("the worker did not connect within 20s")
	}
	rq := stepsRequest(tb, 0)
	step := "step"
	return func(tb testing.TB, i int) []byte {
		id := "req-" + strconv.Itoa(i)
		req := &connectproto.GatewayExecutorRequestData{
			RequestId: id, AccountId: "acct", EnvId: "env", AppId: "app-uuid", AppName: appID,
			FunctionId: "fn-uuid", FunctionSlug: appID + "-steps", StepId: &step, RequestPayload: rq.body,
			RunId: "01M89CTBZB7VAD2JPG7CN5RYB6", LeaseId: "lease",
		}
		if err := c.send(connectproto.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, req); err != nil {
			tb.Fatal(err)
		}
		var r *connectproto.SDKResponse
		select {
		case r = <-c.replies:
		case <-c.closed:
			tb.Fatal("the worker's connection closed")
		}
		if r.RequestId != id || r.Status != connectproto.SDKResponseStatus_NOT_COMPLETED {
			tb.Fatalf("reply to %s: %s %s: %s", id, r.RequestId, r.Status, truncate(r.Body))
		}
		if err := c.send(connectproto.GatewayMessageType_WORKER_REPLY_ACK, &connectproto.WorkerReplyAckData{RequestId: id}); err != nil {
			tb.Fatal(err)
		}
		return r.Body
	}
}
