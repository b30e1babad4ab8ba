package inngest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/testkit"
)

func TestULIDMillis(t *testing.T) {
	ms, ok := ulidMillis("01M89CTBZB7VAD2JPG7CN5RYB6")
	require.True(t, ok)
	// The capture's run started at ts 1795611766577 (its event); the run
	// ID was minted a few milliseconds later.
	assert.InDelta(t, 1795611766577, ms, 1000)
	ms2, ok := ulidMillis(strings.ToLower("01M89CTBZB7VAD2JPG7CN5RYB6"))
	require.True(t, ok)
	assert.Equal(t, ms, ms2)
	for _, bad := range []string{"", "short", "01M89CTBZB7VAD2JPG7CN5RYB!", "00000000000000000000000000", "01M89CTBZU7VAD2JPG7CN5RYB6"} {
		_, ok := ulidMillis(bad)
		assert.False(t, ok, bad)
	}
}

// Inside a step's body, Send derives its event-ID seed from the run, the
// step and the number of sends before it: a retried attempt sends the
// same seeds (so Inngest stores its events once), while two sends in one
// body differ. Outside a step the seed is random.
func TestSendSeedIsStablePerStepAttempt(t *testing.T) {
	var mu sync.Mutex
	var seeds []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seeds = append(seeds, r.Header.Get("X-Inngest-Event-Id-Seed"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"ids":["x"],"status":200}`)
	}))
	defer api.Close()
	c, err := NewClient(ClientOpts{AppID: "a", Mode: ModeDev, BaseURL: api.URL, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	_, err = CreateFunction(c, FunctionOpts{ID: "notify"}, EventTrigger("a/b", nil), func(ctx context.Context, in Input[map[string]any]) (any, error) {
		// A step's body, as step.Run runs it (step imports this package,
		// so the test drives the run machinery directly).
		r, _, err := replay.From(ctx)
		if err != nil {
			return nil, err
		}
		sctx := replay.StepContext(ctx, r.Next("send"))
		for i := 0; i < 2; i++ {
			if _, err := c.Send(sctx, Event[any]{Name: "a/sent", Data: map[string]int{"i": i}}); err != nil {
				return nil, err
			}
		}
		if in.Attempt == 0 {
			return nil, errors.New("fail after sending, to be retried")
		}
		return nil, nil
	})
	require.NoError(t, err)
	h := c.Serve()
	for attempt := 0; attempt < 2; attempt++ {
		body := `{"ctx":{"run_id":"01M89CTBZB7VAD2JPG7CN5RYB6","attempt":` + strconv.Itoa(attempt) + `,"max_attempts":3,"stack":{"stack":[]}},"event":{"name":"a/b","data":{}},"events":[],"steps":{}}`
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/?fnId=a-notify&stepId=step", strings.NewReader(body)))
	}
	_, err = c.Send(context.Background(), Event[any]{Name: "a/outside"})
	require.NoError(t, err)
	_, err = c.Send(context.Background(), Event[any]{Name: "a/outside"})
	require.NoError(t, err)

	require.Len(t, seeds, 6)
	ms, _ := ulidMillis("01M89CTBZB7VAD2JPG7CN5RYB6")
	for _, s := range seeds[:4] {
		assert.True(t, strings.HasPrefix(s, strconv.FormatInt(ms, 10)+","), "a step's seed carries the run's time: %s", s)
	}
	assert.Equal(t, seeds[0], seeds[2], "the first send of each attempt")
	assert.Equal(t, seeds[1], seeds[3], "the second send of each attempt")
	assert.NotEqual(t, seeds[0], seeds[1], "two sends in one body")
	assert.NotEqual(t, seeds[4], seeds[5], "sends outside steps are random")
	assert.NotEqual(t, seeds[0], seeds[4])
}
