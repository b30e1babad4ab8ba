package inngestotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngestotel"
	"github.com/go-inngest/inngest/step"
)

// A span the user opens in a step's body, during a call that carries
// the server's trace state, is sent with the attributes that attach it
// to the run and the step; the middleware's own spans and spans outside
// calls are not.
func TestUserlandProcessorAttributes(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(inngestotel.NewUserlandProcessor(exp)))
	mw, err := inngestotel.New(inngestotel.Options{TracerProvider: tp})
	require.NoError(t, err)
	c, err := inngest.NewClient(inngest.ClientOpts{AppID: "app", Mode: inngest.ModeDev, Middleware: []inngest.Middleware{mw}})
	require.NoError(t, err)
	user := tp.Tracer("user")
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "fn"}, inngest.EventTrigger("a/b", nil),
		func(ctx context.Context, in inngest.Input[any]) (any, error) {
			_, outside := user.Start(ctx, "before-steps")
			outside.End()
			return step.Run(ctx, "charge", func(ctx context.Context) (int, error) {
				_, span := user.Start(ctx, "db.query")
				span.End()
				return 1, nil
			})
		})
	require.NoError(t, err)
	_, stray := user.Start(context.Background(), "not-in-a-call")
	stray.End()

	const runID = "01M89CTBZB7VAD2JPG7CN5RYB6"
	const traceref = "%7B%22ctx%22%3A%7B%7D%7D"
	body := `{"ctx":{"run_id":"` + runID + `","attempt":2,"max_attempts":4,"stack":{"stack":[]}},"event":{"name":"a/b","data":{}},"events":[{"name":"a/b","data":{}}],"steps":{}}`
	req := httptest.NewRequest(http.MethodPost, "/?fnId=app-fn&stepId=step", strings.NewReader(body))
	req.Header.Set("Traceparent", "00-f5717dd21b2d1f93ed0b74c93c6e5bb8-616d2c827bc94cd7-01")
	req.Header.Set("Tracestate", "inngest@app=6f1c1c5e-0000-4000-8000-000000000001,inngest@fn=6f1c1c5e-0000-4000-8000-000000000002,inngest@traceref="+traceref)
	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, req)
	require.Equal(t, http.StatusPartialContent, rec.Code, rec.Body.String())
	require.NoError(t, tp.ForceFlush(context.Background()))

	got := map[string]map[attribute.Key]attribute.Value{}
	for _, s := range exp.GetSpans() {
		got[s.Name] = attrs(s)
	}
	require.Len(t, got, 2, "only the user's spans in the call: %v", got)
	for _, name := range []string{"before-steps", "db.query"} {
		a := got[name]
		assert.Equal(t, traceref, a["inngest.traceref"].AsString(), name)
		assert.Equal(t, runID, a["sdk.run.id"].AsString(), name)
		assert.Equal(t, "6f1c1c5e-0000-4000-8000-000000000002", a["sys.function.id"].AsString(), name)
		assert.Equal(t, "6f1c1c5e-0000-4000-8000-000000000001", a["sys.app.id"].AsString(), name)
	}
	q := got["db.query"]
	assert.Equal(t, "charge", q["inngest.step.id"].AsString())
	assert.Equal(t, int64(0), q["inngest.step.index"].AsInt64())
	assert.Equal(t, int64(2), q["inngest.step.attempt"].AsInt64())
	assert.Len(t, q["inngest.step.hash"].AsString(), 40)
	assert.NotContains(t, got["before-steps"], attribute.Key("inngest.step.id"))
}
