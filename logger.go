package inngest

import (
	"context"
	"log/slog"

	"github.com/go-inngest/inngest/internal/replay"
)

// Logger returns the logger for a function's code, called with the ctx
// the function (or a step's body) received. It writes through the
// client's logger (ClientOpts.Logger) with the attributes run_id,
// function_id and attempt, and step inside a step's body, and it does
// not repeat itself: Inngest calls a function once per step, replaying
// the code before that step each time, and a line written by code
// outside steps is written when that code first runs, not again when it
// is replayed. Lines written inside a step's body are always written,
// since a body runs only when its step runs (again on each of its
// retries). A retry (of a failed step or a failed call) runs the code
// since the last finished step again, and logs it again, with its
// attempt.
//
// Outside a function (a ctx that carries no run), Logger returns the
// client's logger when ctx has a client, else slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	base := slog.Default()
	if c, _ := ctx.Value(clientCtxKey{}).(*Client); c != nil && c.cfg.logger != nil {
		base = c.cfg.logger
	}
	st, _ := replay.Current(ctx)
	if st == nil {
		return base
	}
	return slog.New(ReplayHandler(ctx, base.Handler()))
}

// ReplayHandler wraps h for the function whose ctx is given, as Logger
// does with the client's logger: records get the run's attributes, and
// records written by code outside steps while the function replays
// memoized steps are dropped. Use it to log through a handler other
// than the client's. Outside a function it returns h.
func ReplayHandler(ctx context.Context, h slog.Handler) slog.Handler {
	st, s := replay.Current(ctx)
	if st == nil {
		return h
	}
	attempt, _ := st.Attempt()
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs, slog.String("run_id", st.RunID()), slog.String("function_id", st.FunctionID()), slog.Int("attempt", attempt))
	if s != nil {
		attrs = append(attrs, slog.String("step", s.ID))
	}
	return &replayHandler{h: h.WithAttrs(attrs), st: st, inStep: s != nil}
}

// replayHandler drops records while the run it belongs to replays.
type replayHandler struct {
	h      slog.Handler
	st     *replay.State
	inStep bool
}

func (h *replayHandler) quiet() bool { return !h.inStep && h.st.Replaying() }

func (h *replayHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.quiet() && h.h.Enabled(ctx, l)
}

func (h *replayHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.quiet() {
		return nil
	}
	return h.h.Handle(ctx, r)
}

func (h *replayHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &replayHandler{h: h.h.WithAttrs(attrs), st: h.st, inStep: h.inStep}
}

func (h *replayHandler) WithGroup(name string) slog.Handler {
	return &replayHandler{h: h.h.WithGroup(name), st: h.st, inStep: h.inStep}
}
