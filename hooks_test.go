package inngest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// No package of the repository sets anything up when it is imported: no
// init function, and no package-level variable of function type that
// one package could set for another to call (a hook). Code a binary
// links runs only when it is called; the in-process engine learns an app
// through the app's handler and its sync, as the server does.
func TestNoInitFunctionsOrHooks(t *testing.T) {
	// allowed lists "path: declaration" entries that may stay, with the
	// reason in a comment. It is empty.
	allowed := map[string]bool{}
	var found []string
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				if decl.Recv == nil && decl.Name.Name == "init" {
					found = append(found, filepath.ToSlash(path)+": func init")
				}
			case *ast.GenDecl:
				if decl.Tok != token.VAR {
					continue
				}
				for _, spec := range decl.Specs {
					vs := spec.(*ast.ValueSpec)
					isFunc := false
					if _, ok := vs.Type.(*ast.FuncType); ok {
						isFunc = true
					}
					for _, v := range vs.Values {
						if _, ok := v.(*ast.FuncLit); ok {
							isFunc = true
						}
					}
					if isFunc {
						for _, n := range vs.Names {
							found = append(found, filepath.ToSlash(path)+": var "+n.Name)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("the walk found only %d Go files; is the test run from the repository root?", files)
	}
	for _, f := range found {
		if !allowed[f] {
			t.Errorf("%s: code that runs, or can be swapped, when the package is imported; call it explicitly instead", f)
		}
	}
}
