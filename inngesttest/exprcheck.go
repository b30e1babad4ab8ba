package inngesttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/env"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/overloads"
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

// looseOperators are the operators the server declares with one overload
// over operands of any type, instead of CEL's typed overloads.
var looseOperators = []string{
	operators.Add, operators.Equals, operators.NotEquals,
	operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals,
}

// newCheckEnv builds an environment that declares what the server's
// does. It is for checking only: its loose operators have no
// implementation.
func newCheckEnv() (*cel.Env, error) {
	subset := env.NewLibrarySubset()
	for _, op := range looseOperators {
		subset.AddExcludedFunctions(&env.Function{Name: op})
	}
	opts := []cel.EnvOption{cel.StdLib(cel.StdLibSubset(subset))}
	for _, op := range looseOperators {
		result := cel.BoolType
		if op == operators.Add {
			result = cel.DynType
		}
		opts = append(opts, cel.Function(op, cel.Overload("inngesttest_loose"+op, []*cel.Type{cel.DynType, cel.DynType}, result)))
	}
	for _, name := range []string{"event", "async", "vars"} {
		opts = append(opts, cel.Variable(name, cel.MapType(cel.StringType, cel.DynType)))
	}
	str := []*cel.Type{cel.StringType}
	opts = append(opts,
		cel.Function("lowercase", cel.Overload("inngesttest_lowercase", str, cel.StringType)),
		cel.Function("uppercase", cel.Overload("inngesttest_uppercase", str, cel.StringType)),
		cel.Function("b64decode", cel.Overload("inngesttest_b64decode", str, cel.StringType)),
		cel.Function("json_parse", cel.Overload("inngesttest_json_parse", str, cel.DynType)),
		cel.Function("date", cel.Overload("inngesttest_date", []*cel.Type{cel.DynType}, cel.TimestampType)),
		cel.Function("now", cel.Overload("inngesttest_now", nil, cel.TimestampType)),
		cel.Function("now_plus", cel.Overload("inngesttest_now_plus", str, cel.TimestampType)),
		cel.Function("now_minus", cel.Overload("inngesttest_now_minus", str, cel.TimestampType)),
	)
	return cel.NewCustomEnv(opts...)
}

// check reports why the server would refuse expr, or nil.
func (c *celEnv) check(expr string, how exprCheck) error {
	if how == checkParse {
		if _, iss := c.checkEnv.Parse(expr); iss != nil && iss.Err() != nil {
			return fmt.Errorf("does not parse: %w", iss.Err())
		}
		return nil
	}
	checked, iss := c.checkEnv.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return fmt.Errorf("does not compile: %w", iss.Err())
	}
	if how == checkRestrictive {
		if err := restrictive(checked.NativeRep().Expr()); err != nil {
			return err
		}
	}
	return nil
}

// restrictiveCalls are the calls the restrictive policy allows.
var restrictiveCalls = []string{
	operators.Conditional, operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot,
	operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals,
	operators.Greater, operators.GreaterEquals, operators.Index, operators.OptIndex,
	operators.OptSelect, operators.In,
	overloads.TypeConvertInt, overloads.TypeConvertUint, overloads.TypeConvertDouble,
}

// macroNames are the names of CEL's macros.
var macroNames = []string{
	operators.Has, operators.All, operators.Exists, operators.ExistsOne, operators.Map, operators.Filter,
}

// restrictive walks a checked expression as the server's policy does:
// through selections and call arguments (not into list or map literals),
// and reports every macro and every call it does not allow.
func restrictive(e ast.Expr) error {
	var errs []error
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch e.Kind() {
		case ast.ComprehensionKind:
			errs = append(errs, errors.New("macros are not allowed (all, exists, exists_one, map, filter)"))
		case ast.SelectKind:
			s := e.AsSelect()
			if s.IsTestOnly() {
				errs = append(errs, errors.New("macros are not allowed (has)"))
			}
			walk(s.Operand())
		case ast.CallKind:
			call := e.AsCall()
			name := call.FunctionName()
			switch {
			case slices.Contains(macroNames, name):
				errs = append(errs, fmt.Errorf("macros are not allowed (%s)", name))
			case !slices.Contains(restrictiveCalls, name):
				errs = append(errs, fmt.Errorf("function calls are not allowed (%s)", operatorName(name)))
			}
			for _, arg := range call.Args() {
				walk(arg)
			}
		}
	}
	walk(e)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("is not allowed here, where only comparisons, logic, indexing and int/uint/double conversions may be used: %w", errors.Join(errs...))
}

// operatorName renders an operator's internal name ("_+_") as written
// ("+").
func operatorName(name string) string {
	if op, ok := operators.FindReverse(name); ok && op != "" {
		return op
	}
	return name
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
