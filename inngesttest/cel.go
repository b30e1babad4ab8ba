package inngesttest

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
)

// The engine evaluates the expressions of triggers, cancellations and
// waits with cel-go, the Common Expression Language implementation the
// server uses, so that an expression that works here works there: a
// hand-written matcher would accept expressions the server rejects, or
// read them differently.
//
// Variables are bound as the server binds them: "event" is an event as a
// JSON object (triggers: the incoming event; cancellations and waits: the
// run's triggering event) and "async" is the incoming event for
// cancellations and waits. Numbers are JSON numbers (float64), compared
// across numeric types. An expression that does not compile, fails to
// evaluate (for example a missing field) or is not true does not match.
type celEnv struct {
	env      *cel.Env
	checkEnv *cel.Env // the server's declarations, to check expressions

	mu    sync.Mutex
	progs map[string]celResult
}

type celResult struct {
	prog cel.Program
	err  error
}

func newCELEnv() *celEnv {
	env, err := cel.NewEnv(
		cel.Variable("event", cel.DynType),
		cel.Variable("async", cel.DynType),
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		panic(fmt.Sprintf("inngesttest: building the CEL environment: %v", err))
	}
	checkEnv, err := newCheckEnv()
	if err != nil {
		panic(fmt.Sprintf("inngesttest: building the CEL environment for checks: %v", err))
	}
	return &celEnv{env: env, checkEnv: checkEnv, progs: map[string]celResult{}}
}

// program compiles expr once.
func (c *celEnv) program(expr string) (cel.Program, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.progs[expr]; ok {
		return r.prog, r.err
	}
	var r celResult
	ast, iss := c.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		r.err = fmt.Errorf("expression %q: %w", expr, iss.Err())
	} else if r.prog, r.err = c.env.Program(ast); r.err != nil {
		r.err = fmt.Errorf("expression %q: %w", expr, r.err)
	}
	c.progs[expr] = r
	return r.prog, r.err
}

// match evaluates expr with "event" and "async" bound to the given JSON
// events (async may be nil). An empty expression matches.
func (c *celEnv) match(expr string, event, async json.RawMessage) (bool, error) {
	if expr == "" {
		return true, nil
	}
	prog, err := c.program(expr)
	if err != nil {
		return false, err
	}
	vars := map[string]any{"event": asMap(event)}
	if async != nil {
		vars["async"] = asMap(async)
	}
	out, _, err := prog.Eval(vars)
	if err != nil {
		return false, fmt.Errorf("expression %q: %w", expr, err)
	}
	b, ok := out.Value().(bool)
	return ok && b, nil
}

// asMap decodes a JSON object; anything else is an empty map.
func asMap(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	return m
}
