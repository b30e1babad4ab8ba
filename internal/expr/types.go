package expr

import (
	"fmt"
	"strings"
)

// tkind is the kind of a type in the checker.
type tkind uint8

const (
	tDyn tkind = iota
	tErr
	tNull
	tBool
	tInt
	tUint
	tDouble
	tString
	tBytes
	tTimestamp
	tDuration
	tList
	tMap
	tType
	tParam
)

// typ is a CEL type: a primitive, list(elem), map(key, value), type(t) or
// a type parameter.
type typ struct {
	kind   tkind
	params []*typ
	name   string // tParam
}

var (
	dynT       = &typ{kind: tDyn}
	errT       = &typ{kind: tErr}
	nullT      = &typ{kind: tNull}
	boolT      = &typ{kind: tBool}
	intT       = &typ{kind: tInt}
	uintT      = &typ{kind: tUint}
	doubleT    = &typ{kind: tDouble}
	stringT    = &typ{kind: tString}
	bytesT     = &typ{kind: tBytes}
	timestampT = &typ{kind: tTimestamp}
	durationT  = &typ{kind: tDuration}
	typeT      = &typ{kind: tType}
)

func listOf(t *typ) *typ     { return &typ{kind: tList, params: []*typ{t}} }
func mapOf(k, v *typ) *typ   { return &typ{kind: tMap, params: []*typ{k, v}} }
func typeOf(t *typ) *typ     { return &typ{kind: tType, params: []*typ{t}} }
func param(name string) *typ { return &typ{kind: tParam, name: name} }

func (t *typ) String() string {
	switch t.kind {
	case tDyn:
		return "dyn"
	case tErr:
		return "*error*"
	case tNull:
		return "null_type"
	case tBool:
		return "bool"
	case tInt:
		return "int"
	case tUint:
		return "uint"
	case tDouble:
		return "double"
	case tString:
		return "string"
	case tBytes:
		return "bytes"
	case tTimestamp:
		return "google.protobuf.Timestamp"
	case tDuration:
		return "google.protobuf.Duration"
	case tList:
		return "list(" + t.params[0].String() + ")"
	case tMap:
		return "map(" + t.params[0].String() + ", " + t.params[1].String() + ")"
	case tType:
		if len(t.params) == 0 {
			return "type"
		}
		return "type(" + t.params[0].String() + ")"
	}
	return t.name
}

func isDynOrErr(t *typ) bool { return t.kind == tDyn || t.kind == tErr }

// exact reports whether a and b are the same type.
func exact(a, b *typ) bool {
	if a.kind != b.kind || len(a.params) != len(b.params) {
		return false
	}
	if a.kind == tParam {
		return a.name == b.name
	}
	for i := range a.params {
		if !exact(a.params[i], b.params[i]) {
			return false
		}
	}
	return true
}

// mapping holds the substitutions of type parameters, with a trail of
// its changes so that a failed match can be undone without copying.
type mapping struct {
	m     map[string]*typ
	trail []binding
}

type binding struct {
	name string
	old  *typ
	had  bool
}

func newMapping() *mapping { return &mapping{m: map[string]*typ{}} }

func (m *mapping) set(name string, t *typ) {
	old, had := m.m[name]
	m.trail = append(m.trail, binding{name, old, had})
	m.m[name] = t
}

func (m *mapping) mark() int { return len(m.trail) }

func (m *mapping) undo(mark int) {
	for len(m.trail) > mark {
		b := m.trail[len(m.trail)-1]
		m.trail = m.trail[:len(m.trail)-1]
		if b.had {
			m.m[b.name] = b.old
		} else {
			delete(m.m, b.name)
		}
	}
}

// substitute replaces the bound parameters of t; unbound ones become dyn
// when toDyn.
func substitute(m map[string]*typ, t *typ, toDyn bool) *typ {
	switch t.kind {
	case tParam:
		if s, ok := m[t.name]; ok {
			return substitute(m, s, toDyn)
		}
		if toDyn {
			return dynT
		}
		return t
	case tList, tMap, tType:
		if len(t.params) == 0 {
			return t
		}
		ps := make([]*typ, len(t.params))
		for i, p := range t.params {
			ps[i] = substitute(m, p, toDyn)
		}
		return &typ{kind: t.kind, params: ps}
	}
	return t
}

func notReferencedIn(m *mapping, t, within *typ) bool {
	if exact(t, within) {
		return false
	}
	switch within.kind {
	case tParam:
		s, ok := m.m[within.name]
		if !ok {
			return true
		}
		return notReferencedIn(m, t, s)
	case tList, tMap, tType:
		for _, p := range within.params {
			if !notReferencedIn(m, t, p) {
				return false
			}
		}
	}
	return true
}

func lessSpecific(a, b *typ) bool {
	if a.kind == tDyn || a.kind == tParam {
		return true
	}
	if b.kind == tDyn || b.kind == tParam {
		return false
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case tList, tMap, tType:
		if len(a.params) != len(b.params) {
			return len(a.params) == 0
		}
		for i := range a.params {
			if !lessSpecific(a.params[i], b.params[i]) {
				return false
			}
		}
		return true
	}
	return exact(a, b)
}

func mostGeneral(a, b *typ) *typ {
	if lessSpecific(a, b) {
		return a
	}
	return b
}

func validSubstitution(m *mapping, t1, t2 *typ) (valid, hasSub bool) {
	if t1.kind == t2.kind && exact(t1, t2) {
		return true, true
	}
	if sub, ok := m.m[t2.name]; ok {
		if t1.kind == sub.kind && exact(t1, sub) {
			return true, true
		}
		if assignable(m, t1, sub) {
			n := mostGeneral(t1, sub)
			if notReferencedIn(m, t2, n) {
				m.set(t2.name, n)
			}
			return true, true
		}
		return false, true
	}
	if notReferencedIn(m, t2, t1) {
		m.set(t2.name, t1)
		return true, false
	}
	return false, false
}

func nullable(t *typ) bool {
	return t.kind == tNull || t.kind == tTimestamp || t.kind == tDuration
}

// assignable reports whether a value of type t1 may stand where t2 is
// expected (or the reverse: CEL's check is symmetric but for type
// parameters), updating m.
func assignable(m *mapping, t1, t2 *typ) bool {
	if t2.kind == tParam {
		valid, has := validSubstitution(m, t1, t2)
		if valid {
			return true
		}
		if has {
			return false
		}
	}
	if t1.kind == tParam {
		valid, _ := validSubstitution(m, t2, t1)
		return valid
	}
	if isDynOrErr(t1) || isDynOrErr(t2) {
		return true
	}
	if t1.kind == tNull {
		return nullable(t2)
	}
	if t2.kind == tNull {
		return nullable(t1)
	}
	switch t1.kind {
	case tType:
		return t2.kind == tType
	case tList, tMap:
		return t1.kind == t2.kind && assignableList(m, t1.params, t2.params)
	}
	return exact(t1, t2)
}

func assignableList(m *mapping, a, b []*typ) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !assignable(m, a[i], b[i]) {
			return false
		}
	}
	return true
}

// overload is one signature of a function.
type overload struct {
	member bool
	args   []*typ
	result *typ
	params []string // type parameters
}

func ov(result *typ, args ...*typ) overload { return overload{args: args, result: result} }
func mov(result *typ, args ...*typ) overload {
	return overload{member: true, args: args, result: result}
}

var (
	pA    = param("A")
	pB    = param("B")
	listA = listOf(pA)
	mapAB = mapOf(pA, pB)
)

func withParams(o overload, names ...string) overload { o.params = names; return o }

// stdFunctions are CEL's standard functions as declared for the checker.
// Loosened operators are replaced per environment.
func stdFunctions() map[string][]overload {
	num := []*typ{intT, uintT, doubleT}
	cmp := func(cross bool) []overload {
		var os []overload
		for _, t := range []*typ{boolT, intT, uintT, doubleT, stringT, bytesT, timestampT, durationT} {
			os = append(os, ov(boolT, t, t))
		}
		if cross {
			for _, a := range num {
				for _, b := range num {
					if a != b {
						os = append(os, ov(boolT, a, b))
					}
				}
			}
		}
		return os
	}
	arith := func(ts ...*typ) []overload {
		var os []overload
		for _, t := range ts {
			os = append(os, ov(t, t, t))
		}
		return os
	}
	conv := func(result *typ, from ...*typ) []overload {
		var os []overload
		for _, t := range from {
			os = append(os, ov(result, t))
		}
		return os
	}
	tsGetter := []overload{mov(intT, timestampT), mov(intT, timestampT, stringT)}
	tdGetter := append([]overload{mov(intT, durationT)}, tsGetter...)
	fs := map[string][]overload{
		opCond:     {withParams(ov(pA, boolT, pA, pA), "A")},
		opAnd:      {ov(boolT, boolT, boolT)},
		opOr:       {ov(boolT, boolT, boolT)},
		opNot:      {ov(boolT, boolT)},
		opNotFalse: {ov(boolT, boolT)},
		opEq:       {withParams(ov(boolT, pA, pA), "A")},
		opNe:       {withParams(ov(boolT, pA, pA), "A")},
		opAdd: append(arith(bytesT, doubleT, durationT, intT, stringT, uintT),
			ov(timestampT, durationT, timestampT), ov(timestampT, timestampT, durationT),
			withParams(ov(listA, listA, listA), "A")),
		opSub: append(arith(doubleT, durationT, intT, uintT),
			ov(timestampT, timestampT, durationT), ov(durationT, timestampT, timestampT)),
		opMul:   arith(doubleT, intT, uintT),
		opDiv:   arith(doubleT, intT, uintT),
		opMod:   arith(intT, uintT),
		opNeg:   {ov(doubleT, doubleT), ov(intT, intT)},
		opLt:    cmp(false),
		opLe:    cmp(false),
		opGt:    cmp(false),
		opGe:    cmp(false),
		opIndex: {withParams(ov(pA, listA, intT), "A"), withParams(ov(pB, mapAB, pA), "A", "B")},
		opIn:    {withParams(ov(boolT, pA, listA), "A"), withParams(ov(boolT, pA, mapAB), "A", "B")},
		"size": {ov(intT, bytesT), mov(intT, bytesT), withParams(ov(intT, listA), "A"), withParams(mov(intT, listA), "A"),
			withParams(ov(intT, mapAB), "A", "B"), withParams(mov(intT, mapAB), "A", "B"), ov(intT, stringT), mov(intT, stringT)},
		"type":       {withParams(ov(typeOf(pA), pA), "A")},
		"bool":       conv(boolT, boolT, stringT),
		"bytes":      conv(bytesT, bytesT, stringT),
		"double":     conv(doubleT, doubleT, intT, stringT, uintT),
		"duration":   conv(durationT, durationT, stringT),
		"dyn":        {withParams(ov(dynT, pA), "A")},
		"int":        conv(intT, intT, doubleT, durationT, stringT, timestampT, uintT),
		"string":     conv(stringT, stringT, boolT, bytesT, doubleT, durationT, intT, timestampT, uintT),
		"timestamp":  conv(timestampT, timestampT, intT, stringT),
		"uint":       conv(uintT, uintT, doubleT, intT, stringT),
		"contains":   {mov(boolT, stringT, stringT)},
		"endsWith":   {mov(boolT, stringT, stringT)},
		"startsWith": {mov(boolT, stringT, stringT)},
		"matches":    {ov(boolT, stringT, stringT), mov(boolT, stringT, stringT)},

		"getFullYear":     tsGetter,
		"getMonth":        tsGetter,
		"getDayOfYear":    tsGetter,
		"getDayOfMonth":   tsGetter,
		"getDate":         tsGetter,
		"getDayOfWeek":    tsGetter,
		"getHours":        tdGetter,
		"getMinutes":      tdGetter,
		"getSeconds":      tdGetter,
		"getMilliseconds": tdGetter,

		// The server's own functions.
		"lowercase":  {ov(stringT, stringT)},
		"uppercase":  {ov(stringT, stringT)},
		"b64decode":  {ov(stringT, stringT)},
		"json_parse": {ov(dynT, stringT)},
		"date":       {ov(timestampT, dynT)},
		"now":        {ov(timestampT)},
		"now_plus":   {ov(timestampT, stringT)},
		"now_minus":  {ov(timestampT, stringT)},
	}
	return fs
}

// Env is a checking environment: the declarations an expression is
// type-checked against.
type Env struct {
	funcs map[string][]overload
	vars  map[string]*typ
	plan  bool // refuse what cel-go's planner refuses after the check
}

// The environments.
var (
	// ServerEnv declares what the Inngest server's expression
	// environment does: event, async and vars as map(string, dyn), the
	// standard functions and macros with +, ==, !=, <, <=, > and >=
	// taking operands of any type, and the server's own functions.
	ServerEnv = newEnv(true)
	// EvalEnv declares what the engine evaluates with: event, async and
	// vars as dyn, the standard functions with CEL's typed operators
	// (and comparisons across numeric types), and the server's own
	// functions.
	EvalEnv = newEnv(false)
)

func newEnv(loose bool) *Env {
	fs := stdFunctions()
	vt := dynT
	if loose {
		vt = mapOf(stringT, dynT)
		for _, op := range []string{opEq, opNe, opLt, opLe, opGt, opGe} {
			fs[op] = []overload{ov(boolT, dynT, dynT)}
		}
		fs[opAdd] = []overload{ov(dynT, dynT, dynT)}
	} else {
		num := []*typ{intT, uintT, doubleT}
		for _, op := range []string{opLt, opLe, opGt, opGe} {
			for _, a := range num {
				for _, b := range num {
					if a != b {
						fs[op] = append(fs[op], ov(boolT, a, b))
					}
				}
			}
		}
	}
	return &Env{funcs: fs, vars: map[string]*typ{"event": vt, "async": vt, "vars": vt}, plan: !loose}
}

// typeIdents are the type names CEL declares, with the type each names.
var typeIdents = map[string]*typ{
	"bool": boolT, "bytes": bytesT, "double": doubleT, "google.protobuf.Duration": durationT,
	"int": intT, "list": listOf(pA), "map": mapOf(pA, pB), "null_type": nullT, "string": stringT,
	"google.protobuf.Timestamp": timestampT, "type": typeT, "uint": uintT,
}

// checker type-checks a parsed expression in an Env.
type checker struct {
	env    *Env
	src    string
	m      *mapping
	scopes []map[string]*typ
	fresh  int
	err    *Error
	locals []localRef // references to comprehension variables
	local  *typ       // set by lookup when it finds one
}

type localRef struct {
	n *node
	t *typ
}

// Check type-checks e in env, reporting the first error.
func (env *Env) Check(e *Expr) error {
	c := &checker{env: env, src: e.src, m: newMapping()}
	c.check(e.root)
	if c.err != nil {
		return c.err
	}
	if env.plan {
		// cel-go's planner reads a comprehension variable whose type is
		// a type as a type's name, which it cannot find.
		for _, r := range c.locals {
			if substitute(c.m.m, r.t, false).kind == tType {
				return &Error{Src: e.src, Pos: r.n.pos, Msg: "reference to undefined type: " + r.n.name}
			}
		}
		return plan(e)
	}
	return nil
}

// plan refuses what cel-go refuses when it plans a checked expression
// for evaluation: an index that is a constant null, bytes or type.
func plan(e *Expr) error {
	var bad *node
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil || bad != nil {
			return
		}
		if n.kind == callNode && n.name == opIndex && n.target == nil && len(n.args) == 2 {
			k := n.args[1]
			switch k.kind {
			case litNode:
				switch k.val.(type) {
				case nil, []byte:
					bad = k
				}
			case identNode, selectNode:
				if q, ok := qualifiedName(k); ok {
					if _, isType := typeIdents[strings.TrimPrefix(q, ".")]; isType {
						bad = k
					}
				}
			}
		}
		walk(n.target)
		for _, a := range n.args {
			walk(a)
		}
		walk(n.iterRange)
		walk(n.init)
		walk(n.cond)
		walk(n.step)
		walk(n.res)
	}
	walk(e.root)
	if bad != nil {
		return &Error{Src: e.src, Pos: bad.pos, Msg: "unsupported qualifier type"}
	}
	return nil
}

func (c *checker) fail(n *node, format string, args ...any) *typ {
	if c.err == nil {
		c.err = &Error{Src: c.src, Pos: n.pos, Msg: fmt.Sprintf(format, args...)}
	}
	return errT
}

func (c *checker) newVar() *typ {
	c.fresh++
	return param(fmt.Sprintf("_var%d", c.fresh))
}

func (c *checker) isAssignable(t1, t2 *typ) bool {
	mark := c.m.mark()
	if assignable(c.m, t1, t2) {
		return true
	}
	c.m.undo(mark)
	return false
}

func (c *checker) lookup(name string) (*typ, bool) {
	// A name with a leading dot is global: no comprehension variable.
	for i := len(c.scopes) - 1; i >= 0 && !strings.HasPrefix(name, "."); i-- {
		if t, ok := c.scopes[i][name]; ok {
			c.local = t
			return t, true
		}
	}
	name = strings.TrimPrefix(name, ".")
	if t, ok := c.env.vars[name]; ok {
		return t, true
	}
	if t, ok := typeIdents[name]; ok {
		return typeOf(t), true
	}
	return nil, false
}

// qualifiedName reads a chain of selections from an identifier as a
// dotted name.
func qualifiedName(n *node) (string, bool) {
	switch n.kind {
	case identNode:
		return n.name, true
	case selectNode:
		if n.test {
			return "", false
		}
		if q, ok := qualifiedName(n.target); ok {
			return q + "." + n.name, true
		}
	}
	return "", false
}

func (c *checker) check(n *node) *typ {
	switch n.kind {
	case litNode:
		switch n.val.(type) {
		case nil:
			return nullT
		case bool:
			return boolT
		case int64:
			return intT
		case uint64:
			return uintT
		case float64:
			return doubleT
		case string:
			return stringT
		case []byte:
			return bytesT
		}
	case identNode:
		c.local = nil
		if t, ok := c.lookup(n.name); ok {
			if c.local != nil {
				c.locals = append(c.locals, localRef{n, c.local})
			}
			return t
		}
		return c.fail(n, "undeclared reference to '%s' (in container '')", strings.TrimPrefix(n.name, "."))
	case selectNode:
		if q, ok := qualifiedName(n); ok {
			if t, found := c.lookupGlobal(q); found {
				return t
			}
		}
		ot := substitute(c.m.m, c.check(n.target), false)
		var rt *typ
		switch ot.kind {
		case tMap:
			rt = ot.params[1]
		case tParam:
			c.isAssignable(dynT, ot)
			rt = dynT
		default:
			if !isDynOrErr(ot) {
				c.fail(n, "type '%s' does not support field selection", ot)
			}
			rt = dynT
		}
		if n.test {
			rt = boolT
		}
		return substitute(c.m.m, rt, false)
	case callNode:
		return c.checkCall(n)
	case listNode:
		var elem *typ
		for _, a := range n.args {
			elem = c.join(elem, c.check(a))
		}
		if elem == nil {
			elem = c.newVar()
		}
		return listOf(elem)
	case mapNode:
		var kt, vt *typ
		for i := 0; i < len(n.args); i += 2 {
			kt = c.join(kt, c.check(n.args[i]))
			vt = c.join(vt, c.check(n.args[i+1]))
		}
		if kt == nil {
			kt, vt = c.newVar(), c.newVar()
		}
		return mapOf(kt, vt)
	case structNode:
		return c.fail(n, "undeclared reference to '%s' (in container '')", n.name)
	case compNode:
		return c.checkComp(n)
	}
	return errT
}

func (c *checker) lookupGlobal(q string) (*typ, bool) {
	q = strings.TrimPrefix(q, ".")
	if t, ok := c.env.vars[q]; ok {
		return t, true
	}
	if t, ok := typeIdents[q]; ok {
		return typeOf(t), true
	}
	return nil, false
}

func (c *checker) join(prev, cur *typ) *typ {
	if prev == nil {
		return cur
	}
	if c.isAssignable(prev, cur) {
		return mostGeneral(prev, cur)
	}
	return dynT
}

func (c *checker) checkComp(n *node) *typ {
	rt := substitute(c.m.m, c.check(n.iterRange), false)
	accuT := c.check(n.init)
	c.scopes = append(c.scopes, map[string]*typ{n.accuVar: accuT})
	var vt *typ
	switch rt.kind {
	case tList, tMap:
		vt = rt.params[0]
	case tDyn, tErr, tParam:
		c.isAssignable(dynT, rt)
		vt = dynT
	default:
		c.fail(n.iterRange, "expression of type '%s' cannot be range of a comprehension (must be list, map, or dynamic)", rt)
		vt = errT
	}
	c.scopes = append(c.scopes, map[string]*typ{n.iterVar: vt})
	if t := c.check(n.cond); !c.isAssignable(boolT, t) {
		c.fail(n.cond, "expected type 'bool' but found '%s'", substitute(c.m.m, t, false))
	}
	if t := c.check(n.step); !c.isAssignable(accuT, t) {
		c.fail(n.step, "expected type '%s' but found '%s'", substitute(c.m.m, accuT, false), substitute(c.m.m, t, false))
	}
	c.scopes = c.scopes[:len(c.scopes)-1]
	res := c.check(n.res)
	c.scopes = c.scopes[:len(c.scopes)-1]
	return substitute(c.m.m, res, false)
}

func (c *checker) checkCall(n *node) *typ {
	var argTypes []*typ
	for _, a := range n.args {
		argTypes = append(argTypes, c.check(a))
	}
	name := strings.TrimPrefix(n.name, ".")
	if n.target != nil {
		argTypes = append([]*typ{c.check(n.target)}, argTypes...)
	}
	fns, ok := c.env.funcs[name]
	if !ok || (n.name != name && n.target != nil) {
		return c.fail(n, "undeclared reference to '%s' (in container '')", name)
	}
	var result *typ
	for _, o := range fns {
		if o.member != (n.target != nil) {
			continue
		}
		args, res := o.args, o.result
		if len(o.params) > 0 {
			sub := map[string]*typ{}
			for _, p := range o.params {
				sub[p] = c.newVar()
			}
			args = make([]*typ, len(o.args))
			for i, a := range o.args {
				args[i] = substitute(sub, a, false)
			}
			res = substitute(sub, res, false)
		}
		mark := c.m.mark()
		if !assignableList(c.m, argTypes, args) {
			c.m.undo(mark)
			continue
		}
		rt := substitute(c.m.m, res, false)
		if result == nil {
			result = rt
		} else if result.kind != tDyn && !exact(rt, result) {
			result = dynT
		}
	}
	if result == nil {
		ts := make([]string, len(argTypes))
		for i, t := range argTypes {
			ts[i] = substitute(c.m.m, t, true).String()
		}
		if n.target != nil {
			return c.fail(n, "found no matching overload for '%s' applied to '%s.(%s)'", name, ts[0], strings.Join(ts[1:], ", "))
		}
		return c.fail(n, "found no matching overload for '%s' applied to '(%s)'", name, strings.Join(ts, ", "))
	}
	return result
}
