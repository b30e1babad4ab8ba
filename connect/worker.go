package connect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/go-inngest/inngest"
	pb "github.com/go-inngest/inngest/connect/internal/connectpb"
)

// worker is one Run: its connections come and go; its calls in flight,
// their leases and their unacknowledged replies outlive each connection.
type worker struct {
	cfg       *config
	handler   http.Handler
	startedAt time.Time
	sem       chan struct{}
	// calls is the context of every call the worker runs; it is cancelled
	// when the shutdown timeout passes with calls still running.
	calls       context.Context
	cancelCalls context.CancelFunc

	mu       sync.Mutex
	cur      *session // the connection sends go to; nil while reconnecting
	stopping bool     // no new calls are taken

	inflight sync.WaitGroup
	leases   lockedMap[string, *lease]
	// replies are the encoded WORKER_REPLY frames not yet acknowledged,
	// by request ID. A reply leaves only when the gateway acknowledges it
	// or the flush API accepts it.
	replies lockedMap[string, *pendingReply]
	flushMu sync.Mutex
}

type lease struct {
	mu  sync.Mutex
	id  string
	req *pb.GatewayExecutorRequestData
	// lost is set when the gateway declined to extend the lease.
	lost bool
}

type pendingReply struct {
	frame []byte
	resp  *pb.SDKResponse
	sent  time.Time
}

func newWorker(cfg *config, h http.Handler) *worker {
	n := cfg.concurrency
	calls, cancel := context.WithCancel(context.Background())
	return &worker{cfg: cfg, handler: h, startedAt: time.Now(), sem: make(chan struct{}, n), calls: calls, cancelCalls: cancel}
}

// errFatal marks errors that end Run.
type errFatal struct{ err error }

func (e errFatal) Error() string { return e.err.Error() }
func (e errFatal) Unwrap() error { return e.err }

func (w *worker) run(ctx context.Context) error {
	var exclude []string
	attempt := 0
	connected := false
	var draining *session // a connection the gateway is closing, kept open for its calls
	defer func() {
		if draining != nil {
			draining.close(websocket.StatusNormalClosure, "WORKER_SHUTDOWN")
		}
	}()
	for {
		s, err := w.connect(ctx, exclude, connected)
		if err != nil {
			var fe errFatal
			if errors.As(err, &fe) {
				return fe.err
			}
			if ctx.Err() != nil {
				return w.shutdown(nil)
			}
			wait := backoff[min(attempt, len(backoff)-1)]
			attempt++
			w.cfg.log.WarnContext(ctx, "connect: could not connect; retrying", "error", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return w.shutdown(nil)
			case <-time.After(wait):
			}
			continue
		}
		connected, attempt, exclude = true, 0, nil
		w.setCurrent(s)
		if draining != nil {
			draining.close(websocket.StatusNormalClosure, "WORKER_SHUTDOWN")
			draining = nil
		}
		go w.flush(context.WithoutCancel(ctx)) // replies left from the last connection
		reason := s.serve(ctx)
		switch {
		case reason == errGatewayClosing:
			// The old connection stays current for the calls it carries
			// until they finish or a new one is ready; a new one is taken
			// elsewhere right away.
			exclude = []string{s.group}
			draining = s
			s.drain()
			continue
		case ctx.Err() != nil:
			return w.shutdown(s)
		}
		w.setCurrent(nil)
		s.close(websocket.StatusGoingAway, "UNEXPECTED")
		w.cfg.log.WarnContext(ctx, "connect: connection lost; reconnecting", "error", reason)
		wait := backoff[0]
		select {
		case <-ctx.Done():
			return w.shutdown(nil)
		case <-time.After(wait):
		}
	}
}

func (w *worker) setCurrent(s *session) {
	w.mu.Lock()
	prev := w.cur
	w.cur = s
	w.mu.Unlock()
	if s != nil && s != prev {
		w.resend(s)
	}
}

func (w *worker) current() *session {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// shutdown finishes a Run whose context is done: the gateway is told to
// send no more calls, the calls in flight finish (their heartbeats, lease
// extensions and replies going over s while it lasts) or, at the shutdown
// timeout, are cancelled and abandoned; the replies not acknowledged go
// through the flush API, and the connection closes.
func (w *worker) shutdown(s *session) error {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	defer w.cancelCalls()
	deadline := time.Now().Add(w.cfg.shutdown)
	bg := context.Background()
	if s != nil {
		w.setCurrent(s)
		_ = s.send(bg, pb.GatewayMessageType_WORKER_PAUSE, nil)
	}
	// The connection keeps reading acknowledgements and heartbeating
	// while the calls finish.
	var errs []error
	if !w.waitCalls(deadline) {
		errs = append(errs, w.abandon())
		// What the cancelled calls answer in the next moment is delivered
		// like any other reply.
		w.waitCalls(time.Now().Add(cancelGrace))
	}
	if s != nil {
		until := time.Now().Add(replyAckTimeout)
		if until.After(deadline) {
			until = later(deadline, time.Now().Add(finalAckGrace))
		}
		w.waitAcks(until)
		w.setCurrent(nil)
		s.close(websocket.StatusNormalClosure, "WORKER_SHUTDOWN")
		<-s.done()
	}
	ctx, cancel := context.WithDeadline(bg, later(deadline, time.Now().Add(finalFlushGrace)))
	defer cancel()
	w.flush(ctx)
	if n := len(w.replies.snapshot()); n > 0 {
		errs = append(errs, fmt.Errorf("connect: %d replies could not be delivered", n))
	}
	return errors.Join(errs...)
}

// waitCalls waits until the calls in flight have finished or deadline
// passes, and reports whether they finished.
func (w *worker) waitCalls(deadline time.Time) bool {
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// maxNamed is how many abandoned calls the error names; the log names all.
const maxNamed = 20

// abandon cancels the calls still running at the shutdown timeout, logs
// each, and returns the error Run reports for them.
func (w *worker) abandon() error {
	running := w.leases.snapshot()
	w.cancelCalls()
	ids := make([]string, 0, len(running))
	for id, l := range running {
		ids = append(ids, id)
		r := l.req
		w.cfg.log.Warn("connect: the shutdown timeout passed; cancelled and abandoned a call (Inngest will run it again)",
			"request_id", id, "run_id", r.RunId, "function", r.FunctionSlug, "step_id", r.GetStepId(), "shutdown_timeout", w.cfg.shutdown)
	}
	slices.Sort(ids)
	n := len(ids)
	more := ""
	if n > maxNamed {
		ids, more = ids[:maxNamed], fmt.Sprintf(" and %d more (see the log)", n-maxNamed)
	}
	return fmt.Errorf("%w (%v): abandoned %d: %s%s", ErrShutdownTimeout, w.cfg.shutdown, n, strings.Join(ids, ", "), more)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// waitAcks waits until deadline for every sent reply to be acknowledged.
func (w *worker) waitAcks(deadline time.Time) {
	for time.Now().Before(deadline) && len(w.replies.snapshot()) > 0 {
		time.Sleep(20 * time.Millisecond)
	}
}

// handleRequest takes one GATEWAY_EXECUTOR_REQUEST: it acknowledges it,
// keeps its lease while it runs, runs it through the client's handler and
// replies.
func (w *worker) handleRequest(s *session, req *pb.GatewayExecutorRequestData) {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		w.cfg.log.Info("connect: shutting down; left a call for another worker", "request_id", req.RequestId, "run_id", req.RunId)
		return
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	if _, dup := w.leases.get(req.RequestId); dup {
		w.inflight.Done()
		return
	}
	if _, done := w.replies.get(req.RequestId); done {
		// Already answered; the reply is on its way.
		w.inflight.Done()
		w.resend(s)
		return
	}
	ack := &pb.WorkerRequestAckData{
		RequestId: req.RequestId, AccountId: req.AccountId, EnvId: req.EnvId, AppId: req.AppId,
		FunctionSlug: req.FunctionSlug, StepId: req.StepId, SystemTraceCtx: req.SystemTraceCtx,
		UserTraceCtx: req.UserTraceCtx, RunId: req.RunId,
	}
	if err := s.send(context.Background(), pb.GatewayMessageType_WORKER_REQUEST_ACK, ack); err != nil {
		w.cfg.log.Warn("connect: could not acknowledge a call", "request_id", req.RequestId, "error", err)
	}
	l := &lease{id: req.LeaseId, req: req}
	w.leases.set(req.RequestId, l)
	s.calls.Add(1)
	go func() {
		defer w.inflight.Done()
		defer s.callDone()
		defer w.leases.del(req.RequestId)
		stop := make(chan struct{})
		go w.extendLease(l, s.leaseEvery, stop)
		select {
		case w.sem <- struct{}{}:
		case <-w.calls.Done():
			close(stop) // abandoned at shutdown before it started
			return
		}
		resp := w.execute(req)
		<-w.sem
		close(stop)
		w.reply(resp)
	}()
}

// extendLease asks for a longer lease every interval until stop closes
// or the gateway declines.
func (w *worker) extendLease(l *lease, every time.Duration, stop <-chan struct{}) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		id, lost := l.id, l.lost
		l.mu.Unlock()
		if lost {
			return
		}
		r := l.req
		msg := &pb.WorkerRequestExtendLeaseData{
			RequestId: r.RequestId, AccountId: r.AccountId, EnvId: r.EnvId, AppId: r.AppId,
			FunctionSlug: r.FunctionSlug, StepId: r.StepId, SystemTraceCtx: r.SystemTraceCtx,
			UserTraceCtx: r.UserTraceCtx, RunId: r.RunId, LeaseId: id,
		}
		if s := w.current(); s != nil {
			if err := s.send(context.Background(), pb.GatewayMessageType_WORKER_REQUEST_EXTEND_LEASE, msg); err != nil {
				w.cfg.log.Warn("connect: could not extend a lease", "request_id", r.RequestId, "error", err)
			}
		}
	}
}

func (w *worker) leaseAck(a *pb.WorkerRequestExtendLeaseAckData) {
	l, ok := w.leases.get(a.RequestId)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.NewLeaseId == nil {
		l.lost = true
		w.cfg.log.Warn("connect: the gateway did not extend a call's lease; it may be run again elsewhere", "request_id", a.RequestId)
		return
	}
	l.id = *a.NewLeaseId
}

// execute runs a call through the client's HTTP handler, signed as
// Inngest signs its HTTP calls, and turns the answer into a reply.
func (w *worker) execute(req *pb.GatewayExecutorRequestData) *pb.SDKResponse {
	resp := &pb.SDKResponse{
		RequestId: req.RequestId, AccountId: req.AccountId, EnvId: req.EnvId, AppId: req.AppId,
		SystemTraceCtx: req.SystemTraceCtx, UserTraceCtx: req.UserTraceCtx, RunId: req.RunId,
	}
	q := "fnId=" + urlEscape(req.FunctionSlug) + "&stepId=" + urlEscape(req.GetStepId())
	hr, err := http.NewRequestWithContext(w.calls, http.MethodPost, "/api/inngest?"+q, bytes.NewReader(req.RequestPayload))
	if err != nil {
		return errorReply(resp, fmt.Sprintf("connect: building the call: %v", err))
	}
	hr.Header.Set("Content-Type", "application/json")
	if w.cfg.signKey != "" {
		sig, err := inngest.Sign(w.cfg.signKey, time.Now(), req.RequestPayload)
		if err != nil {
			return errorReply(resp, fmt.Sprintf("connect: signing the call: %v", err))
		}
		hr.Header.Set("X-Inngest-Signature", sig)
	}
	rec := &recorder{header: http.Header{}}
	w.handler.ServeHTTP(rec, hr)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp.Body = rec.body.Bytes()
	resp.SdkVersion = rec.header.Get("X-Inngest-Sdk")
	if v, err := strconv.ParseUint(rec.header.Get("X-Inngest-Req-Version"), 10, 32); err == nil {
		resp.RequestVersion = uint32(v)
	}
	switch {
	case rec.status == http.StatusOK:
		resp.Status = pb.SDKResponseStatus_DONE
	case rec.status == http.StatusPartialContent:
		resp.Status = pb.SDKResponseStatus_NOT_COMPLETED
	default:
		resp.Status = pb.SDKResponseStatus_ERROR
		if rec.status == http.StatusUnauthorized || rec.status == http.StatusNotFound {
			// The handler refused the call before running any code: a
			// signing key that differs from the client's, or a function
			// this worker does not have.
			w.cfg.log.Error("connect: the client's handler refused a call", "request_id", req.RequestId,
				"function", req.FunctionSlug, "status", rec.status, "error", truncate(resp.Body, 300))
		}
	}
	if rec.header.Get("X-Inngest-No-Retry") == "true" {
		resp.NoRetry = true
	}
	if ra := rec.header.Get("Retry-After"); ra != "" {
		resp.RetryAfter = &ra
	}
	return resp
}

func errorReply(resp *pb.SDKResponse, msg string) *pb.SDKResponse {
	resp.Status = pb.SDKResponseStatus_ERROR
	resp.Body = []byte(strconv.Quote(msg))
	return resp
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// reply keeps a finished call's reply until it is acknowledged and sends
// it on the current connection, if any.
func (w *worker) reply(resp *pb.SDKResponse) {
	payload, err := proto.Marshal(resp)
	if err != nil {
		w.cfg.log.Error("connect: encoding a reply", "request_id", resp.RequestId, "error", err)
		return
	}
	frame, err := proto.Marshal(&pb.ConnectMessage{Kind: pb.GatewayMessageType_WORKER_REPLY, Payload: payload})
	if err != nil {
		w.cfg.log.Error("connect: encoding a reply", "request_id", resp.RequestId, "error", err)
		return
	}
	p := &pendingReply{frame: frame, resp: resp, sent: time.Now()}
	w.replies.set(resp.RequestId, p)
	if s := w.current(); s != nil {
		if err := s.write(context.Background(), frame); err == nil {
			time.AfterFunc(replyAckTimeout, func() {
				if _, still := w.replies.get(resp.RequestId); still {
					w.flushOne(context.Background(), resp.RequestId)
				}
			})
			return
		}
	}
	// No connection: the reply waits for the next one, or the flush API.
	go w.flushOne(context.Background(), resp.RequestId)
}

// resend sends every unacknowledged reply on s.
func (w *worker) resend(s *session) {
	for _, p := range w.replies.snapshot() {
		_ = s.write(context.Background(), p.frame)
	}
}

// flush delivers every unacknowledged reply through the flush API.
func (w *worker) flush(ctx context.Context) {
	for id := range w.replies.snapshot() {
		w.flushOne(ctx, id)
	}
}

// flushOne posts one unacknowledged reply to the flush API, retrying up to
// five times; it leaves the buffer once accepted.
func (w *worker) flushOne(ctx context.Context, id string) {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	wait := 200 * time.Millisecond
	for try := 0; try < 5; try++ {
		p, ok := w.replies.get(id)
		if !ok {
			return
		}
		body, err := proto.Marshal(p.resp)
		if err != nil {
			return
		}
		if err = w.post(ctx, "/v0/connect/flush", body, &pb.FlushResponse{}); err == nil {
			w.replies.del(id)
			return
		}
		w.cfg.log.Warn("connect: could not flush a reply", "request_id", id, "error", err, "try", try+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// post sends a protobuf body to the Inngest API with the signing key (and
// then its fallback), decoding a 200 answer into out.
func (w *worker) post(ctx context.Context, path string, body []byte, out proto.Message) error {
	keys := w.cfg.keys
	if len(keys) == 0 {
		keys = []string{""}
	}
	var last error
	for _, k := range keys {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.apiBase+path, bytes.NewReader(body))
		if err != nil {
			return errFatal{fmt.Errorf("connect: %w", err)}
		}
		req.Header.Set("Content-Type", "application/protobuf")
		if k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		if w.cfg.env != "" {
			req.Header.Set("X-Inngest-Env", w.cfg.env)
		}
		res, err := w.cfg.hc.Do(req)
		if err != nil {
			return fmt.Errorf("connect: POST %s: %w", path, err)
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		_ = res.Body.Close()
		if err != nil {
			return fmt.Errorf("connect: POST %s: reading the answer: %w", path, err)
		}
		switch res.StatusCode {
		case http.StatusOK:
			if err := proto.Unmarshal(b, out); err != nil {
				return fmt.Errorf("connect: POST %s: the answer is not valid protobuf: %w", path, err)
			}
			return nil
		case http.StatusUnauthorized:
			last = ErrUnauthenticated
			continue
		case http.StatusTooManyRequests:
			return errTooMany
		}
		return fmt.Errorf("connect: POST %s answered %d: %s", path, res.StatusCode, truncate(b, 300))
	}
	return errFatal{last}
}

var errTooMany = errors.New("connect: too many connections")

// connect makes the start call, dials the gateway and completes the
// handshake.
func (w *worker) connect(ctx context.Context, exclude []string, reconnect bool) (*session, error) {
	body, err := proto.Marshal(&pb.StartRequest{ExcludeGateways: exclude})
	if err != nil {
		return nil, errFatal{err}
	}
	var start pb.StartResponse
	if err := w.post(ctx, "/v0/connect/start", body, &start); err != nil {
		if errors.Is(err, errTooMany) {
			if !reconnect {
				return nil, errFatal{ErrTooManyConnections}
			}
			return nil, err
		}
		return nil, err
	}
	endpoint := start.GatewayEndpoint
	if w.cfg.gatewayURL != "" {
		endpoint = w.cfg.gatewayURL
	}
	if endpoint == "" {
		return nil, errors.New("connect: the start call named no gateway endpoint")
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, endpoint, &websocket.DialOptions{Subprotocols: []string{subprotocol}, HTTPClient: w.cfg.hc})
	if err != nil {
		return nil, fmt.Errorf("connect: dialing the gateway %s: %w", endpoint, err)
	}
	ws.SetReadLimit(readLimit)
	s := &session{w: w, ws: ws, group: start.GatewayGroup, id: start.ConnectionId}
	if err := s.handshake(ctx, &start); err != nil {
		s.close(websocket.StatusProtocolError, "handshake failed")
		return nil, err
	}
	// Current before it reads, so that a call arriving at once replies on
	// it rather than through the flush API.
	w.setCurrent(s)
	s.start()
	w.cfg.log.InfoContext(ctx, "connect: connected", "connection_id", s.id, "gateway_group", s.group)
	return s, nil
}

var errGatewayClosing = errors.New("connect: the gateway is draining")

// session is one WebSocket connection to a gateway.
type session struct {
	w          *worker
	ws         *websocket.Conn
	id         string
	group      string
	heartbeat  time.Duration
	leaseEvery time.Duration
	status     time.Duration
	missed     atomic.Int32
	closeOnce  sync.Once
	calls      atomic.Int32 // calls taken on this connection and not yet answered
	draining   atomic.Bool

	ctx     context.Context // canceled when the connection stops reading
	cancel  context.CancelFunc
	rerr    chan error
	dead    chan error
	closing chan struct{}
}

// drain marks a connection the gateway is closing: it closes as soon as
// the calls it took have been answered.
func (s *session) drain() {
	s.draining.Store(true)
	if s.calls.Load() == 0 {
		s.close(websocket.StatusNormalClosure, "GATEWAY_DRAINING")
	}
}

// callDone counts an answered call taken on s.
func (s *session) callDone() {
	if s.calls.Add(-1) == 0 && s.draining.Load() {
		s.w.waitAcks(time.Now().Add(replyAckTimeout))
		s.close(websocket.StatusNormalClosure, "GATEWAY_DRAINING")
	}
}

func (s *session) close(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		_ = s.ws.Close(code, reason)
		if s.cancel != nil {
			s.cancel()
		}
	})
}

func (s *session) write(ctx context.Context, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageBinary, frame)
}

func (s *session) send(ctx context.Context, kind pb.GatewayMessageType, m proto.Message) error {
	var payload []byte
	if m != nil {
		var err error
		if payload, err = proto.Marshal(m); err != nil {
			return err
		}
	}
	frame, err := proto.Marshal(&pb.ConnectMessage{Kind: kind, Payload: payload})
	if err != nil {
		return err
	}
	return s.write(ctx, frame)
}

func (s *session) read(ctx context.Context, timeout time.Duration) (*pb.ConnectMessage, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	typ, b, err := s.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("connect: the gateway sent a text frame")
	}
	var m pb.ConnectMessage
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("connect: the gateway sent a frame that is not a ConnectMessage: %w", err)
	}
	return &m, nil
}

func (s *session) handshake(ctx context.Context, start *pb.StartResponse) error {
	m, err := s.read(ctx, helloTimeout)
	if err != nil {
		return fmt.Errorf("connect: waiting for the gateway's hello: %w", err)
	}
	if m.Kind != pb.GatewayMessageType_GATEWAY_HELLO {
		return fmt.Errorf("connect: the gateway's first message is %s, not GATEWAY_HELLO", m.Kind)
	}
	cfg := s.w.cfg
	cpus, goos := sysAttrs()
	conc := int64(cfg.concurrency)
	app := &pb.AppConfiguration{AppName: cfg.appID, Functions: cfg.functions}
	if cfg.appVersion != "" {
		app.AppVersion = &cfg.appVersion
	}
	req := &pb.WorkerConnectRequestData{
		ConnectionId:         start.ConnectionId,
		InstanceId:           cfg.instanceID,
		AuthData:             &pb.AuthData{SessionToken: start.SessionToken, SyncToken: start.SyncToken},
		Capabilities:         cfg.capabilities,
		Apps:                 []*pb.AppConfiguration{app},
		SystemAttributes:     &pb.SystemAttributes{CpuCores: cpus, Os: goos},
		Framework:            "connect",
		SdkVersion:           sdkVersion,
		SdkLanguage:          "go",
		StartedAt:            timestamppb.New(s.w.startedAt),
		MaxWorkerConcurrency: &conc,
	}
	if cfg.env != "" {
		req.Environment = &cfg.env
	}
	if err := s.send(ctx, pb.GatewayMessageType_WORKER_CONNECT, req); err != nil {
		return fmt.Errorf("connect: sending WORKER_CONNECT: %w", err)
	}
	for {
		m, err = s.read(ctx, readyTimeout)
		if err != nil {
			return fmt.Errorf("connect: waiting for GATEWAY_CONNECTION_READY: %w", err)
		}
		switch m.Kind {
		case pb.GatewayMessageType_GATEWAY_CONNECTION_READY:
		case pb.GatewayMessageType_SYNC_FAILED:
			return errFatal{fmt.Errorf("connect: Inngest could not sync the app: %s", truncate(m.Payload, 500))}
		case pb.GatewayMessageType_GATEWAY_HEARTBEAT:
			continue
		default:
			return fmt.Errorf("connect: the gateway answered WORKER_CONNECT with %s", m.Kind)
		}
		break
	}
	var ready pb.GatewayConnectionReadyData
	if err := proto.Unmarshal(m.Payload, &ready); err != nil {
		return fmt.Errorf("connect: GATEWAY_CONNECTION_READY is not valid protobuf: %w", err)
	}
	if s.heartbeat, err = parseInterval(ready.HeartbeatInterval, 10*time.Second); err != nil {
		return err
	}
	if s.leaseEvery, err = parseInterval(ready.ExtendLeaseInterval, 5*time.Second); err != nil {
		return err
	}
	if s.status, err = parseInterval(ready.StatusInterval, 0); err != nil {
		return err
	}
	return nil
}

func parseInterval(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("connect: the gateway sent the interval %q, not a duration", v)
	}
	if d == 0 {
		return def, nil
	}
	return d, nil
}

// start begins reading the connection, each message handled as it
// comes, and heartbeating; both stop when the connection closes.
func (s *session) start() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.dead = make(chan error, 1)
	s.rerr = make(chan error, 1)
	s.closing = make(chan struct{})
	go s.heartbeats(s.ctx, s.dead)
	go func() {
		var once sync.Once
		for {
			typ, b, err := s.ws.Read(s.ctx)
			if err != nil {
				s.rerr <- err
				s.cancel()
				return
			}
			if typ != websocket.MessageBinary {
				s.w.cfg.log.Warn("connect: ignored a text frame from the gateway")
				continue
			}
			var m pb.ConnectMessage
			if err := proto.Unmarshal(b, &m); err != nil {
				s.w.cfg.log.Warn("connect: ignored a frame that is not a ConnectMessage", "error", err, "bytes", len(b))
				continue
			}
			if s.handle(&m) {
				once.Do(func() { close(s.closing) })
			}
		}
	}()
}

// serve waits until the connection fails, the gateway drains it or ctx
// is done, and returns why.
func (s *session) serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-s.dead:
		s.close(websocket.StatusGoingAway, "CONSECUTIVE_HEARTBEATS_MISSED")
		return err
	case err := <-s.rerr:
		return fmt.Errorf("connect: reading from the gateway: %w", err)
	case <-s.closing:
		return errGatewayClosing
	}
}

// done is closed when the connection has stopped reading.
func (s *session) done() <-chan struct{} { return s.ctx.Done() }

// handle acts on one message; it reports whether the gateway is closing.
func (s *session) handle(m *pb.ConnectMessage) bool {
	log := s.w.cfg.log
	switch m.Kind {
	case pb.GatewayMessageType_GATEWAY_HEARTBEAT:
		s.missed.Store(0)
	case pb.GatewayMessageType_GATEWAY_EXECUTOR_REQUEST:
		var req pb.GatewayExecutorRequestData
		if err := proto.Unmarshal(m.Payload, &req); err != nil {
			log.Warn("connect: ignored a GATEWAY_EXECUTOR_REQUEST that is not valid protobuf", "error", err)
			return false
		}
		if req.RequestId == "" {
			log.Warn("connect: ignored a GATEWAY_EXECUTOR_REQUEST without a request ID")
			return false
		}
		s.w.handleRequest(s, &req)
	case pb.GatewayMessageType_WORKER_REPLY_ACK:
		var a pb.WorkerReplyAckData
		if err := proto.Unmarshal(m.Payload, &a); err != nil {
			log.Warn("connect: ignored a WORKER_REPLY_ACK that is not valid protobuf", "error", err)
			return false
		}
		s.w.replies.del(a.RequestId)
	case pb.GatewayMessageType_WORKER_REQUEST_EXTEND_LEASE_ACK:
		var a pb.WorkerRequestExtendLeaseAckData
		if err := proto.Unmarshal(m.Payload, &a); err != nil {
			log.Warn("connect: ignored a WORKER_REQUEST_EXTEND_LEASE_ACK that is not valid protobuf", "error", err)
			return false
		}
		s.w.leaseAck(&a)
	case pb.GatewayMessageType_GATEWAY_CLOSING:
		log.Info("connect: the gateway is draining; moving to another", "connection_id", s.id, "gateway_group", s.group)
		return true
	default:
		log.Warn("connect: ignored a message of a kind the worker does not take", "kind", m.Kind.String())
	}
	return false
}

// heartbeats sends WORKER_HEARTBEAT every interval and reports a dead
// connection once two have gone unanswered; when the gateway asked for
// them, it also sends WORKER_STATUS reports of the calls in flight.
func (s *session) heartbeats(ctx context.Context, dead chan<- error) {
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	var status <-chan time.Time
	if s.status > 0 {
		st := time.NewTicker(s.status)
		defer st.Stop()
		status = st.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-status:
			s.w.mu.Lock()
			stopping := s.w.stopping
			s.w.mu.Unlock()
			ids := make([]string, 0, 8)
			for id := range s.w.leases.snapshot() {
				ids = append(ids, id)
			}
			if err := s.send(ctx, pb.GatewayMessageType_WORKER_STATUS, &pb.WorkerStatusData{InFlightRequestIds: ids, ShutdownRequested: stopping}); err != nil && ctx.Err() == nil {
				s.w.cfg.log.Warn("connect: could not send a status report", "error", err)
			}
			continue
		case <-t.C:
		}
		if s.missed.Load() >= 2 {
			dead <- errors.New("connect: the gateway missed two heartbeats")
			return
		}
		s.missed.Add(1)
		if err := s.send(ctx, pb.GatewayMessageType_WORKER_HEARTBEAT, nil); err != nil && ctx.Err() == nil {
			s.w.cfg.log.Warn("connect: could not send a heartbeat", "error", err)
		}
	}
}

// recorder is the in-process http.ResponseWriter a call is answered into.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// sdkVersion is the SDK named in the handshake, as in its HTTP answers.
const sdkVersion = inngest.SDKName + ":v" + inngest.Version
