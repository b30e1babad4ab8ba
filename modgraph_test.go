package inngest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

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
