package expr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values are Go values: nil (null), bool, int64, uint64, float64, string,
// []byte, []any (a list), map[string]any or *Map (a map), time.Time (a
// timestamp), time.Duration, and Type. JSON-decoded values are values.

// Type is the value of a type name (int, string, ...), as type() returns.
type Type string

// Map is a map literal's value: its keys are bool, int64, uint64 or
// string.
type Map struct {
	keys []any
	vals []any
}

// errVal is an evaluation error, carried as a value so that && and ||
// can absorb it.
type errVal struct{ msg string }

func (e *errVal) Error() string { return e.msg }

func errf(format string, args ...any) *errVal { return &errVal{msg: fmt.Sprintf(format, args...)} }

func noOverload(name string, args ...any) *errVal {
	ts := make([]string, len(args))
	for i, a := range args {
		ts[i] = string(typeName(a))
	}
	return errf("no such overload: %s(%s)", name, strings.Join(ts, ", "))
}

func typeName(v any) Type {
	switch v.(type) {
	case nil:
		return "null_type"
	case bool:
		return "bool"
	case int64:
		return "int"
	case uint64:
		return "uint"
	case float64:
		return "double"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any, *Map:
		return "map"
	case time.Time:
		return "google.protobuf.Timestamp"
	case time.Duration:
		return "google.protobuf.Duration"
	case Type:
		return "type"
	}
	return Type(fmt.Sprintf("%T", v))
}

// Expr is a parsed expression.
type Expr struct {
	src  string
	root *node
}

// Vars are the variables an expression is evaluated with. A declared
// variable that is absent fails the evaluation where it is read.
type Vars map[string]any

// Runtime is what an evaluation reads from its host. Its zero value
// reads the wall clock and Go's durations.
type Runtime struct {
	Now           func() time.Time                    // now(), now_plus(), now_minus(); nil: time.Now
	ParseDuration func(string) (time.Duration, error) // now_plus(), now_minus(); nil: time.ParseDuration
}

type evaluator struct {
	vars   Vars
	rt     Runtime
	scopes []map[string]any
}

// Eval evaluates e with vars and rt. The result is
// a value, or an error when the evaluation fails (a missing field, no
// overload for the operands' types, an overflow, ...).
func (e *Expr) Eval(vars Vars, rt Runtime) (any, error) {
	if rt.Now == nil {
		rt.Now = time.Now
	}
	if rt.ParseDuration == nil {
		rt.ParseDuration = time.ParseDuration
	}
	ev := &evaluator{vars: vars, rt: rt}
	v := ev.eval(e.root)
	if err, ok := v.(*errVal); ok {
		return nil, err
	}
	return v, nil
}

func isErr(v any) bool { _, ok := v.(*errVal); return ok }

func (ev *evaluator) eval(n *node) any {
	switch n.kind {
	case litNode:
		return n.val
	case identNode:
		name := n.name
		if !strings.HasPrefix(name, ".") {
			for i := len(ev.scopes) - 1; i >= 0; i-- {
				if v, ok := ev.scopes[i][name]; ok {
					return v
				}
			}
		}
		name = strings.TrimPrefix(name, ".")
		if v, ok := ev.vars[name]; ok {
			return v
		}
		if _, ok := typeIdents[name]; ok {
			return Type(name)
		}
		return errf("no such attribute(s): %s", name)
	case selectNode:
		if q, ok := qualifiedName(n); ok {
			if _, found := typeIdents[strings.TrimPrefix(q, ".")]; found {
				return Type(strings.TrimPrefix(q, "."))
			}
		}
		t := ev.eval(n.target)
		if isErr(t) {
			return t
		}
		switch t.(type) {
		case map[string]any, *Map:
		case []any:
			return noOverload("select", t)
		default:
			if n.test {
				return false // as cel-go: a presence test on a scalar is false
			}
			return noOverload("select", t)
		}
		v, found, bad := mapGet(t, n.name)
		if bad != nil {
			return bad
		}
		if n.test {
			return found
		}
		if !found {
			return errf("no such key: %s", n.name)
		}
		return v
	case listNode:
		out := make([]any, 0, len(n.args))
		for _, a := range n.args {
			v := ev.eval(a)
			if isErr(v) {
				return v
			}
			out = append(out, v)
		}
		return out
	case mapNode:
		m := &Map{}
		for i := 0; i < len(n.args); i += 2 {
			k := ev.eval(n.args[i])
			if isErr(k) {
				return k
			}
			v := ev.eval(n.args[i+1])
			if isErr(v) {
				return v
			}
			if _, isBytes := k.([]byte); isBytes {
				return errf("unsupported key type: bytes")
			}
			if i := m.find(k); i >= 0 {
				m.vals[i] = v // a repeated key's last value wins, as in cel-go
				continue
			}
			m.keys = append(m.keys, k)
			m.vals = append(m.vals, v)
		}
		return m
	case structNode:
		return errf("unknown type: %s", n.name)
	case compNode:
		return ev.comprehension(n)
	case callNode:
		return ev.call(n)
	}
	return errf("unknown expression")
}

func (ev *evaluator) comprehension(n *node) any {
	r := ev.eval(n.iterRange)
	if isErr(r) {
		return r
	}
	var items []any
	switch x := r.(type) {
	case []any:
		items = x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			items = append(items, k)
		}
	case *Map:
		items = x.keys
	default:
		return noOverload("comprehension range", r)
	}
	var accu any = ev.eval(n.init)
	if n.init.kind == listNode && len(n.init.args) == 0 {
		accu = &accuList{items: []any{}} // map and filter append to it in place
	}
	frame := map[string]any{n.accuVar: accu}
	loop := map[string]any{}
	ev.scopes = append(ev.scopes, frame, loop)
	for _, it := range items {
		loop[n.iterVar] = it
		if ev.eval(n.cond) != true {
			break
		}
		frame[n.accuVar] = ev.eval(n.step)
	}
	ev.scopes = ev.scopes[:len(ev.scopes)-1] // the result sees the accumulator only
	out := ev.eval(n.res)
	ev.scopes = ev.scopes[:len(ev.scopes)-1]
	if l, ok := out.(*accuList); ok {
		return l.items
	}
	return out
}

// accuList is the accumulator of map and filter, which only the macro's
// own step reads: adding a list to it appends in place, so that a macro
// over n elements takes time in n, not n squared.
type accuList struct{ items []any }

func (ev *evaluator) call(n *node) any {
	switch n.name {
	case opAnd, opOr:
		want := n.name == opOr // the value that decides
		l := ev.eval(n.args[0])
		if b, ok := l.(bool); ok && b == want {
			return want
		}
		r := ev.eval(n.args[1])
		if b, ok := r.(bool); ok && b == want {
			return want
		}
		_, lok := l.(bool)
		_, rok := r.(bool)
		if lok && rok {
			return !want
		}
		if isErr(l) {
			return l
		}
		if isErr(r) {
			return r
		}
		if !lok {
			return noOverload(n.name, l)
		}
		return noOverload(n.name, r)
	case opCond:
		c := ev.eval(n.args[0])
		b, ok := c.(bool)
		if !ok {
			if isErr(c) {
				return c
			}
			return noOverload(n.name, c)
		}
		if b {
			return ev.eval(n.args[1])
		}
		return ev.eval(n.args[2])
	case opNotFalse:
		if v := ev.eval(n.args[0]); v == false {
			return false
		}
		return true
	}
	args := make([]any, 0, len(n.args)+1)
	if n.target != nil {
		args = append(args, ev.eval(n.target))
	}
	for _, a := range n.args {
		args = append(args, ev.eval(a))
	}
	for _, a := range args {
		if isErr(a) {
			return a
		}
	}
	return ev.apply(strings.TrimPrefix(n.name, "."), n.target != nil, args)
}

// apply calls a strict function on evaluated arguments.
func (ev *evaluator) apply(name string, member bool, a []any) any {
	switch len(a) {
	case 0:
		if name == "now" && !member {
			return ev.rt.Now()
		}
	case 1:
		if member {
			break
		}
		switch name {
		case opNot:
			if b, ok := a[0].(bool); ok {
				return !b
			}
		case opNeg:
			switch x := a[0].(type) {
			case int64:
				if x == math.MinInt64 {
					return errf("integer overflow")
				}
				return -x
			case float64:
				return -x
			}
		case "size":
			return size(a[0])
		case "type":
			return typeName(a[0])
		case "dyn":
			return a[0]
		case "int", "uint", "double", "string", "bool", "bytes", "timestamp", "duration":
			return convert(name, a[0])
		case "lowercase", "uppercase", "b64decode", "json_parse", "now_plus", "now_minus":
			s, ok := a[0].(string)
			if !ok {
				break
			}
			return ev.serverFunc(name, s)
		case "date":
			if t, ok := parseDate(a[0]); ok {
				return t
			}
			return errf("date: cannot read %v as a date", a[0])
		}
	case 2:
		switch name {
		case opEq:
			if member {
				break
			}
			return equal(a[0], a[1])
		case opNe:
			if member {
				break
			}
			return !equal(a[0], a[1])
		case opLt, opLe, opGt, opGe:
			if member {
				break
			}
			c, err := compare(a[0], a[1])
			if err != nil {
				return noOverload(name, a[0], a[1])
			}
			switch name {
			case opLt:
				return c == -1
			case opLe:
				return c == -1 || c == 0
			case opGt:
				return c == 1
			}
			return c == 1 || c == 0
		case opAdd, opSub, opMul, opDiv, opMod:
			if member {
				break
			}
			return arith(name, a[0], a[1])
		case opIndex:
			if member {
				break
			}
			return index(a[0], a[1])
		case opIn:
			if member {
				break
			}
			switch c := a[1].(type) {
			case []any:
				for _, x := range c {
					if equal(a[0], x) {
						return true
					}
				}
				return false
			case map[string]any, *Map:
				_, found, bad := mapGet(c, a[0])
				if bad != nil {
					return false
				}
				return found
			}
		case "contains", "startsWith", "endsWith", "matches":
			s, ok1 := a[0].(string)
			t, ok2 := a[1].(string)
			if !ok1 || !ok2 || !member && name != "matches" {
				break
			}
			switch name {
			case "contains":
				return strings.Contains(s, t)
			case "startsWith":
				return strings.HasPrefix(s, t)
			case "endsWith":
				return strings.HasSuffix(s, t)
			}
			re, err := regexp.Compile(t)
			if err != nil {
				return errf("%v", err)
			}
			return re.MatchString(s)
		}
	}
	if member {
		if r, ok := timeGetter(name, a); ok {
			return r
		}
		if name == "size" && len(a) == 1 {
			return size(a[0])
		}
	}
	return noOverload(name, a...)
}

func (ev *evaluator) serverFunc(name, s string) any {
	switch name {
	case "lowercase":
		return strings.ToLower(s)
	case "uppercase":
		return strings.ToUpper(s)
	case "b64decode":
		b, _ := base64.StdEncoding.DecodeString(s)
		return string(b)
	case "json_parse":
		m := map[string]any{}
		_ = json.Unmarshal([]byte(s), &m)
		return m
	}
	d, err := ev.rt.ParseDuration(s)
	if err != nil {
		return errf("%s(%q): %v", name, s, err)
	}
	if name == "now_minus" {
		d = -d
	}
	return ev.rt.Now().Add(d)
}

func size(v any) any {
	switch x := v.(type) {
	case string:
		return int64(utf8.RuneCountInString(x))
	case []byte:
		return int64(len(x))
	case []any:
		return int64(len(x))
	case map[string]any:
		return int64(len(x))
	case *Map:
		return int64(len(x.keys))
	}
	return noOverload("size", v)
}

// mapGet looks key up in map m (a map[string]any or *Map), with CEL's
// numeric key equivalence.
func mapGet(m any, key any) (any, bool, *errVal) {
	switch x := m.(type) {
	case map[string]any:
		s, ok := key.(string)
		if !ok {
			return nil, false, nil
		}
		v, found := x[s]
		return v, found, nil
	case *Map:
		if i := x.find(key); i >= 0 {
			return x.vals[i], true, nil
		}
		for i, k := range x.keys {
			if keyEqual(k, key) {
				return x.vals[i], true, nil
			}
		}
		return nil, false, nil
	}
	return nil, false, noOverload("map lookup", m)
}

// find returns the index of key in m (the same type and value), or -1.
// Lists and maps as keys are never the same.
func (m *Map) find(key any) int {
	for i, k := range m.keys {
		switch k.(type) {
		case []any, map[string]any, *Map:
			continue
		}
		if typeName(k) == typeName(key) && equal(k, key) {
			return i
		}
	}
	return -1
}

func keyEqual(k, key any) bool {
	switch k.(type) {
	case int64, uint64:
		switch key.(type) {
		case int64, uint64, float64:
			return equal(k, key)
		}
		return false
	}
	return typeName(k) == typeName(key) && equal(k, key)
}

func index(c, i any) any {
	switch x := c.(type) {
	case []any:
		var n int64
		switch v := i.(type) {
		case int64:
			n = v
		case uint64:
			if v > math.MaxInt64 {
				return errf("unsupported index value %d in list", v)
			}
			n = int64(v)
		case float64:
			if v != math.Trunc(v) || math.IsInf(v, 0) || math.IsNaN(v) || v < math.MinInt64 || v >= math.MaxInt64 {
				return errf("unsupported index value %v in list", v)
			}
			n = int64(v)
		default:
			return errf("unsupported index type '%s' in list", typeName(i))
		}
		if n < 0 || n >= int64(len(x)) {
			return errf("index out of range: %d", n)
		}
		return x[n]
	case map[string]any, *Map:
		v, found, bad := mapGet(c, i)
		if bad != nil {
			return bad
		}
		if !found {
			return errf("no such key: %v", i)
		}
		return v
	}
	return noOverload(opIndex, c, i)
}

// equal is CEL's heterogeneous equality: numbers compare by value across
// types, other values of different types are unequal.
func equal(a, b any) bool {
	if na, ok := num(a); ok {
		if nb, ok := num(b); ok {
			c, err := compare(na, nb)
			return err == nil && c == 0
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case time.Duration:
		y, ok := b.(time.Duration)
		return ok && x == y
	case Type:
		y, ok := b.(Type)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any, *Map:
		if typeName(b) != "map" {
			return false
		}
		ka, kb := mapKeys(a), mapKeys(b)
		if len(ka) != len(kb) {
			return false
		}
		for _, k := range ka {
			va, _, _ := mapGet(a, k)
			vb, found, _ := mapGet(b, k)
			if !found || !equal(va, vb) {
				return false
			}
		}
		return true
	}
	return false
}

func mapKeys(m any) []any {
	switch x := m.(type) {
	case map[string]any:
		out := make([]any, 0, len(x))
		for k := range x {
			out = append(out, k)
		}
		return out
	case *Map:
		return x.keys
	}
	return nil
}

func num(v any) (any, bool) {
	switch v.(type) {
	case int64, uint64, float64:
		return v, true
	}
	return nil, false
}

var errCompare = fmt.Errorf("not comparable")

// unordered is compare's result for NaN and a number: every comparison
// is false.
const unordered = 2

func isNaN(v any) bool {
	f, ok := v.(float64)
	return ok && math.IsNaN(f)
}

// compare orders a and b: numbers across types, and strings, bytes,
// bools, timestamps and durations with their own kind.
func compare(a, b any) (int, error) {
	if isNaN(a) || isNaN(b) {
		if _, ok := num(a); ok {
			if _, ok := num(b); ok {
				return unordered, nil
			}
		}
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp3(x < y, x > y), nil
		case uint64:
			if x < 0 {
				return -1, nil
			}
			return cmp3(uint64(x) < y, uint64(x) > y), nil
		case float64:
			return -cmpDoubleInt(y, x), nil
		}
	case uint64:
		switch y := b.(type) {
		case uint64:
			return cmp3(x < y, x > y), nil
		case int64:
			if y < 0 {
				return 1, nil
			}
			return cmp3(x < uint64(y), x > uint64(y)), nil
		case float64:
			return -cmpDoubleUint(y, x), nil
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmp3(x < y, x > y), nil
		case int64:
			return cmpDoubleInt(x, y), nil
		case uint64:
			return cmpDoubleUint(x, y), nil
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y), nil
		}
	case bool:
		if y, ok := b.(bool); ok {
			return cmp3(!x && y, x && !y), nil
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), nil
		}
	case time.Duration:
		if y, ok := b.(time.Duration); ok {
			return cmp3(x < y, x > y), nil
		}
	}
	return 0, errCompare
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

// cmpDoubleInt and cmpDoubleUint compare as cel-go does: the integer as
// a double, once the double is within the integer's range.
func cmpDoubleInt(d float64, i int64) int {
	if d < math.MinInt64 {
		return -1
	}
	if d > math.MaxInt64 {
		return 1
	}
	return cmp3(d < float64(i), d > float64(i))
}

func cmpDoubleUint(d float64, u uint64) int {
	if d < 0 {
		return -1
	}
	if d > math.MaxUint64 {
		return 1
	}
	return cmp3(d < float64(u), d > float64(u))
}

// addOverflows reports whether x + y overflows 64 bits.
func addOverflows[T int64 | time.Duration](x, y T) bool {
	return (y > 0 && x > math.MaxInt64-y) || (y < 0 && x < math.MinInt64-y)
}

// subOverflows reports whether x - y overflows 64 bits.
func subOverflows[T int64 | time.Duration](x, y T) bool {
	return (y < 0 && x > math.MaxInt64+y) || (y > 0 && x < math.MinInt64+y)
}

func arith(op string, a, b any) any {
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		if !ok {
			break
		}
		switch op {
		case opAdd:
			if addOverflows(x, y) {
				return errf("integer overflow")
			}
			return x + y
		case opSub:
			if subOverflows(x, y) {
				return errf("integer overflow")
			}
			return x - y
		case opMul:
			if x != 0 && y != 0 {
				p := x * y
				if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
					return errf("integer overflow")
				}
			}
			return x * y
		case opDiv:
			if y == 0 {
				return errf("division by zero")
			}
			if x == math.MinInt64 && y == -1 {
				return errf("integer overflow")
			}
			return x / y
		case opMod:
			if y == 0 {
				return errf("modulus by zero")
			}
			if x == math.MinInt64 && y == -1 {
				return errf("integer overflow")
			}
			return x % y
		}
	case uint64:
		y, ok := b.(uint64)
		if !ok {
			break
		}
		switch op {
		case opAdd:
			if x > math.MaxUint64-y {
				return errf("unsigned integer overflow")
			}
			return x + y
		case opSub:
			if y > x {
				return errf("unsigned integer overflow")
			}
			return x - y
		case opMul:
			if x != 0 && (x*y)/x != y {
				return errf("unsigned integer overflow")
			}
			return x * y
		case opDiv:
			if y == 0 {
				return errf("division by zero")
			}
			return x / y
		case opMod:
			if y == 0 {
				return errf("modulus by zero")
			}
			return x % y
		}
	case float64:
		y, ok := b.(float64)
		if !ok {
			break
		}
		switch op {
		case opAdd:
			return x + y
		case opSub:
			return x - y
		case opMul:
			return x * y
		case opDiv:
			return x / y
		}
	case string:
		if y, ok := b.(string); ok && op == opAdd {
			return x + y
		}
	case []byte:
		if y, ok := b.([]byte); ok && op == opAdd {
			return append(slices.Clip(x), y...)
		}
	case []any:
		if y, ok := b.([]any); ok && op == opAdd {
			out := make([]any, 0, len(x)+len(y))
			return append(append(out, x...), y...)
		}
	case *accuList:
		if y, ok := b.([]any); ok && op == opAdd {
			x.items = append(x.items, y...)
			return x
		}
	case time.Time:
		switch y := b.(type) {
		case time.Duration:
			switch op {
			case opAdd:
				return checkTime(x.Add(y))
			case opSub:
				return checkTime(x.Add(-y))
			}
		case time.Time:
			if op == opSub {
				return x.Sub(y)
			}
		}
	case time.Duration:
		switch y := b.(type) {
		case time.Duration:
			switch op {
			case opAdd:
				if addOverflows(x, y) {
					return errf("integer overflow")
				}
				return x + y
			case opSub:
				if subOverflows(x, y) {
					return errf("integer overflow")
				}
				return x - y
			}
		case time.Time:
			if op == opAdd {
				return checkTime(y.Add(x))
			}
		}
	}
	return noOverload(op, a, b)
}

var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func checkTime(t time.Time) any {
	if t.Before(minTime) || t.After(maxTime) {
		return errf("timestamp out of range")
	}
	return t
}

func convert(to string, v any) any {
	switch to {
	case "int":
		switch x := v.(type) {
		case int64:
			return x
		case uint64:
			if x > math.MaxInt64 {
				return errf("integer overflow")
			}
			return int64(x)
		case float64:
			if math.IsNaN(x) || x <= math.MinInt64 || x >= math.MaxInt64 {
				return errf("integer overflow")
			}
			return int64(x)
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return errf("cannot convert %q to int", x)
			}
			return n
		case time.Time:
			return x.Unix()
		case time.Duration:
			return int64(x)
		}
	case "uint":
		switch x := v.(type) {
		case uint64:
			return x
		case int64:
			if x < 0 {
				return errf("unsigned integer overflow")
			}
			return uint64(x)
		case float64:
			if math.IsNaN(x) || x < 0 || x >= math.MaxUint64 {
				return errf("unsigned integer overflow")
			}
			return uint64(x)
		case string:
			n, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return errf("cannot convert %q to uint", x)
			}
			return n
		}
	case "double":
		switch x := v.(type) {
		case float64:
			return x
		case int64:
			return float64(x)
		case uint64:
			return float64(x)
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return errf("cannot convert %q to double", x)
			}
			return f
		}
	case "string":
		switch x := v.(type) {
		case string:
			return x
		case bool:
			return strconv.FormatBool(x)
		case int64:
			return strconv.FormatInt(x, 10)
		case uint64:
			return strconv.FormatUint(x, 10)
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64)
		case []byte:
			if !utf8.Valid(x) {
				return errf("invalid UTF-8 in bytes, cannot convert to string")
			}
			return string(x)
		case time.Time:
			return x.Format(time.RFC3339Nano) // in its own offset, as cel-go writes it
		case time.Duration:
			return strconv.FormatFloat(x.Seconds(), 'f', -1, 64) + "s"
		}
	case "bool":
		switch x := v.(type) {
		case bool:
			return x
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return errf("cannot convert %q to bool", x)
			}
			return b
		}
	case "bytes":
		switch x := v.(type) {
		case []byte:
			return x
		case string:
			return []byte(x)
		}
	case "timestamp":
		switch x := v.(type) {
		case time.Time:
			return x
		case int64:
			return checkTime(time.Unix(x, 0).UTC())
		case string:
			t, err := time.Parse(time.RFC3339, x)
			if err != nil {
				return errf("cannot convert %q to timestamp", x)
			}
			return checkTime(t)
		}
	case "duration":
		switch x := v.(type) {
		case time.Duration:
			return x
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return errf("cannot convert %q to duration", x)
			}
			return d
		}
	}
	return noOverload(to, v)
}

// timeGetter implements the timestamp and duration accessors.
func timeGetter(name string, a []any) (any, bool) {
	if d, ok := a[0].(time.Duration); ok && len(a) == 1 {
		switch name {
		case "getHours":
			return int64(d / time.Hour), true
		case "getMinutes":
			return int64(d / time.Minute), true
		case "getSeconds":
			return int64(d / time.Second), true
		case "getMilliseconds":
			return int64(d / time.Millisecond), true
		}
		return nil, false
	}
	t, ok := a[0].(time.Time)
	if !ok || len(a) > 2 {
		return nil, false
	}
	t = t.UTC()
	if len(a) == 2 {
		tz, ok := a[1].(string)
		if !ok {
			return nil, false
		}
		loc, err := location(tz)
		if err != nil {
			return errf("%v", err), true
		}
		t = t.In(loc)
	}
	switch name {
	case "getFullYear":
		return int64(t.Year()), true
	case "getMonth":
		return int64(t.Month()) - 1, true
	case "getDayOfYear":
		return int64(t.YearDay()) - 1, true
	case "getDayOfMonth":
		return int64(t.Day()) - 1, true
	case "getDate":
		return int64(t.Day()), true
	case "getDayOfWeek":
		return int64(t.Weekday()), true
	case "getHours":
		return int64(t.Hour()), true
	case "getMinutes":
		return int64(t.Minute()), true
	case "getSeconds":
		return int64(t.Second()), true
	case "getMilliseconds":
		return int64(t.Nanosecond() / 1e6), true
	}
	return nil, false
}

// location reads a time zone: an IANA name or a [+-]hh:mm offset.
func location(tz string) (*time.Location, error) {
	if len(tz) > 0 && (tz[0] == '+' || tz[0] == '-' || isDigit(rune(tz[0]))) {
		sign := 1
		s := tz
		if s[0] == '+' || s[0] == '-' {
			if s[0] == '-' {
				sign = -1
			}
			s = s[1:]
		}
		h, m, ok := strings.Cut(s, ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("invalid time zone %q", tz)
		}
		return time.FixedZone("", sign*(hh*3600+mm*60)), nil
	}
	return time.LoadLocation(tz)
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

// Range calls f with each key and value of m.
func (m *Map) Range(f func(k, v any)) {
	for i, k := range m.keys {
		f(k, m.vals[i])
	}
}
