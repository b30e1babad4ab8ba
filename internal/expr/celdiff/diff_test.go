// Package celdiff holds the differential test of package internal/expr
// against cel-go. It is its own module, so that cel-go stays out of the
// SDK's module graph; its path lies under the SDK's internal/ directory,
// which lets it import github.com/go-inngest/inngest/internal/expr.
package celdiff

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/go-inngest/inngest/internal/expr"
)

var clock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func now() time.Time { return clock }

var (
	refServer = newServerEnv()
	refEval   = newEvalEnv(now, time.ParseDuration)
)

// datasets are the variables expressions are evaluated with: events as
// JSON, with and without async (a trigger has no async).
var datasets = func() []map[string]any {
	ev := func(s string) map[string]any {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			panic(err)
		}
		return m
	}
	a := ev(`{"name":"shop/x","id":"01","ts":1772364600000,"data":{"x":1,"y":1,"n":2.5,"s":"Hello","items":[1,2,3],"tags":["a","b"],
		"m":{"k":"v","n":1},"t":true,"z":null,"at":"2026-03-01T11:30:00Z","ms":1772364600000,"neg":-3,"big":1e20,
		"raw":"{\"n\":2}","token":"aGk=","empty":[],"nested":{"a":{"b":[{"c":1}]}},"id":7,"plan":"pro","amount":150,"account":"acme"}}`)
	b := ev(`{"name":"shop/y","id":"02","data":{"x":"1","y":2,"n":-0.5,"s":"","items":"abc","tags":[],"m":{},"t":false,"z":0,
		"at":"yesterday","ms":5,"id":7,"plan":"free","amount":50,"account":"acme","items2":[{"id":1},{"id":2}]}}`)
	return []map[string]any{
		{"event": a, "vars": map[string]any{}},
		{"event": a, "async": b, "vars": map[string]any{}},
		{"event": b, "async": a, "vars": map[string]any{}},
	}
}()

// engineExpressions are the expressions of the engine's tests and
// examples, and of the parity test against the server.
var engineExpressions = []string{
	`event.data.x == 1`, `event.data.x == "a" && async.data.y == event.data.y`, `vars.a == 1`,
	`event.data.x + 1 == 2`, `1 == 1.0`, `"a" < 1`, `event.data.name.startsWith("a")`,
	`size(event.data.items) > 1`, `has(event.data.x)`, `event.data.items.exists(i, i > 1)`,
	`lowercase(event.data.s) == "a"`, `date(event.data.ts) > now_minus("1h")`, `json_parse(event.data.s).a == 1`,
	`type(event.data.x) == int`, `event.data.x in [1, 2]`, `event.data.plan == 'pro' ? 120 : 0`,
	`event.data.x ==`, `(event.data.x == 1`, `event.data.x = 1`, `events.length == 1`, `foo == 1`,
	`nosuch(event.data.s)`, `event.data.x.startsWith(1)`, `lowercase(1)`, `event.data.?x == 1`, `has(event)`,
	`event.data.items.exists(1)`, `event.data.x == "unterminated`,
	`event.data.id == async.data.id`, `async.data.account == event.data.account && event.data.amount > 100`,
	`event.data.x in [1 + 1]`, `int(async.data.n) == 1`, `event.data.x == 1 ? true : false`,
	`!(event.data.x == async.data.x)`, `event.data.xs[0] == async.data.x`, `-async.data.x == 1`,
	`async.data.name.startsWith("a")`, `size(async.data.items) > 1`, `string(async.data.x) == "1"`,
	`lowercase(async.data.s) == "a"`, `async.data.ts > now()`, `has(async.data.x)`,
	`async.data.items.exists(i, i > 1)`, `events[0].data.x == 1`, `async.data.x ==`,
	`nosuch(event.data.x) == 1`, `event.data.user ==`, `nosuch(event.data.plan)`,
	`async.data.id == event.data.id &&`, `size(async.data.items) > 0`, `event.data.total > 10`,
	`lowercase(event.data.tier) == 'vip'`, `uppercase(event.data.tier) == 'VIP'`, `b64decode(event.data.token) == 'hi'`,
	`json_parse(event.data.raw).n == 2.0`, `date(event.data.at) > now_minus("1h") && date(event.data.at) < now_plus("1m")`,
	`date(event.data.ms) == date("2026-03-01T11:30:00Z")`, `events[0].data.x == 1`, `event.data.items.exists(i, i > 1)`,
	`lowercase(event.data.s) == 'a'`, `event.data.x + 1 == async.data.x`,
	`event.data.x == async.data.x && int(async.data.n) > 1`, `nosuch(event.data.x)`, `foo.bar`, `event.data.id ==`,
	`has(event.data.x)`, `events.x`, `event.data.amount > 0 && event.data.currency != 'XXX'`,
	`event.data.function_id == 'shop-charge'`, `event.data.size < 1000`, `async.data.id == 'nobody-sends-this'`,
	`event.data.charge_id == async.data.charge_id`, `event.data.order_id == async.data.order_id`,
	`async.data.order_id == event.data.order_id`, `event.data.total > 10`, `event.data.user`, `event.data.plan`,
}

// handwritten are expressions that probe corners of the grammar and of
// the semantics.
var handwritten = []string{
	`1`, `-1`, `--1`, `---1`, `- 1`, `-(1)`, `-1u`, `1u`, `0x1F`, `0x1Fu`, `-0x10`, `9223372036854775807`,
	`9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`, `18446744073709551615u`, `18446744073709551616u`,
	`1.5`, `.5`, `1e3`, `1.5e-3`, `1.`, `1.e3`, `-1.5`, `1e400`, `007`, `0x`, `1 .5`,
	`'a'`, `"a"`, `'''a'b'''`, `"""a"b"""`, `r'\n'`, `R"\d"`, `b'abc'`, `B"\x00\xff"`, `br'\x'`, `rb'a'`,
	`'\n\t\\\'\"\?\a\b\f\v\r'`, `'\x41\101\u00e9\U0001F600'`, `'\z'`, `'\x4'`, `'\u12'`, `b'\u00e9'`, `'\uD800'`,
	"'a\nb'", "'''a\nb'''", "r'''a\nb'''", `'`, `''`, `""`, `''''''`, `'\''`, "'\\`'",
	`true`, `false`, `null`, `[]`, `[1,]`, `[,]`, `[1, 'a']`, `{}`, `{'a': 1,}`, `{'a': 1, 'a': 2}`, `{1: 'a', 1u: 'b'}`,
	`{1.5: 1}`, `{[1]: 1}`, `{null: 1}`, `{true: 1}[true]`, `{1: 'a'}[1u]`, `{1: 'a'}[1.0]`, `{1: 'a'}[1.5]`, `{'a': 1}.a`,
	`{'a': 1}.b`, `{1: 2}.a`, `[1, 2][0]`, `[1, 2][2]`, `[1, 2][-1]`, `[1, 2][1u]`, `[1, 2][1.0]`, `[1, 2][0.5]`,
	`[1, 2]['a']`, `'abc'[0]`, `1 + 2 * 3 - 4 / 2 % 3`, `1 / 0`, `1 % 0`, `1.0 / 0.0`, `1u - 2u`, `9223372036854775807 + 1`,
	`-9223372036854775807 - 2`, `-(-9223372036854775808)`, `9223372036854775807 * 2`, `1 + 1u`, `1 + 1.0`, `'a' + 'b'`,
	`b'a' + b'b'`, `[1] + [2]`, `[1] + ['a']`, `1 == 1u`, `1 == 1.0`, `1 < 1.5`, `1u < -1`, `2.5 > 2`, `'a' < 'b'`,
	`true < false`, `null == null`, `1 == null`, `null == 1`, `[1] == [1.0]`, `{'a': 1} == {'a': 1.0}`, `[] == []`,
	`{} == {}`, `1 in [1, 2]`, `1 in {1: 2}`, `'a' in {'a': 1}`, `1 in [1.0]`, `1 in 1`, `!true`, `!!true`, `!1`, `!!1`,
	`true && false`, `true || 1`, `1 || true`, `1 && false`, `false && 1`, `true ? 1 : 'a'`, `true ? 1 : 2`,
	`1 ? 2 : 3`, `true ? [1] : []`, `null ? 1 : 2`, `1 < 2 < 3`, `1 == 1 == true`, `(1 == 1) == true`,
	`size('héllo')`, `size(b'ab')`, `size([1])`, `size({})`, `'abc'.size()`, `size(1)`, `'abc'.contains('b')`,
	`'abc'.startsWith('a')`, `'abc'.endsWith('c')`, `'abc'.matches('^a.c$')`, `matches('abc', 'b')`, `'abc'.matches('(')`,
	`contains('abc', 'b')`, `int('12')`, `int('x')`, `int(1.9)`, `int(-1.9)`, `int(1e19)`, `int(1u)`, `int(18446744073709551615u)`,
	`uint(1)`, `uint(-1)`, `uint(1.5)`, `uint('7')`, `double(1)`, `double('1.5')`, `double(1u)`, `string(1)`, `string(1.5)`,
	`string(1e21)`, `string(0.1)`, `string(true)`, `string(b'ab')`, `string(b'\xff')`, `string(1u)`, `bool('true')`, `bool('t')`,
	`bool('yes')`, `bytes('a')`, `dyn(1) + 1.0`, `dyn(1) == 1.0`, `type(1)`, `type('a') == string`, `type(1) == int`,
	`type(type)`, `type(null)`, `type([])`, `type({})`, `type(1u) == uint`, `int == type(1)`, `list`, `map`, `null_type`,
	`google.protobuf.Timestamp`, `google.protobuf.Duration`, `timestamp`, `duration`, `dyn`,
	`timestamp('2026-03-01T11:30:00Z')`, `timestamp('2026-03-01')`, `timestamp(0)`, `duration('1h30m')`, `duration('1d')`,
	`timestamp('2026-03-01T11:30:00Z') + duration('1h')`, `timestamp('2026-03-01T11:30:00Z') - timestamp('2026-03-01T10:30:00Z')`,
	`duration('1h') + duration('1m')`, `duration('1h') < duration('2h')`, `string(duration('1h'))`, `int(duration('1s'))`,
	`string(timestamp('2026-03-01T11:30:00.5Z'))`, `int(timestamp('2026-03-01T11:30:00Z'))`,
	`timestamp('2026-03-01T11:30:00Z').getFullYear()`, `timestamp('2026-03-01T11:30:00Z').getMonth()`,
	`timestamp('2026-03-01T11:30:00Z').getDate()`, `timestamp('2026-03-01T11:30:00Z').getDayOfMonth()`,
	`timestamp('2026-03-01T11:30:00Z').getDayOfWeek()`, `timestamp('2026-03-01T11:30:00Z').getDayOfYear()`,
	`timestamp('2026-03-01T11:30:00Z').getHours()`, `timestamp('2026-03-01T11:30:00Z').getHours('America/New_York')`,
	`timestamp('2026-03-01T11:30:00Z').getMinutes('+05:30')`, `duration('90m').getHours()`, `duration('90m').getMinutes()`,
	`now() > timestamp('2026-01-01T00:00:00Z')`, `now_plus('1h') - now()`, `now_minus('x')`, `date('2026-03-01')`,
	`date(1772364600)`, `date(5)`, `date(true)`, `date('nope')`,
	`[1, 2, 3].all(x, x > 0)`, `[1, 2, 3].exists(x, x > 2)`, `[1, 2, 3].exists_one(x, x > 2)`, `[1, 2, 3].map(x, x * 2)`,
	`[1, 2, 3].map(x, x > 1, x * 2)`, `[1, 2, 3].filter(x, x > 1)`, `{'a': 1}.all(k, k == 'a')`, `[1, 'a'].all(x, x > 0)`,
	`[1, 'a'].exists(x, x > 0)`, `['a', 1].exists(x, x > 0)`, `[0, 'a'].all(x, x > 0)`, `[1, 'a'].exists_one(x, x > 0)`,
	`[].all(x, x)`, `[].exists(x, x)`, `[1].all(x, 1)`, `'abc'.all(x, true)`, `1.all(x, true)`, `[1].all(1, true)`,
	`[1].all(x.y, true)`, `[1].map(x)`, `[1].all(__result__, true)`, `[[1, 2], [3]].all(x, x.all(y, y > 0))`,
	`[1, 2].exists(event, event == 2)`, `has({'a': 1}.a)`, `has({'a': 1}.b)`, `has(1.a)`, `has(event.data.x.y)`, `has(x)`,
	`has(event.data)`, `has(event.data.missing.deeper)`, `has(event.data.z)`, `event.data.z == null`,
	`a.b.c`, `.event.data.x`, `event..data`, `event.`, `event.1`, `event.data.in`, `event.data.as`, `event.data.true`,
	"event.data.`x-y`", "event.`data`.x", `.int(1e20)`, `.size([1]) == 1`, `.event.data.x`, `.has(event.data.x)`, `[1].all(.x, true)`, `[1].all(.x, x)`, `[1].map(.x, .x)`, `{}.all(i, i != list)`, `[int].all(i, i == int)`, `[int, 1].all(i, true)`, `[int].all(i, true)`,
	`[type(1)].exists(x, x == int)`, `[[int]].all(l, l[0] == int)`, `[int].all(i, [i].size() == 1)`, `event.data.x.y()`, `x.y()`, `event.size()`, `event.data.size()`,
	`Foo{a: 1}`, `.Foo{}`, `{a: 1}`, `in`, `as`, `as(1)`, `if == 1`, `null.x`,
	`1 +`, `+ 1`, `1 ++ 1`, `(1))`, `((1)`, `[1`, `{1: 2`, `{1}`, `1 ? 2`, `1 : 2`, `a b`, `a,b`, `#`, `1 & 2`, `1 | 2`,
	`a = b`, `@x`, `$`, `1 // comment`, "1 // comment\n + 2", "\t1\n==\r\n1\f", `event.data.x == 1 && event.data.y == 1 || false`,
	`event[1]`, `event['data']['x']`, `event.data['x']`, `event - 1`, `event + 1`, `event > 1`, `vars + vars`,
	`async.data.x`, `vars.a`, `event.data.items[0] + 1`, `event.data.items[3]`, `event.data.n * 2.0`, `event.data.x * 2`,
	`event.data.big > 1`, `int(event.data.big)`, `event.data.neg < 0u`, `event.data.n > 2`, `event.data.n == 2.5`,
	`event.data.nested.a.b[0].c == 1`, `event.data.items2.exists(i, i.id == 2)`, `event.data.items.map(i, i + 1.0)`,
	`event.data.tags.filter(t, t != 'a')`, `event.data.m.all(k, k != '')`, `event.data.m.exists(k, event.data.m[k] == 'v')`,
	`size(event.data.m) == 2`, `event.data.s.size()`, `event.data.items.size() + 1`, `'x' in event.data.tags`,
	`'k' in event.data.m`, `1 in event.data.m`, `event.data.x in event.data.items`, `event.data.items == [1, 2, 3]`,
	`event.data.m == {'k': 'v', 'n': 1}`, `event.data.m == {'k': 'v', 'n': 1u}`, `event.data.empty == []`,
	`event.data.t && true`, `event.data.t || event.data.missing`, `event.data.missing || true`, `event.data.missing && false`,
	`false && event.data.missing`, `event.data.missing ? 1 : 2`, `event.data.x ? 1 : 2`, `!event.data.t`, `-event.data.n`,
	`-event.data.s`, `event.data.at.startsWith('2026')`, `event.data.s.matches('^H')`, `event.data.items.all(i, i < 10)`,
	`type(event.data.items) == list`, `type(event.data.m) == map`, `type(event.data.z) == null_type`,
	`type(event.data.n) == double`, `type(event.data.s) == string`, `type(event.data.t) == bool`, `event.name == 'shop/x'`,
	`event.id == async.id`, `event.ts > 0`, `async.ts`, `event.data.x == async.data.x`, `int(event.data.x) == int(async.data.x)`,
	`string(event.data.x) == '1'`, `double(event.data.x)`, `uint(event.data.x)`, `bool(event.data.t)`,
	`json_parse(event.data.raw)`, `json_parse('[1]')`, `json_parse(1)`, `b64decode('!!')`, `date(event.data.at)`,
	`date(event.data.ms).getHours()`, `now_plus(event.data.s)`, `lowercase(event.data.x)`,
	`double('NaN') == 1`, `double('NaN') == double('NaN')`, `double('NaN') < 1`, `double('NaN') < 1.0`,
	`double('NaN') > 1u`, `1 == double('NaN')`, `dyn(1) == double('NaN')`, `[double('NaN')] == [double('NaN')]`,
	`double('NaN') in [double('NaN')]`, `double('inf') > 9223372036854775807`, `int(double('NaN'))`,
	`double('-inf') < -9223372036854775808`, `string(double('NaN'))`, `string(double('inf'))`, `string(-0.0)`,
	`9223372036854775807 == 9223372036854775807.0`, `9007199254740993 == 9007199254740992.0`,
	`18446744073709551615u == 18446744073709551615.0`, `dyn(1.5) == 1`, `-0.0 == 0`, `dyn(1) < 1.5`, `dyn(2) > 1.5`,
	`string(timestamp('2026-03-01T11:30:00+02:00'))`, `timestamp('2026-03-01T11:30:00+02:00').getHours()`,
	`timestamp('2026-03-01T11:30:00.123456789Z').getMilliseconds()`, `timestamp('0001-01-01T00:00:00Z') - duration('1s')`,
	`timestamp('9999-12-31T23:59:59Z') + duration('1s')`, `timestamp(253402300800)`, `duration('-1h').getHours()`,
	`duration('1.5h')`, `duration('1h') - duration('2h')`, `duration('9223372036s')`, `string(duration('1ms'))`,
	`{1: 'a'} == {1u: 'a'}`, `{1: 'a'} == {1.0: 'a'}`, `{'a': 1}.size()`, `size({'a': 1})`, `[1, 2, 3][1u]`,
	`dyn([1])[dyn(0u)]`, `'abc' + 1`, `b'a' < b'b'`, `1 in {1u: 2}`, `1.0 in {1: 2}`, `1.5 in {1: 2}`, `'a' in ['a', 1]`,
	`uint(18446744073709551615.0)`, `int(-9223372036854775808.0)`, `int(9223372036854775807.0)`, `uint(-0.5)`,
	`int(-0.5)`, `double(18446744073709551615u)`, `string(1e100)`, `string(1e-7)`, `string(123456789.0)`,
	`string(0.000001)`, `string(100.0)`, `string(-1.5e300)`, `true ? 1 : 1 / 0`, `false ? 1 / 0 : 2`,
	`é == 1`, `event.data.s[0]`, `'%d'.format([1])`, `size('😀')`, `"\uD83D\uDE00"`, `r'\'`, `'''a\'''b'''`,
	`'\377'`, `b'\377'`, `b'ÿ'`, `'\X41'`, `b'\X41'`, `'''unterminated`, `"a" "b"`, `'a'.size() == 1`,
	`"x".matches("[")`, `'aaa'.matches('a{2}')`, `'ab'.matches('(?i)AB')`, `bytes('é').size()`, `string(bytes('é'))`,
	`bool('TRUE')`, `bool('True')`, `bool('1')`, `bool('f')`, `int(' 1')`, `int('+1')`, `int('0x10')`, `uint('-0')`,
	`double(' 1')`, `double('inf')`, `double('-Infinity')`, `double('1e400')`, `double('0x1p3')`, `int('9223372036854775808')`,
	`[1, 2] + [3]`, `[1] + []`, `[] + []`, `'' + ''`, `b'' + b'a'`, `-(1.0)`, `--1.5`, `-(-9223372036854775807)`,
	`9223372036854775807u`, `1u + 18446744073709551615u`, `0u - 1u`, `2u * 9223372036854775808u`, `5u / 0u`, `5u % 0u`,
	`-5 % 3`, `5 % -3`, `-5 / 2`, `5.0 % 2.0`, `7 / 2.0`, `1e308 * 10.0`, `-9223372036854775808 / -1`,
	`-9223372036854775808 % -1`, `-9223372036854775808 * -1`, `type(dyn(1)) == int`, `type(1) == type(2)`,
	`type(int) == type`, `type(null_type)`, `dyn(null) == null`, `[null] == [null]`, `{null: 1}[null]`,
	`{true: 1}[1]`, `{'a': {'b': 1}}.a.b`, `{'a': [1]}.a[0]`, `has({'a': {'b': 1}}.a.b)`, `has({'a': 1}.a.b)`,
	`[[1, 2], [3]].map(x, size(x))`, `[1, 2, 3].map(x, x > 1, x)`, `[1, 2].filter(x, x)`, `[1, 2].map(x, y)`,
	`[1, 2].exists(x, x == 2 || 1 / 0 == 1)`, `[1, 2].all(x, x == 3 && 1 / 0 == 1)`, `[1, 0].all(x, 1 / x > 0)`,
	`[0, 1].exists(x, 1 / x > 0)`, `[1, 2].exists_one(x, 1 / (x - 1) > 0)`, `{'a': 1, 'b': 2}.exists(k, k == 'b')`,
	`{'a': 1}.map(k, k)`, `{'a': 1}.filter(k, true)`, `[1, 2, 3].map(x, [x]).exists(l, l[0] == 2)`,
	`event.data.items.map(x, x).size()`, `event.data.m.map(k, k)`, `event.data.tags.map(t, t + '!')`,
	`dyn(-1) < 0u`, `dyn(1u) == 1`, `1.0 / 0.0 == double('inf')`, `0.0 / 0.0 != 0.0 / 0.0`, `dyn(9223372036854775807) < 9223372036854775808.0`,
}

// canon renders a cel-go value for comparison.
func refCanon(v ref.Val) string { return refCanonOrdered(v, false) }

// refCanonOrdered renders v, with the elements of lists in sorted order
// when unordered.
func refCanonOrdered(v ref.Val, unordered bool) string {
	if types.IsError(v) || types.IsUnknown(v) {
		return "error"
	}
	switch x := v.(type) {
	case types.Int:
		return "int:" + strconv.FormatInt(int64(x), 10)
	case types.Uint:
		return "uint:" + strconv.FormatUint(uint64(x), 10)
	case types.Double:
		return "double:" + strconv.FormatFloat(float64(x), 'g', -1, 64)
	case types.String:
		return "string:" + strconv.Quote(string(x))
	case types.Bytes:
		return "bytes:" + strconv.Quote(string(x))
	case types.Bool:
		return "bool:" + strconv.FormatBool(bool(x))
	case types.Null:
		return "null"
	case types.Timestamp:
		return "timestamp:" + x.Time.UTC().Format(time.RFC3339Nano)
	case types.Duration:
		return "duration:" + strconv.FormatInt(int64(x.Duration), 10)
	case *types.Type:
		return "type:" + x.TypeName()
	case traits.Lister:
		n := int(x.Size().(types.Int))
		parts := make([]string, n)
		for i := 0; i < n; i++ {
			parts[i] = refCanonOrdered(x.Get(types.Int(i)), unordered)
		}
		if unordered {
			sort.Strings(parts)
		}
		return "list:[" + strings.Join(parts, ",") + "]"
	case traits.Mapper:
		var parts []string
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			parts = append(parts, refCanonOrdered(k, unordered)+"="+refCanonOrdered(x.Get(k), unordered))
		}
		sort.Strings(parts)
		return "map:{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprintf("other:%T", v)
}

// canon renders a value of package expr for comparison.
func canon(v any) string { return canonOrdered(v, false) }

func canonOrdered(v any, unordered bool) string {
	switch x := v.(type) {
	case int64:
		return "int:" + strconv.FormatInt(x, 10)
	case uint64:
		return "uint:" + strconv.FormatUint(x, 10)
	case float64:
		return "double:" + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return "string:" + strconv.Quote(x)
	case []byte:
		return "bytes:" + strconv.Quote(string(x))
	case bool:
		return "bool:" + strconv.FormatBool(x)
	case nil:
		return "null"
	case time.Time:
		return "timestamp:" + x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return "duration:" + strconv.FormatInt(int64(x), 10)
	case expr.Type:
		return "type:" + string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canonOrdered(e, unordered)
		}
		if unordered {
			sort.Strings(parts)
		}
		return "list:[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		var parts []string
		for k, e := range x {
			parts = append(parts, canonOrdered(k, unordered)+"="+canonOrdered(e, unordered))
		}
		sort.Strings(parts)
		return "map:{" + strings.Join(parts, ",") + "}"
	case *expr.Map:
		var parts []string
		x.Range(func(k, e any) { parts = append(parts, canonOrdered(k, unordered)+"="+canonOrdered(e, unordered)) })
		sort.Strings(parts)
		return "map:{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprintf("other:%T", v)
}

// verdicts is what both implementations say of one expression.
type verdicts struct {
	parse, compile, restrictive, evalCompile bool
	results                                  []string
	unordered                                []string // results with lists in sorted order
}

func (v verdicts) String() string {
	return fmt.Sprintf("parses=%v compiles=%v restrictive-ok=%v eval-compiles=%v results=%v", v.parse, v.compile, v.restrictive, v.evalCompile, v.results)
}

func reference(src string) verdicts {
	var v verdicts
	if _, iss := refServer.Parse(src); iss != nil && iss.Err() != nil {
		return v
	}
	v.parse = true
	checked, iss := refServer.Compile(src)
	if iss == nil || iss.Err() == nil {
		v.compile = true
		v.restrictive = refRestrictive(checked.NativeRep().Expr()) == nil
	}
	ast, iss := refEval.Compile(src)
	if iss != nil && iss.Err() != nil {
		return v
	}
	prog, err := refEval.Program(ast)
	if err != nil {
		return v
	}
	v.evalCompile = true
	for _, vars := range datasets {
		out, _, err := prog.Eval(vars)
		if err != nil {
			v.results = append(v.results, "error")
			v.unordered = append(v.unordered, "error")
			continue
		}
		v.results = append(v.results, refCanon(out))
		v.unordered = append(v.unordered, refCanonOrdered(out, true))
	}
	return v
}

func ours(src string) verdicts {
	var v verdicts
	e, err := expr.Parse(src)
	if err != nil {
		return v
	}
	v.parse = true
	if err := expr.ServerEnv.Check(e); err == nil {
		v.compile = true
		v.restrictive = e.Restrictive() == nil
	}
	if expr.EvalEnv.Check(e) != nil {
		return v
	}
	v.evalCompile = true
	for _, vars := range datasets {
		out, err := e.Eval(expr.Vars(vars), expr.Runtime{Now: now, ParseDuration: time.ParseDuration})
		if err != nil {
			v.results = append(v.results, "error")
			v.unordered = append(v.unordered, "error")
			continue
		}
		v.results = append(v.results, canon(out))
		v.unordered = append(v.unordered, canonOrdered(out, true))
	}
	return v
}

// compare requires the same verdicts and results from both. CEL leaves
// the order in which a macro visits a map's keys open: cel-go follows
// Go's random map order, package expr sorts the keys. So where map or
// filter may have run over a map, lists compare in any order.
func compare(t testing.TB, src string) bool {
	t.Helper()
	want, got := reference(src), ours(src)
	if (strings.Contains(src, "map(") || strings.Contains(src, "filter(")) && fmt.Sprint(want.unordered) == fmt.Sprint(got.unordered) {
		want.results, got.results = nil, nil
	}
	if want.String() != got.String() {
		t.Errorf("%s\n  cel-go: %v\n  expr:   %v", src, want, got)
		return false
	}
	return true
}

func TestEngineExpressions(t *testing.T) {
	for _, src := range engineExpressions {
		compare(t, src)
	}
}

func TestHandwritten(t *testing.T) {
	for _, src := range handwritten {
		compare(t, src)
	}
}

// TestGenerated compares a generated corpus: random expressions over the
// whole grammar, and mutations of them that often break the syntax.
func TestGenerated(t *testing.T) {
	n, seed := 10000, uint64(1)
	if testing.Short() {
		n = 1000
	}
	// CELDIFF_N and CELDIFF_SEED explore further corpora.
	if v, err := strconv.Atoi(os.Getenv("CELDIFF_N")); err == nil {
		n = v
	}
	if v, err := strconv.ParseUint(os.Getenv("CELDIFF_SEED"), 10, 64); err == nil {
		seed = v
	}
	g := &gen{r: rand.New(rand.NewPCG(seed, 2))}
	fails := 0
	var parsed, compiled, evaluated, values int
	for i := 0; i < n && fails < 30; i++ {
		src := g.expr(4)
		if i%2 == 1 {
			src = g.realistic(3)
		}
		if g.r.IntN(4) == 0 {
			src = g.mutate(src)
		}
		if !compare(t, src) {
			fails++
		}
		v := ours(src)
		parsed += b2i(v.parse)
		compiled += b2i(v.compile)
		evaluated += b2i(v.evalCompile)
		for _, r := range v.results {
			values += b2i(r != "error")
		}
	}
	t.Logf("%d expressions: %d parse, %d compile in the server's environment, %d in the engine's; %d of %d evaluations give a value",
		n, parsed, compiled, evaluated, values, evaluated*len(datasets))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzDifferential compares any input.
func FuzzDifferential(f *testing.F) {
	for _, s := range engineExpressions {
		f.Add(s)
	}
	for _, s := range handwritten {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 2000 || knownDifference(src) {
			return
		}
		compare(t, src)
	})
}

// gen generates expressions.
type gen struct{ r *rand.Rand }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

var paths = []string{
	"event.data.x", "event.data.y", "event.data.n", "event.data.s", "event.data.items", "event.data.tags", "event.data.m",
	"event.data.m.k", "event.data.m.n", "event.data.t", "event.data.z", "event.data.missing", "event.data.neg",
	"event.data.nested.a.b[0].c", "event.data.items[0]", "event.data.items2", "event.data.big", "event.name", "event.ts",
	"async.data.x", "async.data.y", "async.data.items", "async.data.s", "async.data.id", "async.name", "vars.a", "event",
	"async", "vars", "event.data", "event.data.id", "event.data.amount", "event.data.plan",
}

func (g *gen) literal() string {
	switch g.r.IntN(12) {
	case 0:
		return strconv.Itoa(g.r.IntN(5) - 1)
	case 1:
		return g.pick("0", "1", "2", "-1", "9223372036854775807", "-9223372036854775808", "0x10", "100")
	case 2:
		return g.pick("0u", "1u", "2u", "18446744073709551615u")
	case 3:
		return g.pick("0.0", "1.0", "2.5", "-0.5", "1e3", ".5", "1e20", "-1.5")
	case 4:
		return g.pick(`'a'`, `"b"`, `''`, `'Hello'`, `'1'`, `'pro'`, `'''x'''`, `r'\d'`, `'\x41'`, `'é'`, `'2026-03-01T11:30:00Z'`, `'1h'`, `'k'`)
	case 5:
		return g.pick(`b'a'`, `b''`, `b'\xff'`)
	case 6:
		return g.pick("true", "false")
	case 7:
		return "null"
	case 8:
		return g.pick("int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type")
	case 9:
		return g.pick("[]", "[1, 2]", "['a', 'b']", "[1, 'a']", "[1.0, 2]", "[[1]]", "{}", "{'k': 'v'}", "{1: 'a'}", "{'a': [1]}")
	}
	return paths[g.r.IntN(len(paths))]
}

func (g *gen) expr(depth int) string {
	if depth <= 0 || g.r.IntN(5) == 0 {
		return g.literal()
	}
	d := depth - 1
	switch g.r.IntN(16) {
	case 0, 1:
		return g.expr(d) + " " + g.pick("==", "!=", "<", "<=", ">", ">=") + " " + g.expr(d)
	case 2:
		return g.expr(d) + " " + g.pick("&&", "||") + " " + g.expr(d)
	case 3:
		return g.expr(d) + " " + g.pick("+", "-", "*", "/", "%") + " " + g.expr(d)
	case 4:
		return g.pick("!", "-", "!!", "--") + g.member(d)
	case 5:
		return g.expr(d) + " ? " + g.expr(d) + " : " + g.expr(d)
	case 6:
		return g.expr(d) + " in " + g.expr(d)
	case 7:
		return g.member(d) + "[" + g.expr(d) + "]"
	case 8:
		return g.pick("size", "int", "uint", "double", "string", "bool", "bytes", "type", "dyn", "timestamp", "duration",
			"lowercase", "uppercase", "b64decode", "json_parse", "date", "now_plus", "now_minus") + "(" + g.expr(d) + ")"
	case 9:
		return g.member(d) + "." + g.pick("contains", "startsWith", "endsWith", "matches") + "(" + g.expr(d) + ")"
	case 10:
		return g.member(d) + "." + g.pick("size()", "getHours()", "x", "k", "data", "items")
	case 11:
		v := g.pick("i", "x")
		return g.member(d) + "." + g.pick("all", "exists", "exists_one") + "(" + v + ", " + g.withVar(v, d) + ")"
	case 12:
		// map and filter over lists only: over a map, the order of
		// their results is open (see compare).
		v := g.pick("i", "x")
		if g.r.IntN(2) == 0 {
			return g.list() + ".map(" + v + ", " + g.withVar(v, d) + ", " + g.withVar(v, d) + ")"
		}
		return g.list() + "." + g.pick("map", "filter") + "(" + v + ", " + g.withVar(v, d) + ")"
	case 13:
		return "has(" + g.pick(paths...) + ")"
	case 14:
		return "[" + g.expr(d) + ", " + g.expr(d) + "]"
	case 15:
		return "{" + g.expr(d) + ": " + g.expr(d) + "}"
	}
	return g.literal()
}

// realistic generates expressions like those functions use: fields
// compared with literals, tested, searched, and combined with logic.
func (g *gen) realistic(depth int) string {
	cmp := func() string { return g.pick("==", "!=", "<", "<=", ">", ">=") }
	if depth <= 0 || g.r.IntN(3) == 0 {
		p := g.pick(paths...)
		switch g.r.IntN(8) {
		case 0, 1:
			return p + " " + cmp() + " " + g.literal()
		case 2:
			return "size(" + p + ") " + cmp() + " " + g.pick("0", "1", "2", "3u", "2.0")
		case 3:
			return p + "." + g.pick("startsWith", "endsWith", "contains", "matches") + "(" + g.pick(`'H'`, `'o'`, `'^[A-Z]'`, `''`, `1`) + ")"
		case 4:
			return "has(" + p + ")"
		case 5:
			return p + "." + g.pick("exists", "all", "exists_one") + "(i, i " + cmp() + " " + g.literal() + ")"
		case 6:
			return g.literal() + " in " + p
		}
		return g.pick("int", "double", "string", "lowercase", "date") + "(" + p + ") " + cmp() + " " + g.literal()
	}
	d := depth - 1
	switch g.r.IntN(4) {
	case 0:
		return "!(" + g.realistic(d) + ")"
	case 1:
		return g.realistic(d) + " ? " + g.realistic(d) + " : " + g.realistic(d)
	}
	return g.realistic(d) + " " + g.pick("&&", "||") + " " + g.realistic(d)
}

func (g *gen) withVar(v string, depth int) string {
	if g.r.IntN(2) == 0 {
		return v + " " + g.pick("==", ">", "<", "+", "!=") + " " + g.expr(depth-1)
	}
	return g.expr(depth)
}

// list is a list-valued (or missing) operand.
func (g *gen) list() string {
	return g.pick("event.data.items", "event.data.tags", "event.data.items2", "event.data.empty", "async.data.items",
		"event.data.missing", "[]", "[1, 2]", "['a', 'b']", "[1, 'a']", "[[1]]", "[1.0, 2]", "[null]")
}

func (g *gen) member(depth int) string {
	if g.r.IntN(2) == 0 {
		return g.literal()
	}
	return "(" + g.expr(depth) + ")"
}

// mutate deletes, duplicates or inserts a piece of src.
func (g *gen) mutate(src string) string {
	if src == "" {
		return src
	}
	i := g.r.IntN(len(src))
	switch g.r.IntN(3) {
	case 0:
		return src[:i] + src[i+1:]
	case 1:
		j := min(len(src), i+1+g.r.IntN(4))
		return src[:i] + src[i:j] + src[i:]
	}
	return src[:i] + g.pick("(", ")", "[", "]", ".", ",", "?", ":", "'", "\"", "!", "-", "=", "&", "|", " in ", ".?", "{", "}", "`", "1", "x") + src[i:]
}
