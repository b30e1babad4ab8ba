package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// The chaos tests are opt-in (scripts/chaos.sh runs them): they load the
// server with many runs and break things while the runs are in flight.
const (
	// envChaos set to 1 enables the chaos tests.
	envChaos = "INNGEST_E2E_CHAOS"
	// envChaosRuns is how many runs each scenario starts; the default
	// is defaultChaosRuns.
	envChaosRuns = "INNGEST_E2E_CHAOS_RUNS"
	// envChaosRestart is a shell command that kills and restarts the
	// server's state store (scripts/chaos.sh sets it to restart Redis);
	// TestChaosStateStoreRestart runs it while runs are in flight.
	envChaosRestart  = "INNGEST_E2E_CHAOS_RESTART"
	defaultChaosRuns = 50
)

// chaosSteps are the steps of the chaos function, in order.
var chaosSteps = []string{"a", "b", "c", "d", "e"}

// needChaos returns the server under test and the number of runs, or
// skips the test unless the chaos tests are enabled.
func needChaos(t *testing.T) (target, int) {
	t.Helper()
	if os.Getenv(envChaos) != "1" {
		t.Skip("chaos test: set " + envChaos + "=1 (scripts/chaos.sh does) to run it")
	}
	tg := needServer(t)
	n := defaultChaosRuns
	if v := os.Getenv(envChaosRuns); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "%s=%q", envChaosRuns, v)
		require.Positive(t, n, envChaosRuns)
	}
	return tg, n
}

// ledger counts, for each run (by its event's key) and step, how often
// the step's body ran and whether its result was answered: delivered to
// the server in a call's answer or a checkpoint it acknowledged. A body
// that runs again after its result was answered is a duplicate; one
// that never ran, in a run that should have had it, is a miss.
type ledger struct {
	mu    sync.Mutex
	steps map[string]*stepTally // key + "/" + step
	total atomic.Int64          // body executions
}

type stepTally struct {
	ran         int
	answered    bool
	afterAnswer int // executions that started after the result was answered
}

func newLedger() *ledger { return &ledger{steps: map[string]*stepTally{}} }

func (l *ledger) tally(key, stepID string) *stepTally {
	k := key + "/" + stepID
	st := l.steps[k]
	if st == nil {
		st = &stepTally{}
		l.steps[k] = st
	}
	return st
}

// ran records one execution of a step body.
func (l *ledger) ran(key, stepID string) {
	l.total.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.tally(key, stepID)
	st.ran++
	if st.answered {
		st.afterAnswer++
	}
}

// answered records that a step's result reached the server.
func (l *ledger) answered(key, stepID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.tally(key, stepID)
	st.answered = true
}

// report counts duplicates (executions of a step after its result was
// answered) and misses (steps of the given keys that never ran).
func (l *ledger) report(keys []string) (duplicates, misses int, detail []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		for _, s := range chaosSteps {
			st := l.steps[k+"/"+s]
			switch {
			case st == nil || st.ran == 0:
				misses++
				detail = append(detail, fmt.Sprintf("%s/%s never ran", k, s))
			case st.afterAnswer > 0:
				duplicates += st.afterAnswer
				detail = append(detail, fmt.Sprintf("%s/%s ran %d times, %d after its result was answered", k, s, st.ran, st.afterAnswer))
			}
		}
	}
	sort.Strings(detail)
	return duplicates, misses, detail
}

// answers wraps the app's handler: it marks the steps each call's 206
// answer reports (StepRun) as answered once the answer is written.
func (l *ledger) answers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recordingWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.ok {
			l.answer(body, rec.status, rec.body.Bytes())
		}
	})
}

// answer marks the steps a call's answer reported as answered, once the
// answer reached the connection.
func (l *ledger) answer(callBody []byte, status int, answer []byte) {
	if status != http.StatusPartialContent {
		return
	}
	key := eventKey(callBody)
	for _, op := range stepRuns(answer) {
		l.answered(key, op)
	}
}

// recordingWriter keeps what the handler wrote, and whether every write
// reached the connection.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	failed bool
	ok     bool
}

func (w *recordingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(p)
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		w.failed = true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.failed {
		f.Flush()
	}
	w.ok = !w.failed
	return n, err
}

// eventKey reads data.key of a call's event.
func eventKey(callBody []byte) string {
	var req struct {
		Event struct {
			Data struct {
				Key string `json:"key"`
			} `json:"data"`
		} `json:"event"`
	}
	_ = json.Unmarshal(callBody, &req)
	return req.Event.Data.Key
}

// stepRuns returns the IDs of the StepRun opcodes of an answer or a
// checkpoint's steps.
func stepRuns(ops []byte) []string {
	var list []struct {
		Op   string `json:"op"`
		Name string `json:"name"`
	}
	if json.Unmarshal(ops, &list) != nil {
		return nil
	}
	var out []string
	for _, op := range list {
		if op.Op == "StepRun" {
			out = append(out, op.Name)
		}
	}
	return out
}

// chaosFunction creates the chaos function on a: five steps, each
// recording its execution in l, keyed by the event's data.key. beforeStep,
// when set, runs at the start of each body. With send, step "c" also
// sends <prefix>.sent with the key, which a second function counts.
func chaosFunction(t *testing.T, a *app, l *ledger, beforeStep func(key, stepID string), send bool) *recorder[string] {
	t.Helper()
	type keyed struct {
		Key string `json:"key"`
	}
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "chaos", Retries: inngest.Ptr(10)},
		inngest.EventTrigger(a.event("go"), nil),
		func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
			key := in.Event.Data.Key
			for _, s := range chaosSteps {
				if _, err := step.Run(ctx, s, func(ctx context.Context) (string, error) {
					if beforeStep != nil {
						beforeStep(key, s)
					}
					l.ran(key, s)
					return key + ":" + s, nil
				}); err != nil {
					return nil, err
				}
				if send && s == "c" {
					if _, err := step.SendEvent(ctx, "send", inngest.Event[any]{Name: a.event("sent"), Data: map[string]string{"key": key}}); err != nil {
						return nil, err
					}
				}
			}
			return key, nil
		})
	require.NoError(t, err)
	received := &recorder[string]{}
	if send {
		_, err = inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "chaos-sent"}, inngest.EventTrigger(a.event("sent"), nil),
			func(ctx context.Context, in inngest.Input[keyed]) (any, error) {
				_, err := step.Run(ctx, "count", func(ctx context.Context) (bool, error) {
					received.add(in.Event.Data.Key)
					return true, nil
				})
				return nil, err
			})
		require.NoError(t, err)
	}
	return received
}

// startRuns sends n events, in batches, and returns their keys and IDs.
func startRuns(t *testing.T, a *app, n int) (keys, ids []string) {
	t.Helper()
	for start := 0; start < n; start += 50 {
		var batch []inngest.Event[any]
		for i := start; i < min(n, start+50); i++ {
			key := fmt.Sprintf("k%04d", i)
			keys = append(keys, key)
			batch = append(batch, inngest.Event[any]{Name: a.event("go"), Data: map[string]string{"key": key}})
		}
		got, err := a.Client.Send(context.Background(), batch...)
		require.NoError(t, err)
		ids = append(ids, got...)
	}
	return keys, ids
}

// awaitRuns waits for the run of each event to end and counts those
// that completed.
func awaitRuns(t *testing.T, tg target, ids []string) (completed int, failed []string) {
	t.Helper()
	for _, id := range ids {
		r := tg.finished(t, id)
		if r.Status == "Completed" {
			completed++
		} else {
			failed = append(failed, fmt.Sprintf("run %s of event %s: %s %s", r.RunID, id, r.Status, r.Output))
		}
	}
	return completed, failed
}

// chaosVerdict prints the scenario's figures and fails the test on any
// lost run, missed step or duplicate of an answered step.
func chaosVerdict(t *testing.T, name string, l *ledger, keys []string, completed int, failed []string, extra ...string) {
	t.Helper()
	dups, misses, detail := l.report(keys)
	line := fmt.Sprintf("chaos %s: runs=%d completed=%d executions=%d duplicates=%d misses=%d", name, len(keys), completed, l.total.Load(), dups, misses)
	for _, e := range extra {
		line += " " + e
	}
	fmt.Println(line)
	t.Log(line)
	for _, d := range detail {
		t.Error(d)
	}
	for _, f := range failed {
		t.Error(f)
	}
	if completed != len(keys) {
		t.Errorf("%d of %d runs did not complete", len(keys)-completed, len(keys))
	}
}

// loaded gives the waits of a loaded server three times the room.
func loaded(tg target) target {
	tg.wait *= 3
	return tg
}

// TestChaosLoad: N runs of a five-step function at once; every step body
// runs exactly once per run.
func TestChaosLoad(t *testing.T) {
	tg, n := needChaos(t)
	l := newLedger()
	a := newApp(t, tg, appConfig{wrap: l.answers})
	chaosFunction(t, a, l, nil, false)
	a.sync()
	keys, ids := startRuns(t, a, n)
	completed, failed := awaitRuns(t, loaded(tg), ids)
	chaosVerdict(t, "load", l, keys, completed, failed)
	if got := l.total.Load(); got != int64(n*len(chaosSteps)) {
		t.Errorf("%d step executions for %d runs of %d steps", got, n, len(chaosSteps))
	}
}

// killable serves a handler on a fixed loopback address and can be
// killed (its listener and every connection closed at once, answers in
// progress dropped) and restarted on the same address, as an app
// process killed and started again would be.
type killable struct {
	addr    string
	handler http.Handler
	l       *ledger // told of each answer written

	mu   sync.RWMutex // answers are written under R; kill takes W
	srv  *http.Server
	gen  int // incremented by each kill
	dead bool
}

func newKillable(t *testing.T, h http.Handler, led *ledger) *killable {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	k := &killable{addr: l.Addr().String(), handler: h, l: led}
	k.serve(l)
	t.Cleanup(func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if !k.dead {
			_ = k.srv.Close()
		}
	})
	return k
}

func (k *killable) url() string { return "http://" + k.addr }

func (k *killable) serve(l net.Listener) {
	k.srv = &http.Server{Handler: http.HandlerFunc(k.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.srv.Serve(l) }()
}

// serveHTTP runs the handler into a buffer and writes the answer only if
// the server was not killed meanwhile.
func (k *killable) serveHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.RLock()
	gen := k.gen
	k.mu.RUnlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	k.handler.ServeHTTP(rec, r)
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.dead || k.gen != gen {
		panic(http.ErrAbortHandler) // the process died: no answer
	}
	for h, vs := range rec.Header() {
		w.Header()[h] = vs
	}
	w.WriteHeader(rec.Code)
	if _, err := w.Write(rec.Body.Bytes()); err != nil {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	k.l.answer(body, rec.Code, rec.Body.Bytes())
}

// kill closes the listener and every connection at once.
func (k *killable) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return
	}
	k.dead = true
	k.gen++
	_ = k.srv.Close()
}

// restart listens on the same address again.
func (k *killable) restart(t *testing.T) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", k.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("restarting the app on %s: %v", k.addr, err)
		return
	}
	k.dead = false
	k.serve(l)
}

// TestChaosAppKilled: the app is killed three times while runs are in
// flight (from inside a step body, so that calls are cut mid-way) and
// restarted a second later. No run is lost, and no step whose result the
// app answered runs again; bodies cut by a kill may.
func TestChaosAppKilled(t *testing.T) {
	tg, n := needChaos(t)
	l := newLedger()
	// The app is served by k, which the server reaches: the app syncs
	// k's URL as its own.
	var handler atomic.Pointer[http.Handler]
	k := newKillable(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }), l)
	a := newApp(t, tg, appConfig{serveOrigin: k.url()})
	var killMu sync.Mutex
	kills := map[string]bool{} // the keys whose step "c" kills the app
	for _, i := range []int{n / 4, n / 2, 3 * n / 4} {
		kills[fmt.Sprintf("k%04d", i)] = true
	}
	var killsDone atomic.Int32
	chaosFunction(t, a, l, func(key, stepID string) {
		killMu.Lock()
		doKill := stepID == "c" && kills[key]
		if doKill {
			delete(kills, key)
		}
		killMu.Unlock()
		if !doKill {
			return
		}
		killsDone.Add(1)
		k.kill()
		go func() {
			time.Sleep(time.Second)
			k.restart(t)
		}()
	}, false)
	h := a.Client.Serve()
	handler.Store(&h)
	a.sync()
	keys, ids := startRuns(t, a, n)
	completed, failed := awaitRuns(t, loaded(tg), ids)
	chaosVerdict(t, "app-killed", l, keys, completed, failed, fmt.Sprintf("kills=%d", killsDone.Load()))
	require.EqualValues(t, 3, killsDone.Load(), "the app was killed three times")
}

// dropReplies wraps a transport: the requests it matches reach the
// server, which handles them, but every second reply is lost on its way
// back, and the client sees an error.
type dropReplies struct {
	next    http.RoundTripper
	match   func(*http.Request) bool
	n       atomic.Int64
	dropped atomic.Int64
	onReply func(req *http.Request, body []byte)
}

var errDropped = errors.New("chaos: the reply was dropped")

func (d *dropReplies) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := d.next.RoundTrip(r)
	if err != nil || !d.match(r) {
		return resp, err
	}
	if d.n.Add(1)%2 == 0 {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		d.dropped.Add(1)
		return nil, errDropped
	}
	if d.onReply != nil && resp.StatusCode/100 == 2 {
		d.onReply(r, body)
	}
	return resp, nil
}

// TestChaosDroppedReplies: with checkpointing, a proxy between the app
// and the server drops every second reply to checkpoints and event
// sends: the server has the checkpoint or the events, the SDK does not
// know. No step runs twice, and every event sent from a step is received
// exactly once.
func TestChaosDroppedReplies(t *testing.T) {
	tg, n := needChaos(t)
	l := newLedger()
	var drop *dropReplies
	a := newApp(t, tg, appConfig{
		wrap:          l.answers,
		checkpointing: &inngest.Checkpointing{},
		transport: func(next http.RoundTripper) http.RoundTripper {
			drop = &dropReplies{next: next, match: func(r *http.Request) bool {
				return r.Method == http.MethodPost && (strings.HasPrefix(r.URL.Path, "/e/") || strings.HasPrefix(r.URL.Path, "/v1/checkpoint/"))
			}}
			drop.onReply = func(r *http.Request, body []byte) {
				if !strings.HasPrefix(r.URL.Path, "/v1/checkpoint/") {
					return
				}
				var cp struct {
					Steps json.RawMessage `json:"steps"`
				}
				_ = json.Unmarshal(body, &cp)
				// The checkpoint names the run, not the key: find it in
				// the step's result, "<key>:<step>".
				var steps []struct {
					Op   string          `json:"op"`
					Name string          `json:"name"`
					Data json.RawMessage `json:"data"`
				}
				_ = json.Unmarshal(cp.Steps, &steps)
				for _, s := range steps {
					var v string
					if s.Op == "StepRun" && json.Unmarshal(s.Data, &v) == nil {
						if key, id, ok := strings.Cut(v, ":"); ok {
							l.answered(key, id)
						}
					}
				}
			}
			return drop
		},
	})
	received := chaosFunction(t, a, l, nil, true)
	a.sync()
	keys, ids := startRuns(t, a, n)
	completed, failed := awaitRuns(t, loaded(tg), ids)

	// Each run sent one event from a step; each must start one run.
	want := map[string]int{}
	for _, k := range keys {
		want[k] = 1
	}
	var got map[string]int
	loaded(tg).eventually(t, "every sent event to be received", func() (bool, string) {
		got = map[string]int{}
		for _, k := range received.all() {
			got[k]++
		}
		return len(got) >= len(keys), fmt.Sprintf("%d of %d received", len(got), len(keys))
	})
	time.Sleep(2 * time.Second) // let any duplicate arrive
	got = map[string]int{}
	for _, k := range received.all() {
		got[k]++
	}
	sentDups, sentMisses := 0, 0
	for _, k := range keys {
		switch c := got[k]; {
		case c == 0:
			sentMisses++
			t.Errorf("the event sent by run %s was never received", k)
		case c > 1:
			sentDups += c - 1
			t.Errorf("the event sent by run %s was received %d times", k, c)
		}
	}
	chaosVerdict(t, "dropped-replies", l, keys, completed, failed,
		fmt.Sprintf("dropped=%d sent-duplicates=%d sent-misses=%d", drop.dropped.Load(), sentDups, sentMisses))
	require.Positive(t, drop.dropped.Load(), "some replies were dropped")
}

// TestChaosStateStoreRestart: while runs are in flight, the server's
// state store (Redis, for `inngest start --redis-uri`) is killed and
// restarted by the command in INNGEST_E2E_CHAOS_RESTART. No run is lost
// and no answered step runs again.
func TestChaosStateStoreRestart(t *testing.T) {
	tg, n := needChaos(t)
	restart := os.Getenv(envChaosRestart)
	if restart == "" {
		t.Skip("chaos test: set " + envChaosRestart + " to a command that kills and restarts the server's state store (scripts/chaos.sh redis does)")
	}
	l := newLedger()
	a := newApp(t, tg, appConfig{wrap: l.answers})
	var once sync.Once
	restarted := make(chan error, 1)
	total := int64(n * len(chaosSteps))
	chaosFunction(t, a, l, func(key, stepID string) {
		if l.total.Load() >= total/3 {
			once.Do(func() {
				go func() {
					out, err := exec.Command("sh", "-c", restart).CombinedOutput()
					if err != nil {
						err = fmt.Errorf("%w: %s", err, out)
					}
					restarted <- err
				}()
			})
		}
	}, false)
	a.sync()
	keys, ids := startRuns(t, a, n)
	completed, failed := awaitRuns(t, loaded(tg), ids)
	select {
	case err := <-restarted:
		require.NoError(t, err, "the restart command")
	default:
		t.Error("the state store was never restarted")
	}
	chaosVerdict(t, "state-store-restart", l, keys, completed, failed)
}
