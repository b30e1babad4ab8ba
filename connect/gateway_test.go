package connect

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	pb "github.com/go-inngest/inngest/connect/internal/connectpb"
)

// fakeGateway plays Inngest's side of Connect: the start and flush calls
// over HTTP, and a gateway that accepts WebSocket connections, each handed
// to the test as a gwConn.
type fakeGateway struct {
	t      testing.TB
	srv    *httptest.Server
	conns  chan *gwConn
	starts atomic.Int32

	mu          sync.Mutex
	startAuth   []string
	startBody   []*pb.StartRequest
	startCode   int // answer to /v0/connect/start when not 0 or 200
	flushed     []*pb.SDKResponse
	flushCode   int
	heartbeat   string
	leaseEvery  string
	statusEvery string
	// autoHeartbeat: answer every WORKER_HEARTBEAT with GATEWAY_HEARTBEAT.
	autoHeartbeat bool
}

func newFakeGateway(t testing.TB) *fakeGateway {
	g := &fakeGateway{t: t, conns: make(chan *gwConn, 8), heartbeat: "10s", leaseEvery: "5s", autoHeartbeat: true}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v0/connect/start", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req pb.StartRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := g.starts.Add(1)
		g.mu.Lock()
		g.startAuth = append(g.startAuth, r.Header.Get("Authorization"))
		g.startBody = append(g.startBody, &req)
		code := g.startCode
		g.mu.Unlock()
		if code != 0 && code != 200 {
			w.WriteHeader(code)
			return
		}
		out, _ := proto.Marshal(&pb.StartResponse{
			ConnectionId:    "conn-" + itoa(int(n)),
			GatewayEndpoint: "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/gateway",
			GatewayGroup:    "group-" + itoa(int(n)),
			SessionToken:    "session-" + itoa(int(n)),
			SyncToken:       "sync-" + itoa(int(n)),
		})
		_, _ = w.Write(out)
	})
	mux.HandleFunc("POST /v0/connect/flush", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var resp pb.SDKResponse
		if err := proto.Unmarshal(b, &resp); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		g.mu.Lock()
		code := g.flushCode
		if code == 0 {
			g.flushed = append(g.flushed, &resp)
		}
		g.mu.Unlock()
		if code != 0 {
			w.WriteHeader(code)
			return
		}
		out, _ := proto.Marshal(&pb.FlushResponse{RequestId: resp.RequestId})
		_, _ = w.Write(out)
	})
	mux.HandleFunc("/gateway", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{subprotocol}})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		if ws.Subprotocol() != subprotocol {
			t.Errorf("subprotocol %q", ws.Subprotocol())
		}
		ws.SetReadLimit(readLimit)
		c := &gwConn{g: g, ws: ws, in: make(chan *pb.ConnectMessage, 64), closed: make(chan struct{})}
		g.conns <- c
		c.loop()
	})
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func itoa(n int) string { return strconv.Itoa(n) }

// gwConn is one worker connection as the gateway sees it.
type gwConn struct {
	g      *fakeGateway
	ws     *websocket.Conn
	in     chan *pb.ConnectMessage // what the worker sent, heartbeats left out when answered automatically
	closed chan struct{}
	hbs    atomic.Int32
	silent atomic.Bool // stop answering heartbeats
	code   websocket.StatusCode
	reason string
}

func (c *gwConn) loop() {
	defer close(c.closed)
	ctx := context.Background()
	if err := c.sendRaw(pb.GatewayMessageType_GATEWAY_HELLO, nil); err != nil {
		return
	}
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			c.code = websocket.CloseStatus(err)
			var ce websocket.CloseError
			if ok := asClose(err, &ce); ok {
				c.reason = ce.Reason
			}
			return
		}
		var m pb.ConnectMessage
		if err := proto.Unmarshal(b, &m); err != nil {
			c.g.t.Errorf("the worker sent a frame that is not a ConnectMessage: %v", err)
			continue
		}
		switch m.Kind {
		case pb.GatewayMessageType_WORKER_CONNECT:
			ready, _ := proto.Marshal(&pb.GatewayConnectionReadyData{HeartbeatInterval: c.g.heartbeat, ExtendLeaseInterval: c.g.leaseEvery, StatusInterval: c.g.statusEvery})
			_ = c.sendRaw(pb.GatewayMessageType_GATEWAY_CONNECTION_READY, ready)
			c.in <- &m // after READY, so the test sends nothing before it
			continue
		case pb.GatewayMessageType_WORKER_HEARTBEAT:
			c.hbs.Add(1)
			if c.g.autoHeartbeat {
				if !c.silent.Load() {
					_ = c.sendRaw(pb.GatewayMessageType_GATEWAY_HEARTBEAT, nil)
				}
				continue
			}
		}
		c.in <- &m
	}
}

func (c *gwConn) sendRaw(kind pb.GatewayMessageType, payload []byte) error {
	b, _ := proto.Marshal(&pb.ConnectMessage{Kind: kind, Payload: payload})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, b)
}

func (c *gwConn) send(kind pb.GatewayMessageType, m proto.Message) {
	c.g.t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		c.g.t.Fatal(err)
	}
	if err := c.sendRaw(kind, b); err != nil {
		c.g.t.Fatalf("sending %s: %v", kind, err)
	}
}

// next returns the worker's next message of one of kinds, skipping others.
func (c *gwConn) next(kinds ...pb.GatewayMessageType) *pb.ConnectMessage {
	c.g.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.in:
			for _, k := range kinds {
				if m.Kind == k {
					return m
				}
			}
		case <-timeout:
			c.g.t.Fatalf("no %v from the worker within 10s", kinds)
			return nil
		}
	}
}

func (g *fakeGateway) conn() *gwConn {
	g.t.Helper()
	select {
	case c := <-g.conns:
		c.next(pb.GatewayMessageType_WORKER_CONNECT)
		return c
	case <-time.After(10 * time.Second):
		g.t.Fatal("the worker did not connect within 10s")
		return nil
	}
}

func asClose(err error, ce *websocket.CloseError) bool {
	if e, ok := err.(websocket.CloseError); ok {
		*ce = e
		return true
	}
	type unwrapper interface{ Unwrap() error }
	for {
		u, ok := err.(unwrapper)
		if !ok {
			return false
		}
		err = u.Unwrap()
		if e, ok := err.(websocket.CloseError); ok {
			*ce = e
			return true
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
