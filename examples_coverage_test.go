package inngest_test

import (
	"fmt"
	"go/ast"
	"go/doc"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// exampleDirs are the packages whose exported API must have runnable
// examples: the SDK's root package and the step tools.
var exampleDirs = []string{".", "step"}

// requiredExamples are examples the godoc must have beyond one per
// exported function and method: the failure and cancellation options,
// middleware and checkpointing, which are types or fields rather than
// functions.
var requiredExamples = map[string][]string{
	".":    {"OnFailure", "OnCancel", "CreateFailureFunction", "Middleware", "Checkpointing"},
	"step": {"Group"},
}

// exemptMethod reports whether an exported method needs no example of its
// own: methods that satisfy a standard interface (error, fmt.Stringer,
// errors.Is), which fmt and errors call for the user and the examples of
// their types show, and BaseMiddleware's no-op hooks, which exist to be
// embedded and which ExampleMiddleware shows.
func exemptMethod(recv, name string) bool {
	switch name {
	case "Error", "String", "Is", "Unwrap":
		return true
	}
	return recv == "BaseMiddleware"
}

// pkgExamples parses the package in dir and returns its exported
// functions and methods (as "Func" or "Type_Method") and its examples,
// keyed by the name they document (without the suffix).
func pkgExamples(t *testing.T, dir string) (api []string, examples map[string][]*doc.Example, files map[*doc.Example]string) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, nil, parser.ParseComments)
	if err != nil {
		t.Fatalf("parse %s: %v", dir, err)
	}
	examples = map[string][]*doc.Example{}
	files = map[*doc.Example]string{}
	for name, pkg := range pkgs {
		for path, f := range pkg.Files {
			isTest := strings.HasSuffix(path, "_test.go")
			if !isTest && !strings.HasSuffix(name, "_test") {
				api = append(api, exported(f)...)
			}
			if isTest {
				for _, ex := range doc.Examples(f) {
					key := ex.Name
					if ex.Suffix != "" {
						key = strings.TrimSuffix(key, "_"+ex.Suffix)
					}
					examples[key] = append(examples[key], ex)
					files[ex] = filepath.Base(path) + " (package " + name + ")"
				}
			}
		}
	}
	sort.Strings(api)
	return api, examples, files
}

// exported lists a file's exported functions and the exported methods of
// its exported types, as example names: "Func", "Type_Method".
func exported(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !fd.Name.IsExported() {
			continue
		}
		if fd.Recv == nil {
			out = append(out, fd.Name.Name)
			continue
		}
		recv := recvName(fd.Recv.List[0].Type)
		if !ast.IsExported(recv) || exemptMethod(recv, fd.Name.Name) {
			continue
		}
		out = append(out, recv+"_"+fd.Name.Name)
	}
	return out
}

// recvName returns the type name of a receiver: T, *T, T[P] or *T[P].
func recvName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// exampleProblems lists what the examples of dir lack: an example for an
// exported function or method (apart from the exempt ones) or for a
// required name; an // Output: comment, without which go test only
// compiles an example; an external test package, so that the example
// uses only the public API; and a self-contained file, so that go/doc
// can turn the example into a complete program, one that copy-pastes
// into a fresh module.
func exampleProblems(dir string, api []string, examples map[string][]*doc.Example, files map[*doc.Example]string) []string {
	var problems []string
	for _, name := range append(api, requiredExamples[dir]...) {
		if len(examples[name]) == 0 {
			problems = append(problems, fmt.Sprintf("%s: %s has no Example%s (or Example%s_suffix)", dir, name, name, name))
		}
	}
	for _, exs := range examples {
		for _, ex := range exs {
			where := files[ex]
			switch {
			case ex.Output == "" && !ex.EmptyOutput:
				problems = append(problems, fmt.Sprintf("%s: Example%s in %s has no // Output: comment, so go test only compiles it", dir, ex.Name, where))
			case !strings.HasSuffix(where, "_test)"):
				problems = append(problems, fmt.Sprintf("%s: Example%s in %s is not in an external test package; examples must use only the public API", dir, ex.Name, where))
			case ex.Play == nil:
				problems = append(problems, fmt.Sprintf("%s: Example%s in %s is not a self-contained program: it uses something declared in another file", dir, ex.Name, where))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// Every exported function of the root package and of step/, and every
// exported method apart from the exempt ones, has a runnable Example
// (Example<F>, Example<T>_<M>, or either with a _suffix), and so do the
// failure and cancellation options, middleware and checkpointing.
func TestEveryExportedFunctionHasAnExample(t *testing.T) {
	for _, dir := range exampleDirs {
		api, examples, files := pkgExamples(t, dir)
		if len(api) < 5 {
			t.Fatalf("%s: found only %v exported; is the directory right?", dir, api)
		}
		for _, p := range exampleProblems(dir, api, examples, files) {
			t.Error(p)
		}
	}
}

// The check finds a missing example, one without output and one that is
// not self-contained; and Sleep's example is not taken for SleepUntil's.
func TestExampleCheckFindsProblems(t *testing.T) {
	api, examples, files := pkgExamples(t, "step")
	if p := exampleProblems("step", api, examples, files); len(p) != 0 {
		t.Fatalf("step's examples have problems: %v", p)
	}
	sleep := examples["Sleep"]
	if len(sleep) != 1 || len(examples["SleepUntil"]) != 1 {
		t.Fatalf("want one ExampleSleep and one ExampleSleepUntil, got %d and %d", len(sleep), len(examples["SleepUntil"]))
	}

	delete(examples, "Sleep")
	got := exampleProblems("step", api, examples, files)
	if want := []string{"step: Sleep has no ExampleSleep (or ExampleSleep_suffix)"}; !slices.Equal(got, want) {
		t.Errorf("without ExampleSleep: got %q, want %q", got, want)
	}

	noOutput := *sleep[0]
	noOutput.Output, noOutput.EmptyOutput = "", false
	examples["Sleep"] = []*doc.Example{&noOutput}
	files[&noOutput] = files[sleep[0]]
	got = exampleProblems("step", api, examples, files)
	if len(got) != 1 || !strings.Contains(got[0], "ExampleSleep in example_test.go (package step_test) has no // Output: comment") {
		t.Errorf("an example without output: got %q", got)
	}

	notPlayable := *sleep[0]
	notPlayable.Play = nil
	examples["Sleep"] = []*doc.Example{&notPlayable}
	files[&notPlayable] = files[sleep[0]]
	got = exampleProblems("step", api, examples, files)
	if len(got) != 1 || !strings.Contains(got[0], "not a self-contained program") {
		t.Errorf("an example that is not self-contained: got %q", got)
	}
}

// Each example, turned by go/doc into a program of its own (what godoc
// shows and what a reader copies), builds in a fresh module that requires
// this one and prints the example's output. It builds one binary per
// example, which takes a while, so it runs only with
// INNGEST_EXAMPLES_STANDALONE=1.
func TestExamplesRunStandalone(t *testing.T) {
	if os.Getenv("INNGEST_EXAMPLES_STANDALONE") != "1" {
		t.Skip("set INNGEST_EXAMPLES_STANDALONE=1 to build and run every example as a program in a fresh module")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	gomod := "module examples.test\n\ngo 1.24\n\nrequire github.com/go-inngest/inngest v0.0.0\n\nreplace github.com/go-inngest/inngest => " + root + "\n"
	write(t, filepath.Join(mod, "go.mod"), gomod)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(mod, "go.sum"), string(sum))

	want := map[string]string{}
	for _, dir := range exampleDirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for name, pkg := range pkgs {
			if !strings.HasSuffix(name, "_test") {
				continue
			}
			for _, f := range pkg.Files {
				for _, ex := range doc.Examples(f) {
					if ex.Play == nil {
						t.Errorf("%s: Example%s has no standalone form", dir, ex.Name)
						continue
					}
					prog := strings.TrimSuffix(name, "_test") + "_" + ex.Name
					var b strings.Builder
					if err := format.Node(&b, fset, ex.Play); err != nil {
						t.Fatal(err)
					}
					write(t, filepath.Join(mod, prog, "main.go"), b.String())
					want[prog] = ex.Output
				}
			}
		}
	}
	bin := filepath.Join(mod, "bin")
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./...")
	build.Dir = mod
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in a fresh module: %v\n%s", err, out)
	}
	for prog, output := range want {
		out, err := exec.Command(filepath.Join(bin, prog)).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", prog, err, out)
			continue
		}
		if got := strings.TrimSpace(string(out)); got != strings.TrimSpace(output) {
			t.Errorf("%s printed\n%s\nwant\n%s", prog, got, output)
		}
	}
	t.Logf("%d examples built and ran as programs in a fresh module", len(want))
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
