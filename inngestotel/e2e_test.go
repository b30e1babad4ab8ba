package inngestotel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngestotel"
	"github.com/go-inngest/inngest/step"
)

// The end-to-end test runs against the Inngest server at
// INNGEST_E2E_SERVER (dev mode, or signed with INNGEST_SIGNING_KEY and
// INNGEST_EVENT_KEY), as the SDK's e2e suite does.

// e2eSpan is a span of the server's run trace, with its userland part.
type e2eSpan struct {
	Name         string `json:"name"`
	StepID       string `json:"stepID"`
	IsUserland   bool   `json:"isUserland"`
	UserlandSpan *struct {
		SpanName  string `json:"spanName"`
		ScopeName string `json:"scopeName"`
	} `json:"userlandSpan"`
	Children []e2eSpan `json:"childrenSpans"`
}

// find returns the path of spans from s to the first userland span
// named name.
func (s e2eSpan) find(name string) []e2eSpan {
	if s.IsUserland && s.UserlandSpan != nil && s.UserlandSpan.SpanName == name {
		return []e2eSpan{s}
	}
	for _, c := range s.Children {
		if p := c.find(name); p != nil {
			return append([]e2eSpan{s}, p...)
		}
	}
	return nil
}

type e2eServer struct{ url, signingKey string }

func (s e2eServer) do(t *testing.T, method, path string, body []byte, out any) error {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if s.signingKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.signingKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, rb)
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("%s %s: %w: %s", method, path, err, rb)
	}
	return nil
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: last saw %s", what, last)
}

// A span the user opens inside step.Run reaches the server through
// NewUserlandExporter and shows in the run's trace, as a userland span
// under that step; and a run triggered by an event sent from a traced
// request continues that trace in the app's own spans.
func TestE2EUserSpanInRunView(t *testing.T) {
	raw := strings.TrimRight(strings.TrimSpace(os.Getenv("INNGEST_E2E_SERVER")), "/")
	if raw == "" {
		t.Skip("end-to-end test: set INNGEST_E2E_SERVER to a running Inngest server (e.g. http://127.0.0.1:8288) to run it")
	}
	srv := e2eServer{url: raw, signingKey: os.Getenv("INNGEST_SIGNING_KEY")}
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	opts := inngest.ClientOpts{AppID: "otel-e2e-" + tag, BaseURL: raw, EventKey: os.Getenv("INNGEST_EVENT_KEY"),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if srv.signingKey != "" {
		opts.Mode, opts.SigningKey = inngest.ModeCloud, srv.signingKey
	} else {
		opts.Mode = inngest.ModeDev
	}
	// The exporter needs a client for the API's URL and key, and the
	// app's client needs the middleware: the exporter gets a client of
	// its own, with the same options.
	api, err := inngest.NewClient(opts)
	require.NoError(t, err)
	exp, err := inngestotel.NewUserlandExporter(context.Background(), api)
	require.NoError(t, err)
	local := tracetest.NewInMemoryExporter() // "your backend"
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(local), sdktrace.WithSpanProcessor(inngestotel.NewUserlandProcessor(exp)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mw, err := inngestotel.New(inngestotel.Options{TracerProvider: tp})
	require.NoError(t, err)
	opts.Middleware = []inngest.Middleware{mw}
	client, err := inngest.NewClient(opts)
	require.NoError(t, err)

	event := "otel-e2e/" + tag
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "spans"}, inngest.EventTrigger(event, nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			return step.Run(ctx, "query", func(ctx context.Context) (string, error) {
				_, span := tp.Tracer("e2e-user").Start(ctx, "db.select")
				time.Sleep(5 * time.Millisecond)
				span.End()
				return "rows", nil
			})
		})
	require.NoError(t, err)
	app := httptest.NewServer(client.Serve())
	t.Cleanup(app.Close)

	// Sync, as the server's own sync request would.
	req, err := http.NewRequest(http.MethodPut, app.URL, nil)
	require.NoError(t, err)
	if srv.signingKey != "" {
		sig, err := inngest.Sign(srv.signingKey, time.Now(), nil)
		require.NoError(t, err)
		req.Header.Set("X-Inngest-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "sync: %s", rb)

	// Sent from a traced request: the run's calls continue its trace
	// (the event carries it through the server).
	sendCtx, sender := tp.Tracer("e2e-user").Start(context.Background(), "POST /checkout")
	ids, err := client.Send(sendCtx, inngest.Event[any]{Name: event, Data: map[string]any{}})
	require.NoError(t, err)
	sender.End()
	var runID string
	eventually(t, "the run to complete", func() (bool, string) {
		var runs []struct {
			RunID  string `json:"run_id"`
			Status string `json:"status"`
		}
		var env = struct {
			Data any `json:"data"`
		}{Data: &runs}
		if err := srv.do(t, http.MethodGet, "/v1/events/"+ids[0]+"/runs?nocache="+strconv.FormatInt(time.Now().UnixNano(), 10), nil, &env); err != nil {
			return false, err.Error()
		}
		if len(runs) == 1 && runs[0].Status == "Completed" {
			runID = runs[0].RunID
			return true, ""
		}
		return false, fmt.Sprintf("%+v", runs)
	})
	require.NoError(t, tp.ForceFlush(context.Background()))
	var calls int
	for _, sp := range local.GetSpans() {
		if strings.HasPrefix(sp.Name, "inngest.call ") {
			calls++
			require.Equal(t, sender.SpanContext().TraceID(), sp.SpanContext.TraceID(), "call span in the sender's trace")
			require.Equal(t, sender.SpanContext().SpanID(), sp.Parent.SpanID(), "call span a child of the sender's span")
		}
	}
	require.NotZero(t, calls, "the run's calls have spans")

	fields := `name stepID isUserland userlandSpan { spanName scopeName }`
	q := "query($id: String!) { runTrace(runID: $id) { " + fields
	for i := 0; i < 4; i++ {
		q += " childrenSpans { " + fields
	}
	q += strings.Repeat(" }", 5) + " }"
	body, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]string{"id": runID}})
	var path []e2eSpan
	eventually(t, "the user span in the run trace", func() (bool, string) {
		var out struct {
			Data struct {
				RunTrace *e2eSpan `json:"runTrace"`
			} `json:"data"`
		}
		if err := srv.do(t, http.MethodPost, "/v0/gql", body, &out); err != nil {
			return false, err.Error()
		}
		if out.Data.RunTrace == nil {
			return false, "no trace"
		}
		path = out.Data.RunTrace.find("db.select")
		b, _ := json.Marshal(out.Data.RunTrace)
		return path != nil, string(b)
	})
	b, _ := json.Marshal(path)
	t.Logf("path to the user span: %s", b)
	user := path[len(path)-1]
	require.GreaterOrEqual(t, len(path), 2)
	parent := path[len(path)-2]
	require.Equal(t, "query", parent.Name, "the user span is under the step \"query\": %s", b)
	require.NotEmpty(t, parent.StepID)
	require.Equal(t, parent.StepID, user.StepID, "the user span carries its step's ID")
	require.Equal(t, "e2e-user", user.UserlandSpan.ScopeName)
}
