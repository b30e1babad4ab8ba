package inngest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// exportedNames returns the exported top-level names declared in the
// non-test Go files of dir, each with its kind.
func exportedNames(t *testing.T, dir string) map[string]ast.ObjKind {
	t.Helper()
	fset := token.NewFileSet()
	names := map[string]ast.ObjKind{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for n, obj := range f.Scope.Objects {
			if ast.IsExported(n) && obj.Kind != ast.Bad {
				names[n] = obj.Kind
			}
		}
	}
	return names
}

// prose returns the comments and string literals of the non-test Go
// files of dir, the words users read in docs and in errors: each comment
// group and each literal apart, under its file's name.
func prose(t *testing.T, dir string) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string][]string{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, cg := range f.Comments {
			out[name] = append(out[name], cg.Text())
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				out[name] = append(out[name], lit.Value)
			}
			return true
		})
	}
	return out
}

// Every step.X and inngest.X that the docs, the error messages, the
// READMEs and the examples name is a name the package declares; and
// where they name a step type made by a constructor (step.Group, made by
// step.NewGroup), other than as a pointer type (*step.Group), the same
// comment, message or paragraph names the constructor, the tool users
// call.
func TestDocsNameRealIdentifiers(t *testing.T) {
	pkgs := map[string]map[string]ast.ObjKind{
		"step":    exportedNames(t, "step"),
		"inngest": exportedNames(t, "."),
	}
	texts := map[string][]string{}
	for _, dir := range []string{".", "step", "internal/replay", "internal/wire"} {
		for name, chunks := range prose(t, dir) {
			texts[name] = chunks
		}
	}
	examples, err := filepath.Glob("examples/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range examples {
		for name, chunks := range prose(t, dir) {
			texts[name] = chunks
		}
	}
	for _, name := range []string{"README.md", "e2e/README.md", "SECURITY.md", "CONTRIBUTING.md", "docs/RELEASING.md"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var chunks []string
		for _, para := range strings.Split(string(b), "\n\n") { // paragraphs
			chunks = append(chunks, ownNames(para))
		}
		texts[name] = chunks
	}
	ref := regexp.MustCompile(`(\*?)\b(step|inngest)\.([A-Z][A-Za-z0-9_]*)`)
	var bad []string
	for name, chunks := range texts {
		for _, text := range chunks {
			for _, m := range ref.FindAllStringSubmatch(text, -1) {
				names := pkgs[m[2]]
				kind, ok := names[m[3]]
				ctor := m[2] + ".New" + m[3]
				switch {
				case !ok:
					bad = append(bad, name+": "+m[0]+" does not exist")
				case m[2] == "step" && kind == ast.Typ && m[1] == "" && names["New"+m[3]] == ast.Fun && !strings.Contains(text, ctor):
					bad = append(bad, name+": "+m[0]+" is made by "+ctor+"; name that")
				}
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("the docs misname identifiers:\n%s", strings.Join(bad, "\n"))
	}
}

// ownNames returns para without what names the official SDK's API: in a
// table whose first column is headed by inngestgo (a migration table),
// every row's first cell.
func ownNames(para string) string {
	lines := strings.Split(para, "\n")
	head := strings.Split(lines[0], "|")
	if !strings.HasPrefix(lines[0], "|") || len(head) < 3 || !strings.Contains(head[1], "inngestgo") {
		return para
	}
	for i, l := range lines {
		if cells := strings.SplitN(l, "|", 3); len(cells) == 3 {
			lines[i] = "|" + cells[2]
		}
	}
	return strings.Join(lines, "\n")
}
