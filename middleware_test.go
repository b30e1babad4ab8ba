package inngest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/go-inngest/inngest/step"
)

// hookLog records hooks and user code in the order they ran.
type hookLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *hookLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *hookLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// recordingMW logs every hook under its name.
type recordingMW struct {
	name string
	log  *hookLog
}

func (m recordingMW) TransformInput(ctx context.Context, c *inngest.Call) context.Context {
	m.log.add(m.name + ".TransformInput")
	return ctx
}
func (m recordingMW) AfterMemoization(context.Context, *inngest.Call) {
	m.log.add(m.name + ".AfterMemoization")
}
func (m recordingMW) BeforeExecution(context.Context, *inngest.Call) {
	m.log.add(m.name + ".BeforeExecution")
}
func (m recordingMW) BeforeStep(ctx context.Context, _ *inngest.Call, s *inngest.StepRun) context.Context {
	m.log.add(fmt.Sprintf("%s.BeforeStep %s attempt %d", m.name, s.ID, s.Attempt))
	return ctx
}
func (m recordingMW) AfterStep(_ context.Context, _ *inngest.Call, s *inngest.StepRun) {
	m.log.add(fmt.Sprintf("%s.AfterStep %s err=%v final=%v", m.name, s.ID, s.Err, s.Final))
}
func (m recordingMW) AfterExecution(context.Context, *inngest.Call) {
	m.log.add(m.name + ".AfterExecution")
}
func (m recordingMW) TransformOutput(context.Context, *inngest.Call, *inngest.Output) {
	m.log.add(m.name + ".TransformOutput")
}
func (m recordingMW) BeforeResponse(context.Context, *inngest.Call) {
	m.log.add(m.name + ".BeforeResponse")
}
func (m recordingMW) BeforeSendEvents(_ context.Context, e []inngest.Event[any]) []inngest.Event[any] {
	m.log.add(m.name + ".BeforeSendEvents")
	return e
}
func (m recordingMW) SendHeaders(context.Context, http.Header) {
	m.log.add(m.name + ".SendHeaders")
}
func (m recordingMW) AfterSendEvents(context.Context, []string, error) {
	m.log.add(m.name + ".AfterSendEvents")
}

func mwCall(t *testing.T, h http.Handler, steps string) *httptest.ResponseRecorder {
	t.Helper()
	body := `{"ctx":{"run_id":"01M89CTBZB7VAD2JPG7CN5RYB6","attempt":0,"max_attempts":3,"stack":{"stack":[]}},"event":{"name":"a/b","data":{"n":1}},"events":[{"name":"a/b","data":{"n":1}}],"steps":{` + steps + `}}`
	req := httptest.NewRequest(http.MethodPost, "/?fnId=app-mw&stepId=step", strings.NewReader(body))
	req.Header.Set("X-Trace", "t-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkTimings(t, rec)
	return rec
}

func TestMiddlewareHooksRunOnceInOrder(t *testing.T) {
	log := &hookLog{}
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, Middleware: []inngest.Middleware{recordingMW{"client", log}}})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "mw", Middleware: []inngest.Middleware{recordingMW{"fn", log}}},
		inngest.EventTrigger("a/b", nil), func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) {
			log.add("code: start")
			a, err := step.Run(ctx, "a", func(context.Context) (int, error) { log.add("code: a"); return 1, nil })
			if err != nil {
				return nil, err
			}
			log.add("code: between")
			b, err := step.Run(ctx, "b", func(context.Context) (int, error) { log.add("code: b"); return 2, nil })
			return a + b, err
		})
	require.NoError(t, err)
	h := c.Serve()
	before := []string{"client.TransformInput", "fn.TransformInput"}
	memo := []string{"client.AfterMemoization", "fn.AfterMemoization", "client.BeforeExecution", "fn.BeforeExecution"}
	after := []string{"client.AfterExecution", "fn.AfterExecution", "client.TransformOutput", "fn.TransformOutput", "client.BeforeResponse", "fn.BeforeResponse"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	// Nothing memoized: the hooks fire before any user code.
	rec := mwCall(t, h, "")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, cat(before, memo, []string{"code: start", "client.BeforeStep a attempt 0", "fn.BeforeStep a attempt 0", "code: a",
		"fn.AfterStep a err=<nil> final=false", "client.AfterStep a err=<nil> final=false"}, after), log.take())

	// "a" memoized: the hooks fire once "a" has been replayed, before the
	// code after it runs.
	rec = mwCall(t, h, `"`+hashOf("a")+`":{"data":1}`)
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, cat(before, []string{"code: start"}, memo, []string{"code: between", "client.BeforeStep b attempt 0", "fn.BeforeStep b attempt 0", "code: b",
		"fn.AfterStep b err=<nil> final=false", "client.AfterStep b err=<nil> final=false"}, after), log.take())

	// Everything memoized: once, after the last step, before the return.
	rec = mwCall(t, h, `"`+hashOf("a")+`":{"data":1},"`+hashOf("b")+`":{"data":2}`)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "3", rec.Body.String())
	assert.Equal(t, cat(before, []string{"code: start", "code: between"}, memo, after), log.take())
}

type ctxKey struct{}

// transformMW shows what middleware may change: the context, the
// memoized data, the function's result and a step's result, events sent.
type transformMW struct {
	inngest.BaseMiddleware
	sent *[]string
}

func (transformMW) TransformInput(ctx context.Context, c *inngest.Call) context.Context {
	for h, raw := range c.Steps {
		c.Steps[h] = json.RawMessage(strings.ReplaceAll(string(raw), "secret", "plain"))
	}
	return context.WithValue(ctx, ctxKey{}, c.Request.Header.Get("X-Trace")+"/"+c.FunctionID+"/"+c.RunID)
}

func (transformMW) TransformOutput(_ context.Context, _ *inngest.Call, out *inngest.Output) {
	if s, ok := out.Result.(string); ok {
		out.Result = strings.ToUpper(s)
	}
	if out.Err != nil {
		out.Err = inngest.NoRetryError(out.Err)
	}
	if out.Step != nil {
		out.Step.Data = json.RawMessage(`"encrypted:` + out.Step.ID + `"`)
	}
}

func (m transformMW) BeforeSendEvents(_ context.Context, events []inngest.Event[any]) []inngest.Event[any] {
	for i := range events {
		events[i].User = map[string]any{"tagged": true}
	}
	return events
}

func (m transformMW) AfterSendEvents(_ context.Context, ids []string, err error) {
	*m.sent = append(*m.sent, strings.Join(ids, ","))
}

func TestMiddlewareTransforms(t *testing.T) {
	var bodies []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		_, _ = io.WriteString(w, `{"ids":["E1"],"status":200}`)
	}))
	defer api.Close()
	var sent []string
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, BaseURL: api.URL,
		Middleware: []inngest.Middleware{transformMW{sent: &sent}}, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	var seenCtx, seenMemo string
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "mw", Retries: inngest.Ptr(2)}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) {
			seenCtx, _ = ctx.Value(ctxKey{}).(string)
			v, err := step.Run(ctx, "load", func(context.Context) (string, error) { return "fresh", nil })
			if err != nil {
				return nil, err
			}
			seenMemo = v
			if in.Event.Data["n"] == 1 {
				return "done " + v, nil
			}
			return nil, errors.New("boom")
		})
	require.NoError(t, err)
	h := c.Serve()

	// A step's result as the call reports it.
	rec := mwCall(t, h, "")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, `[{"id":"`+hashOf("load")+`","op":"StepRun","name":"load","displayName":"load","data":"encrypted:load","timing":"<timing>","userland":{"id":"load"}}]`, rec.Body.String())
	assert.Equal(t, "t-123/app-mw/01M89CTBZB7VAD2JPG7CN5RYB6", seenCtx, "values injected into ctx reach the function")

	// Memoized data as the function sees it, and its result.
	rec = mwCall(t, h, `"`+hashOf("load")+`":{"data":"secret"}`)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "plain", seenMemo)
	assert.Equal(t, `"DONE PLAIN"`, rec.Body.String())

	// Events sent through the client.
	ids, err := c.Send(context.Background(), inngest.Event[any]{Name: "a/sent", Data: map[string]any{}})
	require.NoError(t, err)
	assert.Equal(t, []string{"E1"}, ids)
	require.Len(t, bodies, 1)
	assert.JSONEq(t, `[{"name":"a/sent","data":{},"user":{"tagged":true}}]`, bodies[0])
	assert.Equal(t, []string{"E1"}, sent)
}

func TestMiddlewareCanChangeTheError(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, Middleware: []inngest.Middleware{transformMW{sent: new([]string)}}})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "mw"}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) {
			return nil, errors.New("boom")
		})
	require.NoError(t, err)
	rec := mwCall(t, c.Serve(), "")
	assert.Equal(t, http.StatusBadRequest, rec.Code, "the middleware made the error non-retriable")
	assert.Equal(t, "true", rec.Header().Get("X-Inngest-No-Retry"))
}

type panicMW struct{ inngest.BaseMiddleware }

func (panicMW) BeforeResponse(context.Context, *inngest.Call) { panic("middleware bug") }

func TestMiddlewarePanicFailsTheCallNotTheServer(t *testing.T) {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "mw", Middleware: []inngest.Middleware{panicMW{}}}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) { return 1, nil })
	require.NoError(t, err)
	rec := mwCall(t, c.Serve(), "")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "false", rec.Header().Get("X-Inngest-No-Retry"))
	assert.Contains(t, rec.Body.String(), "middleware bug")
}

func TestNilMiddlewareIsRefused(t *testing.T) {
	_, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, Middleware: []inngest.Middleware{nil}})
	require.ErrorContains(t, err, "ClientOpts.Middleware[0] is nil")
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "mw", Middleware: []inngest.Middleware{nil}}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[map[string]int]) (any, error) { return 1, nil })
	require.ErrorContains(t, err, "FunctionOpts.Middleware[0]: is nil")
}

// headerMW adds a header to every send.
type headerMW struct{ inngest.BaseMiddleware }

func (headerMW) SendHeaders(ctx context.Context, h http.Header) {
	if v, _ := ctx.Value(ctxKey{}).(string); v != "" {
		h.Set("Traceparent", v)
	}
}

// SendHeaders adds headers to the request of a send, such as the
// sender's trace context, which the server reads from the event API's
// request.
func TestMiddlewareSendHeaders(t *testing.T) {
	api := testkit.NewFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ids":["01A"],"status":200}`)
	})
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, EventAPIBaseURL: api.URL,
		Middleware: []inngest.Middleware{headerMW{}}})
	require.NoError(t, err)
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	_, err = c.Send(context.WithValue(context.Background(), ctxKey{}, tp), inngest.Event[any]{Name: "a/b"})
	require.NoError(t, err)
	_, err = c.Send(context.Background(), inngest.Event[any]{Name: "a/b"})
	require.NoError(t, err)
	reqs := api.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, tp, reqs[0].Header.Get("Traceparent"))
	assert.Empty(t, reqs[1].Header.Values("Traceparent"))
	assert.NotEmpty(t, reqs[0].Header.Get("X-Inngest-Event-Id-Seed"))
}

type stepMW struct {
	inngest.BaseMiddleware
	log *hookLog
}

type stepCtxKey struct{}

func (m stepMW) BeforeStep(ctx context.Context, c *inngest.Call, s *inngest.StepRun) context.Context {
	return context.WithValue(ctx, stepCtxKey{}, c.FunctionID+"/"+s.ID)
}

func (m stepMW) AfterStep(ctx context.Context, _ *inngest.Call, s *inngest.StepRun) {
	m.log.add(fmt.Sprintf("after %s #%d attempt %d: ctx %v, err %v, final %v", s.ID, s.Index, s.Attempt, ctx.Value(stepCtxKey{}), s.Err, s.Final))
}

// BeforeStep gives a step's body its context, and AfterStep sees each
// attempt's outcome: an error that will be retried, then the final one.
func TestMiddlewareStepHooks(t *testing.T) {
	log := &hookLog{}
	eng := inngesttest.New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient(),
		Middleware: []inngest.Middleware{stepMW{log: log}}})
	require.NoError(t, err)
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "steps", Retries: inngest.Ptr(1)}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			if _, err := step.Run(ctx, "ok", func(ctx context.Context) (any, error) {
				log.add(fmt.Sprint("body sees ", ctx.Value(stepCtxKey{})))
				return nil, nil
			}); err != nil {
				return nil, err
			}
			_, err := step.Run(ctx, "bad", func(ctx context.Context) (int, error) { return 0, errors.New("nope") })
			return nil, err
		})
	require.NoError(t, err)
	eng.Register(c)
	eng.Run(fn, inngest.Event[any]{Name: "a/b"}).RequireFailed(t)
	assert.Equal(t, []string{
		"body sees app-steps/ok",
		"after ok #0 attempt 0: ctx app-steps/ok, err <nil>, final false",
		"after bad #0 attempt 0: ctx app-steps/bad, err nope, final false",
		"after bad #0 attempt 1: ctx app-steps/bad, err nope, final true",
	}, log.take())
}
