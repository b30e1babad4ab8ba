package inngesttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-inngest/inngest/internal/expr"
)

// Checking expressions as the server does when an app syncs, so that an
// expression it would refuse (and with it the whole sync, answered with a
// bare "At least one function is invalid") fails Register, naming the
// function and the field.
//
// The server's environment (its expressions package) declares three
// variables, event, async and vars, each a map of string to dyn; the
// standard CEL functions and macros, with +, ==, !=, <, <=, > and >=
// loosened to take operands of any type; and a few functions of its own
// (lowercase, uppercase, b64decode, json_parse, date, now, now_plus,
// now_minus). It has no "events" variable and no optional syntax (".?").
// There is no length limit besides CEL's own (100,000 code points).
//
// It checks each field in one of three ways:
//
//   - compiled (parsed and type-checked): trigger expressions, debounce,
//     rate-limit, idempotency (a rate-limit key on the server) and batch
//     keys, batch if, and priority run (checked at sync only for syntax,
//     but compiled before each run, and ignored when that fails);
//   - compiled and held to a restrictive policy: cancel if, and wait if
//     (at run time); no macros or has(), and no function calls but the
//     logical and comparison operators, indexing, "in", and int(), uint()
//     and double(). For a wait the server only logs a policy violation,
//     and fails the run when the expression does not compile;
//   - parsed only: concurrency keys; throttle and singleton keys, which
//     the server does not check at sync but cannot evaluate at run time
//     (it then throttles every run under one key, or ignores the
//     singleton). The server parses these after replacing literals with
//     variables, which lets a few broken literals through (an
//     unterminated string); the engine parses them as written.

// exprCheck is how the server checks an expression field.
type exprCheck int

const (
	checkParse exprCheck = iota
	checkCompile
	checkRestrictive
)

// check reports why the server would refuse src, or nil.
func (c *celEnv) check(src string, how exprCheck) error {
	if how == checkParse {
		if _, err := expr.Parse(src); err != nil {
			return fmt.Errorf("does not parse: %w", err)
		}
		return nil
	}
	e, err := expr.ServerEnv.Compile(src)
	if err != nil {
		return fmt.Errorf("does not compile: %w", err)
	}
	if how == checkRestrictive {
		return e.Restrictive()
	}
	return nil
}

// fnExpressions are the fields of a function's sync entry that hold
// expressions, besides its triggers and cancellations.
type fnExpressions struct {
	Idempotency string `json:"idempotency"`
	BatchEvents *struct {
		Key string `json:"key"`
		If  string `json:"if"`
	} `json:"batchEvents"`
	RateLimit   *struct{ Key string } `json:"rateLimit"`
	Throttle    *struct{ Key string } `json:"throttle"`
	Debounce    *struct{ Key string } `json:"debounce"`
	Priority    *struct{ Run string } `json:"priority"`
	Singleton   *struct{ Key string } `json:"singleton"`
	Concurrency json.RawMessage       `json:"concurrency"`
}

// exprField is one expression of a function, named as in the Go API.
type exprField struct {
	field string
	expr  string
	how   exprCheck
	note  string // why the engine refuses what the server's sync lets through
}

// expressions lists the expressions of function f (its sync entry raw),
// with how the server checks each.
func expressions(f *fnPayload, raw json.RawMessage) []exprField {
	var out []exprField
	add := func(field, expr string, how exprCheck, note ...string) {
		if expr != "" {
			out = append(out, exprField{field: field, expr: expr, how: how, note: strings.Join(note, "")})
		}
	}
	for i, t := range f.Triggers {
		if t.Event != "" {
			add(fmt.Sprintf("trigger %d (event %q) Expression", i, t.Event), t.Expression, checkCompile)
		}
	}
	for i, c := range f.Cancel {
		add(fmt.Sprintf("FunctionOpts.Cancel[%d].If (or Match)", i), c.If, checkRestrictive)
	}
	var x fnExpressions
	_ = json.Unmarshal(raw, &x)
	var conc []struct{ Key string }
	if json.Unmarshal(x.Concurrency, &conc) == nil {
		for i, c := range conc {
			add(fmt.Sprintf("FunctionOpts.Concurrency[%d].Key", i), c.Key, checkParse)
		}
	}
	if x.Throttle != nil {
		add("FunctionOpts.Throttle.Key", x.Throttle.Key, checkParse, "the server does not check it at sync, but cannot evaluate it, and throttles every run under one key")
	}
	if x.RateLimit != nil {
		add("FunctionOpts.RateLimit.Key", x.RateLimit.Key, checkCompile)
	}
	add("FunctionOpts.Idempotency", x.Idempotency, checkCompile)
	if x.Debounce != nil {
		add("FunctionOpts.Debounce.Key", x.Debounce.Key, checkCompile)
	}
	if x.BatchEvents != nil {
		add("FunctionOpts.BatchEvents.Key", x.BatchEvents.Key, checkCompile)
		add("FunctionOpts.BatchEvents.If", x.BatchEvents.If, checkCompile)
	}
	if x.Priority != nil {
		add("FunctionOpts.Priority.Run", x.Priority.Run, checkCompile, "the server checks only its syntax at sync, but compiles it before each run, and ignores the priority when that fails")
	}
	if x.Singleton != nil {
		add("FunctionOpts.Singleton.Key", x.Singleton.Key, checkParse, "the server does not check it at sync, but cannot evaluate it, and ignores the singleton")
	}
	return out
}

// checkExpressions reports every expression of function f that the
// server would refuse (or could not evaluate), naming the function and
// the field.
func (c *celEnv) checkExpressions(f *fnPayload, raw json.RawMessage) error {
	var errs []error
	for _, x := range expressions(f, raw) {
		if err := c.check(x.expr, x.how); err != nil {
			if x.note != "" {
				err = fmt.Errorf("%w (%s)", err, x.note)
			}
			errs = append(errs, fmt.Errorf("function %q: %s %q %w", f.ID, x.field, x.expr, err))
		}
	}
	return errors.Join(errs...)
}
