#!/usr/bin/env sh
# Runs the end-to-end tests (./e2e) against an Inngest server you started
# yourself. It does not build or start the server. See e2e/README.md.
#
#   INNGEST_E2E_SERVER=http://127.0.0.1:8288 scripts/e2e.sh
#
# For an `inngest start` server, also set INNGEST_SIGNING_KEY and
# INNGEST_EVENT_KEY. Extra arguments go to `go test`, e.g. -run TestSleep.
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
go vet ./e2e/
exec go test ./e2e/ -v -count=1 "$@"
