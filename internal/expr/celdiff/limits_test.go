package celdiff

import (
	"strings"
	"testing"
)

// Both parsers limit how deep an expression nests, each construct
// counting as CEL's grammar and parser count it.
func TestNestingLimits(t *testing.T) {
	rep := strings.Repeat
	shapes := map[string]func(n int) string{
		"parentheses":         func(n int) string { return rep("(", n) + "1" + rep(")", n) },
		"empty lists":         func(n int) string { return rep("[", n) + rep("]", n) },
		"lists":               func(n int) string { return rep("[", n) + "1" + rep("]", n) },
		"maps":                func(n int) string { return rep("{1:", n) + "1" + rep("}", n) },
		"calls":               func(n int) string { return rep("int(", n) + "1" + rep(")", n) },
		"method calls":        func(n int) string { return rep("'a'.startsWith(", n) + "'a'" + rep(")", n) },
		"conditionals":        func(n int) string { return rep("true ? 1 : ", n) + "1" },
		"nested conditions":   func(n int) string { return rep("(", n) + "true" + rep(" ? true : false)", n) },
		"negations":           func(n int) string { return rep("!(", n) + "true" + rep(")", n) },
		"sums":                func(n int) string { return rep("1 + ", n) + "1" },
		"right sums":          func(n int) string { return rep("1 + (", n) + "1" + rep(")", n) },
		"comparisons":         func(n int) string { return rep("true == ", n) + "true" },
		"right comparisons":   func(n int) string { return rep("true == (", n) + "true" + rep(")", n) },
		"selections":          func(n int) string { return "event" + rep(".data", n) },
		"indexes":             func(n int) string { return "event.data.items" + rep("[0]", n) },
		"nested indexes":      func(n int) string { return rep("[0][", n) + "0" + rep("]", n) },
		"conjunctions":        func(n int) string { return rep("true && ", n) + "true" },
		"nested conjunctions": func(n int) string { return rep("true && (", n) + "true" + rep(")", n) },
		"macros":              func(n int) string { return rep("[1].all(x, ", n) + "true" + rep(")", n) },
	}
	// cel-go takes seconds to check deeply nested lists and maps: those
	// are compared at their limit only.
	heavy := map[string][]int{"empty lists": {1, 250, 251}, "lists": {1, 249, 250}, "maps": {1, 249, 250}}
	for name, f := range shapes {
		ns := []int{1, 123, 124, 125, 248, 249, 250, 251}
		if h, ok := heavy[name]; ok {
			if testing.Short() {
				continue
			}
			ns = h
		}
		for _, n := range ns {
			if !compare(t, f(n)) {
				t.Logf("%s: n=%d", name, n)
			}
		}
	}
}
