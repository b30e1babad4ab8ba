package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type plainItem struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	OK    bool    `json:"ok"`
	Score float64 `json:"score"`
}

type node struct {
	Value    int              `json:"value"`
	Next     *node            `json:"next"`
	Children []node           `json:"children"`
	Index    map[string]*node `json:"index"`
}

type mixed struct {
	Small   int8              `json:"small"`
	U16     uint16            `json:"u16"`
	F32     float32           `json:"f32"`
	Any     any               `json:"any"`
	Anys    []any             `json:"anys"`
	Raw     json.RawMessage   `json:"raw"`
	RawPtr  *json.RawMessage  `json:"raw_ptr"`
	When    time.Time         `json:"when"`
	WhenPtr *time.Time        `json:"when_ptr"`
	Tags    map[string]string `json:"tags"`
	Named   myString          `json:"named"`
	Keys    map[myString]int  `json:"keys"`
	Items   []plainItem       `json:"items"`
	PP      **int             `json:"pp"`
	Skipped int               `json:"-"`
	Untag   string
	hidden  int
	Lower   int `json:"lower"`
	LOWER2  int `json:"LOWER"` // folds like "lower"
}

type myString string

// hidden is unexported: encoding/json never sets it.
var _ = mixed{}.hidden

type embedded struct {
	plainItem
	Extra int `json:"extra"`
}

type withStringOpt struct {
	N int `json:"n,string"`
}

// dupNamesType has two fields tagged "x", which encoding/json drops
// (built at run time: vet rightly flags the tags in source).
var dupNamesType = reflect.StructOf([]reflect.StructField{
	{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
	{Name: "B", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
})

type withBytes struct {
	B []byte `json:"b"`
}

type withNumber struct {
	N json.Number `json:"n"`
}

type withArray struct {
	A [2]int `json:"a"`
}

type textKey struct{ v string }

func (k *textKey) UnmarshalText(b []byte) error { k.v = string(b); return nil }

type withTextKey struct {
	M map[textKey]int `json:"m"`
}

type failing struct{}

func (*failing) UnmarshalJSON([]byte) error { return fmt.Errorf("no") }

type withFailing struct {
	F failing `json:"f"`
}

// targets are the types the differential tests decode into.
var targets = []func() any{
	func() any { return new(plainItem) },
	func() any { return new([]plainItem) },
	func() any { return new(node) },
	func() any { return new(mixed) },
	func() any { return new(map[string]any) },
	func() any { return new(any) },
	func() any { return new([]any) },
	func() any { return new(string) },
	func() any { return new(int) },
	func() any { return new(uint8) },
	func() any { return new(float32) },
	func() any { return new(bool) },
	func() any { return new(*plainItem) },
	func() any { return new(embedded) },
	func() any { return new(withStringOpt) },
	func() any { return reflect.New(dupNamesType).Interface() },
	func() any { return new(withBytes) },
	func() any { return new(withNumber) },
	func() any { return new(withArray) },
	func() any { return new(withTextKey) },
	func() any { return new(withFailing) },
	func() any { return new(json.RawMessage) },
	func() any { return new(time.Time) },
	func() any { return new(map[string][]*plainItem) },
	func() any { return new(map[string]string) },
	func() any { return new([][]string) },
	func() any { return new(map[myString][]int) },
}

var valueCases = []string{
	`{"id":1,"name":"item-1","ok":true,"score":1.5}`,
	`{"ID":2,"NAME":"upper","Ok":false}`,
	`{"id":1,"id":2}`,
	`{"id":1,"ID":2}`,
	`{"id":"1"}`,
	`{"id":1.0}`,
	`{"id":1e2}`,
	`{"id":-0}`,
	`{"id":99999999999999999999}`,
	`{"name":null,"id":null,"ok":null}`,
	`{"name":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`,
	`{"name":"\ud800"}`,
	`{"name":"\ud800\u0041"}`,
	`{"name":"\udc00\ud800"}`,
	"{\"name\":\"\xff\xfe ok \xc3\xa9\"}",
	`{"n\u0061me":"escaped key"}`,
	`{"名前":1}`,
	`{"unknown":{"deep":[1,{"x":null}]},"id":3}`,
	`[{"id":1},{"id":2,"name":"b"}]`,
	`[]`,
	`null`,
	`{}`,
	`{"value":1,"next":{"value":2,"next":null},"children":[{"value":3}],"index":{"a":{"value":4},"b":null}}`,
	`{"small":127,"u16":65535,"f32":3.4e38}`,
	`{"small":128}`,
	`{"u16":-1}`,
	`{"f32":3.5e38}`,
	`{"any":{"a":[1,"x",true,null,{"b":2.5}]},"anys":[],"raw":{"keep":  [1, 2]},"raw_ptr":null}`,
	`{"raw":null,"raw_ptr":[1]}`,
	`{"when":"2024-05-06T07:08:09Z","when_ptr":"2024-05-06T07:08:09.5+02:00"}`,
	`{"when":"not a time"}`,
	`{"when":null,"when_ptr":null}`,
	`{"tags":{"a":"1","a":"2","b":null},"named":"n","keys":{"k":1}}`,
	`{"items":[{"id":1},{"id":2}],"pp":5}`,
	`{"Skipped":1,"-":2,"Untag":"u","untag":"v","hidden":3}`,
	`{"lower":1,"LOWER":2}`,
	`{"Lower":1}`,
	`{"extra":1,"id":2,"name":"e"}`,
	`{"n":"12"}`,
	`{"x":1}`,
	`{"b":"aGVsbG8="}`,
	`{"n":12.5}`,
	`{"a":[1,2,3]}`,
	`{"m":{"k":1}}`,
	`{"f":1}`,
	`"text"`,
	`12`,
	`-1.5e-3`,
	`true`,
	`{"a":{"b":[]}}`,
	`{"k1":[{"id":1},null],"k2":null}`,
	` {"id" : 1 , "name" : "s" } `,
	`{"id":1}x`,
	`{"id":1`,
	`{"id":01}`,
	`{"id":}`,
	`[1,]`,
	``,
	`"` + strings.Repeat("long text ", 3000) + `"`,
	`{"any":` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + `}`,
	`{"a":"x","b":"","c":null}`,
	`{"a":"x","a":"y"}`,
	`{"a":1}`,
	`[["a","b"],[],null,["` + strings.Repeat("c", 300) + `"]]`,
	`[[1,2],[3]]`,
	`{"k":[1,2,3],"k":[4]}`,
	`[0,1,255,999,1000,-1,-0,1.0,12e1,007]`,
	`[` + strings.Repeat(`"abcdefgh",`, 600) + `"end"]`,
	`{"big":"` + strings.Repeat("\\n\u00e9x", 2000) + `"}`,
}

// checkValue decodes data into a fresh target both ways and compares.
func checkValue(t *testing.T, data []byte, target func() any) {
	t.Helper()
	want, got := target(), target()
	werr := json.Unmarshal(data, want)
	gerr := Unmarshal(data, got)
	if werr != nil {
		require.Error(t, gerr, "%q into %T", data, want)
		assert.Equal(t, werr.Error(), gerr.Error(), "%q into %T", data, want)
	} else {
		require.NoError(t, gerr, "%q into %T", data, want)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q into %T:\nencoding/json %#v\nUnmarshal     %#v", data, want,
			reflect.ValueOf(want).Elem().Interface(), reflect.ValueOf(got).Elem().Interface())
	}
}

func TestCompiledDecoderMatchesEncodingJSON(t *testing.T) {
	for _, c := range valueCases {
		for _, target := range targets {
			checkValue(t, []byte(c), target)
		}
	}
}

func TestCompiledDecoderCoverage(t *testing.T) {
	// The types results and events usually have are covered; what
	// encoding/json treats specially is not.
	for _, v := range []any{plainItem{}, node{}, mixed{}, map[string]any{}, []plainItem{}, time.Time{}} {
		assert.NotNil(t, decoderFor(reflect.TypeOf(v)), "%T", v)
	}
	for _, v := range []any{embedded{}, withStringOpt{}, reflect.New(dupNamesType).Elem().Interface(), withBytes{}, withNumber{}, withArray{}, withTextKey{}} {
		assert.Nil(t, decoderFor(reflect.TypeOf(v)), "%T", v)
	}
}

func TestUnmarshalIntoNonZeroMerges(t *testing.T) {
	// A target that is not zero is left to encoding/json, which merges.
	want := map[string]int{"kept": 1}
	got := map[string]int{"kept": 1}
	require.NoError(t, json.Unmarshal([]byte(`{"new":2}`), &want))
	require.NoError(t, Unmarshal([]byte(`{"new":2}`), &got))
	assert.Equal(t, want, got)
}

func FuzzCompiledDecoder(f *testing.F) {
	for _, c := range valueCases {
		f.Add([]byte(c), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		checkValue(t, data, targets[int(kind)%len(targets)])
	})
}

// TestSharedStringsStayPut checks that the strings a decoded value holds,
// carved from one shared buffer, do not change when more values are
// decoded (into fresh targets, reusing the pooled states).
func TestSharedStringsStayPut(t *testing.T) {
	var first map[string]any
	require.NoError(t, Unmarshal([]byte(`{"a":"one","b":["two","thr\u00e9e"],"c":{"d":"four"}}`), &first))
	want := map[string]any{"a": "one", "b": []any{"two", "thrée"}, "c": map[string]any{"d": "four"}}
	for i := range 100 {
		var other map[string]any
		require.NoError(t, Unmarshal([]byte(fmt.Sprintf(`{"a":"x%dx","b":["yyyy","zz\u00e9zz"],"c":{"d":"wwww"}}`, i)), &other))
		var list []plainItem
		require.NoError(t, Unmarshal([]byte(`[{"name":"aaaa"},{"name":"bbbb"}]`), &list))
	}
	assert.Equal(t, want, first)
}

// TestResultAllocations pins the allocations of decoding the step
// results users return (testdata/results): the compiled decoders carve a
// value's short strings from one buffer, copy slices and []any once at
// their exact length, reuse a map's key and element, and box small
// integers into interface{} without allocating. encoding/json makes 20,
// 21, 180 and 4 allocations for these.
func TestResultAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, c := range []struct {
		file   string
		target func() any
		max    float64
	}{
		// the target, the map and its group, the strings, and the boxes
		// of two strings and a float that is not small
		{"map.json", func() any { return new(map[string]any) }, 6},
		// the target, the array, the strings
		{"slice.json", func() any { return new([]benchItem) }, 3},
		// 13 maps of two allocations each, the meta map and what it
		// holds, the two slices, the strings
		{"doc.json", func() any { return new(benchOrder) }, 36},
		// the target and the string
		{"string.json", func() any { return new(string) }, 2},
	} {
		data := readResult(t, c.file)
		got := testing.AllocsPerRun(100, func() {
			if err := Unmarshal(data, c.target()); err != nil {
				t.Fatal(err)
			}
		})
		assert.LessOrEqual(t, got, c.max, c.file)
	}
}
