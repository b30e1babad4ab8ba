// Package expr implements the Common Expression Language (CEL) as the
// in-process engine of package inngesttest needs it, with the standard
// library only: a parser for CEL's whole expression grammar (with its
// macros), a type checker over the declarations of the Inngest server's
// environment (ServerEnv) or of the engine's evaluation (EvalEnv), the
// server's restrictive policy for cancel and wait expressions, and an
// evaluator over JSON-decoded values with CEL's semantics: numbers
// compared across types, errors absorbed by && and ||, a missing field an
// error.
//
// A differential test in the celdiff module (its own go.mod) runs the
// engine's expressions, hand-written corner cases and a generated corpus
// through this package and through cel-go, configured as the server
// configures it, and requires the same verdicts (parses, compiles in
// each environment, passes the restrictive policy) and the same results.
// The one known difference: messages of the protobuf well-known types
// (google.protobuf.Int64Value{value: 1}, google.protobuf.Struct{}, ...),
// which cel-go declares and this package refuses to compile.
package expr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Compile parses src and type-checks it in env.
func (env *Env) Compile(src string) (*Expr, error) {
	e, err := Parse(src)
	if err != nil {
		return nil, err
	}
	if err := env.Check(e); err != nil {
		return nil, err
	}
	return e, nil
}

// restrictiveCalls are the functions the restrictive policy allows.
var restrictiveCalls = []string{
	opCond, opAnd, opOr, opNot, opEq, opNe, opLt, opLe, opGt, opGe, opIndex, "_[?_]", "_?._", opIn,
	"int", "uint", "double",
}

var macroNames = []string{"has", "all", "exists", "exists_one", "map", "filter"}

// Restrictive reports, as the server's restrictive policy for cancel
// expressions does, every macro and every function call but the logical
// and comparison operators, indexing, "in", int(), uint() and double().
// Like the server's, the walk goes through selections and call arguments
// but not into list or map literals or a method call's receiver.
func (e *Expr) Restrictive() error {
	var errs []error
	var walk func(*node)
	walk = func(n *node) {
		switch n.kind {
		case compNode:
			errs = append(errs, errors.New("macros are not allowed (all, exists, exists_one, map, filter)"))
		case selectNode:
			if n.test {
				errs = append(errs, errors.New("macros are not allowed (has)"))
			}
			walk(n.target)
		case callNode:
			name := strings.TrimPrefix(n.name, ".") // as the checker resolved it
			switch {
			case slices.Contains(macroNames, name):
				errs = append(errs, fmt.Errorf("macros are not allowed (%s)", name))
			case !slices.Contains(restrictiveCalls, name):
				if op, ok := opText[name]; ok {
					name = op
				}
				errs = append(errs, fmt.Errorf("function calls are not allowed (%s)", name))
			}
			for _, a := range n.args {
				walk(a)
			}
		}
	}
	walk(e.root)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("is not allowed here, where only comparisons, logic, indexing and int/uint/double conversions may be used: %w", errors.Join(errs...))
}
