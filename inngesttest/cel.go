package inngesttest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
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
// cancellations and waits; "vars" is empty. The server's own functions
// (lowercase, uppercase, b64decode, json_parse, date, now, now_plus,
// now_minus) work as there, with now the virtual time. Numbers are JSON numbers (float64), compared
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

func newCELEnv(now func() time.Time) *celEnv {
	opts := []cel.EnvOption{
		cel.Variable("event", cel.DynType),
		cel.Variable("async", cel.DynType),
		cel.Variable("vars", cel.DynType),
		cel.CrossTypeNumericComparisons(true),
	}
	env, err := cel.NewEnv(append(opts, serverFunctions(now)...)...)
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
	vars := map[string]any{"event": asMap(event), "vars": map[string]any{}}
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

// serverFunctions implements the functions the server adds to CEL, with
// now reading the engine's clock.
func serverFunctions(now func() time.Time) []cel.EnvOption {
	str := func(v ref.Val) (string, bool) {
		s, ok := v.Value().(string)
		return s, ok
	}
	strFn := func(name string, out *cel.Type, f func(string) ref.Val) cel.EnvOption {
		return cel.Function(name, cel.Overload("inngesttest_"+name, []*cel.Type{cel.StringType}, out,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := str(v)
				if !ok {
					return types.NewErr("%s: want a string, got %s", name, v.Type().TypeName())
				}
				return f(s)
			})))
	}
	shift := func(name string, sign time.Duration) cel.EnvOption {
		return strFn(name, cel.TimestampType, func(s string) ref.Val {
			d, err := parseDuration(s)
			if err != nil {
				return types.NewErr("%s(%q): %v", name, s, err)
			}
			return types.Timestamp{Time: now().Add(sign * d)}
		})
	}
	return []cel.EnvOption{
		strFn("lowercase", cel.StringType, func(s string) ref.Val { return types.String(strings.ToLower(s)) }),
		strFn("uppercase", cel.StringType, func(s string) ref.Val { return types.String(strings.ToUpper(s)) }),
		strFn("b64decode", cel.StringType, func(s string) ref.Val {
			b, _ := base64.StdEncoding.DecodeString(s)
			return types.String(b)
		}),
		strFn("json_parse", cel.DynType, func(s string) ref.Val {
			m := map[string]any{}
			_ = json.Unmarshal([]byte(s), &m)
			return types.DefaultTypeAdapter.NativeToValue(m)
		}),
		cel.Function("date", cel.Overload("inngesttest_date", []*cel.Type{cel.DynType}, cel.TimestampType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				if t, ok := parseDate(v.Value()); ok {
					return types.Timestamp{Time: t}
				}
				return types.NewErr("date: cannot read %v as a date", v.Value())
			}))),
		cel.Function("now", cel.Overload("inngesttest_now", nil, cel.TimestampType,
			cel.FunctionBinding(func(...ref.Val) ref.Val { return types.Timestamp{Time: now()} }))),
		shift("now_plus", 1),
		shift("now_minus", -1),
	}
}

// dateLayouts are the layouts date() reads strings in.
var dateLayouts = []string{
	time.RFC3339, "2006-01-02T15:04:05", time.RFC1123, time.RFC822, time.RFC822Z, time.RFC850,
	time.RubyDate, time.UnixDate, time.ANSIC, time.Stamp, time.StampMilli, "2006-01-02",
}

// parseDate reads a date as the server's date() does: a string in one of
// the common layouts, or a Unix time in seconds, milliseconds or
// nanoseconds (from the year 2000 on).
func parseDate(v any) (time.Time, bool) {
	var n int64
	switch x := v.(type) {
	case string:
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, x); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	case int64:
		n = x
	case uint64:
		n = int64(x)
	case float64:
		n = int64(x)
	default:
		return time.Time{}, false
	}
	switch {
	case n < 946_684_800:
		return time.Time{}, false
	case n < 1e10:
		return time.Unix(n, 0), true
	case n < 1e13:
		return time.UnixMilli(n), true
	}
	return time.Unix(0, n), true
}
