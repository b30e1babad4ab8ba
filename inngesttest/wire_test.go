package inngesttest

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A call as a dev server sent it, recorded by a logging proxy.
type capture struct {
	Target  string            `json:"target"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type capturedBody struct {
	Ctx struct {
		Attempt      int    `json:"attempt"`
		DisableImm   bool   `json:"disable_immediate_execution"`
		Env          string `json:"env"`
		FnID         string `json:"fn_id"`
		GenerationID int    `json:"generation_id"`
		JobID        string `json:"job_id"`
		MaxAttempts  int    `json:"max_attempts"`
		QiID         string `json:"qi_id"`
		RequestID    string `json:"request_id"`
		RunID        string `json:"run_id"`
		Stack        struct {
			Stack []string `json:"stack"`
		} `json:"stack"`
	} `json:"ctx"`
	Event   json.RawMessage            `json:"event"`
	Events  []json.RawMessage          `json:"events"`
	Steps   map[string]json.RawMessage `json:"steps"`
	Version int                        `json:"version"`
}

func loadCapture(t *testing.T, name string) (capture, capturedBody) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "calls", name+".json"))
	require.NoError(t, err)
	var c capture
	require.NoError(t, json.Unmarshal(raw, &c))
	var b capturedBody
	require.NoError(t, json.Unmarshal([]byte(c.Body), &b))
	return c, b
}

// runFrom rebuilds the server's state for a captured call.
func runFrom(b capturedBody) (*Run, *item) {
	f := &fnDef{app: &app{env: b.Ctx.Env}, UUID: b.Ctx.FnID, Retries: b.Ctx.MaxAttempts - 1}
	r := &Run{
		id:               b.Ctx.RunID,
		fn:               f,
		event:            b.Event,
		events:           b.Events,
		memo:             b.Steps,
		stack:            b.Ctx.Stack.Stack,
		version:          b.Version,
		disableImmediate: b.Ctx.DisableImm,
	}
	return r, &item{attempt: b.Ctx.Attempt, jobID: b.Ctx.JobID}
}

// The engine's call bodies are byte for byte those of the server, given
// the same state: ctx fields derived as the server derives them
// (generation_id, qi_id, stack.current), JCS key order, memo shapes.
func TestRequestBodyMatchesServer(t *testing.T) {
	for _, name := range []string{
		"steps-first", "steps-after-sleep", "retry-attempt-2", "exhaust-after-failed-step",
		"parallel-targeted", "wait-matched", "exhaust-failure-handler", "cancel-handler",
	} {
		t.Run(name, func(t *testing.T) {
			c, b := loadCapture(t, name)
			r, it := runFrom(b)
			assert.Equal(t, b.Ctx.Attempt+1, b.Ctx.GenerationID, "generation_id")
			assert.Equal(t, queueItemID(b.Ctx.JobID), b.Ctx.QiID, "qi_id")
			got, err := buildRequest(r, it, b.Ctx.RequestID, false)
			require.NoError(t, err)
			assert.Equal(t, c.Body, string(got))
		})
	}
}

func TestCallHeadersAndURLMatchServer(t *testing.T) {
	for _, name := range []string{"steps-first", "steps-after-sleep", "parallel-targeted"} {
		t.Run(name, func(t *testing.T) {
			c, b := loadCapture(t, name)
			r, _ := runFrom(b)
			stepID := c.Headers["X-Inngest-Step-Id"]
			hdr := callHeader(r, stepID, c.Headers["Traceparent"])
			want := http.Header{}
			for k, v := range c.Headers {
				want.Set(k, v)
			}
			assert.Equal(t, want, hdr)
			// The captured app synced "?fnId=…&step=step"; the server
			// adds stepId.
			fnID := must(http.NewRequest(http.MethodPost, "http://host"+c.Target, nil)).URL.Query().Get("fnId")
			u, err := callURL("http://host/api/inngest?fnId="+fnID+"&step=step", stepID)
			require.NoError(t, err)
			assert.Equal(t, "http://host"+c.Target, u)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The failure and cancellation events the engine emits are those the
// server emits: replaying the captured run's end produces the captured
// handler call byte for byte.
func TestSystemEventsMatchServer(t *testing.T) {
	cases := []struct {
		capture string
		end     func(e *Engine, r *Run)
	}{
		{"exhaust-failure-handler", func(e *Engine, r *Run) {
			// The captured SDK answered the last call 500 with
			// X-Inngest-No-Retry: true and this body.
			body := []byte(`{"message":"unhandled step error: card declined"}`)
			e.failRun(r, resultOf(body), standardError(500, true, body))
		}},
		{"cancel-handler", func(e *Engine, r *Run) { e.cancelRun(r, "test") }},
	}
	for _, tc := range cases {
		t.Run(tc.capture, func(t *testing.T) {
			_, b := loadCapture(t, tc.capture)
			var sys struct {
				ID   string `json:"id"`
				TS   int64  `json:"ts"`
				Data struct {
					FunctionID string          `json:"function_id"`
					RunID      string          `json:"run_id"`
					Event      json.RawMessage `json:"event"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(b.Event, &sys))
			require.Equal(t, sys.ID, sys.Data.RunID, "the event ID is the run ID")

			e := New(t, WithStartTime(time.UnixMilli(sys.TS)))
			a := &app{id: "demo", env: b.Ctx.Env}
			handler := &fnDef{app: a, ID: "handler", UUID: b.Ctx.FnID, Retries: b.Ctx.MaxAttempts - 1}
			failed := &fnDef{app: a, ID: sys.Data.FunctionID}
			e.fns[handler.ID], e.fns[failed.ID] = handler, failed
			e.fnOrder = []*fnDef{handler, failed}

			// The failed run, with its original event as stored (the
			// server lists it without "user" in data.events).
			r := &Run{e: e, id: sys.Data.RunID, fn: failed, event: sys.Data.Event, events: []json.RawMessage{sys.Data.Event},
				started: e.now, byHash: map[string]*Step{}, memo: map[string]json.RawMessage{}, pauses: map[string]*pause{}}
			e.runs = append(e.runs, r)
			tc.end(e, r)

			emitted := e.events[len(e.events)-1]
			h := &Run{id: b.Ctx.RunID, fn: handler, event: emitted, events: []json.RawMessage{emitted}, memo: map[string]json.RawMessage{}, stack: []string{}, version: -1}
			c, _ := loadCapture(t, tc.capture)
			got, err := buildRequest(h, &item{jobID: b.Ctx.JobID}, b.Ctx.RequestID, false)
			require.NoError(t, err)
			assert.Equal(t, c.Body, string(got))
		})
	}
}
