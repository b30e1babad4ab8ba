package inngesttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
)

// Engine plays the Inngest server for the apps registered with it: it
// calls their handlers, keeps their runs' state, retries, sleeps and
// waits on a virtual clock, and routes events between functions. Create
// it with New.
//
// An Engine is driven by one goroutine at a time (the test's): Run,
// Start, Send, Signal, Advance and Wait drive it. Send and Signal may
// also be called from OnPause and After callbacks, and the engine's
// HTTPClient may be used from any goroutine.
type Engine struct {
	t reporter

	mu        sync.Mutex
	now       time.Time
	ids       *ids
	cel       *celEnv
	apps      map[string]*app
	fns       map[string]*fnDef
	fnOrder   []*fnDef
	runs      []*Run
	runByID   map[string]*Run
	events    []json.RawMessage
	eventIDs  map[string]time.Time
	sendSeeds map[string][]string
	queue     queue
	hooks     []pauseHook
	deferred  []func()
	mocks     []StepMock
	driving   bool
	current   *Run  // the run whose call is in progress
	calling   *item // the call in progress
	transport *transport
	fetch     *http.Client
	ai        *http.Client // step.Infer's requests; nil means http.DefaultClient
	trace     func(Call)
	flow      flowState
	conc      concState
	// callDuration is WithCallDuration's function, or nil.
	callDuration callDurationFunc

	// signingKey is the key the engine signs its requests with, and
	// bearer the token it accepts from the apps; both are empty when it
	// plays the dev server. keyErr is why SigningKey refused a key.
	signingKey string
	bearer     string
	keyErr     error
	// syncs are the syncs in progress, by deployId; deploys counts them.
	syncs   map[string]*pendingSync
	deploys int
}

// Option configures an Engine.
type Option func(*Engine)

// WithStartTime sets the virtual clock's start. By default it starts at
// the real time New is called, to the second.
func WithStartTime(t time.Time) Option {
	return func(e *Engine) { e.now = t }
}

// WithFetchClient sets the HTTP client the engine makes step.Fetch
// requests with, as the server makes them for the function. The default
// is http.DefaultClient; point fetches at an httptest.Server, or mock the
// step.
func WithFetchClient(c *http.Client) Option {
	return func(e *Engine) { e.fetch = c }
}

// Call is one request the engine made to an app's handler, and the
// answer, as passed to a WithTrace function.
type Call struct {
	// Run is the run the call was made for.
	Run *Run
	// URL, Header and Body are the request.
	URL    string
	Header http.Header
	Body   []byte
	// Status, ResponseHeader and Response are the answer; Status is 0
	// when the handler gave none (it panicked).
	Status         int
	ResponseHeader http.Header
	Response       []byte
}

// WithTrace makes the engine call f after each call to an app's handler,
// with the request and the answer: to look at the wire, or to log it.
func WithTrace(f func(Call)) Option {
	return func(e *Engine) { e.trace = f }
}

// reporter is the part of testing.TB the engine reports through.
type reporter interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// panicReporter reports misuse outside a test by panicking.
type panicReporter struct{}

func (panicReporter) Helper()                           {}
func (panicReporter) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicReporter) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicReporter) Logf(string, ...any)               {}

// New returns an engine with no apps. Register the apps' clients with
// Register. t reports misuse of the engine (an unknown function, an app
// that cannot be synced, a signing key that is not one) and logs
// expressions that do not evaluate. Outside a test (a local run, an
// Example), t may be nil: misuse then panics.
//
// Without the SigningKey option the engine plays the dev server, for
// apps in dev mode; with it, Inngest Cloud.
func New(t testing.TB, opts ...Option) *Engine {
	var rep reporter = panicReporter{}
	if t != nil {
		rep = t
	}
	e := &Engine{
		t:   rep,
		now: time.Now().UTC().Truncate(time.Second),
		ids: newIDs(),

		apps:      map[string]*app{},
		fns:       map[string]*fnDef{},
		runByID:   map[string]*Run{},
		eventIDs:  map[string]time.Time{},
		sendSeeds: map[string][]string{},
		syncs:     map[string]*pendingSync{},
		fetch:     http.DefaultClient,
	}
	// Expressions run while the engine's lock is held: now() reads the
	// virtual clock.
	e.cel = newCELEnv(func() time.Time { return e.now })
	e.transport = &transport{e: e}
	for _, o := range opts {
		o(e)
	}
	if e.keyErr != nil {
		rep.Helper()
		rep.Fatalf("inngesttest: SigningKey: %v", e.keyErr)
	}
	return e
}

// HTTPClient returns an *http.Client whose requests go to the engine
// instead of Inngest: sync registration, the event API (Client.Send,
// step.SendEvent), signals, checkpoints and the API the SDK loads large
// run state from. Create the app's client with it: Register learns the
// app from the register request the client sends through it, and the
// events its functions send reach the engine:
//
//	eng := inngesttest.New(t)
//	client, err := inngest.NewClient(inngest.ClientOpts{
//		AppID:      "shop",
//		Mode:       inngest.ModeDev,
//		HTTPClient: eng.HTTPClient(),
//	})
//
// Requests to any host reach the engine; paths it does not emulate get
// 404.
func (e *Engine) HTTPClient() *http.Client { return &http.Client{Transport: e.transport} }

// install replaces app a's functions.
func (e *Engine) install(a *app, fns []*fnDef) error {
	for _, f := range fns {
		if other, ok := e.fns[f.ID]; ok && other.app.id != a.id {
			return fmt.Errorf("function %q of app %q is already registered by app %q", f.ID, a.id, other.app.id)
		}
	}
	if old, ok := e.apps[a.id]; ok {
		for _, f := range old.fns {
			delete(e.fns, f.ID)
		}
		e.fnOrder = slices.DeleteFunc(e.fnOrder, func(f *fnDef) bool { return f.app == old })
	}
	a.fns = fns
	e.apps[a.id] = a
	for _, f := range fns {
		e.fns[f.ID] = f
		e.fnOrder = append(e.fnOrder, f)
		e.scheduleCrons(f)
	}
	return nil
}

// Function names a function for Run and Start: the *inngest.Function[T]
// that CreateFunction returned, or a FunctionID.
type Function interface{ FullID() string }

// FunctionID names a function by its full ID, "<app ID>-<function ID>",
// for example a failure handler: FunctionID("shop-charge-failure").
type FunctionID string

// FullID returns the ID.
func (id FunctionID) FullID() string { return string(id) }

// RunOption configures one run started with Run or Start. StepMock is a
// RunOption.
type RunOption interface{ applyRun(*Run) }

// Run runs fn with evt as its triggering event, and returns the run once
// it, and every run it caused (its failure handler, the functions its
// events triggered, the functions it invoked), has ended. Virtual time
// skips ahead over sleeps, waits and retry delays; a wait that nothing
// answers times out. To deliver events to a waiting run, use OnPause or
// After, or Start, Send and Wait.
//
// The event must be one that would start fn on the server: its name
// matches one of fn's event triggers and that trigger's expression is
// true for it; otherwise Run fails the test and lists fn's triggers. An
// event without a name gets the name of fn's first event trigger (for a
// cron function, inngest/scheduled.timer). The event is listed by Events
// but does not trigger other functions; use Send for that.
func (e *Engine) Run(fn Function, evt inngest.Event[any], opts ...RunOption) *Run {
	e.t.Helper()
	r := e.Start(fn, evt, opts...)
	e.Wait(r)
	return r
}

// Start starts a run of fn, as Run does, and drives the engine until
// nothing more happens at the current virtual time: the run has ended or
// is paused (sleeping, waiting, retrying later), or its call takes
// virtual time (WithCallDuration) or waits for capacity.
func (e *Engine) Start(fn Function, evt inngest.Event[any], opts ...RunOption) *Run {
	e.t.Helper()
	e.mu.Lock()
	f := e.lookup(fn)
	if f == nil {
		e.mu.Unlock()
		e.t.Fatalf("inngesttest: no function %q is registered; registered: %s", fn.FullID(), strings.Join(e.functionIDs(), ", "))
		return nil
	}
	if evt.Name == "" {
		evt.Name = defaultEventName(f)
	}
	raw, _, err := e.normalizeEvent(evt)
	if err == nil {
		// As strict as the server: an event that would not start the
		// function does not start it here either.
		err = f.startableBy(e.cel, evt.Name, raw)
	}
	if err != nil {
		e.mu.Unlock()
		e.t.Fatalf("inngesttest: Start %s: %v", f.ID, err)
		return nil
	}
	// The event is stored, as the server stores the event of a run it
	// starts directly, but triggers nothing else.
	e.events = append(e.events, raw)
	r := e.startRun(f, raw, nil)
	for _, o := range opts {
		o.applyRun(r)
	}
	e.driveLocked(e.now, nil)
	e.mu.Unlock()
	return r
}

func defaultEventName(f *fnDef) string {
	for _, t := range f.Triggers {
		if t.Event != "" && !strings.HasSuffix(t.Event, "*") {
			return t.Event
		}
	}
	return cronEvent
}

// lookup finds a function by full ID or, with one app registered, by its
// ID within the app.
func (e *Engine) lookup(fn Function) *fnDef {
	if fn == nil {
		return nil
	}
	id := fn.FullID()
	if f, ok := e.fns[id]; ok {
		return f
	}
	if len(e.apps) == 1 {
		for _, a := range e.apps {
			return e.fns[a.id+"-"+id]
		}
	}
	return nil
}

// fullID is the full ID of the function fn names: as lookup finds it,
// or fn's own ID when no such function is registered.
func (e *Engine) fullID(fn Function) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.lookup(fn); f != nil {
		return f.ID
	}
	if fn == nil {
		return ""
	}
	return fn.FullID()
}

// registered reports whether a function with this full ID is registered.
func (e *Engine) registered(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.fns[id]
	return ok
}

func (e *Engine) functionIDs() []string {
	ids := make([]string, len(e.fnOrder))
	for i, f := range e.fnOrder {
		ids[i] = f.ID
	}
	if len(ids) == 0 {
		return []string{"none (call Register after creating the functions)"}
	}
	return ids
}

// Send delivers events to the engine as the event API would: each event
// cancels the runs whose Cancel options match it, resumes the runs
// waiting for it, and starts the functions it triggers. It then drives
// the engine until nothing more happens at the current virtual time, and
// returns the runs the events started.
//
// Unlike the event API, Send accepts events named "inngest/…", so that a
// test can, for example, hand a failure handler a made-up
// inngest/function.failed event.
func (e *Engine) Send(events ...inngest.Event[any]) []*Run {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	var started []*Run
	for i, evt := range events {
		if strings.TrimSpace(evt.Name) == "" {
			e.t.Errorf("inngesttest: Send: event %d has no name", i)
			continue
		}
		raw, _, err := e.normalizeEvent(evt)
		if err != nil {
			e.t.Errorf("inngesttest: Send: event %d (%s): %v", i, evt.Name, err)
			continue
		}
		_, runs := e.ingest(raw, nil)
		started = append(started, runs...)
	}
	e.driveLocked(e.now, nil)
	return started
}

// Signal sends a signal, as the API does: the run waiting for it with
// step.WaitForSignal resumes with data. It reports an error when no run
// waits for the signal.
func (e *Engine) Signal(signal string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("inngesttest: Signal %q: data: %w", signal, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.signal(signal, raw) {
		return fmt.Errorf("inngesttest: Signal %q: no run waits for it", signal)
	}
	e.driveLocked(e.now, nil)
	return nil
}

// Advance moves the virtual clock forward by d, doing in order everything
// that falls due: calls, retries, the end of sleeps, timeouts, After
// callbacks.
func (e *Engine) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.driveLocked(e.now.Add(d), nil)
}

// Wait drives the engine, skipping virtual time ahead as needed, until
// the given runs and every run they caused have ended, or, with no runs
// given, until nothing is left to do. Cron schedules do not count: Wait
// never moves the clock to a cron run's time; Advance does. It returns early when nothing is
// left to do, for example when a run waits for a signal that no callback
// sends.
func (e *Engine) Wait(runs ...*Run) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var done func() bool
	if len(runs) > 0 {
		done = func() bool {
			for _, r := range runs {
				if !r.settled() {
					return false
				}
			}
			return true
		}
	}
	e.driveLocked(time.Time{}, done)
}

// settled reports whether r and every run it caused have ended.
func (r *Run) settled() bool {
	if !r.done() {
		return false
	}
	for _, c := range r.children {
		if !c.settled() {
			return false
		}
	}
	return true
}

// Now returns the virtual time.
func (e *Engine) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// After calls f once the virtual clock has moved d past now, while the
// engine is driven (by Run, Wait or Advance). f may call Send and
// Signal.
func (e *Engine) After(d time.Duration, f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.push(&item{due: e.now.Add(d), kind: itemFunc, fn: f})
}

// Pause describes a run that has just paused at a step.
type Pause struct {
	// Run is the paused run.
	Run *Run
	// StepID is the step's ID as written in code.
	StepID string
	// Kind is the step's kind: KindSleep, KindWaitForEvent, KindInvoke
	// or KindSignal.
	Kind StepKind
	// Event is the name of the event a wait waits for.
	Event string
	// Signal is the name of the signal a signal wait waits for.
	Signal string
	// Function is the full ID of the function an invoke step invoked.
	Function string
	// Until is when the pause ends by itself: the end of a sleep, or the
	// timeout of a wait or invoke.
	Until time.Time
}

type pauseHook struct {
	stepID string
	fn     func(Pause)
}

// OnPause calls f each time a run pauses at a step with the ID stepID
// (any step when stepID is ""): a sleep, a wait for an event or signal,
// or an invoke. f runs at the virtual time of the pause, before anything
// else happens; it may call Send, Signal and After, for example to send
// the event a run waits for:
//
//	eng.OnPause("approval", func(p inngesttest.Pause) {
//		eng.Send(inngest.Event[any]{Name: "shop/order.approved", Data: map[string]any{"id": 7}})
//	})
func (e *Engine) OnPause(stepID string, f func(Pause)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hooks = append(e.hooks, pauseHook{stepID: stepID, fn: f})
}

// Mock makes every run the engine starts from now on (including runs
// triggered by events, invoked runs and failure handlers) use the mocks.
// Limit a mock to one function with StepMock.In. A run's own mocks
// (passed to Run or Start) come first.
func (e *Engine) Mock(mocks ...StepMock) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mocks = append(e.mocks, mocks...)
}

// Runs returns every run, in the order they started.
func (e *Engine) Runs() []*Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Run(nil), e.runs...)
}

// RunsOf returns the runs of fn, in the order they started.
func (e *Engine) RunsOf(fn Function) []*Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Run
	for _, r := range e.runs {
		if r.fn.ID == fn.FullID() {
			out = append(out, r)
		}
	}
	return out
}

// Events returns every event the engine received or emitted, in order:
// sent events and the system events inngest/function.finished,
// inngest/function.failed, inngest/function.cancelled and
// inngest/function.invoked.
func (e *Engine) Events() []json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]json.RawMessage(nil), e.events...)
}

// EventsNamed returns the events named name, in order.
func (e *Engine) EventsNamed(name string) []json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []json.RawMessage
	for _, ev := range e.events {
		if eventName(ev) == name {
			out = append(out, ev)
		}
	}
	return out
}
