package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	official "github.com/inngest/inngestgo"
	officialcheckpoint "github.com/inngest/inngestgo/pkg/checkpoint"
	officialstep "github.com/inngest/inngestgo/step"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// TestCheckpointingAgainstTheServer runs a 20-step function with
// checkpointing on the Inngest dev server, through this SDK and the
// official one, one checkpoint per step and all 20 steps in one batch,
// and compares how long the server's trace has each run taking (its run
// span, from the first call to the result). It needs a dev server:
//
//	INNGEST_E2E_SERVER=http://127.0.0.1:8288 go test -run TestCheckpointingAgainstTheServer -v .
//
// The setups take turns, nine rounds. It fails unless this SDK's
// batched run takes at most 50 ms, and no longer than the official
// SDK's checkpointed run (its default, a checkpoint per step), by the
// medians; the official SDK batched is logged beside it.
func TestCheckpointingAgainstTheServer(t *testing.T) {
	server := os.Getenv("INNGEST_E2E_SERVER")
	if server == "" {
		t.Skip("INNGEST_E2E_SERVER is not set: no Inngest dev server to run against")
	}
	const steps, runs = 20, 9
	tag := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	setups := []struct {
		name, sdk string
		batch     int
	}{
		{"ours, a checkpoint per step", "ours", 0},
		{"ours, one batch", "ours", steps},
		{"official, a checkpoint per step", "official", 0},
		{"official, one batch", "official", steps},
	}
	events := make([]string, len(setups))
	for i, s := range setups {
		app := fmt.Sprintf("%s-%d", tag, i)
		events[i] = app + "/twenty"
		var h http.Handler
		srv := httptest.NewUnstartedServer(nil)
		appURL := "http://" + srv.Listener.Addr().String() + "/api/inngest"
		if s.sdk == "ours" {
			h = ourTwenty(t, server, app, events[i], steps, s.batch)
		} else {
			h = officialTwenty(t, server, appURL, app, events[i], steps, s.batch)
		}
		srv.Config.Handler = h
		srv.Start()
		defer srv.Close()
		syncApp(t, appURL)
	}
	// Round after round, each setup once: drift in the server's speed
	// touches them all alike.
	spans := make([][]time.Duration, len(setups))
	for range runs {
		for i := range setups {
			runID := runOf(t, server, sendEvent(t, server, events[i]))
			spans[i] = append(spans[i], runSpanOf(t, server, runID))
		}
	}
	medians := map[string]time.Duration{}
	for i, s := range setups {
		slices.Sort(spans[i])
		medians[s.name] = spans[i][len(spans[i])/2]
		t.Logf("%-32s run span in the server's trace: median %s of %v", s.name, medians[s.name], spans[i])
	}
	ours := medians["ours, one batch"]
	if ours > 50*time.Millisecond {
		t.Errorf("this SDK's batched run took %s in the server's trace, over 50 ms", ours)
	}
	if theirs := medians["official, a checkpoint per step"]; ours > theirs {
		t.Errorf("this SDK's batched run took %s, the official SDK's checkpointed run %s", ours, theirs)
	}
}

// ourTwenty is this SDK's handler for the 20-step function, its
// checkpoints batched by batch steps.
func ourTwenty(t *testing.T, server, app, event string, steps, batch int) http.Handler {
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: app, Mode: inngest.ModeDev, BaseURL: server, Logger: discard,
		Checkpointing: &inngest.Checkpointing{BatchSteps: batch}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "twenty"}, inngest.EventTrigger(event, nil),
		func(ctx context.Context, in inngest.Input[map[string]any]) (any, error) {
			sum := 0
			for i := range steps {
				n, err := step.Run(ctx, fmt.Sprintf("step-%d", i), func(context.Context) (int, error) { return i, nil })
				if err != nil {
					return nil, err
				}
				sum += n
			}
			return sum, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return c.Serve()
}

// officialTwenty is the official SDK's handler for the same function.
func officialTwenty(t *testing.T, server, appURL, app, event string, steps, batch int) http.Handler {
	u, _ := url.Parse(appURL)
	c, err := official.NewClient(official.ClientOpts{AppID: app, Dev: official.BoolPtr(true), Logger: discard, URL: u,
		RegisterURL: official.StrPtr(server + "/fn/register"), APIBaseURL: official.StrPtr(server),
		EventAPIBaseURL: official.StrPtr(server)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = official.CreateFunction(c, official.FunctionOpts{ID: "twenty", Checkpoint: &officialcheckpoint.Config{BatchSteps: batch}},
		official.EventTrigger(event, nil),
		func(ctx context.Context, in official.Input[map[string]any]) (any, error) {
			sum := 0
			for i := range steps {
				n, err := officialstep.Run(ctx, fmt.Sprintf("step-%d", i), func(context.Context) (int, error) { return i, nil })
				if err != nil {
					return nil, err
				}
				sum += n
			}
			return sum, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return c.Serve()
}

// syncApp syncs the app served at appURL: a PUT, after which the SDK
// registers with the server.
func syncApp(t *testing.T, appURL string) {
	req, _ := http.NewRequest(http.MethodPut, appURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sync of %s: %d %s", appURL, resp.StatusCode, body)
	}
}

// sendEvent sends an event named name to the dev server and returns its
// ID.
func sendEvent(t *testing.T, server, name string) string {
	var out struct {
		IDs []string `json:"ids"`
	}
	body, _ := json.Marshal(map[string]any{"name": name, "data": map[string]any{}})
	serverJSON(t, http.MethodPost, server+"/e/bench", body, &out)
	if len(out.IDs) != 1 {
		t.Fatalf("sending %s: ids %v", name, out.IDs)
	}
	return out.IDs[0]
}

// runOf waits for the run of eventID to complete and returns its ID.
func runOf(t *testing.T, server, eventID string) string {
	deadline := time.Now().Add(30 * time.Second)
	runID := ""
	for time.Now().Before(deadline) {
		if runID == "" {
			var out struct {
				Data []struct {
					RunID string `json:"run_id"`
				} `json:"data"`
			}
			serverJSON(t, http.MethodGet, server+"/v1/events/"+eventID+"/runs"+noCache(), nil, &out)
			if len(out.Data) == 1 {
				runID = out.Data[0].RunID
			}
		} else {
			var out struct {
				Data struct {
					Status string `json:"status"`
				} `json:"data"`
			}
			serverJSON(t, http.MethodGet, server+"/v1/runs/"+runID+noCache(), nil, &out)
			switch out.Data.Status {
			case "Completed":
				return runID
			case "Failed", "Cancelled":
				t.Fatalf("run %s of event %s: %s", runID, eventID, out.Data.Status)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no completed run for event %s", eventID)
	return ""
}

// noCache is a query that keeps the dev server from answering a GET
// from its cache.
func noCache() string { return fmt.Sprintf("?nocache=%d", time.Now().UnixNano()) }

// runSpanOf returns the length of run runID's span in the server's
// trace (its GraphQL API, as the run view shows it).
func runSpanOf(t *testing.T, server, runID string) time.Duration {
	q, _ := json.Marshal(map[string]any{
		"query":     `query($id: String!) { runTrace(runID: $id) { startedAt endedAt } }`,
		"variables": map[string]string{"id": runID},
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var out struct {
			Data struct {
				RunTrace *struct {
					StartedAt *time.Time `json:"startedAt"`
					EndedAt   *time.Time `json:"endedAt"`
				} `json:"runTrace"`
			} `json:"data"`
		}
		serverJSON(t, http.MethodPost, server+"/v0/gql", q, &out)
		if rt := out.Data.RunTrace; rt != nil && rt.StartedAt != nil && rt.EndedAt != nil {
			return rt.EndedAt.Sub(*rt.StartedAt)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no ended trace for run %s", runID)
	return 0
}

// serverJSON makes a request to the server and decodes its JSON answer.
func serverJSON(t *testing.T, method, u string, body []byte, out any) {
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, out) != nil {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
}
