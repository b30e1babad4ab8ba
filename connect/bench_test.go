package connect

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	pb "github.com/go-inngest/inngest/connect/internal/connectpb"
)

// BenchmarkStepRoundTrip measures one call that runs a step and reports it
// (a 206), from the moment Inngest's side sends it to the moment it has
// the answer: over HTTP, a signed POST to the client's handler on a
// loopback server; over Connect, a GATEWAY_EXECUTOR_REQUEST to a worker on
// a loopback WebSocket until its WORKER_REPLY (the ack and reply
// acknowledgement included). Both run the same function through the same
// handler, so the difference is the transport.
func BenchmarkStepRoundTrip(b *testing.B) {
	b.Run("http", func(b *testing.B) {
		h := newHarness(b, nil, Options{})
		h.g.conn() // the worker is connected but idle; the calls go over HTTP
		srv := httptest.NewServer(h.client.Serve())
		b.Cleanup(srv.Close)
		body := callPayload(b, nil)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			sig, err := inngest.Sign(testKey, time.Now(), body)
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/inngest?fnId=app-flow&stepId=step", bytes.NewReader(body))
			req.Header.Set("X-Inngest-Signature", sig)
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusPartialContent {
				b.Fatalf("status %d: %s", resp.StatusCode, buf.Bytes())
			}
		}
	})
	b.Run("connect", func(b *testing.B) {
		h := newHarness(b, nil, Options{})
		c := h.g.conn()
		payload := callPayload(b, nil)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			id := "req-" + itoa(i)
			c.send(pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST, request(id, "app-flow", payload))
			r := decodeReply(b, c.next(pb.GatewayMessageType_WORKER_REPLY))
			if r.Status != pb.SDKResponseStatus_NOT_COMPLETED || r.RequestId != id {
				b.Fatalf("reply %v", r)
			}
			ackReply(c, id)
		}
	})
}
