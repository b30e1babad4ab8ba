package inngest_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// levelLog records log lines by level.
type levelLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *levelLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	return len(p), nil
}

// take returns the lines recorded at debug level and those above it,
// and resets the record.
func (l *levelLog) take() (debug, loud []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, "level=DEBUG") {
			debug = append(debug, line)
		} else {
			loud = append(loud, line)
		}
	}
	l.lines = nil
	return debug, loud
}

// With INNGEST_DEV=1 and no dev server running, each failed operation
// logs one line, at warn level or above, with the hint that the dev
// server is not running; its retries are logged at debug level.
func TestDevServerDownIsOneLinePerOperation(t *testing.T) {
	testkit.IsolateEnv(t)
	url := unusedPortURL(t)
	t.Setenv("INNGEST_DEV", url)
	logs := &levelLog{}
	c, err := inngest.NewClient(inngest.ClientOpts{
		AppID:  "shop",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	_, err = inngest.CreateFunction(c, inngest.FunctionOpts{ID: "f"}, inngest.EventTrigger("shop/x", nil),
		func(context.Context, inngest.Input[any]) (any, error) { return nil, nil })
	require.NoError(t, err)
	hint := "the Inngest dev server is not reachable at " + url + ": start it with `npx inngest-cli@latest dev`"

	_, err = c.Send(context.Background(), inngest.Event[any]{Name: "shop/order.placed"})
	require.Error(t, err)
	debug, loud := logs.take()
	require.Len(t, loud, 1, "one line for the failed Send: %q", loud)
	assert.Contains(t, loud[0], "level=WARN")
	assert.Contains(t, loud[0], `msg="inngest: Send failed"`)
	assert.Contains(t, loud[0], hint)
	assert.Contains(t, loud[0], "gave up after 5 attempts")
	assert.Len(t, debug, 4, "the four retries, at debug level")

	_, err = c.SendSignal(context.Background(), "shop/approved", nil)
	require.Error(t, err)
	debug, loud = logs.take()
	require.Len(t, loud, 1, "one line for the failed SendSignal: %q", loud)
	assert.Contains(t, loud[0], `msg="inngest: SendSignal failed"`)
	assert.Contains(t, loud[0], hint)
	assert.Len(t, debug, 2)

	rec := httptest.NewRecorder()
	c.Serve().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "http://127.0.0.1:3000/api/inngest", bytes.NewReader(nil)))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	debug, loud = logs.take()
	require.Len(t, loud, 1, "one line for the failed sync: %q", loud)
	assert.Contains(t, loud[0], `msg="inngest: sync failed"`)
	assert.Contains(t, loud[0], hint)
	assert.Len(t, debug, 2)

	// A send the caller stops is not logged as a failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Send(ctx, inngest.Event[any]{Name: "shop/order.placed"})
	require.Error(t, err)
	_, loud = logs.take()
	assert.Empty(t, loud)
}
