package inngest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-inngest/inngest/internal/wire"
)

// DefaultCheckpointMaxRuntime is Checkpointing.MaxRuntime when it is zero.
const DefaultCheckpointMaxRuntime = 10 * time.Second

// DefaultCheckpointBatchInterval is Checkpointing.BatchInterval when it
// is zero and BatchSteps is over 1.
const DefaultCheckpointBatchInterval = 3 * time.Second

// checkpointBatchBytes bounds the step data one batched checkpoint
// request carries: a step that takes a batch over it is saved at once,
// with the steps before it.
const checkpointBatchBytes = 1 << 20

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
// By default each step is saved before the next one starts. BatchSteps
// lets one checkpoint request save several: steps are then held until
// BatchSteps of them have finished or the first has waited BatchInterval,
// and always saved before a step Inngest must carry out, before a failed
// step is reported, and before the function's result is answered. A
// held step is one the server does not know about yet: if the process
// dies before its batch is saved, Inngest runs it again. A batch whose
// checkpoint fails is reported in the response instead, so no finished
// step is lost.
//
// Set it for the whole app in ClientOpts, and for one function in
// FunctionOpts, which overrides the client's setting (Disabled switches
// it off for that function). A function's failure and cancellation
// handlers follow the function's setting.
type Checkpointing struct {
	// MaxRuntime bounds how long one call keeps running steps; zero
	// means DefaultCheckpointMaxRuntime.
	MaxRuntime time.Duration
	// BatchSteps is the most finished steps one checkpoint request
	// saves; 0 and 1 mean each step is saved as soon as it has run.
	BatchSteps int
	// BatchInterval bounds how long a finished step is held before its
	// batch is saved, when BatchSteps is over 1; zero means
	// DefaultCheckpointBatchInterval.
	BatchInterval time.Duration
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
	if r.BatchSteps < 0 {
		return nil, fmt.Errorf("%s.BatchSteps must not be negative, got %d", field, r.BatchSteps)
	}
	if r.BatchInterval < 0 {
		return nil, fmt.Errorf("%s.BatchInterval must not be negative, got %s", field, r.BatchInterval)
	}
	if r.BatchSteps <= 1 {
		r.BatchSteps, r.BatchInterval = 1, 0
	} else if r.BatchInterval == 0 {
		r.BatchInterval = DefaultCheckpointBatchInterval
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

// checkpointer returns the checkpointer of the call req (its Checkpoint
// and Flush for replay.Config), or nils when the call must not
// checkpoint.
func (h *handler) checkpointer(ctx context.Context, req *wire.Request, target string, fn *function) (save func(wire.Op) bool, flush func() []wire.Op) {
	cp := h.c.cfg.checkpoint
	if fn.checkpointSet {
		cp = fn.checkpoint
	}
	if cp == nil || target != "" || req.Ctx.DisableImmediateExecution || req.Ctx.RunID == "" || req.Ctx.FnID == "" {
		return nil, nil
	}
	b := &checkpointBatch{h: h, ctx: ctx, req: req, fn: fn, max: cp.BatchSteps, interval: cp.BatchInterval,
		deadline: h.now().Add(cp.MaxRuntime)}
	return b.save, b.flush
}

// checkpointBatch holds the finished steps of one call until they are
// saved with the checkpoint API.
type checkpointBatch struct {
	h        *handler
	ctx      context.Context
	req      *wire.Request
	fn       *function
	max      int           // steps per request
	interval time.Duration // the longest a step is held; 0 with max 1
	deadline time.Time     // no step is taken after it (MaxRuntime)

	mu      sync.Mutex // held while a checkpoint request is made
	pending []wire.Op  // taken, not saved yet, in order
	bytes   int        // of the pending steps' data
	failed  []wire.Op  // whose checkpoint failed, for the response
	broken  bool       // a checkpoint failed: report steps as usual
	timer   *time.Timer
}

// save takes the finished step op. It reports false when the step must
// be reported in the response instead: checkpointing is over for this
// call (MaxRuntime has passed, a checkpoint failed, the call is ending),
// or op's batch could not be saved. A step it takes is saved by the time
// flush returns, or returned by flush.
func (b *checkpointBatch) save(op wire.Op) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken || b.h.now().After(b.deadline) || b.ctx.Err() != nil {
		return false
	}
	b.pending = append(b.pending, op)
	b.bytes += len(op.Data)
	if len(b.pending) < b.max && b.bytes < checkpointBatchBytes {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.interval, b.flushLate)
		}
		return true
	}
	if !b.send() {
		// op goes back to its caller, which reports it after the
		// steps before it (those flush returns).
		b.failed = b.failed[:len(b.failed)-1]
		return false
	}
	return true
}

// flush saves the pending steps and returns those whose checkpoint
// failed, which the caller reports in the response.
func (b *checkpointBatch) flush() []wire.Op {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.send()
	failed := b.failed
	b.failed = nil
	return failed
}

// flushLate saves the pending steps when the first of them has waited
// the batch interval.
func (b *checkpointBatch) flushLate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timer = nil
	b.send()
}

// send saves the pending steps in one request. On failure it moves them
// to failed, logs, and ends checkpointing for the call. It reports
// whether all went well. b.mu is held.
func (b *checkpointBatch) send() bool {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.pending) == 0 {
		return true
	}
	steps := b.pending
	b.pending, b.bytes = nil, 0
	if err := b.h.c.checkpoint(b.ctx, b.req, steps); err != nil {
		b.broken = true
		b.failed = append(b.failed, steps...)
		b.h.c.cfg.logger.WarnContext(b.ctx, "inngest: checkpointing steps failed; reporting them in the response instead",
			"function", b.fn.slug, "run_id", b.req.Ctx.RunID, "steps", len(steps), "first", steps[0].Name, "error", err)
		return false
	}
	return true
}

// checkpoint saves finished steps of the run, in order, with one request
// to the checkpoint API.
func (c *Client) checkpoint(ctx context.Context, req *wire.Request, steps []wire.Op) error {
	body, err := marshalNoEscape(checkpointBody{
		RunID:        req.Ctx.RunID,
		FnID:         req.Ctx.FnID,
		QueueItemID:  req.Ctx.QueueItemID,
		RequestID:    req.Ctx.RequestID,
		GenerationID: req.Ctx.GenerationID,
		TS:           time.Now().UnixMilli(),
		Steps:        steps,
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
