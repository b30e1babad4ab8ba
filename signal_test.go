package inngest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

func TestSendSignalRequest(t *testing.T) {
	var gotPath, gotAuth, gotBody string
	status := http.StatusOK
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotAuth, gotBody = r.Method+" "+r.URL.Path, r.Header.Get("Authorization"), string(b)
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = io.WriteString(w, `{"data":{"run_id":"01RUN"},"metadata":{"fetched_at":"2026-11-25T00:00:00Z"}}`)
		} else {
			_, _ = io.WriteString(w, `{"error":"No signal found","status":404}`)
		}
	}))
	defer api.Close()
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", SigningKey: "signkey-test-12345678", APIBaseURL: api.URL, Mode: inngest.ModeCloud})
	require.NoError(t, err)

	runID, err := c.SendSignal(context.Background(), "order-7-approved", map[string]any{"by": "ana"})
	require.NoError(t, err)
	assert.Equal(t, "01RUN", runID)
	assert.Equal(t, "POST /v1/signals", gotPath)
	assert.Equal(t, "Bearer signkey-test-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c", gotAuth)
	assert.Equal(t, `{"signal":"order-7-approved","data":{"by":"ana"}}`, gotBody)

	status = http.StatusNotFound
	_, err = c.SendSignal(context.Background(), "nobody-waits", nil)
	require.ErrorIs(t, err, inngest.ErrNoSignalWaiter)
	assert.Contains(t, err.Error(), `"nobody-waits"`)

	_, err = c.SendSignal(context.Background(), " ", nil)
	require.ErrorContains(t, err, "a signal name is required")
	_, err = c.SendSignal(context.Background(), "s", func() {})
	require.ErrorContains(t, err, "data")
}

func TestSendSignalResumesAWaitingRunOnTheEngine(t *testing.T) {
	eng := inngesttest.New(t)
	c := behaviourClient(t, eng)
	fn, err := inngest.CreateFunction(c, inngest.FunctionOpts{ID: "approve"}, inngest.EventTrigger("jobs/approve", nil),
		func(ctx context.Context, in inngest.Input[job]) (any, error) {
			sig, err := step.WaitForSignal[map[string]string](ctx, "approval", step.WaitForSignalOpts{Signal: "job-7", Timeout: time.Hour})
			if err != nil {
				return nil, err
			}
			return sig.Data["by"], nil
		})
	require.NoError(t, err)
	eng.Register(c)

	run := eng.Start(fn, inngest.Event[any]{Name: "jobs/approve", Data: job{ID: 7}})
	_, err = c.SendSignal(context.Background(), "job-8", nil)
	require.ErrorIs(t, err, inngest.ErrNoSignalWaiter)
	runID, err := c.SendSignal(context.Background(), "job-7", map[string]string{"by": "ana"})
	require.NoError(t, err)
	assert.Equal(t, run.ID(), runID)
	eng.Wait(run)
	run.RequireCompleted(t).RequireOutput(t, "ana")
}
