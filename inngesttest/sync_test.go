package inngesttest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A sync through the handler (PUT) reaches the engine like any request
// of the client, and updates the app's functions.
func TestSyncThroughHandler(t *testing.T) {
	eng := inngesttest.New(t)
	c := newClient(t, eng)
	must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "first"}, inngest.EventTrigger("shop/first", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return 1, nil }))
	eng.Register(c)

	late := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "late"}, inngest.EventTrigger("shop/late", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) { return "synced", nil }))
	assert.Empty(t, eng.Send(evt("shop/late", nil)), "not synced yet")

	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://shop.test/api/inngest", strings.NewReader("")))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	runs := eng.Send(evt("shop/late", nil))
	require.Len(t, runs, 1)
	runs[0].RequireOutput(t, "synced")
	eng.Run(late, evt("", nil)).RequireOutput(t, "synced")
}

// A call whose body would exceed 4 MiB is sent with use_api, as the
// server does; the SDK loads the state from the engine's API.
func TestLargeStateUsesAPI(t *testing.T) {
	var bodies [][]byte
	eng := inngesttest.New(t, inngesttest.WithTrace(func(c inngesttest.Call) { bodies = append(bodies, c.Body) }))
	c := newClient(t, eng)
	big := strings.Repeat("a", 2500*1024)
	fn := must(inngest.CreateFunction(c, inngest.FunctionOpts{ID: "big"}, inngest.EventTrigger("shop/big", nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			a, err := step.Run(ctx, "s1", func(context.Context) (string, error) { return big, nil })
			if err != nil {
				return nil, err
			}
			b, err := step.Run(ctx, "s2", func(context.Context) (string, error) { return big, nil })
			if err != nil {
				return nil, err
			}
			return len(a) + len(b), nil
		}))
	eng.Register(c)

	run := eng.Run(fn, evt("shop/big", nil))
	run.RequireOutput(t, 2*len(big))
	require.Len(t, bodies, 3)
	var last struct {
		UseAPI bool                       `json:"use_api"`
		Steps  map[string]json.RawMessage `json:"steps"`
		Ctx    struct {
			UseAPI bool `json:"use_api"`
		} `json:"ctx"`
	}
	require.NoError(t, json.Unmarshal(bodies[2], &last))
	assert.True(t, last.UseAPI)
	assert.True(t, last.Ctx.UseAPI)
	assert.Empty(t, last.Steps)
	assert.Less(t, len(bodies[2]), 4<<20)
}
