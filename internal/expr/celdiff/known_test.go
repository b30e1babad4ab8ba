package celdiff

import (
	"strings"
	"testing"
)

// knownDifferences are the expressions where package expr knowingly
// departs from cel-go: messages of the protobuf well-known types
// (google.protobuf.Int64Value{value: 1}, google.protobuf.Struct{}, ...)
// and their type names, which cel-go's environment declares and the
// engine does not. No Inngest expression has a use for them; the engine
// refuses them at Register, so a test fails where the server would
// accept, never the reverse.
var knownDifferences = []string{
	`google.protobuf.Int64Value{value: 1}`, `google.protobuf.BoolValue{}`, `google.protobuf.Struct{}`,
	`google.protobuf.Value{}`, `google.protobuf.ListValue{}`, `google.protobuf.Any{}`,
	`google.protobuf.Timestamp{seconds: 1}`, `google.protobuf.Int64Value`,
}

// knownDifference reports whether src uses what knownDifferences
// describes.
func knownDifference(src string) bool { return strings.Contains(src, "google.protobuf.") }

// The known differences are what they say: cel-go compiles each in the
// server's environment, package expr refuses it.
func TestKnownDifferences(t *testing.T) {
	for _, src := range knownDifferences {
		if !knownDifference(src) {
			t.Errorf("%s: not recognised as a known difference", src)
		}
		ref, got := reference(src), ours(src)
		if !ref.compile || got.compile {
			t.Errorf("%s\n  cel-go: %v\n  expr:   %v\nwant cel-go to compile it and expr to refuse it", src, ref, got)
		}
	}
}
