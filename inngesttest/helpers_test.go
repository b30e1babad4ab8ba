package inngesttest_test

import (
	"encoding/json"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/require"
)

// quiet is a logger for clients whose warnings the tests provoke.
var quiet = testkit.QuietLogger()

// newClient returns a dev-mode client of app "shop" that sends through
// the engine.
func newClient(t *testing.T, eng *inngesttest.Engine) *inngest.Client {
	t.Helper()
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:      "shop",
		Mode:       inngest.ModeDev,
		HTTPClient: eng.HTTPClient(),
		Logger:     quiet,
	})
	require.NoError(t, err)
	return c
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type order struct {
	ID    int `json:"id"`
	Total int `json:"total"`
}

func evt(name string, data any) inngest.Event[any] {
	return inngest.Event[any]{Name: name, Data: data}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
