#!/usr/bin/env sh
# Runs the end-to-end tests (./e2e) against an Inngest server you started
# yourself. It does not build or start the server. See e2e/README.md.
#
#   INNGEST_E2E_SERVER=http://127.0.0.1:8288 scripts/e2e.sh
#
# For an `inngest start` server, also set INNGEST_SIGNING_KEY and
# INNGEST_EVENT_KEY. Extra arguments go to `go test`, e.g. -run TestSleep.
# With INNGEST_CLI set to an Inngest CLI binary (and a dev server), it then
# runs the server's conformance runner against the app in e2e/conformance.
set -eu

if [ -z "${INNGEST_E2E_SERVER:-}" ]; then
	echo "e2e.sh: set INNGEST_E2E_SERVER to your Inngest server's URL, e.g. http://127.0.0.1:8288" >&2
	exit 2
fi

cd "$(dirname "$0")/.."

if command -v curl >/dev/null 2>&1; then
	if ! curl -fsS -o /dev/null "${INNGEST_E2E_SERVER%/}/health"; then
		echo "e2e.sh: no Inngest server answers at $INNGEST_E2E_SERVER/health" >&2
		exit 2
	fi
fi

if [ -n "${INNGEST_SIGNING_KEY:-}" ]; then
	echo "e2e.sh: signed mode (inngest start) against $INNGEST_E2E_SERVER" >&2
else
	echo "e2e.sh: dev mode (inngest dev) against $INNGEST_E2E_SERVER" >&2
fi

go build ./...
go vet ./e2e/...
go test ./e2e/ -v -count=1 "$@"

# The server's own conformance runner, against the app in e2e/conformance.
# It needs the Inngest CLI binary (INNGEST_CLI) and a dev server.
if [ -z "${INNGEST_CLI:-}" ]; then
	echo "e2e.sh: conformance runner skipped: set INNGEST_CLI to an Inngest CLI binary to run it" >&2
	exit 0
fi
if [ -n "${INNGEST_SIGNING_KEY:-}" ]; then
	echo "e2e.sh: conformance runner skipped: it runs against a dev server (inngest dev), not a signed one" >&2
	exit 0
fi
addr="${CONFORMANCE_ADDR:-127.0.0.1:3939}"
tmp=$(mktemp -d)
go build -o "$tmp/conformance-app" ./e2e/conformance
ADDR="$addr" "$tmp/conformance-app" > "$tmp/app.log" 2>&1 &
app=$!
trap 'kill "$app" 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
until curl -fsS -o /dev/null "http://$addr/health" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt 50 ]; then
		echo "e2e.sh: the conformance app did not start; its log:" >&2
		cat "$tmp/app.log" >&2
		exit 1
	fi
	sleep 0.2
done
echo "e2e.sh: conformance runner ($INNGEST_CLI) against the app at http://$addr/api/inngest" >&2
"$INNGEST_CLI" alpha conformance run --config e2e/conformance/inngest.conformance.yaml \
	--dev-url "$INNGEST_E2E_SERVER" --sdk-url "http://$addr/api/inngest" \
	--report-out "$tmp/report.json"
# The runner exits 0 whatever the outcome: read its report.
total=$(grep -c '"status":' "$tmp/report.json" || true)
passed=$(grep -c '"status": *"passed"' "$tmp/report.json" || true)
echo "e2e.sh: conformance: $passed of $total cases passed" >&2
[ "$total" -gt 0 ] && [ "$passed" -eq "$total" ]
