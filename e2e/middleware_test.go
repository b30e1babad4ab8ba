package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

// sealMW stores step results sealed (base64 here; a real one would
// encrypt): it seals a step's result on its way out and unseals the
// memoized values on their way in.
type sealMW struct{ inngest.BaseMiddleware }

func (sealMW) TransformOutput(_ context.Context, _ *inngest.Call, out *inngest.Output) {
	if out.Step != nil {
		sealed, _ := json.Marshal("sealed:" + base64.StdEncoding.EncodeToString(out.Step.Data))
		out.Step.Data = sealed
	}
}

func (sealMW) TransformInput(ctx context.Context, c *inngest.Call) context.Context {
	for h, raw := range c.Steps {
		var memo struct {
			Data string `json:"data"`
		}
		if json.Unmarshal(raw, &memo) != nil || !strings.HasPrefix(memo.Data, "sealed:") {
			continue
		}
		plain, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(memo.Data, "sealed:"))
		if err == nil {
			c.Steps[h] = json.RawMessage(`{"data":` + string(plain) + `}`)
		}
	}
	return ctx
}

// Middleware round-trips step data through the real server: the server
// stores what TransformOutput produced, and TransformInput gives the
// function back what its steps returned.
func TestMiddlewareSealsStepData(t *testing.T) {
	t.Parallel()
	tg := needServer(t)
	a := newApp(t, tg, appConfig{})
	_, err := inngest.CreateFunction(a.Client, inngest.FunctionOpts{ID: "sealed", Middleware: []inngest.Middleware{sealMW{}}},
		inngest.EventTrigger(a.event("sealed"), nil),
		func(ctx context.Context, in inngest.Input[order]) (any, error) {
			card, err := step.Run(ctx, "card", func(ctx context.Context) (map[string]string, error) {
				return map[string]string{"number": "4242"}, nil
			})
			if err != nil {
				return nil, err
			}
			n, err := step.Run(ctx, "items", func(ctx context.Context) (int, error) { return in.Event.Data.Items, nil })
			if err != nil {
				return nil, err
			}
			return map[string]any{"card": card["number"], "items": n}, nil
		})
	require.NoError(t, err)
	a.sync()

	run := tg.finished(t, a.send(a.event("sealed"), order{ID: "o-1", Items: 3}))
	require.Equal(t, "Completed", run.Status, "output: %s", run.Output)
	assert.JSONEq(t, `{"card":"4242","items":3}`, string(run.Output))
	stepCalls := 0
	for _, c := range a.callsTo("sealed") {
		if c.Status == 206 {
			stepCalls++
			assert.NotContains(t, c.Response, "4242", "step data leaves the app sealed")
			assert.Contains(t, c.Response, `"data":"sealed:`)
		}
	}
	assert.Equal(t, 2, stepCalls)
}
