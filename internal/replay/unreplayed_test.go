package replay

import (
	"reflect"
	"testing"
)

func TestUnreplayed(t *testing.T) {
	for _, tc := range []struct {
		stack, seen, want []string
	}{
		{nil, nil, nil},
		{[]string{"a", "b"}, []string{"a", "b"}, nil},
		{[]string{"a", "b"}, []string{"a", "b", "c"}, nil},
		{[]string{"a", "b", "c"}, []string{"c", "a", "b"}, nil}, // parallel steps, in another order
		{[]string{"a", "b", "c"}, []string{"a", "c"}, []string{"b"}},
		{[]string{"a", "b", "c"}, nil, []string{"a", "b", "c"}},
		{[]string{"a", "b"}, []string{"x", "a"}, []string{"b"}},
	} {
		if got := unreplayed(tc.stack, tc.seen); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("unreplayed(%q, %q) = %q, want %q", tc.stack, tc.seen, got, tc.want)
		}
	}
}
