package celdiff

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/env"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// The reference: cel-go configured as the Inngest server configures it
// for checks (serverEnv), and as the engine evaluated with it before it
// had its own implementation (evalEnv).

// looseOperators are the operators the server declares with one overload
// over operands of any type.
var looseOperators = []string{
	operators.Add, operators.Equals, operators.NotEquals,
	operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals,
}

func newServerEnv() *cel.Env {
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
		opts = append(opts, cel.Function(op, cel.Overload("loose"+op, []*cel.Type{cel.DynType, cel.DynType}, result)))
	}
	for _, name := range []string{"event", "async", "vars"} {
		opts = append(opts, cel.Variable(name, cel.MapType(cel.StringType, cel.DynType)))
	}
	str := []*cel.Type{cel.StringType}
	opts = append(opts,
		cel.Function("lowercase", cel.Overload("lowercase", str, cel.StringType)),
		cel.Function("uppercase", cel.Overload("uppercase", str, cel.StringType)),
		cel.Function("b64decode", cel.Overload("b64decode", str, cel.StringType)),
		cel.Function("json_parse", cel.Overload("json_parse", str, cel.DynType)),
		cel.Function("date", cel.Overload("date", []*cel.Type{cel.DynType}, cel.TimestampType)),
		cel.Function("now", cel.Overload("now", nil, cel.TimestampType)),
		cel.Function("now_plus", cel.Overload("now_plus", str, cel.TimestampType)),
		cel.Function("now_minus", cel.Overload("now_minus", str, cel.TimestampType)),
	)
	e, err := cel.NewCustomEnv(opts...)
	if err != nil {
		panic(err)
	}
	return e
}

func newEvalEnv(now func() time.Time, parseDuration func(string) (time.Duration, error)) *cel.Env {
	opts := []cel.EnvOption{
		cel.Variable("event", cel.DynType),
		cel.Variable("async", cel.DynType),
		cel.Variable("vars", cel.DynType),
		cel.CrossTypeNumericComparisons(true),
	}
	strFn := func(name string, out *cel.Type, f func(string) ref.Val) cel.EnvOption {
		return cel.Function(name, cel.Overload("x_"+name, []*cel.Type{cel.StringType}, out,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.Value().(string)
				if !ok {
					return types.NewErr("%s: want a string", name)
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
	opts = append(opts,
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
		cel.Function("date", cel.Overload("x_date", []*cel.Type{cel.DynType}, cel.TimestampType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				if t, ok := refParseDate(v.Value()); ok {
					return types.Timestamp{Time: t}
				}
				return types.NewErr("date: cannot read %v as a date", v.Value())
			}))),
		cel.Function("now", cel.Overload("x_now", nil, cel.TimestampType,
			cel.FunctionBinding(func(...ref.Val) ref.Val { return types.Timestamp{Time: now()} }))),
		shift("now_plus", 1),
		shift("now_minus", -1),
	)
	e, err := cel.NewEnv(opts...)
	if err != nil {
		panic(err)
	}
	return e
}

var refDateLayouts = []string{
	time.RFC3339, "2006-01-02T15:04:05", time.RFC1123, time.RFC822, time.RFC822Z, time.RFC850,
	time.RubyDate, time.UnixDate, time.ANSIC, time.Stamp, time.StampMilli, "2006-01-02",
}

func refParseDate(v any) (time.Time, bool) {
	var n int64
	switch x := v.(type) {
	case string:
		for _, layout := range refDateLayouts {
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

var refRestrictiveCalls = []string{
	operators.Conditional, operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot,
	operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals,
	operators.Greater, operators.GreaterEquals, operators.Index, operators.OptIndex,
	operators.OptSelect, operators.In,
	overloads.TypeConvertInt, overloads.TypeConvertUint, overloads.TypeConvertDouble,
}

var refMacroNames = []string{
	operators.Has, operators.All, operators.Exists, operators.ExistsOne, operators.Map, operators.Filter,
}

// refRestrictive is the server's restrictive policy walk over a checked
// expression.
func refRestrictive(e ast.Expr) error {
	var errs []error
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch e.Kind() {
		case ast.ComprehensionKind:
			errs = append(errs, errors.New("macro"))
		case ast.SelectKind:
			s := e.AsSelect()
			if s.IsTestOnly() {
				errs = append(errs, errors.New("has"))
			}
			walk(s.Operand())
		case ast.CallKind:
			call := e.AsCall()
			name := call.FunctionName()
			switch {
			case slices.Contains(refMacroNames, name):
				errs = append(errs, fmt.Errorf("macro %s", name))
			case !slices.Contains(refRestrictiveCalls, name):
				errs = append(errs, fmt.Errorf("call %s", name))
			}
			for _, arg := range call.Args() {
				walk(arg)
			}
		}
	}
	walk(e)
	return errors.Join(errs...)
}
