#!/bin/bash
# tests/mutants/run.sh: the mutant suite (make mutants). Each mutant in
# tests/mutants/*.patch is a small bug put in on purpose; the tests it
# names must notice it.
#
#   tests/mutants/run.sh [--list] [--no-baseline] [MUTANT...]
#
# The working tree's tracked files are copied to /tmp/ocb-mut-XXXXXX and
# built once (make -j2); for each mutant (all, or those named) that copy
# is copied again, the patch applied (patch -p1 --fuzz=0), the result
# built, and the test files named on its "# tests:" line run one by one
# with that copy's tests/run-all.sh until one fails: the mutant is caught.
# A test that fails is first run on the unmutated copy (once): one that
# fails there too catches nothing (--no-baseline skips this check); nor
# does one that fails because the kernel refuses the mutated programs.
# A mutant that does not apply, does not build, or that no named test
# catches is a failure, except one marked "# expect: survives (hole:
# ...)", reported apart. Prints "mutant | caught by | time" and
# "N passed, N failed"; exits 1 if any failed. Logs stay in
# $OCB_MUTANT_LOGS (default: a new /tmp/ocb-mutants-logs.XXXXXX).
# Runs serially: the tests use real cgroups. Needs root, as make check.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
MDIR=$TOP/tests/mutants

usage() {
	sed -n '2,22s/^# \{0,1\}//p' "$0"
}

list=0 baseline=1 names=()
while [ $# -gt 0 ]; do
	case $1 in
	--list) list=1 ;;
	--no-baseline) baseline=0 ;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		echo "run.sh: unknown option $1" >&2
		usage >&2
		exit 2
		;;
	*) names+=("${1%.patch}") ;;
	esac
	shift
done

# header FILE KEY: the value of the first "# KEY: value" line.
header() {
	sed -n "s/^# $2: *//p" "$1" | head -n 1
}

if [ ${#names[@]} -eq 0 ]; then
	for f in "$MDIR"/*.patch; do
		[ -f "$f" ] && names+=("$(basename "$f" .patch)")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "run.sh: no mutant in $MDIR" >&2
	exit 2
fi
bad=0
for n in "${names[@]}"; do
	f=$MDIR/$n.patch
	if [ ! -f "$f" ]; then
		echo "run.sh: no mutant $n ($f)" >&2
		bad=1
	elif [ -z "$(header "$f" tests)" ] || [ -z "$(header "$f" breaks)" ]; then
		echo "run.sh: $f needs a '# tests:' and a '# breaks:' line" >&2
		bad=1
	fi
	for t in $(header "$f" tests | tr ',' ' '); do
		case $t in
		unit/*) src=$TOP/tests/unit/${t#unit/}.c ;;
		integration/*) src=$TOP/tests/integration/${t#integration/}.sh ;;
		*) src= ;;
		esac
		if [ -z "$src" ] || [ ! -f "$src" ]; then
			echo "run.sh: $f names $t: no such test (unit/NAME for tests/unit/NAME.c, integration/NAME for tests/integration/NAME.sh)" >&2
			bad=1
		fi
	done
done
[ $bad -eq 0 ] || exit 2

if [ $list -eq 1 ]; then
	for n in "${names[@]}"; do
		f=$MDIR/$n.patch
		printf '%s\n    breaks: %s\n    tests:  %s\n' "$n" "$(header "$f" breaks)" "$(header "$f" tests)"
		[ -n "$(header "$f" expect)" ] && printf '    expect: %s\n' "$(header "$f" expect)"
	done
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: the tests must run as root. Run: sudo make mutants" >&2
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi

WORK=$(mktemp -d /tmp/ocb-mut-XXXXXX) || exit 1
trap 'rm -rf --one-file-system "$WORK"' EXIT
trap 'exit 130' INT TERM
LOGS=${OCB_MUTANT_LOGS:-$(mktemp -d /tmp/ocb-mutants-logs.XXXXXX)}
mkdir -p "$LOGS" || exit 1
BASE=$WORK/base
start_all=$SECONDS

# The unit test binaries the selected mutants name (build/tests/test_*).
unit_bins=()
for n in "${names[@]}"; do
	for t in $(header "$MDIR/$n.patch" tests | tr ',' ' '); do
		case $t in unit/*) unit_bins+=("build/tests/${t#unit/}") ;; esac
	done
done
# build DIR LOG: builds what the named tests need in a copy (not with
# the variables of a make that runs us: make mutants SANITIZE=1).
unset MAKEFLAGS MFLAGS MAKELEVEL
mapfile -t unit_bins < <(printf '%s\n' "${unit_bins[@]}" | sort -u | grep .)
build() {
	make -C "$1" -j2 --no-print-directory BUILD=build all build/nettool "${unit_bins[@]}" \
		>"$2" 2>&1
}

echo "# copying the working tree's tracked files to $BASE and building it"
# Files deleted in the working tree but still tracked are left out.
if ! mkdir -p "$BASE" ||
	! (cd "$TOP" && git ls-files -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
	tar -xf - -C "$BASE"; then
	echo "run.sh: cannot copy the tree to $BASE" >&2
	exit 1
fi
if ! build "$BASE" "$LOGS/base.build.log"; then
	tail -n 20 "$LOGS/base.build.log"
	echo "run.sh: the unmutated tree does not build (log: $LOGS/base.build.log)" >&2
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi

# run_test DIR TEST LOG: one named test file with DIR's run-all.sh.
# Returns 0 if it passed, 1 if it failed, 2 if there is no such test.
run_test() {
	local dir=$1 t=$2 log=$3 kind name
	kind=${t%%/*} name=${t#*/}
	case $kind in
	unit) [ -x "$dir/build/tests/$name" ] || return 2 ;;
	integration) [ -f "$dir/tests/integration/$name.sh" ] || return 2 ;;
	*) return 2 ;;
	esac
	BUILD=$dir/build OCB_HOOK=$dir/build/oci-cgroup-bpf-hook \
		"$dir/tests/run-all.sh" "--$kind" "$name" >"$log" 2>&1 </dev/null && return 0
	return 1
}

# base_fails TEST: does TEST fail on the unmutated copy? Cached. A
# failure is run again: the machine is shared, and a check that counts
# programs can see another test's.
declare -A base_result=()
base_fails() {
	local log=$LOGS/base.${1//\//_}.log
	if [ -z "${base_result[$1]:-}" ]; then
		run_test "$BASE" "$1" "$log" || run_test "$BASE" "$1" "$log"
		base_result[$1]=$?
	fi
	[ "${base_result[$1]}" -ne 0 ]
}

passed=0 failed=0 holes=0 rows=() problems=()
for n in "${names[@]}"; do
	f=$MDIR/$n.patch
	tests=$(header "$f" tests | tr ',' ' ')
	expect=$(header "$f" expect)
	m=$WORK/$n
	start=$SECONDS
	verdict='' by='' undecided=''
	echo "# ---- $n: $(header "$f" breaks)"
	rm -rf --one-file-system "$m"
	cp -a "$BASE" "$m" || verdict="error: cannot copy $BASE"
	if [ -z "$verdict" ] &&
		! (cd "$m" && patch -p1 --forward --batch --fuzz=0 --no-backup-if-mismatch \
			-r - <"$f") >"$LOGS/$n.patch.log" 2>&1; then
		verdict="does not apply (the code moved: update the patch)"
		cat "$LOGS/$n.patch.log"
	fi
	if [ -z "$verdict" ] && ! build "$m" "$LOGS/$n.build.log"; then
		verdict="not caught: does not build"
		tail -n 10 "$LOGS/$n.build.log"
	fi
	if [ -z "$verdict" ]; then
		for t in $tests; do
			log=$LOGS/$n.${t//\//_}.log
			run_test "$m" "$t" "$log"
			case $? in
			0) echo "#   $t: passes" ;;
			2)
				verdict="no test $t (in this tree or built)"
				break
				;;
			*)
				echo "#   $t: fails: $(grep -m 1 '^not ok' "$log" || tail -n 1 "$log")"
				# A verifier that refuses the mutant is no test catching it.
				if grep -q -e 'refused our BPF programs' -e 'cannot load the BPF object' \
					-e 'failed to load BPF skeleton' "$log"; then
					verdict="not caught: its BPF programs do not load (rewrite it)"
					break
				fi
				if [ $baseline -eq 1 ] && base_fails "$t"; then
					echo "#   $t fails without the mutant too: it catches nothing (log: $LOGS/base.${t//\//_}.log)"
					problems+=("$t fails on the unmutated tree")
					undecided+=" $t"
					continue
				fi
				by=$t
				break
				;;
			esac
		done
		if [ -z "$verdict" ] && [ -z "$by" ]; then
			verdict=SURVIVES
			[ -n "$undecided" ] && verdict="not judged:$undecided fail(s) without it too"
		fi
	fi
	rm -rf --one-file-system "$m"
	# Its programs were loaded once, as its own build: unload them (the
	# unmutated hook's gc removes builds no link uses).
	"$BASE/build/oci-cgroup-bpf-hook" gc >/dev/null 2>&1
	if [ -n "$by" ]; then
		passed=$((passed + 1))
		[ -n "$expect" ] && by="$by (marked '# expect: survives': the hole is closed, drop the mark)"
	elif [ "$verdict" = SURVIVES ] && [ -n "$expect" ]; then
		holes=$((holes + 1))
		by="survives, as expected: ${expect#survives }"
	else
		failed=$((failed + 1))
		by=$verdict
	fi
	rows+=("$(printf '%-28s | %-58s | %4ds' "$n" "$by" $((SECONDS - start)))")
done

echo
printf '%-28s | %-58s | %s\n' mutant "caught by" time
for r in "${rows[@]}"; do
	echo "$r"
done
[ ${#problems[@]} -gt 0 ] && printf '# %s\n' "${problems[@]}" | sort -u
echo "# logs: $LOGS; $((SECONDS - start_all))s in all"
[ $holes -gt 0 ] && echo "# $holes known hole(s): mutants no test catches yet (see their '# expect:' line)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
