package replaytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/replay"
	"github.com/go-inngest/inngest/internal/wire"
)

// Divergence is where today's code and a record part: the first
// recorded step the code does not reach, and what it does instead.
type Divergence struct {
	// RunID and FunctionID name the recorded run.
	RunID, FunctionID string
	// Position is the zero-based place, in the record's steps, of the
	// step the code should reach next; Replayed steps were reached
	// before it.
	Position int
	// Expected describes what the record says comes next; Found what
	// the code does instead.
	Expected, Found string
}

func (d *Divergence) Error() string {
	return fmt.Sprintf("replaytest: run %s of %s does not replay: after %d recorded step(s) the record has %s, but the code %s",
		d.RunID, d.FunctionID, d.Position, d.Expected, d.Found)
}

// Checker replays records through an app's handler.
type Checker struct {
	// Handler is the app's handler, client.Serve() (or a mux or
	// middleware in front of it that passes the request's context on):
	// the check calls it in process.
	Handler http.Handler
	// SigningKey signs the calls, for a client that verifies
	// signatures (one not in dev mode); it is the key the client uses.
	SigningKey string
	// IgnoreOrder accepts recorded steps reached in another order than
	// they completed in. Steps in a step.Group complete in any order,
	// so set it for functions that run steps in parallel.
	IgnoreOrder bool
}

// Check replays rec against the handler's code, in one call carrying
// every recorded step as Inngest would send it, and returns nil when the
// code reaches every recorded step (in the order they completed, unless
// rec.Unordered or IgnoreOrder), a *Divergence when it does not, or
// another error when the check itself could not be made. No step's
// body runs: the call asks the SDK to report new steps, not run them.
func (c *Checker) Check(ctx context.Context, rec *Record) error {
	if err := rec.validate(); err != nil {
		return fmt.Errorf("replaytest: %w", err)
	}
	// The run resumes with its pending steps finished: replay that state,
	// pending steps last, as they would complete.
	full := *rec
	full.Steps = append(append([]Step(nil), rec.Steps...), rec.Pending...)
	for i := len(rec.Steps); i < len(full.Steps); i++ {
		full.Steps[i].Data = json.RawMessage("null")
	}
	done := len(rec.Steps)
	describe := func(i int) string {
		if i >= done {
			return full.Steps[i].describe() + ", which the run waits on"
		}
		return full.Steps[i].describe()
	}
	rec = &full
	var out replay.Outcome
	observed := false
	ctx = replay.WithObserver(ctx, func(o replay.Outcome) { out, observed = o, true })
	status, body, err := c.call(ctx, rec)
	if err != nil {
		return err
	}
	if !observed {
		return fmt.Errorf("replaytest: run %s: the handler answered %d without running the function (is Handler the client's Serve()?): %s", rec.RunID, status, truncate(body))
	}
	recorded := make(map[string]Step, len(rec.Steps))
	for _, s := range rec.Steps {
		recorded[s.Hash] = s
	}
	visited := make(map[string]bool, len(out.Visited))
	for _, h := range out.Visited {
		visited[h] = true
	}
	d := &Divergence{RunID: rec.RunID, FunctionID: rec.FunctionID}
	if !rec.Unordered && !c.IgnoreOrder {
		for i, s := range rec.Steps {
			if i < len(out.Visited) && out.Visited[i] == s.Hash {
				continue
			}
			d.Position, d.Expected = i, describe(i)
			if i < len(out.Visited) {
				d.Found = "reaches " + recorded[out.Visited[i]].describe() + ", a recorded step out of order"
			} else {
				d.Found = found(status, body, out)
			}
			return d
		}
	} else {
		var left []string
		for i, s := range rec.Steps {
			if !visited[s.Hash] {
				left = append(left, describe(i))
			}
		}
		if len(left) > 0 {
			d.Position = len(out.Visited)
			d.Expected = "one of: " + strings.Join(left, "; ")
			d.Found = found(status, body, out)
			return d
		}
	}
	if status >= 400 {
		return &Divergence{RunID: rec.RunID, FunctionID: rec.FunctionID, Position: len(rec.Steps),
			Expected: "new code", Found: "fails after replaying them: " + errorMessage(body)}
	}
	return nil
}

// found describes what the code did once it stopped reaching recorded
// steps.
func found(status int, body []byte, out replay.Outcome) string {
	switch {
	case out.Diverged != nil:
		return fmt.Sprintf("reaches step %q (hash %s), which has no recorded result", out.Diverged.Step.ID, out.Diverged.Step.Hash)
	case status >= 400:
		return "fails: " + errorMessage(body)
	case status == http.StatusPartialContent:
		var ops []wire.Op
		if json.Unmarshal(body, &ops) == nil && len(ops) > 0 {
			return fmt.Sprintf("reaches step %q (hash %s), which has no recorded result", ops[0].Name, ops[0].ID)
		}
	case status == http.StatusOK:
		return "returns"
	}
	return fmt.Sprintf("answers %d: %s", status, truncate(body))
}

// call sends one call of rec's function with its recorded steps, asking
// the SDK to report steps rather than run them.
func (c *Checker) call(ctx context.Context, rec *Record) (int, []byte, error) {
	steps := make(map[string]json.RawMessage, len(rec.Steps))
	stack := make([]string, 0, len(rec.Steps))
	for _, s := range rec.Steps {
		steps[s.Hash] = s.Data
		stack = append(stack, s.Hash)
	}
	req := map[string]any{
		"ctx": map[string]any{
			"attempt":                     0,
			"disable_immediate_execution": true,
			"run_id":                      rec.RunID,
			"stack":                       map[string]any{"current": len(stack), "stack": stack},
			"step_id":                     "step",
			"use_api":                     false,
		},
		"event":   rec.Events[0],
		"events":  rec.Events,
		"steps":   steps,
		"use_api": false,
		"version": 2,
	}
	body, err := wire.Marshal(req)
	if err != nil {
		return 0, nil, fmt.Errorf("replaytest: run %s: %w", rec.RunID, err)
	}
	target := "/api/inngest?fnId=" + url.QueryEscape(rec.FunctionID) + "&stepId=step"
	hr := httptest.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	if c.SigningKey != "" {
		sig, err := inngest.Sign(c.SigningKey, time.Now(), body)
		if err != nil {
			return 0, nil, fmt.Errorf("replaytest: the signing key: %w", err)
		}
		hr.Header.Set(wire.HeaderSignature, sig)
	}
	w := httptest.NewRecorder()
	c.Handler.ServeHTTP(w, hr)
	if w.Code == http.StatusUnauthorized {
		return 0, nil, fmt.Errorf("replaytest: the handler refused the check's call (401): give Checker the client's signing key: %s", truncate(w.Body.Bytes()))
	}
	if w.Code == http.StatusNotFound {
		return 0, nil, fmt.Errorf("replaytest: run %s: %s", rec.RunID, errorMessage(w.Body.Bytes()))
	}
	return w.Code, w.Body.Bytes(), nil
}

func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return e.Message
		}
		if e.Error != "" {
			return e.Error
		}
	}
	return truncate(body)
}

func truncate(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Require checks every record against client's code, as Checker does
// for a client in dev mode, and fails t with each divergence.
func Require(t testing.TB, client *inngest.Client, recs ...*Record) {
	t.Helper()
	c := &Checker{Handler: client.Serve()}
	for _, rec := range recs {
		if err := c.Check(context.Background(), rec); err != nil {
			t.Error(err)
		}
	}
}
