package expr

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// These tests pin what the engine relies on; the celdiff module holds
// the package to cel-go's verdicts and results over a large corpus.

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func evalJSON(t *testing.T, src, event string) (any, error) {
	t.Helper()
	e, err := EvalEnv.Compile(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(event), &ev); err != nil {
		t.Fatal(err)
	}
	return e.Eval(Vars{"event": ev, "vars": map[string]any{}}, Runtime{Now: func() time.Time { return testNow }, ParseDuration: time.ParseDuration})
}

func TestEval(t *testing.T) {
	const event = `{"data":{"total":20,"n":2.5,"s":"ViP","items":[1,2,3],"m":{"k":"v"},"z":null,"at":"2026-03-01T11:30:00Z"}}`
	for _, tc := range []struct {
		src  string
		want any // "error" for an error
	}{
		{`event.data.total > 10`, true},
		{`event.data.total == 20`, true}, // a JSON number (double) equals an int
		{`event.data.total == 20u`, true},
		{`event.data.n < 3`, true},
		{`event.data.total + 1`, "error"}, // double + int has no overload
		{`event.data.total + 1.0`, 21.0},
		{`event.data.missing == 1`, "error"},
		{`event.data.missing == 1 || true`, true}, // || absorbs the error
		{`false && event.data.missing`, false},
		{`event.data.missing && true`, "error"},
		{`has(event.data.z)`, true},
		{`has(event.data.missing)`, false},
		{`event.data.z == null`, true},
		{`event.data.items.exists(i, i > 2)`, true},
		{`event.data.items.all(i, i > 2)`, false},
		{`event.data.items.exists_one(i, i > 1)`, false},
		{`event.data.items.map(i, i * 2.0)[2]`, 6.0},
		{`event.data.items.filter(i, i != 2) == [1, 3]`, true},
		{`size(event.data.items) == 3 && event.data.s.size() == 3`, true},
		{`2 in event.data.items && 'k' in event.data.m`, true},
		{`lowercase(event.data.s) == 'vip' && uppercase(event.data.s) == 'VIP'`, true},
		{`date(event.data.at) > now_minus('1h') && date(event.data.at) < now()`, true},
		{`now_plus('1h') - now() == duration('1h')`, true},
		{`json_parse('{"a":[1]}').a[0] == 1`, true},
		{`b64decode('aGk=')`, "hi"},
		{`type(event.data.m) == map && type(1u) == uint`, true},
		{`int('42') + 1`, int64(43)},
		{`9223372036854775807 + 1`, "error"},
		{`1 / 0`, "error"},
		{`[1, 2][5]`, "error"},
		{`{'a': 1, 'a': 2}.a`, int64(2)},
		{`dyn({1: 'x'})[1u]`, "x"},
		{`'''a'b''' + r'\n' + '\x41\u00e9'`, `a'b\nAé`},
		{`-9223372036854775808`, int64(-9223372036854775808)},
		{`event.data.total > 10 ? 'big' : 'small'`, "big"},
	} {
		got, err := evalJSON(t, tc.src, event)
		if tc.want == "error" {
			if err == nil {
				t.Errorf("%s = %v, want an error", tc.src, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %#v, %v; want %#v", tc.src, got, err, tc.want)
		}
	}
}

func TestMissingKeyMessage(t *testing.T) {
	_, err := evalJSON(t, `event.data.total > 10`, `{"data":{"count":5}}`)
	if err == nil || err.Error() != "no such key: total" {
		t.Fatalf("got %v, want no such key: total", err)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		src           string
		server, eval  bool // compiles in ServerEnv, EvalEnv
		restrictiveOK bool
	}{
		{`event.data.x == 1`, true, true, true},
		{`1 == 1.0`, true, false, true}, // the server's == is loose
		{`"a" < 1`, true, false, true},
		{`1 < 1.5`, true, true, true}, // comparisons across numeric types
		{`event[1]`, false, true, true},
		{`foo == 1`, false, false, false},
		{`lowercase(1)`, false, false, false},
		{`event.data.x.startsWith(1)`, false, false, false},
		{`true ? 1 : 'a'`, false, false, false},
		{`[1, 'a'][0] == 1`, true, true, true},
		{`int(event.data.n) > 1 && event.data.x in [1 + 1]`, true, true, true},
		{`event.data.x + 1 == 2`, true, true, false},
		{`has(event.data.x)`, true, true, false},
		{`event.data.xs.exists(i, i > 1)`, true, true, false},
		{`type(event.data.x) == int`, true, true, false},
	} {
		e, err := Parse(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := ServerEnv.Check(e) == nil; got != tc.server {
			t.Errorf("%s: compiles in the server's environment: %v, want %v", tc.src, got, tc.server)
		}
		if got := EvalEnv.Check(e) == nil; got != tc.eval {
			t.Errorf("%s: compiles in the engine's environment: %v, want %v", tc.src, got, tc.eval)
		}
		if tc.server {
			if got := e.Restrictive() == nil; got != tc.restrictiveOK {
				t.Errorf("%s: restrictive policy ok: %v, want %v", tc.src, got, tc.restrictiveOK)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		`event.data.x ==`:     "ERROR: <input>:1:16: Syntax error: mismatched input '<EOF>'",
		`event.data.?x == 1`:  "unsupported syntax '.?'",
		`has(event)`:          "invalid argument to has() macro",
		`event.data.x = 1`:    "Syntax error: token recognition error at: '='",
		`"unterminated`:       "Syntax error: token recognition error",
		`[1].all(x.y, true)`:  "argument must be a simple name",
		`if == 1`:             "reserved identifier: if",
		`9223372036854775808`: "invalid int literal",
		"a +\n  b ==":         "<input>:2:7:",
		strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300): "recursion limit",
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", src, err, want)
		}
	}
}

func TestRestrictiveNamesWhatItRefuses(t *testing.T) {
	e, err := ServerEnv.Compile(`event.data.x + 1 == 2 && has(async.data.y) && size(async.data.z) > 0`)
	if err != nil {
		t.Fatal(err)
	}
	msg := e.Restrictive().Error()
	for _, want := range []string{"function calls are not allowed (+)", "macros are not allowed (has)", "function calls are not allowed (size)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}
