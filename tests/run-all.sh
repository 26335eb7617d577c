#!/bin/bash
# tests/run-all.sh: runs the unit test binaries (build/tests/test_*, TAP
# output from cmocka) and then the integration tests (tests/integration/
# *.sh), in order, and sums up.
#
#   tests/run-all.sh [--unit | --integration] [FILTER...]
#
# A FILTER keeps the tests whose file name contains it. Lines starting
# with "ok" count as passed and lines starting with "not ok" as failed;
# skips ("# SKIP what: why", or TAP's "ok/not ok ... # SKIP" from the unit
# tests) count as skipped, never as passed or failed. A test that exits
# non-zero without a "not ok" line counts as one failure. The last line
# is "N passed, N failed, N skipped"; the exit status is 1 if anything
# failed or nothing passed.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
# Per test file; a hung test must not hang CI.
TIMEOUT=${OCB_TEST_TIMEOUT:-300}

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "$0"
}

kinds="unit integration"
filters=()
while [ $# -gt 0 ]; do
	case $1 in
	--unit) kinds=unit ;;
	--integration) kinds=integration ;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		echo "run-all.sh: unknown option $1" >&2
		usage >&2
		exit 2
		;;
	*) filters+=("$1") ;;
	esac
	shift
done

if [ "$(id -u)" -ne 0 ]; then
	echo "run-all.sh: the tests must run as root: they load BPF programs, create cgroups," >&2
	echo "network namespaces and containers. Run: sudo make check" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

selected() {
	local f
	[ ${#filters[@]} -eq 0 ] && return 0
	for f in "${filters[@]}"; do
		[[ $1 == *"$f"* ]] && return 0
	done
	return 1
}

passed=0
failed=0
skipped=0
failures=()
LOG=$(mktemp /tmp/ocb-run-all.XXXXXX)
trap 'rm -f "$LOG"' EXIT

# run NAME CMD...: runs one test file, shows its output, counts.
run() {
	local name=$1 rc p f s start
	shift
	echo "# ---- $name"
	start=$SECONDS
	timeout --kill-after=10 "$TIMEOUT" "$@" 2>&1 </dev/null | tee "$LOG"
	rc=${PIPESTATUS[0]}
	p=$(grep -v '# SKIP' "$LOG" | grep -c '^ok\b')
	f=$(grep -v '# SKIP' "$LOG" | grep -c '^not ok\b')
	s=$(grep -cE '^((not )?ok\b.*)?# SKIP' "$LOG")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "not ok - $name timed out after ${TIMEOUT}s"
		else
			echo "not ok - $name exited with status $rc"
		fi
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failures+=("$name ($f)")
	echo "# ---- $name: $p passed, $f failed, $s skipped, $((SECONDS - start))s"
}

found=0
for kind in $kinds; do
	if [ "$kind" = unit ]; then
		for t in "$BUILD"/tests/test_*; do
			[ -f "$t" ] && [ -x "$t" ] || continue
			selected "$(basename "$t")" || continue
			found=$((found + 1))
			CMOCKA_MESSAGE_OUTPUT=TAP run "unit/$(basename "$t")" "$t"
		done
	else
		for t in "$TOP"/tests/integration/*.sh; do
			[ -f "$t" ] || continue
			selected "$(basename "$t")" || continue
			found=$((found + 1))
			run "integration/$(basename "$t")" bash "$t"
		done
	fi
done

if [ "$found" -eq 0 ]; then
	echo "# no test matched (kinds: $kinds; filters: ${filters[*]:-none})"
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "# failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
