package inngesttest

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-inngest/inngest/internal/expr"
)

// The engine evaluates the expressions of triggers, cancellations and
// waits with its own implementation of the Common Expression Language
// (package internal/expr), held to cel-go's verdicts and results (the
// implementation the server uses) by a differential test, so that an
// expression that works here works there: a hand-written matcher would
// accept expressions the server rejects, or read them differently.
//
// Variables are bound as the server binds them: "event" is an event as a
// JSON object (triggers: the incoming event; cancellations and waits: the
// run's triggering event) and "async" is the incoming event for
// cancellations and waits; "vars" is empty. The server's own functions
// (lowercase, uppercase, b64decode, json_parse, date, now, now_plus,
// now_minus) work as there, with now the virtual time. Numbers are JSON
// numbers (float64), compared across numeric types. An expression that does not compile, fails to
// evaluate (for example a missing field) or is not true does not match.
type celEnv struct {
	now func() time.Time

	mu    sync.Mutex
	progs map[string]celResult
}

type celResult struct {
	prog *expr.Expr
	err  error
}

func newCELEnv(now func() time.Time) *celEnv {
	return &celEnv{now: now, progs: map[string]celResult{}}
}

// program compiles src once.
func (c *celEnv) program(src string) (*expr.Expr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.progs[src]; ok {
		return r.prog, r.err
	}
	var r celResult
	if r.prog, r.err = expr.EvalEnv.Compile(src); r.err != nil {
		r.err = fmt.Errorf("expression %q: %w", src, r.err)
	}
	c.progs[src] = r
	return r.prog, r.err
}

// match evaluates src with "event" and "async" bound to the given JSON
// events (async may be nil). An empty expression matches.
func (c *celEnv) match(src string, event, async json.RawMessage) (bool, error) {
	if src == "" {
		return true, nil
	}
	prog, err := c.program(src)
	if err != nil {
		return false, err
	}
	vars := expr.Vars{"event": asMap(event), "vars": map[string]any{}}
	if async != nil {
		vars["async"] = asMap(async)
	}
	out, err := prog.Eval(vars, expr.Runtime{Now: c.now, ParseDuration: parseDuration})
	if err != nil {
		return false, fmt.Errorf("expression %q: %w", src, err)
	}
	b, ok := out.(bool)
	return ok && b, nil
}

// asMap decodes a JSON object; anything else is an empty map.
func asMap(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	return m
}
