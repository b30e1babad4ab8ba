package inngest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-inngest/inngest"
)

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
