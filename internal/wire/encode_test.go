package wire

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeStd is how the handler encodes ops without AppendOps.
func encodeStd(t testing.TB, ops []Op) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(ops))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendOpsMatchesEncodingJSON(t *testing.T) {
	run := Op{ID: "a9993e364706816aba3e25717850c26c9cd0d89d", Op: OpStepRun, Name: "s1", DisplayName: "s1",
		Data: json.RawMessage(`{"id":1,"name":"item-1","ok":true}`), Timing: &Interval{A: 1795611766577000000, B: 1234},
		Userland: Userland{ID: "s1"}}
	repeated := run
	repeated.Userland.Index = 2
	planned := Op{ID: "b", Op: OpStepPlanned, Name: "p", DisplayName: "p", Userland: Userland{ID: "p"}}
	for _, ops := range [][]Op{
		{}, {run}, {run, repeated, planned},
		{{ID: "x", Op: OpStepRun, Data: json.RawMessage(`"<&>\u2028"`)}},
		{{ID: "x", Op: OpStepRun, Data: json.RawMessage(`[1,2.5e3,null,true,{"a":[]}]`), Timing: &Interval{A: -1, B: 0}}},
	} {
		got, ok := AppendOps(nil, ops)
		require.True(t, ok, "%+v", ops)
		assert.Equal(t, string(encodeStd(t, ops)), string(got))
	}
}

// What AppendOps does not take it leaves untouched, for encoding/json.
func TestAppendOpsDeclines(t *testing.T) {
	base := Op{ID: "x", Op: OpStepRun, Name: "n", DisplayName: "n", Data: json.RawMessage(`1`), Userland: Userland{ID: "n"}}
	for name, change := range map[string]func(*Op){
		"opts":              func(o *Op) { o.Opts = map[string]string{"duration": "1h"} },
		"error":             func(o *Op) { o.Error = &Error{Name: "Error", Message: "m"} },
		"data with space":   func(o *Op) { o.Data = json.RawMessage(`{"a": 1}`) },
		"invalid data":      func(o *Op) { o.Data = json.RawMessage(`{"a":`) },
		"two values":        func(o *Op) { o.Data = json.RawMessage(`1,2`) },
		"quote in a name":   func(o *Op) { o.Name = `a"b` },
		"non-ASCII name":    func(o *Op) { o.DisplayName = "café" },
		"control character": func(o *Op) { o.Userland.ID = "a\nb" },
	} {
		op := base
		change(&op)
		got, ok := AppendOps([]byte("keep"), []Op{base, op})
		assert.False(t, ok, name)
		assert.Equal(t, "keep", string(got), name)
	}
}

func FuzzAppendOps(f *testing.F) {
	f.Add("s1", "s1", []byte(`{"a":1}`), int64(5), 0)
	f.Add("x y", "é", []byte(`"a b"`), int64(-1), 3)
	f.Fuzz(func(t *testing.T, name, id string, data []byte, a int64, index int) {
		ops := []Op{{ID: id, Op: OpStepRun, Name: name, DisplayName: name, Data: data, Timing: &Interval{A: a, B: a / 2},
			Userland: Userland{ID: name, Index: index}}}
		got, ok := AppendOps(nil, ops)
		if !ok {
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ops); err != nil {
			t.Fatalf("AppendOps took %q, which encoding/json refuses: %v", data, err)
		}
		if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(want, got) {
			t.Fatalf("encoding/json %s\nAppendOps     %s", want, got)
		}
	})
}
