package inngest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// DefaultCheckpointMaxRuntime is Checkpointing.MaxRuntime when it is zero.
const DefaultCheckpointMaxRuntime = 10 * time.Second

// Checkpointing lets one call run several steps in a row. Without it,
// every step.Run costs a round trip through Inngest: the SDK runs the
// step, returns its result, and Inngest calls the function again for
// the next one. With it, the SDK saves each finished step with Inngest's
// checkpoint API (POST /v1/checkpoint/{runID}/async) and goes straight on
// to the next step, until the function returns, reaches a step that
// Inngest must carry out (a sleep, a wait, an invoke, parallel steps), a
// step fails, or MaxRuntime has passed.
//
// Checkpointing never changes what a function computes: a checkpointed
// step's result reaches the code after it decoded from its JSON, exactly
// as a replay would give it. When a checkpoint fails, the SDK falls back
// to reporting the step in its response. It is not used for the
// targeted calls of parallel steps, nor while Inngest has asked for
// steps to be planned rather than run.
//
// Set it for the whole app in ClientOpts, and for one function in
// FunctionOpts, which overrides the client's setting (Disabled switches
// it off for that function). A function's failure and cancellation
// handlers follow the function's setting.
type Checkpointing struct {
	// MaxRuntime bounds how long one call keeps running steps; zero
	// means DefaultCheckpointMaxRuntime.
	MaxRuntime time.Duration
	// Disabled switches checkpointing off: one step per call. In
	// FunctionOpts it turns off the client's checkpointing for that
	// function.
	Disabled bool
}

// resolveCheckpointing checks the option named field and fills in its
// defaults: nil when it switches checkpointing off.
func resolveCheckpointing(field string, cp *Checkpointing) (*Checkpointing, error) {
	if cp == nil || cp.Disabled {
		return nil, nil
	}
	r := *cp
	if r.MaxRuntime < 0 {
		return nil, fmt.Errorf("%s.MaxRuntime must not be negative, got %s", field, r.MaxRuntime)
	}
	if r.MaxRuntime == 0 {
		r.MaxRuntime = DefaultCheckpointMaxRuntime
	}
	return &r, nil
}

type checkpointBody struct {
	RunID        string    `json:"run_id"`
	FnID         string    `json:"fn_id"`
	QueueItemID  string    `json:"qi_id"`
	RequestID    string    `json:"request_id,omitempty"`
	GenerationID int       `json:"generation_id,omitempty"`
	TS           int64     `json:"ts"`
	Steps        []wire.Op `json:"steps"`
}

// checkpointer returns the function that saves a step of the call req,
// or nil when the call must not checkpoint.
func (h *handler) checkpointer(ctx context.Context, req *wire.Request, target string, fn *function) func(wire.Op) bool {
	cp := h.c.cfg.checkpoint
	if fn.checkpointSet {
		cp = fn.checkpoint
	}
	if cp == nil || target != "" || req.Ctx.DisableImmediateExecution || req.Ctx.RunID == "" || req.Ctx.FnID == "" {
		return nil
	}
	deadline := h.now().Add(cp.MaxRuntime)
	broken := false // after a failed checkpoint, report steps as usual
	return func(op wire.Op) bool {
		if broken || h.now().After(deadline) || ctx.Err() != nil {
			return false
		}
		if err := h.c.checkpoint(ctx, req, op); err != nil {
			broken = true
			h.c.cfg.logger.WarnContext(ctx, "inngest: checkpointing a step failed; reporting it in the response instead",
				"function", fn.slug, "run_id", req.Ctx.RunID, "step", op.Name, "error", err)
			return false
		}
		return true
	}
}

// checkpoint saves one finished step of the run with the checkpoint API.
func (c *Client) checkpoint(ctx context.Context, req *wire.Request, op wire.Op) error {
	body, err := marshalNoEscape(checkpointBody{
		RunID:        req.Ctx.RunID,
		FnID:         req.Ctx.FnID,
		QueueItemID:  req.Ctx.QueueItemID,
		RequestID:    req.Ctx.RequestID,
		GenerationID: req.Ctx.GenerationID,
		TS:           time.Now().UnixMilli(),
		Steps:        []wire.Op{op},
	})
	if err != nil {
		return err
	}
	path := "/v1/checkpoint/" + url.PathEscape(req.Ctx.RunID) + "/async"
	resp, err := c.cfg.api.DoOnce(ctx, http.MethodPost, path, body, nil)
	if err != nil {
		return err
	}
	return resp.Err()
}
