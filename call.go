package inngest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/go-inngest/inngest/internal/api"
	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/wire"
)

// call handles POST ?fnId=…&stepId=…: it verifies the request, replays
// the function over its memoized steps and answers with the result (200),
// the steps to report (206) or the error (400/500).
func (h *handler) call(w http.ResponseWriter, r *http.Request, q url.Values) {
	body, _, ok := h.readSigned(w, r, false, h.refuse401(w, r))
	if !ok {
		return
	}
	fnID := q.Get("fnId")
	if fnID == "" {
		writeError(w, http.StatusBadRequest, "the call has no fnId query parameter")
		return
	}
	fn := h.c.function(fnID)
	if fn == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no function %q in app %q; sync the app after adding functions", fnID, h.c.cfg.appID))
		return
	}
	var req wire.Request
	if err := wire.DecodeRequest(body, &req); err != nil {
		w.Header().Set(wire.HeaderNoRetry, "false")
		writeError(w, http.StatusBadRequest, "the call's body is not a valid request: "+err.Error())
		return
	}
	if req.UseAPI || req.Ctx.UseAPI {
		if err := h.c.loadFromAPI(r.Context(), &req); err != nil {
			h.c.cfg.logger.ErrorContext(r.Context(), "inngest: loading the run's state from the API failed", "run_id", req.Ctx.RunID, "error", err)
			w.Header().Set(wire.HeaderNoRetry, "false")
			writeJSON(w, http.StatusInternalServerError, wire.Error{Name: wire.ErrNameDefault, Message: err.Error()})
			return
		}
	}
	target := q.Get("stepId")
	if target == "step" {
		target = ""
	}
	maxAttempts := req.Ctx.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = wire.DefaultMaxAttempts
		if fn.retries != nil {
			maxAttempts = *fn.retries + 1
		}
	}
	defer func() {
		// A user value or middleware that panics outside the function's
		// code (a result's MarshalJSON, an error's Error method, a hook)
		// fails this attempt; it does not take the handler down.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.c.cfg.logger.ErrorContext(r.Context(), "inngest: building the answer panicked", "function", fn.slug, "run_id", req.Ctx.RunID, "panic", fmt.Sprint(p))
			w.Header().Set(wire.HeaderNoRetry, "false")
			writeJSON(w, http.StatusInternalServerError, wire.Error{Name: wire.ErrNameDefault, Message: fmt.Sprintf("panic while answering: %v", p)})
		}
	}()
	ctx := context.WithValue(r.Context(), clientCtxKey{}, h.c)
	cfg := replay.Config{
		RunID:            req.Ctx.RunID,
		Logger:           h.c.cfg.logger,
		Stack:            req.Ctx.Stack.Stack,
		TargetHash:       target,
		DisableImmediate: req.Ctx.DisableImmediateExecution,
		Attempt:          req.Ctx.Attempt,
		MaxAttempts:      maxAttempts,
		FunctionID:       fn.slug,
	}
	cfg.Checkpoint, cfg.Flush = h.checkpointer(r.Context(), &req, target, fn)
	mw := h.c.chainFor(fn)
	var call *Call
	if mw != nil {
		call = &Call{Request: r, FunctionID: fn.slug, RunID: req.Ctx.RunID, Attempt: req.Ctx.Attempt,
			Event: req.Event, Events: req.Events, Steps: req.Steps, Stack: req.Ctx.Stack.Stack, Handler: fn.handler}
		ctx = mw.transformInput(ctx, call)
		req.Event, req.Events, req.Steps = call.Event, call.Events, call.Steps
		cfg.OnNewCode = func() { mw.afterMemoization(ctx, call) }
		cfg.OnStep = mw.onStep(call)
	}
	cfg.Steps = req.Steps
	out := replay.Run(ctx, cfg, func(ctx context.Context) (any, error) {
		return fn.call(ctx, &req)
	})
	if mw != nil {
		mw.afterExecution(ctx, call)
		mw.transformOutput(ctx, call, &out)
		mw.beforeResponse(ctx, call)
	}
	if observe := replay.ObserverFrom(r.Context()); observe != nil {
		// A replay check: the divergence is reported, not logged.
		quiet := out
		quiet.Unreplayed = nil
		h.respond(w, r, fn, &req, target, quiet)
		observe(out)
		return
	}
	h.respond(w, r, fn, &req, target, out)
}

func (h *handler) respond(w http.ResponseWriter, r *http.Request, fn *function, req *wire.Request, target string, out replay.Outcome) {
	log := h.c.cfg.logger
	hd := w.Header()
	if len(out.Unreplayed) > 0 && out.Fatal == nil && out.Panic == nil {
		warnDiverged(r.Context(), log, fn, req, out)
	}
	switch {
	case out.Fatal != nil:
		hd.Set(wire.HeaderNoRetry, "true")
		writeJSON(w, http.StatusBadRequest, wire.Error{Name: wire.ErrNameNoRetry, Message: out.Fatal.Error()})
	case out.Panic != nil:
		log.ErrorContext(r.Context(), "inngest: function panicked", "function", fn.slug, "run_id", req.Ctx.RunID, "panic", out.Panic.Value)
		hd.Set(wire.HeaderNoRetry, "false")
		writeJSON(w, http.StatusInternalServerError, wire.Error{Name: wire.ErrNameDefault, Message: out.Panic.Error(), Stack: out.Panic.Stack})
	case len(out.Ops) > 0:
		for _, op := range out.Ops {
			if op.Op == wire.OpStepError || op.Op == wire.OpStepFailed {
				hd.Set(wire.HeaderNoRetry, boolText(out.NoRetry))
				if out.Retry != "" && !out.NoRetry {
					hd.Set(wire.HeaderRetryAfter, out.Retry)
				}
				break
			}
		}
		writeOps(w, out.Ops)
	case out.Err != nil:
		// Before the targeted-step check: a function that failed on its
		// way to the target (a memoized result that no longer fits, a
		// failed step) has failed, whatever step was targeted.
		status, body := errorResponse(out.Err, hd)
		writeJSON(w, status, body)
	case target != "":
		// A targeted call that did not reach its step (the function
		// changed, or returned before it).
		hd.Set(wire.HeaderNoRetry, "false")
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("Could not find step %q to run; timed out", target))
	case out.Stopped:
		hd.Set(wire.HeaderNoRetry, "false")
		writeError(w, http.StatusInternalServerError, "the function stopped at a step without reporting it")
	default:
		data, err := marshalNoEscape(out.Value)
		if err != nil {
			hd.Set(wire.HeaderNoRetry, "true")
			writeJSON(w, http.StatusBadRequest, wire.Error{Name: wire.ErrNameNoRetry, Message: fmt.Sprintf("inngest: encoding the function's result (%T): %v", out.Value, err)})
			return
		}
		writeRaw(w, http.StatusOK, data)
	}
}

// warnDiverged logs that this call's execution did not visit every
// completed step of the run: the code no longer matches the recorded run
// (a step renamed, inserted, removed or moved) or is not deterministic.
// The memo names steps by hash only, so the unvisited steps are given by
// hash and by their place in the run's order of completion, and by ID
// and occurrence ("send[2]") where the SDK can recover them.
func warnDiverged(ctx context.Context, log *slog.Logger, fn *function, req *wire.Request, out replay.Outcome) {
	pos := make(map[string]int, len(req.Ctx.Stack.Stack))
	for i, h := range req.Ctx.Stack.Stack {
		pos[h] = i + 1
	}
	unvisited := make([]string, len(out.Unreplayed))
	for i, h := range out.Unreplayed {
		if s, ok := out.Named[h]; ok {
			unvisited[i] = fmt.Sprintf("#%d %s[%d] %s", pos[h], s.ID, s.Index, h)
		} else {
			unvisited[i] = fmt.Sprintf("#%d %s", pos[h], h)
		}
	}
	attrs := []any{"function", fn.slug, "run_id", req.Ctx.RunID,
		"completed", len(req.Ctx.Stack.Stack), "unvisited", unvisited}
	msg := "inngest: the function returned without visiting some of the run's completed steps; its code no longer matches the run (a step was renamed, removed or moved) or is not deterministic"
	if d := out.Diverged; d != nil {
		msg = "inngest: the function reached a step with no recorded result while completed steps of the run were unvisited; its code no longer matches the run (a step was renamed, inserted, removed or moved) or is not deterministic; guard the change with step.Patched"
		attrs = append(attrs, "found", d.Step.ID, "found_hash", d.Step.Hash, "after", d.Visited)
	}
	log.WarnContext(ctx, msg, attrs...)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// errorResponse maps an error returned by a function to its status,
// headers and body:
//
//   - a *StepError (a step that failed for good, not handled): 400, no
//     retry, the step's error with the step's ID in data.step_id;
//   - a NoRetryError: 400, no retry;
//   - a RetryAtError: 500, retry no earlier than its time (Retry-After);
//   - anything else: 500, retry.
func errorResponse(err error, hd http.Header) (int, wire.Error) {
	var se *StepError
	if errors.As(err, &se) {
		hd.Set(wire.HeaderNoRetry, "true")
		data, _ := json.Marshal(map[string]string{"step_id": se.StepID})
		return http.StatusBadRequest, wire.Error{Name: firstNonEmpty(se.Name, wire.ErrNameDefault), Message: se.Message, Stack: se.Stack, Data: data}
	}
	if IsNoRetryError(err) {
		hd.Set(wire.HeaderNoRetry, "true")
		return http.StatusBadRequest, wire.Error{Name: wire.ErrNameNoRetry, Message: err.Error()}
	}
	hd.Set(wire.HeaderNoRetry, "false")
	if at, ok := RetryAt(err); ok {
		hd.Set(wire.HeaderRetryAfter, wire.RetryAfter(at))
		return http.StatusInternalServerError, wire.Error{Name: wire.ErrNameRetryAt, Message: err.Error()}
	}
	return http.StatusInternalServerError, wire.Error{Name: wire.ErrNameDefault, Message: err.Error()}
}

// loadFromAPI fills a use_api request's events and steps from the API:
// GET /v0/runs/{id}/batch and /v0/runs/{id}/actions.
func (c *Client) loadFromAPI(ctx context.Context, req *wire.Request) error {
	id := req.Ctx.RunID
	if id == "" {
		return errors.New("inngest: the call asks to load its state from the API but has no run ID")
	}
	base := "/v0/runs/" + url.PathEscape(id)
	var events []json.RawMessage
	if err := c.getRunState(ctx, base+"/batch", &events); err != nil {
		return err
	}
	var steps map[string]json.RawMessage
	if err := c.getRunState(ctx, base+"/actions", &steps); err != nil {
		return err
	}
	req.Events = events
	if len(events) > 0 {
		req.Event = events[0]
	}
	req.Steps = steps
	return nil
}

// getRunState decodes the JSON answer of GET path into v.
func (c *Client) getRunState(ctx context.Context, path string, v any) error {
	resp, err := c.cfg.api.Do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("inngest: GET %s answered %d: %s", path, resp.Status, api.Truncate(resp.Body, api.MaxErrorText))
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return fmt.Errorf("inngest: GET %s: %w", path, err)
	}
	return nil
}

// readAll reads r to its end. When the length n is known (a request's
// Content-Length; -1 when not), the buffer is allocated once at that
// size instead of growing from 512 bytes by copies.
func readAll(r io.Reader, n int64) ([]byte, error) {
	if n <= 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, n+1) // one spare byte, for the read that meets EOF
	for {
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			// Longer than announced: grow as io.ReadAll does.
			b = append(b, 0)[:len(b)]
		}
	}
}
