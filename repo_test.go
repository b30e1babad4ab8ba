package inngest_test

import (
	"fmt"
	"go/ast"
	"go/doc"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-inngest/inngest"
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

// No package of the repository sets anything up when it is imported: no
// init function, and no package-level variable of function type that
// one package could set for another to call (a hook). Code a binary
// links runs only when it is called; the in-process engine learns an app
// through the app's handler and its sync, as the server does.
func TestNoInitFunctionsOrHooks(t *testing.T) {
	// allowed lists "path: declaration" entries that may stay, with the
	// reason in a comment.
	allowed := map[string]bool{
		// Generated by protoc-gen-go: registers the Connect messages'
		// descriptors with the protobuf runtime, which needs them to
		// encode and decode the messages. Only the connect module, never
		// the SDK, links it.
		"connect/internal/connectpb/connect.pb.go: func init": true,
	}
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

// Version is a semantic version without the "v", and CHANGELOG.md, in
// the Keep a Changelog form, has an Unreleased section and a dated entry
// for it with its link: so a release cannot go out with a Version the
// changelog does not describe.
func TestVersionHasAChangelogEntry(t *testing.T) {
	semver := regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)
	if !semver.MatchString(inngest.Version) {
		t.Fatalf("Version %q is not a semantic version such as 0.2.0", inngest.Version)
	}
	b, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	v := regexp.QuoteMeta(inngest.Version)
	for _, want := range []string{
		`(?m)^## \[Unreleased\]$`,
		`(?m)^## \[` + v + `\] - \d{4}-\d{2}-\d{2}$`,
		`(?m)^\[Unreleased\]: https://github\.com/go-inngest/inngest/compare/v` + v + `\.\.\.HEAD$`,
		`(?m)^\[` + v + `\]: https://github\.com/go-inngest/inngest/(releases/tag/v` + v + `|compare/v\S+\.\.\.v` + v + `)$`,
	} {
		if !regexp.MustCompile(want).MatchString(log) {
			t.Errorf("CHANGELOG.md has no line matching %s", want)
		}
	}
	if u, r := strings.Index(log, "## [Unreleased]"), strings.Index(log, "## ["+inngest.Version+"]"); u >= 0 && r >= 0 && u > r {
		t.Error("CHANGELOG.md: the Unreleased section must come before the releases")
	}
}

// scripts/release.sh, in a scratch repository with this repository's
// release files: it refuses a tag that does not match Version, a version
// without a changelog entry, a dirty work tree and an existing tag; it
// prints without tagging by default; with --create it tags every module
// (the root and bench/) on HEAD and pushes nothing.
func TestReleaseScript(t *testing.T) {
	for _, tool := range []string{"bash", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("scripts/release.sh needs %s, which is not installed", tool)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"client.go", "CHANGELOG.md", "go.mod", "bench/go.mod", "scripts/release.sh"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, f), string(b))
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "tag.gpgSign=false", "-c", "commit.gpgSign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "release files")
	release := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{"scripts/release.sh"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tag := "v" + inngest.Version

	out, err := release(tag)
	if err != nil {
		t.Fatalf("release.sh %s: %v\n%s", tag, err, out)
	}
	if !strings.Contains(out, "tags: bench/"+tag+" "+tag+"\n") {
		t.Errorf("release.sh %s must name a tag for each module:\n%s", tag, out)
	}
	if tags := git("tag"); tags != "" {
		t.Fatalf("release.sh without --create made tags: %q", tags)
	}

	for _, bad := range []struct{ tag, want string }{
		{"v" + inngest.Version + "-rc.1", "client.go says Version"},
		{inngest.Version, "not a semantic version tag"},
		{"v2.0.0", "module path in go.mod must end in /v2"},
	} {
		if out, err := release(bad.tag); err == nil || !strings.Contains(out, bad.want) {
			t.Errorf("release.sh %s: err %v, want a failure saying %q:\n%s", bad.tag, err, bad.want, out)
		}
	}

	// Without the changelog entry, the release is refused.
	changelog := filepath.Join(dir, "CHANGELOG.md")
	orig, _ := os.ReadFile(changelog)
	write(t, changelog, strings.Replace(string(orig), "## ["+inngest.Version+"]", "## [0.0.0-other]", 1))
	if out, err := release(tag); err == nil || !strings.Contains(out, "no '## ["+inngest.Version+"] - YYYY-MM-DD' entry") {
		t.Errorf("release.sh with no changelog entry: err %v:\n%s", err, out)
	}
	write(t, changelog, string(orig))

	// A dirty work tree is refused for --create.
	write(t, filepath.Join(dir, "stray.txt"), "x")
	if out, err := release(tag, "--create"); err == nil || !strings.Contains(out, "uncommitted changes") {
		t.Errorf("release.sh --create with an untracked file: err %v:\n%s", err, out)
	}
	os.Remove(filepath.Join(dir, "stray.txt"))

	out, err = release(tag, "--create")
	if err != nil {
		t.Fatalf("release.sh %s --create: %v\n%s", tag, err, out)
	}
	head := strings.TrimSpace(git("rev-parse", "HEAD"))
	for _, tg := range []string{tag, "bench/" + tag} {
		if got := strings.TrimSpace(git("rev-list", "-n1", tg)); got != head {
			t.Errorf("tag %s is on %q, want HEAD %s", tg, got, head)
		}
	}
	if !strings.Contains(out, "not pushed") {
		t.Errorf("release.sh --create must say it pushed nothing:\n%s", out)
	}
	if out, err := release(tag, "--create"); err == nil || !strings.Contains(out, "exists already") {
		t.Errorf("release.sh --create a second time: err %v:\n%s", err, out)
	}
}

// leanGraph lists the modules a user's module may get in its graph by
// importing the SDK and step/: the SDK, jcs, and the test library
// (testify, which the SDK's own tests use) with the modules testify
// itself requires. Dependency scanners alert on every module in go.mod
// and go.sum, built or not, so this list must not grow.
var leanGraph = []string{
	"github.com/go-inngest/inngest",
	"github.com/gowebpki/jcs",
	"github.com/stretchr/testify",
	// testify's own requirements (its go.mod):
	"github.com/stretchr/objx",
	"go.yaml.in/yaml/v3",
}

// A throwaway user module that imports the SDK and step/ (the SDK
// replaced by this checkout) lists, with `go list -m all`, only the
// modules of leanGraph.
func TestUserModuleGraphIsLean(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a throwaway module with the go command; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if cache := strings.TrimSpace(run(root, "env", "GOMODCACHE")); cache == "" {
		t.Skip("no module cache")
	} else if fi, err := os.Stat(cache); err != nil || !fi.IsDir() {
		t.Skipf("the module cache %s is unavailable", cache)
	}

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/shop\n\ngo 1.24\n\nrequire github.com/go-inngest/inngest v0.0.0\n\nreplace github.com/go-inngest/inngest => "+root+"\n")
	// The SDK's go.sum holds the checksums its graph needs.
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("main.go", `package main

import (
	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/step"
)

var (
	_ = inngest.NewClient
	_ = step.Run[int]
)

func main() {}
`)
	run(dir, "mod", "tidy")
	graph := strings.Fields(run(dir, "list", "-m", "-f", "{{.Path}}", "all"))
	var extra []string
	for _, m := range graph {
		if m != "example.com/shop" && !slices.Contains(leanGraph, m) {
			extra = append(extra, m)
		}
	}
	if len(extra) > 0 {
		mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		t.Errorf("a module that imports the SDK and step/ gets modules beyond the SDK, jcs and testify's: %v\nits graph (go list -m all):\n%s\nits go.mod:\n%s",
			extra, strings.Join(graph, "\n"), mod)
	}
	if !slices.Contains(graph, "github.com/gowebpki/jcs") {
		t.Errorf("the graph lacks jcs, which the SDK needs to build: %v", graph)
	}
}
