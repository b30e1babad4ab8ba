package inngesttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
	"github.com/go-inngest/inngest/step"
)

// sleepingRun starts a run that sleeps for an hour at once, so that
// nothing else happens to it while a test posts checkpoints for it.
func sleepingRun(t *testing.T) (*Engine, *Run) {
	t.Helper()
	eng := New(t)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()})
	require.NoError(t, err)
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "nap"}, inngest.EventTrigger("shop/nap", nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			return nil, step.Sleep(ctx, "nap", time.Hour)
		})
	require.NoError(t, err)
	eng.Register(c)
	r := eng.Start(fn, inngest.Event[any]{Name: "shop/nap", Data: map[string]any{}})
	require.Equal(t, Running, r.Status())
	return eng, r
}

// inCall makes the engine act as though it were calling the SDK for r
// with it, and returns it.
func inCall(eng *Engine, r *Run, it *item) *item {
	eng.mu.Lock()
	defer eng.mu.Unlock()
	it.run = r
	eng.calling = it
	return it
}

func postCheckpoint(t *testing.T, eng *Engine, runID, body string) (int, string) {
	t.Helper()
	res, err := eng.HTTPClient().Post("http://inngest.test/v1/checkpoint/"+runID+"/async", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// cpBody is a checkpoint as the SDK sends it, for run r from call it.
func cpBody(r *Run, it *item, generation int, steps string) string {
	return fmt.Sprintf(`{"run_id":%q,"fn_id":%q,"qi_id":%q,"request_id":"01REQ","generation_id":%d,"ts":1,"steps":%s}`,
		r.id, r.fn.UUID, queueItemID(it.jobID), generation, steps)
}

func stepRunOp(id, data string) string {
	return fmt.Sprintf(`{"id":%q,"op":"StepRun","name":%q,"displayName":%q,"data":%s}`, wire.HashID(id, 0), id, id, data)
}

func TestCheckpointAPISavesSteps(t *testing.T) {
	eng, r := sleepingRun(t)
	it := inCall(eng, r, &item{jobID: "abcdefghijklm", attempt: 2})
	stackBefore := len(r.stack)

	status, body := postCheckpoint(t, eng, r.id, cpBody(r, it, 3,
		`[`+stepRunOp("a", `{"n":1}`)+`,{"id":"`+wire.HashID("b", 0)+`","op":"StepPlanned","name":"b"},`+stepRunOp("c", `null`)+`]`))
	require.Equal(t, http.StatusOK, status, body)

	eng.mu.Lock()
	defer eng.mu.Unlock()
	assert.JSONEq(t, `{"data":{"n":1}}`, string(r.memo[wire.HashID("a", 0)]))
	assert.JSONEq(t, `{"data":null}`, string(r.memo[wire.HashID("c", 0)]))
	assert.NotContains(t, r.memo, wire.HashID("b", 0), "a planned step is not stored")
	assert.Equal(t, []string{wire.HashID("a", 0), wire.HashID("c", 0)}, r.stack[stackBefore:])

	a := r.byHash[wire.HashID("a", 0)]
	require.NotNil(t, a)
	assert.Equal(t, "a", a.ID)
	assert.Equal(t, KindRun, a.Kind)
	assert.Equal(t, StepCompleted, a.Status)
	assert.True(t, a.Checkpointed)
	assert.Equal(t, 1, a.Attempts)
	assert.JSONEq(t, `{"n":1}`, string(a.Result))
	assert.NotContains(t, r.byHash, wire.HashID("b", 0))
	last := r.timeline[len(r.timeline)-1]
	assert.Equal(t, Entry{At: last.At, Offset: last.Offset, Kind: EntryStep, Step: "c", Detail: "checkpointed: null"}, last)

	// The call's attempts start again, and its dispatch count goes on.
	assert.Equal(t, 0, it.attempt)
	assert.Equal(t, 3, it.generation())
	assert.Equal(t, 2, it.checkpointed)
}

func TestCheckpointAPIIgnoresDuplicates(t *testing.T) {
	eng, r := sleepingRun(t)
	it := inCall(eng, r, &item{jobID: "abcdefghijklm"})
	status, body := postCheckpoint(t, eng, r.id, cpBody(r, it, 1, `[`+stepRunOp("a", `1`)+`]`))
	require.Equal(t, http.StatusOK, status, body)
	status, body = postCheckpoint(t, eng, r.id, cpBody(r, it, 1, `[`+stepRunOp("a", `2`)+`]`))
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, 1, it.checkpointed)

	st, ok := r.Step("a")
	require.True(t, ok)
	assert.JSONEq(t, `1`, string(st.Result), "the first result stays")
	assert.Equal(t, 1, st.Attempts)
	assert.Len(t, r.Steps(), 2) // the sleep and a
}

func TestCheckpointAPIRefusals(t *testing.T) {
	eng, r := sleepingRun(t)
	it := &item{jobID: "abcdefghijklm", attempt: 1}
	good := `[` + stepRunOp("a", `1`) + `]`
	for _, tc := range []struct {
		name   string
		runID  string
		body   string
		noCall bool
		status int
		msg    string
	}{
		{"unknown run", "01UNKNOWN", cpBody(r, it, 2, good), false, http.StatusNotFound, "not found"},
		{"not JSON", r.id, `{"run_id":`, false, http.StatusBadRequest, "invalid request body"},
		{"steps not an array", r.id, cpBody(r, it, 2, `{}`), false, http.StatusBadRequest, "invalid request body"},
		{"another run's ID", r.id, strings.Replace(cpBody(r, it, 2, good), r.id, "01OTHER", 1), false, http.StatusBadRequest, "does not match"},
		{"another function", r.id, strings.Replace(cpBody(r, it, 2, good), r.fn.UUID, "00000000-0000-5000-8000-000000000000", 1), false, http.StatusBadRequest, "fn_id"},
		{"no step ID", r.id, cpBody(r, it, 2, `[{"op":"StepRun","name":"a","data":1}]`), false, http.StatusBadRequest, "has no id"},
		{"a sleep", r.id, cpBody(r, it, 2, `[`+stepRunOp("a", `1`)+`,{"id":"`+wire.HashID("z", 0)+`","op":"Sleep","name":"z","opts":{"duration":"1h"}}]`), false, http.StatusBadRequest, "cannot checkpoint async steps (Sleep)"},
		{"a step error", r.id, cpBody(r, it, 2, `[{"id":"`+wire.HashID("a", 0)+`","op":"StepError","name":"a","error":{"name":"Error","message":"x"}}]`), false, http.StatusBadRequest, "async steps (StepError)"},
		{"a failed step", r.id, cpBody(r, it, 2, `[{"id":"`+wire.HashID("a", 0)+`","op":"StepFailed","name":"a","error":{"name":"Error","message":"x"}}]`), false, http.StatusBadRequest, "cannot checkpoint opcode: StepFailed"},
		{"no call in progress", r.id, cpBody(r, it, 2, good), true, http.StatusConflict, "no call of run"},
		{"another queue item", r.id, strings.Replace(cpBody(r, it, 2, good), queueItemID(it.jobID), queueItemID("mlkjihgfedcba"), 1), false, http.StatusConflict, "queue item"},
		{"an earlier dispatch", r.id, cpBody(r, it, 1, good), false, http.StatusConflict, "dispatch generation 1 does not match queue item generation 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noCall {
				eng.mu.Lock()
				eng.calling = nil
				eng.mu.Unlock()
			} else {
				inCall(eng, r, it)
			}
			status, body := postCheckpoint(t, eng, tc.runID, tc.body)
			assert.Equal(t, tc.status, status, body)
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Contains(t, e.Error, tc.msg)

			eng.mu.Lock()
			defer eng.mu.Unlock()
			assert.NotContains(t, r.memo, wire.HashID("a", 0), "nothing is saved")
			assert.Equal(t, 1, it.attempt, "the attempts are not reset")
		})
	}
}

// Without a generation_id (older SDKs) the dispatch is not checked
// against the queue item's generation.
func TestCheckpointAPIWithoutGeneration(t *testing.T) {
	eng, r := sleepingRun(t)
	it := inCall(eng, r, &item{jobID: "abcdefghijklm", attempt: 1})
	status, body := postCheckpoint(t, eng, r.id, strings.Replace(cpBody(r, it, 0, `[`+stepRunOp("a", `1`)+`]`), `"generation_id":0,`, "", 1))
	require.Equal(t, http.StatusOK, status, body)
	_, ok := r.Step("a")
	assert.True(t, ok)
}

func TestCheckpointAPIEndedRun(t *testing.T) {
	eng, r := sleepingRun(t)
	eng.Wait(r)
	require.Equal(t, Completed, r.Status())
	it := inCall(eng, r, &item{jobID: "abcdefghijklm"})
	status, body := postCheckpoint(t, eng, r.id, cpBody(r, it, 1, `[`+stepRunOp("a", `1`)+`]`))
	assert.Equal(t, http.StatusConflict, status, body)
	assert.Contains(t, body, "has ended")
	_, ok := r.Step("a")
	assert.False(t, ok)
}
