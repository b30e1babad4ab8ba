package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// traceSpan is a span of the server's run trace, as its GraphQL API
// (runTrace) gives it to the run view.
type traceSpan struct {
	Name      string      `json:"name"`
	Status    string      `json:"status"`
	StepOp    *string     `json:"stepOp"`
	StepID    *string     `json:"stepID"`
	StartedAt *time.Time  `json:"startedAt"`
	EndedAt   *time.Time  `json:"endedAt"`
	Duration  *int64      `json:"duration"` // milliseconds
	Children  []traceSpan `json:"childrenSpans"`
}

const traceFields = `name status stepOp stepID startedAt endedAt duration`

// runTrace reads the run view's trace of runID from /v0/gql.
func (tg target) runTrace(t *testing.T, runID string) (traceSpan, error) {
	t.Helper()
	// Three levels: the run, its steps, and a step's attempts.
	q := fmt.Sprintf(`query($id: String!) { runTrace(runID: $id) { %s childrenSpans { %s childrenSpans { %s } } } }`, traceFields, traceFields, traceFields)
	body, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]string{"id": runID}})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, tg.url+"/v0/gql", bytes.NewReader(body))
	if err != nil {
		return traceSpan{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tg.signed() {
		req.Header.Set("Authorization", "Bearer "+tg.signingKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return traceSpan{}, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	var out struct {
		Data struct {
			RunTrace *traceSpan `json:"runTrace"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return traceSpan{}, fmt.Errorf("POST /v0/gql: %d %s", resp.StatusCode, rb)
	}
	if len(out.Errors) > 0 || out.Data.RunTrace == nil {
		return traceSpan{}, fmt.Errorf("POST /v0/gql: %d %s", resp.StatusCode, rb)
	}
	return *out.Data.RunTrace, nil
}

// The run view shows each step where and for as long as it really ran,
// whether the step was reported in the call's response or saved with a
// checkpoint (for which the server has only the opcode's timing).
func TestRunTraceShowsTrueStepTimes(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	const nap = 50 * time.Millisecond
	ids := []string{"fetch", "transform", "store"}
	for _, tc := range []struct {
		name string
		cp   *inngest.Checkpointing
	}{
		{"one step per call", nil},
		{"checkpointed", &inngest.Checkpointing{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, tg, appConfig{checkpointing: tc.cp})
			_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "timed"}, inngest.EventTrigger(a.event("timed"), nil),
				func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
					for _, id := range ids {
						if _, err := step.Run(ctx, id, func(ctx context.Context) (string, error) {
							time.Sleep(nap)
							return id, nil
						}); err != nil {
							return nil, err
						}
					}
					return "done", nil
				})
			require.NoError(t, err)
			a.sync()
			run := tg.finished(t, a.send(a.event("timed"), map[string]any{}))
			require.Equal(t, "Completed", run.Status, "output: %s", run.Output)

			var root traceSpan
			var steps map[string]traceSpan
			tg.eventually(t, "the run's trace with its three ended steps", func() (bool, string) {
				var err error
				if root, err = tg.runTrace(t, run.RunID); err != nil {
					return false, err.Error()
				}
				steps = map[string]traceSpan{}
				for _, s := range root.Children {
					if s.EndedAt != nil {
						steps[s.Name] = s
					}
				}
				dump, _ := json.Marshal(root)
				return root.EndedAt != nil && len(steps) >= len(ids), string(dump)
			})
			dump, _ := json.Marshal(root)
			require.NotNil(t, root.StartedAt, "%s", dump)
			for _, id := range ids {
				s, ok := steps[id]
				require.True(t, ok, "no span named %q in %s", id, dump)
				require.NotNil(t, s.StartedAt, "%s", dump)
				assert.False(t, s.StartedAt.Before(*root.StartedAt), "step %s starts at %s, before its run (%s)", id, s.StartedAt, root.StartedAt)
				assert.False(t, s.EndedAt.After(*root.EndedAt), "step %s ends at %s, after its run (%s)", id, s.EndedAt, root.EndedAt)
				assert.GreaterOrEqual(t, s.EndedAt.Sub(*s.StartedAt), nap, "step %s: its body slept %s; span %s", id, nap, dump)
			}
		})
	}
}
