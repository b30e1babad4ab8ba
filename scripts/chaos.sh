#!/usr/bin/env bash
# Chaos suite: loads a real Inngest server and breaks things while runs
# are in flight (e2e/chaos_test.go). Each scenario prints one line:
#
#   chaos <scenario>: runs=N completed=N executions=N duplicates=0 misses=0 ...
#
# and fails on a lost run, a missed step, or a step body that ran again
# after its result was answered.
#
#   scripts/chaos.sh [load|app-killed|dropped-replies|redis|connect-restart|all]   (default: all)
#
# load, app-killed and dropped-replies run against the server in
# INNGEST_E2E_SERVER (and INNGEST_SIGNING_KEY/INNGEST_EVENT_KEY for a
# signed server), as scripts/e2e.sh does; without it they are skipped.
#
# redis starts its own `inngest start --redis-uri` (the binary in
# INNGEST_BIN) on loopback, backed by a redis-server it starts with an
# append-only file, and kills Redis (SIGKILL) and restarts it while runs
# are in flight. It is skipped when INNGEST_BIN or redis-server is absent.
#
# connect-restart uses the same supervised `inngest start` and Redis: a
# Connect worker (the connect module's TestE2EServerRestartMidRun) runs
# five multi-step runs while the whole server, its gateway included, is
# killed and started again; every run must complete.
# CHAOS_PORT (default 8390, and the three ports after it) and
# CHAOS_REDIS_PORT (default 6390) choose its ports.
#
# INNGEST_E2E_CHAOS_RUNS sets the runs per scenario (default 50).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

# Internal: kill Redis and start it again on the same files.
if [ "${1:-}" = "__restart-redis" ]; then
	dir=$2 port=$3
	kill -9 "$(cat "$dir/redis.pid")"
	sleep 2
	redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always --save '' \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
	for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && exit 0; sleep 0.1; done
	echo "chaos: Redis did not come back" >&2
	exit 1
fi

what=${1:-all}
case $what in load | app-killed | dropped-replies | redis | connect-restart | all) ;; *)
	echo "usage: scripts/chaos.sh [load|app-killed|dropped-replies|redis|connect-restart|all]" >&2
	exit 2
	;;
esac

work=$(mktemp -d)
cleanup() {
	if [ -n "${srv:-}" ]; then
		touch "$work/stop"
		[ -f "$work/inngest.pid" ] && kill "$(cat "$work/inngest.pid")" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
	[ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
	rm -rf "$work"
	return 0
}
trap cleanup EXIT

go test -c -o "$work/e2e.test" ./e2e/
status=0

# scenario NAME TEST: runs one chaos test.
scenario() {
	if ! INNGEST_E2E_CHAOS=1 "$work/e2e.test" -test.run "^$2\$" -test.count=1 -test.timeout=30m; then
		echo "chaos $1: FAILED"
		status=1
	fi
}

want() { [ "$what" = all ] || [ "$what" = "$1" ]; }

if want load || want app-killed || want dropped-replies; then
	if [ -z "${INNGEST_E2E_SERVER:-}" ]; then
		echo "chaos: skipping load, app-killed and dropped-replies: set INNGEST_E2E_SERVER to a running Inngest server"
	else
		want load && scenario load TestChaosLoad
		want app-killed && scenario app-killed TestChaosAppKilled
		want dropped-replies && scenario dropped-replies TestChaosDroppedReplies
	fi
fi

if want redis || want connect-restart; then
	if [ -z "${INNGEST_BIN:-}" ] || [ ! -x "${INNGEST_BIN:-}" ]; then
		echo "chaos redis, connect-restart: skipped: set INNGEST_BIN to an inngest binary"
	elif ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		echo "chaos redis, connect-restart: skipped: redis-server is not installed"
	else
		rport=${CHAOS_REDIS_PORT:-6390}
		port=${CHAOS_PORT:-8390}
		redis-server --port "$rport" --bind 127.0.0.1 --dir "$work" --appendonly yes --appendfsync always --save '' \
			--daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
		for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
		key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		# `inngest start` exits when it loses Redis; like a process
		# supervisor, start it again until the scenario ends.
		supervise() {
			while [ ! -f "$work/stop" ]; do
				DO_NOT_TRACK=1 "$INNGEST_BIN" start --host 127.0.0.1 --port "$port" \
					--connect-gateway-port $((port + 1)) --connect-gateway-grpc-port $((port + 2)) \
					--connect-executor-grpc-port $((port + 3)) --redis-uri "redis://127.0.0.1:$rport" \
					--signing-key "$key" --event-key chaos-event-key --retry-interval 1 --sqlite-dir "$work" \
					>>"$work/inngest.log" 2>&1 &
				echo $! >"$work/inngest.pid"
				wait "$(cat "$work/inngest.pid")" || true
				[ -f "$work/stop" ] || { echo "chaos: inngest start exited; starting it again" >&2; sleep 1; }
			done
		}
		supervise &
		srv=$!
		up=
		for _ in $(seq 1 120); do
			curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && up=1 && break
			sleep 0.5
		done
		if [ -z "$up" ]; then
			echo "chaos redis: FAILED: inngest start did not come up; its log:"
			tail -20 "$work/inngest.log"
			status=1
		else
			if want redis; then
				INNGEST_E2E_SERVER="http://127.0.0.1:$port" INNGEST_SIGNING_KEY="signkey-test-$key" \
					INNGEST_EVENT_KEY=chaos-event-key INNGEST_E2E_CHAOS_RESTART="'$self' __restart-redis '$work' $rport" \
					scenario redis TestChaosStateStoreRestart
			fi
			if want connect-restart; then
				(cd connect && go test -c -o "$work/connect.test" .)
				# Kill the server; the supervisor starts it again on the
				# same Redis and SQLite files.
				if INNGEST_E2E_SERVER="http://127.0.0.1:$port" INNGEST_SIGNING_KEY="signkey-test-$key" \
					INNGEST_EVENT_KEY=chaos-event-key INNGEST_E2E_RESTART="kill \$(cat '$work/inngest.pid')" \
					"$work/connect.test" -test.run '^TestE2EServerRestartMidRun$' -test.count=1 -test.timeout=10m -test.v |
					grep -E '^(--- |ok|FAIL|PASS)'; then
					echo "chaos connect-restart: the worker survived a server restart mid-run; every run completed"
				else
					echo "chaos connect-restart: FAILED"
					status=1
				fi
			fi
		fi
	fi
fi
exit $status
