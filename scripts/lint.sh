#!/usr/bin/env bash
# Static checks: gofmt, go vet, staticcheck and govulncheck, with the
# tools installed at pinned versions by `go install`.
#
# govulncheck needs the Go vulnerability database (https://vuln.go.dev).
# When it cannot be reached the check is skipped with a message, unless
# REQUIRE_VULNCHECK=1, which makes that an error. VULNDB=<url> (for
# example file:///path/to/vulndb) uses another copy of the database.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2 # honnef.co/go/tools 2026.2.2
GOVULNCHECK_VERSION=v1.9.0 # golang.org/x/vuln

bin="$(go env GOPATH)/bin"
fail=0

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"
	echo "$unformatted"
	fail=1
fi

echo "== go vet"
go vet ./... || fail=1

echo "== staticcheck $STATICCHECK_VERSION"
go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
"$bin/staticcheck" ./... || fail=1

echo "== govulncheck $GOVULNCHECK_VERSION"
go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
if [ -n "${VULNDB:-}" ]; then
	"$bin/govulncheck" -db "$VULNDB" ./... || fail=1
elif timeout 5 bash -c '</dev/tcp/vuln.go.dev/443' 2>/dev/null; then
	"$bin/govulncheck" ./... || fail=1
elif [ "${REQUIRE_VULNCHECK:-0}" = 1 ]; then
	echo "govulncheck: the vulnerability database at vuln.go.dev cannot be reached, and REQUIRE_VULNCHECK=1" >&2
	fail=1
else
	echo "SKIPPED govulncheck: the vulnerability database at vuln.go.dev cannot be reached from here"
	echo "        (set VULNDB to a local copy, or run this script where it is reachable)"
fi

if [ "$fail" -ne 0 ]; then
	echo "lint: FAILED" >&2
	exit 1
fi
echo "lint: ok"
