package step_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// eventAPI is a fake event API that records what it receives.
type eventAPI struct {
	mu     sync.Mutex
	paths  []string
	bodies []string
	status int
	reply  string
}

func (e *eventAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.paths = append(e.paths, r.URL.Path)
	e.bodies = append(e.bodies, string(b))
	status, reply := e.status, e.reply
	e.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply)
}

func (e *eventAPI) received() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.bodies...)
}

func newEventAPI(t *testing.T, status int, reply string) (*eventAPI, func(*inngest.ClientOpts)) {
	api := &eventAPI{status: status, reply: reply}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return api, func(o *inngest.ClientOpts) {
		o.EventAPIBaseURL = srv.URL
		o.EventKey = "test-key"
	}
}

func sendFn(t *testing.T, c *inngest.Client) {
	fn(t, c, "send", func(ctx context.Context, in inngest.Input[num]) (any, error) {
		return step.SendEvent(ctx, "emit",
			inngest.Event[any]{Name: "demo/steps", Data: map[string]int{"n": in.Event.Data.N}},
			inngest.Event[any]{Name: "demo/other", Data: nil, ID: "dedupe-1"},
		)
	})
}

func TestSendEventRunsAsAStep(t *testing.T) {
	api, opt := newEventAPI(t, 200, `{"ids":["01M89CTC64YGC6Y8QFVTNNZ676","01M89CTC64YGC6Y8QFVTNNZ677"],"status":200}`)
	c, _ := newClient(t, opt)
	sendFn(t, c)
	calls := loadCaptures(t, "demo-send")
	require.Len(t, calls, 2)

	// The first call sends the events and reports the IDs as the step's
	// result.
	r := replay(t, c, calls[0])
	requireResponse(t, r, 206, `[{"id":"2e96e89125f4c1aef797410a4bfdb32c0632ef0c","op":"StepRun","name":"emit","displayName":"emit","data":["01M89CTC64YGC6Y8QFVTNNZ676","01M89CTC64YGC6Y8QFVTNNZ677"],"timing":"<timing>","userland":{"id":"emit"}}]`)
	assert.Equal(t, []string{`[{"name":"demo/steps","data":{"n":41}},{"id":"dedupe-1","name":"demo/other","data":{}}]`}, api.received())
	assert.Equal(t, []string{"/e/test-key"}, api.paths)

	// A replay returns the recorded IDs and sends nothing.
	r = call{fn: "send", event: `{"n":41}`, steps: map[string]string{
		"2e96e89125f4c1aef797410a4bfdb32c0632ef0c": `{"data":["01M89CTC64YGC6Y8QFVTNNZ676","01M89CTC64YGC6Y8QFVTNNZ677"]}`,
	}}.do(t, c)
	requireResponse(t, r, 200, `["01M89CTC64YGC6Y8QFVTNNZ676","01M89CTC64YGC6Y8QFVTNNZ677"]`)
	assert.Len(t, api.received(), 1)
}

func TestSendEventFailureIsAStepError(t *testing.T) {
	api, opt := newEventAPI(t, 400, `{"error":"bad event"}`)
	c, _ := newClient(t, opt)
	sendFn(t, c)
	r := call{fn: "send", event: `{"n":1}`}.do(t, c)
	require.Equal(t, 206, r.Status, r.Body)
	ops := decodeOps(t, r.Body)
	require.Len(t, ops, 1)
	assert.Equal(t, "StepError", ops[0].Op)
	assert.Equal(t, hash("emit"), ops[0].ID)
	assert.Contains(t, ops[0].Error.Message, "bad event")
	assert.Len(t, api.received(), 1)
}

func TestSendEventChecksEventsBeforeSending(t *testing.T) {
	api, opt := newEventAPI(t, 200, `{"ids":["x"],"status":200}`)
	c, _ := newClient(t, opt)
	tests := []struct {
		name   string
		events []inngest.Event[any]
		msg    string
	}{
		{"none", nil, "at least one event"},
		{"no name", []inngest.Event[any]{{Data: map[string]any{}}}, "name is required"},
		{"reserved name", []inngest.Event[any]{{Name: "inngest/function.failed"}}, "reserved"},
		{"data not an object", []inngest.Event[any]{{Name: "a/b"}, {Name: "a/c", Data: "text"}}, "event 1 (a/c): data"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			id := "send" + string(rune('a'+i))
			fn(t, c, id, func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
				_, got = step.SendEvent(ctx, "emit", tt.events...)
				return nil, got
			})
			r := call{fn: id}.do(t, c)
			require.Error(t, got)
			assert.Contains(t, got.Error(), tt.msg)
			assert.True(t, inngest.IsNoRetryError(got))
			assert.Equal(t, 400, r.Status, "the step is not reported: %s", r.Body)
		})
	}
	assert.Empty(t, api.received(), "nothing was sent")
}

func TestSendEventInAGroupIsPlanned(t *testing.T) {
	api, opt := newEventAPI(t, 200, `{"ids":["E1"],"status":200}`)
	c, _ := newClient(t, opt)
	fn(t, c, "fanout", func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
		g := step.NewGroup(ctx)
		for _, name := range []string{"a/one", "a/two"} {
			g.Go(func(ctx context.Context) error {
				_, err := step.SendEvent(ctx, "emit", inngest.Event[any]{Name: name})
				return err
			})
		}
		return nil, g.Wait()
	})
	r := call{fn: "fanout"}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("emit")+`","op":"StepPlanned","name":"emit","displayName":"emit","data":null,"userland":{"id":"emit"}},{"id":"`+hash("emit", 1)+`","op":"StepPlanned","name":"emit","displayName":"emit","data":null,"userland":{"id":"emit","index":1}}]`)
	assert.Empty(t, api.received())

	// The targeted call for the second sends only its event.
	r = call{fn: "fanout", target: hash("emit", 1), disableImmediate: true}.do(t, c)
	requireResponse(t, r, 206, `[{"id":"`+hash("emit", 1)+`","op":"StepRun","name":"emit","displayName":"emit","data":["E1"],"timing":"<timing>","userland":{"id":"emit","index":1}}]`)
	assert.Equal(t, []string{`[{"name":"a/two","data":{}}]`}, api.received())
}
