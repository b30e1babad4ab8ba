package replaytest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-inngest/inngest"
)

// Capture returns middleware that saves the state of each call it sees
// as a Record in dir, one file per run (<run ID>.json, replaced by each
// later call of the run, so it holds the run's latest state). LoadDir
// reads them back for Checker.
//
// A record holds the run's events and its steps' results, and nothing
// else of the request: no headers, no signature, no keys. Those events
// and results are your data, though; capture where that is acceptable
// (staging, a canary), and keep the directory as you would keep them.
//
// Put Capture first in the client's middleware, so that it saves the
// state as Inngest sent it. A file that cannot be written is logged
// with log (slog.Default when nil) and the call goes on.
func Capture(dir string, log *slog.Logger) inngest.Middleware {
	if log == nil {
		log = slog.Default()
	}
	return &capture{dir: dir, log: log}
}

type capture struct {
	inngest.BaseMiddleware
	dir string
	log *slog.Logger
}

func (c *capture) TransformInput(ctx context.Context, call *inngest.Call) context.Context {
	if call.RunID == "" || strings.ContainsAny(call.RunID, `/\.`) {
		c.log.WarnContext(ctx, "replaytest: not capturing a call whose run ID is not a file name", "run_id", call.RunID)
		return ctx
	}
	events := call.Events
	if len(events) == 0 && len(call.Event) > 0 {
		events = append(events, call.Event)
	}
	rec := fromState(call.RunID, call.FunctionID, events, call.Steps, call.Stack)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		c.log.WarnContext(ctx, "replaytest: capturing a call", "run_id", call.RunID, "error", err)
		return ctx
	}
	if err := rec.Save(filepath.Join(c.dir, call.RunID+".json")); err != nil {
		c.log.WarnContext(ctx, "replaytest: capturing a call", "run_id", call.RunID, "error", err)
	}
	return ctx
}
