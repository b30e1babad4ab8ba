#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each.
#
#   scripts/fuzz.sh                 # every target, FUZZTIME each (default 10s)
#   FUZZTIME=2m scripts/fuzz.sh     # longer
#   scripts/fuzz.sh FuzzReplay      # only targets whose name matches
#
# A target that finds a failing input stops the script with a non-zero
# exit; the input is saved under the package's testdata/fuzz/<Target>/,
# where `go test` replays it from then on. Commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
filter=${1:-.}
ran=0

for pkg in $(go list ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for target in $targets; do
		if ! grep -q -- "$filter" <<<"$target"; then
			continue
		fi
		echo "== $pkg $target ($fuzztime)"
		log=$(mktemp)
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
			# The Go fuzzer sometimes ends a run that found nothing with
			# "context deadline exceeded" when -fuzztime expires while a
			# worker is busy; that is not a finding, so its output (which
			# reads like a failed test) is not shown. Anything else is.
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "fuzz: $target stopped with the fuzzer's own deadline error and no failing input; running it again"
				go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
			else
				cat "$log"
				rm -f "$log"
				exit 1
			fi
		else
			cat "$log"
		fi
		rm -f "$log"
		ran=$((ran + 1))
	done
done

if [ "$ran" -eq 0 ]; then
	echo "no fuzz target matches '$filter'" >&2
	exit 1
fi
echo "fuzzed $ran targets for $fuzztime each"
