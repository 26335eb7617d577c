# shellcheck shell=bash
# tests/lib.sh: helpers shared by the integration tests. Source it:
#
#     . "$(dirname "$0")/../lib.sh"
#
# Reporting is TAP-ish: `ok DESC`, `not_ok DESC [DETAIL...]`, `check DESC
# CMD...`; detail lines are prefixed with '#'. End a test with
# `done_testing`, which exits 1 if anything failed.
#
# Safety rules every helper follows (the machine is shared):
#  - programs are only ever attached to cgroups a test created; the
#    cgroup helpers refuse any path that is not ours;
#  - traffic only flows inside network namespaces a test created;
#  - everything a test creates is registered with `defer` and undone by
#    the EXIT/INT/TERM trap, even when the test fails half-way;
#  - names start with $T (ocbt-<pid>) so parallel runs do not collide.

set -u
set -o pipefail

OCB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOOK=${OCB_HOOK:-$OCB_TOP/build/oci-cgroup-bpf-hook}
BPFFS=${OCB_BPFFS:-/sys/fs/bpf}
PIN_BASE=$BPFFS/oci-cgroup-bpf-hook
LOCK_DIR=/run/oci-cgroup-bpf-hook
HOOK_ARGS=()
[ -n "${OCB_BPFFS:-}" ] && HOOK_ARGS=(--bpffs "$BPFFS")
# Prefix of every name a test creates (cgroups, netns, ids, containers).
T=ocbt-$$
T_NAME=$(basename "$0" .sh)
T_PASS=0
T_FAIL=0
T_SKIP=0

# What the hook pins for a container: links by attach point, maps by name.
LINK_NAMES=(ingress egress connect4 connect6 sendmsg4 sendmsg6 sockopt)
MAP_NAMES=(stats active conf rules ports info)
declare -A LINK_ATTACH_TYPE=(
	[ingress]=cgroup_inet_ingress [egress]=cgroup_inet_egress
	[connect4]=cgroup_inet4_connect [connect6]=cgroup_inet6_connect
	[sendmsg4]=cgroup_udp4_sendmsg [sendmsg6]=cgroup_udp6_sendmsg
	[sockopt]=cgroup_setsockopt
)

# ---------------------------------------------------------------- reporting

# A description stays on one line, whatever it holds.
_one_line() {
	local d=${1//$'\n'/\\n}
	printf '%s' "${d//$'\r'/\\r}"
}

ok() {
	T_PASS=$((T_PASS + 1))
	printf 'ok - %s\n' "$(_one_line "$1")"
}

# not_ok DESC [DETAIL...]: each detail (may be multi-line) is printed
# with '#' in front of every line.
not_ok() {
	local d
	T_FAIL=$((T_FAIL + 1))
	printf 'not ok - %s\n' "$(_one_line "$1")"
	shift
	for d in "$@"; do
		[ -n "$d" ] && printf '%s\n' "$d" | sed 's/^/#   /'
	done
	return 0
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# skip WHAT WHY: WHAT was not tested, and why. Counted apart, never as
# a pass: run-all.sh's last line says how many were skipped.
skip() {
	T_SKIP=$((T_SKIP + 1))
	printf '# SKIP %s: %s\n' "$1" "${2:-}"
}

# check DESC CMD...: runs CMD; ok if it exits 0. Returns CMD's status.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit status $rc" "$out"
	fi
	return "$rc"
}

# check_fails DESC CMD...: ok if CMD exits non-zero.
check_fails() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command unexpectedly succeeded: $*" "$out"
	fi
	[ "$rc" -ne 0 ]
}

expect_eq() { # DESC EXPECTED ACTUAL [DETAIL...]
	local desc=$1 want=$2 got=$3
	shift 3
	if [ "$want" = "$got" ]; then
		ok "$desc"
	else
		not_ok "$desc" "expected: $want" "got:      $got" "$@"
		return 1
	fi
}

expect_ne() { # DESC UNEXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got $3, which it must not be"
		return 1
	fi
}

expect_gt() { # DESC A B: ok if A > B (integers)
	if [[ $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] && [ "$2" -gt "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected $2 > $3"
		return 1
	fi
}

expect_match() { # DESC REGEX TEXT
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		not_ok "$1" "expected to match: $2" "got: $3"
		return 1
	fi
}

# bail DESC [DETAIL...]: a setup step failed; report and stop the test.
bail() {
	not_ok "$@"
	diag "$T_NAME: cannot continue"
	exit 1
}

done_testing() {
	diag "$T_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
	[ "$T_FAIL" -eq 0 ] || exit 1
	exit 0
}

# ------------------------------------------------------------ cleanup stack

_T_CLEANUP=()

# defer CMD: CMD (a string, eval'ed) runs at exit, last deferred first.
defer() {
	_T_CLEANUP+=("$*")
}

_t_run_cleanup() {
	local i
	_T_CLEANING=1
	# Each in a subshell: a step that exits (bail) must not skip the rest.
	for ((i = ${#_T_CLEANUP[@]} - 1; i >= 0; i--)); do
		(eval "${_T_CLEANUP[i]}") </dev/null >/dev/null 2>&1 || true
	done
	_T_CLEANUP=()
	[ -n "${T_TMP:-}" ] && [ -d "$T_TMP" ] && rm -rf "$T_TMP"
	return 0
}

_t_on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	# Cleanup is quiet: no job notices for what it kills.
	exec 2>/dev/null
	_t_run_cleanup
	exit "$rc"
}

_t_on_signal() {
	diag "$T_NAME: interrupted by SIG$1, cleaning up"
	exit "$2"
}

trap _t_on_exit EXIT
trap '_t_on_signal INT 130' INT
trap '_t_on_signal TERM 143' TERM

T_TMP=$(mktemp -d "/tmp/$T.XXXXXX") || {
	echo "not ok - $T_NAME: cannot create a temporary directory"
	exit 1
}
# Readable by others: the non-root tests run a copy of the hook from here.
chmod 755 "$T_TMP"

# ------------------------------------------------------------- requirements

require_root() {
	[ "$(id -u)" -eq 0 ] || bail "$T_NAME must run as root (try: sudo make check)"
}

require_cmds() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ ${#missing[@]} -eq 0 ] ||
		bail "$T_NAME needs: ${missing[*]}" "install them with: sudo tests/deps.sh"
}

# The hook under test is a private copy: others may rebuild the tree's
# binary while a test runs.
require_hook() {
	[ -x "$HOOK" ] || bail "hook binary $HOOK exists" "build it first: make"
	cp "$HOOK" "$T_TMP/oci-cgroup-bpf-hook" && chmod 755 "$T_TMP/oci-cgroup-bpf-hook" ||
		bail "copy the hook to $T_TMP"
	HOOK=$T_TMP/oci-cgroup-bpf-hook
}

# The usual preamble of an integration test.
test_init() {
	require_root
	require_cmds bpftool jq socat nsenter ip ss runc stat setpriv unshare timeout
	require_hook
	CG2_MNT=$(cg2_mount)
	[ -n "$CG2_MNT" ] || bail "a cgroup v2 hierarchy is mounted" "no usable cgroup2 line in /proc/self/mountinfo"
	snapshot_progs
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
# With a single string, that string is eval'ed on every try, so command
# substitutions in it are redone:  wait_for 10 'test "$(f)" = x'
# (whereas `wait_for 10 test "$(f)" = x` evaluates f only once).
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		if [ $# -eq 1 ]; then
			eval "$1" >/dev/null 2>&1 && return 0
		else
			"$@" >/dev/null 2>&1 && return 0
		fi
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# -------------------------------------------------------------------- cgroups

# cg2_mount: the mount point of the cgroup v2 hierarchy, from mountinfo
# (the first cgroup2 mount of the hierarchy root that is reachable).
cg2_mount() {
	local root mnt
	while read -r root mnt; do
		mnt=${mnt//\\040/ }
		[ "$root" = / ] || continue
		[ "$(stat -f -c %T "$mnt" 2>/dev/null)" = cgroup2fs ] || continue
		printf '%s\n' "$mnt"
		return 0
	done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $4, $5; break } }' /proc/self/mountinfo)
	return 1
}

# cgroup v1 mount points (hybrid hosts), one a line.
cg1_mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup") print $5; break } }' /proc/self/mountinfo
}

# Refuses any cgroup path that is not one of ours.
_assert_ours_cg() {
	case $1 in
	"$CG2_MNT/$T"-*) [[ $1 != *..* ]] && return 0 ;;
	esac
	bail "refusing to touch cgroup '$1': not created by this test"
}

# The path of a process's cgroup v2 (the "0::" line of /proc/PID/cgroup).
proc_cg2() {
	sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null
}

# cgroup id (what bpftool and link info print) of a cgroup v2 directory.
cg_id() {
	stat -c %i "$1"
}

# new_cgroup VAR NAME: creates $CG2_MNT/$T-NAME (or a child: NAME may be
# "parent/child" with the parent created first) and stores its path.
new_cgroup() {
	local var=$1 path="$CG2_MNT/$T-$2"
	_assert_ours_cg "$path"
	mkdir "$path" || bail "create test cgroup $path"
	defer "remove_cgroup '$path'"
	printf -v "$var" '%s' "$path"
}

# remove_cgroup PATH: kills what runs in one of our cgroups, removes it.
remove_cgroup() {
	local path=$1 d pid
	_assert_ours_cg "$path"
	[ -d "$path" ] || return 0
	for pid in $(cat "$path/cgroup.procs" 2>/dev/null); do
		_is_child "$pid" && bg_stop "$pid"
	done
	if [ -e "$path/cgroup.kill" ]; then
		echo 1 >"$path/cgroup.kill"
	else
		for pid in $(cat "$path"/cgroup.procs "$path"/*/cgroup.procs 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	# Exiting tasks leave cgroup.procs before the cgroup is unpopulated.
	wait_for 5 cg_unpopulated "$path"
	while read -r d; do
		wait_for 5 rmdir "$d"
	done < <(find "$path" -depth -type d)
	[ ! -d "$path" ]
}

cg_unpopulated() {
	grep -qx 'populated 0' "$1/cgroup.events" 2>/dev/null
}

# ---------------------------------------------------------------- processes

# bg_start VAR LOG CMD...: runs CMD in the background with its output
# in LOG; stores its pid; stops it at exit.
bg_start() {
	local var=$1 log=$2
	shift 2
	# The pid must be CMD's own: in_ns and in_ns_cg exec when _T_EXEC is set.
	(
		_T_EXEC=1
		if declare -F "$1" >/dev/null; then "$@"; else exec "$@"; fi
	) </dev/null >"$log" 2>&1 &
	printf -v "$var" '%s' "$!"
	defer "bg_stop $!"
}

_is_child() {
	[ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$BASHPID" ]
}

# bg_stop PID: TERM, then KILL after 3 s. A child of this shell is waited
# for at once, which also keeps bash from printing a "Killed" notice.
bg_stop() {
	local pid=$1 k
	if _is_child "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		(
			sleep 3
			kill -KILL "$pid" 2>/dev/null
		) &
		k=$!
		wait "$pid" 2>/dev/null
		kill -KILL "$k" 2>/dev/null
		wait "$k" 2>/dev/null
	else
		kill -TERM "$pid" 2>/dev/null || return 0
		wait_for 3 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

# ----------------------------------------------------- network namespaces

NETNS_DIR=/var/run/netns

# new_netns VAR NAME: a network namespace $T-NAME with loopback up.
new_netns() {
	local var=$1 ns="$T-$2"
	ip netns add "$ns" || bail "create network namespace $ns"
	defer "remove_netns '$ns'"
	ip -n "$ns" link set lo up || bail "bring up lo in $ns"
	printf -v "$var" '%s' "$ns"
}

remove_netns() {
	local ns=$1 pid
	case $ns in "$T"-*) ;; *) return 1 ;; esac
	for pid in $(ip netns pids "$ns" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	return 0
}

# in_ns NS CMD...: runs CMD in the test network namespace NS.
in_ns() {
	local ns=$1
	shift
	${_T_EXEC:+exec} nsenter --net="$NETNS_DIR/$ns" -- "$@"
}

# in_ns_cg NS CG CMD...: runs CMD in network namespace NS and cgroup CG
# (both made by the test). CMD keeps the pid of this call's child.
_IN_NS_CG_SH='echo $$ >"$1/cgroup.procs" || exit 125; ns=$2; shift 2; exec nsenter --net="'"$NETNS_DIR"'/$ns" -- "$@"'
in_ns_cg() {
	local ns=$1 cg=$2
	shift 2
	_assert_ours_cg "$cg"
	${_T_EXEC:+exec} sh -c "$_IN_NS_CG_SH" sh "$cg" "$ns" "$@"
}

# start_in_ns_cg VAR NS CG: a `sleep` standing for a container's process,
# in NS and CG; waits until it is in CG.
start_in_ns_cg() {
	local var=$1 ns=$2 cg=$3 pid
	bg_start pid "$T_TMP/sleep-$RANDOM.log" in_ns_cg "$ns" "$cg" sleep 600
	wait_for 5 grep -qx "$pid" "$cg/cgroup.procs" || bail "process $pid joined $cg"
	printf -v "$var" '%s' "$pid"
}

# listening NS PORT [tcp|udp]: something listens on PORT in NS.
listening() {
	local flag=-Hltn
	[ "${3:-tcp}" = udp ] && flag=-Hlun
	[ -n "$(in_ns "$1" ss $flag "( sport = :$2 )" 2>/dev/null)" ]
}

# start_tcp_echo NS ADDR PORT: a TCP server in NS (outside any test
# cgroup) answering "pong <first line>" and closing.
start_tcp_echo() {
	local ns=$1 addr=$2 port=$3 pid fam=TCP4
	[[ $addr == *:* ]] && fam=TCP6 addr="[$addr]"
	bg_start pid "$T_TMP/tcp-$port.log" in_ns "$ns" socat \
		"$fam-LISTEN:$port,bind=$addr,reuseaddr,fork" 'SYSTEM:read l; echo "pong $l"'
	wait_for 5 listening "$ns" "$port" tcp || bail "TCP server on $addr:$port in $ns"
}

# start_udp_echo NS ADDR PORT: a UDP server answering "upong <line>"
# to each datagram.
start_udp_echo() {
	local ns=$1 addr=$2 port=$3 pid fam=UDP4
	[[ $addr == *:* ]] && fam=UDP6 addr="[$addr]"
	bg_start pid "$T_TMP/udp-$port.log" in_ns "$ns" socat -T 5 \
		"$fam-RECVFROM:$port,bind=$addr,fork" 'SYSTEM:read l; echo "upong $l"'
	wait_for 5 listening "$ns" "$port" udp || bail "UDP server on $addr:$port in $ns"
}

# tcp_client NS CG ADDR PORT MSG: from CG, sends MSG, prints the answer.
tcp_client() {
	local fam=TCP4 addr=$3
	[[ $addr == *:* ]] && fam=TCP6 addr="[$addr]"
	_assert_ours_cg "$2"
	printf '%s\n' "$5" | timeout 10 sh -c "$_IN_NS_CG_SH" sh "$2" "$1" socat -t 3 - "$fam:$addr:$4"
}

# udp_client NS CG ADDR PORT MSG: unconnected sendto() from CG.
udp_client() {
	local fam=UDP4 addr=$3
	[[ $addr == *:* ]] && fam=UDP6 addr="[$addr]"
	_assert_ours_cg "$2"
	printf '%s\n' "$5" | timeout 10 sh -c "$_IN_NS_CG_SH" sh "$2" "$1" socat -t 0.5 - "$fam-SENDTO:$addr:$4"
}

# -------------------------------------------------------------------- hook

# pin_dir ID: where the hook pins a container ('%' and '.' escaped).
pin_dir() {
	local e=${1//'%'/%25}
	printf '%s/%s\n' "$PIN_BASE" "${e//./%2e}"
}

# A bundle whose config.json grants runc's default capabilities (no
# CAP_NET_RAW, no CAP_NET_ADMIN): the hook reads them at prestart
# (privileged_network), so hook_state's states name it.
STATE_BUNDLE=$T_TMP/state-bundle
mkdir -p "$STATE_BUNDLE" && jq -n '{ociVersion: "1.0.2", process: {capabilities:
	(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"] as $c
	 | {bounding: $c, effective: $c, permitted: $c, ambient: $c})}}' >"$STATE_BUNDLE/config.json" ||
	bail "write $STATE_BUNDLE/config.json"

# hook_state ID PID STATUS [EXTRA]: an OCI state document. PID "-" leaves
# "pid" out; EXTRA is a JSON object merged in (e.g. '{"root":"/x"}').
hook_state() {
	local id=$1 pid=$2 status=$3 extra=${4:-'{}'}
	jq -nc --arg id "$id" --arg pid "$pid" --arg status "$status" --argjson extra "$extra" \
		--arg bundle "$STATE_BUNDLE" \
		'{ociVersion: "1.0.2", id: $id, status: $status, bundle: $bundle}
		 + (if $pid == "-" then {} else {pid: ($pid | tonumber)} end) + $extra'
}

# Prefix command for the hook (e.g. setpriv ...); empty by default.
HOOK_WRAP=()

# hook_stdin STAGE: runs the hook for STAGE ("" for none) with stdin as
# the state; sets HOOK_RC, HOOK_ERR (stderr) and HOOK_OUT (stdout).
hook_stdin() {
	local stage_arg=("$1")
	[ -z "$1" ] && stage_arg=()
	HOOK_ERR=$("${HOOK_WRAP[@]}" "$HOOK" "${HOOK_ARGS[@]}" "${stage_arg[@]}" 2>&1 >"$T_TMP/hook.out")
	HOOK_RC=$?
	# shellcheck disable=SC2034 # for the tests
	HOOK_OUT=$(cat "$T_TMP/hook.out")
	return "$HOOK_RC"
}

declare -A _T_DETACH_DEFERRED=()

# run_hook STAGE ID PID STATUS [EXTRA]: hook_state | hook STAGE. An
# attach stage also registers a detach of ID at exit. A detach runs as a
# runtime's would: with ID's cgroup emptied first (cg_park_for).
run_hook() {
	local stage=$1 rc
	shift
	T_PARKED=
	case $stage in
	prestart | createRuntime) defer_detach "$1" ;;
	poststop) cg_park_for "$1" ;;
	"") [ "${3:-}" = stopped ] && cg_park_for "$1" ;;
	esac
	hook_state "$@" >"$T_TMP/state.json" || bail "build a state for $*"
	hook_stdin "$stage" <"$T_TMP/state.json"
	rc=$?
	[ -n "$T_PARKED" ] && cg_unpark "$T_PARKED"
	return "$rc"
}

# cg_park_for ID: runtimes empty or remove a container's cgroup before its
# poststop, and the hook leaves pins whose cgroup still has processes:
# they may be another running container's of the same id (detach_owns in
# hook/attach.c). A test that plays the runtime by hand with a `sleep`
# standing for the container does the same: the processes of the cgroup
# that ID's info map records (one of ours) wait in CG-parked (cg_park).
# Tests of that rule itself use hook_stdin.
cg_park_for() {
	local cg
	T_PARKED=
	cg=$(bpftool -j map dump pinned "$(pin_dir "$1")/info" 2>/dev/null |
		jq -r '.[0].formatted.value.cgroup // empty' 2>/dev/null)
	case $cg in "$CG2_MNT/$T"-*) [[ $cg != *..* ]] && cg_park "$cg" ;; esac
	return 0
}

# cg_parking CG: the cgroup CG-parked, made (and removed at exit) once.
cg_parking() {
	_assert_ours_cg "$1-parked"
	[ -d "$1-parked" ] && return 0
	mkdir "$1-parked" || return 1
	defer "remove_cgroup '$1-parked'"
}

# cg_park CG: every process of CG (one of ours) moves to CG-parked, as
# the container's would leave it before poststop; sets T_PARKED to CG.
# cg_unpark CG puts them back.
cg_park() {
	local pid
	T_PARKED=
	_assert_ours_cg "$1"
	[ -d "$1" ] && ! cg_unpopulated "$1" && cg_parking "$1" || return 0
	for pid in $(cat "$1/cgroup.procs" 2>/dev/null); do
		echo "$pid" >"$1-parked/cgroup.procs" 2>/dev/null
	done
	wait_for 5 cg_unpopulated "$1"
	T_PARKED=$1
}

cg_unpark() {
	local pid
	_assert_ours_cg "$1"
	for pid in $(cat "$1-parked/cgroup.procs" 2>/dev/null); do
		echo "$pid" >"$1/cgroup.procs" 2>/dev/null
	done
}

# defer_detach ID: at exit, poststop ID and remove whatever is left.
defer_detach() {
	[ -n "${_T_DETACH_DEFERRED[$1]:-}" ] && return 0
	_T_DETACH_DEFERRED[$1]=1
	defer "detach_quiet $(printf '%q' "$1")"
}

detach_quiet() {
	local dir
	# Poststop detaches only a container whose cgroup is empty.
	cg_park_for "$1"
	hook_state "$1" 0 stopped | "$HOOK" "${HOOK_ARGS[@]}" poststop >/dev/null 2>&1
	if [ -n "$T_PARKED" ]; then
		cg_unpark "$T_PARKED"
		# At exit, what cg_parking defers would not run any more.
		[ -n "${_T_CLEANING:-}" ] && remove_cgroup "$T_PARKED-parked"
	fi
	dir=$(pin_dir "$1")
	case $1 in */* | .* | '') return 0 ;; esac
	if [ -d "$dir" ]; then
		# By hand, then gc frees the slot the pins held.
		rm -rf "$dir"
		"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1
	fi
	rm -f "$LOCK_DIR/$1"
	return 0
}

# hook_said: the hook's stderr has a line "oci-cgroup-bpf-hook: ...".
hook_said() {
	printf '%s\n' "$HOOK_ERR" | grep -q '^oci-cgroup-bpf-hook: '
}

# expect_refused DESC [REGEX]: the last hook run exited non-zero with an
# "oci-cgroup-bpf-hook:" line (matching REGEX, if given).
expect_refused() {
	local desc=$1 re=${2:-}
	if [ "$HOOK_RC" -eq 0 ]; then
		not_ok "$desc" "the hook exited 0" "stderr: $HOOK_ERR"
		return 1
	fi
	if ! hook_said; then
		not_ok "$desc" "exit $HOOK_RC but no line starting 'oci-cgroup-bpf-hook:'" "stderr: $HOOK_ERR"
		return 1
	fi
	if [ -n "$re" ] && ! printf '%s\n' "$HOOK_ERR" | grep -Eq -- "$re"; then
		not_ok "$desc" "message does not match /$re/" "stderr: $HOOK_ERR"
		return 1
	fi
	ok "$desc"
	diag "  -> $HOOK_ERR"
}

expect_hook_ok() { # DESC
	if [ "$HOOK_RC" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1" "the hook exited $HOOK_RC" "stderr: $HOOK_ERR"
		return 1
	fi
}

# ----------------------------------------------------------- BPF inspection

ocb_prog_ids() {
	bpftool -j prog show 2>/dev/null | jq -r '.[] | select((.name // "") | startswith("ocb_")) | .id' | sort -n
}

# ocb_progs_on CG: names of our programs attached directly to CG.
ocb_progs_on() {
	[ -d "$1" ] || return 0
	bpftool -j cgroup show "$1" 2>/dev/null | jq -r '.[]? | .name // "" | select(startswith("ocb_"))' | sort
}

# Names our object and loader give maps (bpftool shows 15 characters).
OUR_MAP_NAMES=(stats active conf rules ports info events trace_ctl trace_lost trace_rate
	flows peers ocb.rodata ocb.bss ocb.data ocb_sync ocb_sync_in ocb_check ocb_meta
	c_stats c_active c_conf c_rules c_ports c_info cgslot ocb_slots ocb_profiles)
WORK_DIR=$BPFFS/oci-cgroup-bpf-hook-work
EVENTS_DIR=$BPFFS/oci-cgroup-bpf-hook-events
# The programs, loaded once per host and build (hook/progs.c).
PROGS_DIR=$BPFFS/oci-cgroup-bpf-hook-progs

# ocb_map_ids: maps with one of our names, one id a line.
ocb_map_ids() {
	bpftool -j map show 2>/dev/null | jq -r --arg names " ${OUR_MAP_NAMES[*]} " \
		'if type == "array" then .[] else empty end | objects | select(.name as $n | $n != null and ($names | contains(" \($n) "))) | .id' | sort -n
}

# ocb_link_ids: links of our programs, one id a line.
ocb_link_ids() {
	bpftool -j link show 2>/dev/null | jq -r --arg ids " $(ocb_prog_ids | tr '\n' ' ') " \
		'if type == "array" then .[] else empty end | objects
		 | select(.prog_id as $p | $ids | contains(" \($p) ")) | .id' | sort -n
}

# work_entries: our work directory (staging, trash), one entry a line.
work_entries() {
	ls -A "$WORK_DIR" 2>/dev/null | sort
}

# What of ours existed before the test began: programs, maps, links,
# work entries. assert_nothing_left compares with these.
snapshot_progs() {
	T_BASE_PROGS=$(ocb_prog_ids | tr '\n' ' ')
	T_BASE_MAPS=$(ocb_map_ids | tr '\n' ' ')
	T_BASE_LINKS=$(ocb_link_ids | tr '\n' ' ')
	T_BASE_WORK=$(work_entries | tr '\n' ' ')
}

# The maps and links seen pinned for each id ("map:ID link:ID ..."), to
# check they go away (the programs are shared: they stay; so are the
# profile's tries while another container uses them).
declare -A T_SEEN_OBJS=()
# cgroup ids of cgroups this test attached to.
T_OUR_CGIDS=" "

# pinned_map_id ID NAME: the id of the map ID pins as NAME, or "none".
pinned_map_id() {
	bpftool -j map show pinned "$(pin_dir "$1")/$2" 2>/dev/null | jq -r '.id // "none"'
}

# link_info ID NAME: `bpftool -j link show pinned` of one pinned link.
link_info() {
	bpftool -j link show pinned "$(pin_dir "$1")/$2" 2>/dev/null
}

# link_ids ID: "name=linkid" for every pinned link, one line.
link_ids() {
	local n out=""
	for n in "${LINK_NAMES[@]}"; do
		out+="$n=$(link_info "$1" "$n" | jq -r '.id // "none"' 2>/dev/null) "
	done
	printf '%s\n' "${out% }"
}

# check_attached LABEL ID CG: ID's pins exist, its programs are
# attached to CG through the pinned links, and nothing else is pinned.
check_attached() {
	local label=$1 id=$2 cg=$3 dir want got n info cgid
	dir=$(pin_dir "$id")
	cgid=$(cg_id "$cg" 2>/dev/null)
	T_OUR_CGIDS+="$cgid "
	want=$(printf '%s\n' "${LINK_NAMES[@]}" "${MAP_NAMES[@]}" | sort | tr '\n' ' ')
	got=$(ls "$dir" 2>/dev/null | sort | tr '\n' ' ')
	expect_eq "$label: pins under $dir" "$want" "$got"
	want=$(printf 'ocb_%s\n' "${LINK_NAMES[@]}" | sort | tr '\n' ' ')
	got=$(ocb_progs_on "$cg" | tr '\n' ' ')
	expect_eq "$label: bpftool cgroup show lists all our programs on the cgroup" "$want" "$got"
	bpftool -j prog show >"$T_TMP/progs.json" 2>/dev/null
	for n in "${LINK_NAMES[@]}"; do
		local info got
		info=$(link_info "$id" "$n")
		got=$(jq -r --slurpfile progs "$T_TMP/progs.json" \
			'"\(.type) \(.cgroup_id) \(.attach_type) " + ((.prog_id as $p | $progs[0][] | select(.id == $p) | .name) // "?")' \
			<<<"$info" 2>/dev/null)
		expect_eq "$label: link $n is a cgroup link on the cgroup (id $cgid), ${LINK_ATTACH_TYPE[$n]}, program ocb_$n" \
			"cgroup $cgid ${LINK_ATTACH_TYPE[$n]} ocb_$n" "$got" "bpftool: $info"
	done
	T_SEEN_OBJS[$id]="${T_SEEN_OBJS[$id]:-}$(_pinned_objs "$id")"
}

# _live_work: work entries (<kind>-<pid>-<token>-<n>) whose hook
# process still runs: someone's attach or detach in progress.
_live_work() {
	local e pid
	for e in $(work_entries); do
		pid=${e#*-}
		pid=${pid%%-*}
		[ -n "$pid" ] && [ -d "/proc/$pid" ] && printf '%s ' "$e"
	done
}

# _fd_held map|prog: ids of the BPF maps or programs a live process holds
# open (someone's load or attach in progress; the test's hooks are gone).
_fd_held() {
	find /proc/[0-9]*/fd -maxdepth 1 -lname 'anon_inode:bpf*' 2>/dev/null |
		sed 's,/fd/,/fdinfo/,' | xargs -r grep -h "^$1_id:" 2>/dev/null |
		awk '{ printf "%s ", $2 }'
}

# _unexplained KIND [ID]: our objects (KIND: progs, maps or links) the
# kernel holds that were not there before the test and that nothing but
# ID (or any id of the test) explains. Explained: held by a cgroup link attached to a live cgroup
# that is not the test's, or pinned outside ID's directory and outside
# the work entries of hook processes that are gone (another id of the
# test, another test); programs and maps pinned under a shared
# programs' directory (this bpffs's or another's: they stay, the next
# container uses them) or the shared events directory;
# programs and maps a live process holds open (_fd_held).
_unexplained() {
	local mine=$PIN_BASE/$T # no ID: every id of the test
	[ $# -ge 2 ] && mine=$(pin_dir "$2")/
	local hprogs hmaps left id now
	# Held before or after the listing: a load in progress that the
	# listing caught between its two scans is someone else's.
	hprogs=" $(_fd_held prog)" hmaps=" $(_fd_held map)"
	bpftool -j -f prog show >"$T_TMP/progs.json" 2>/dev/null || echo '[]' >"$T_TMP/progs.json"
	bpftool -j -f link show >"$T_TMP/links.json" 2>/dev/null || echo '[]' >"$T_TMP/links.json"
	bpftool -j -f map show >"$T_TMP/maps.json" 2>/dev/null || echo '[]' >"$T_TMP/maps.json"
	hprogs+=" $(_fd_held prog)" hmaps+=" $(_fd_held map)"
	# The slots' maps stay in the shared outer maps between containers;
	# a slot still taken by a container that is gone is seen by
	# _seen_left (its own maps) and gc (orphaned slots).
	[ "$1" = maps ] && hmaps+=" $(_pool_index | awk '{ printf "%s ", $1 }')"
	left=$(jq -rn --slurpfile progs "$T_TMP/progs.json" --slurpfile links "$T_TMP/links.json" \
		--slurpfile maps "$T_TMP/maps.json" --arg kind "$1" \
		--arg base " $T_BASE_PROGS " --arg bmaps " $T_BASE_MAPS " --arg blinks " $T_BASE_LINKS " \
		--arg ours "$T_OUR_CGIDS" --arg mine "$mine" --arg work "$WORK_DIR/" \
		--arg live " $(_live_work)" --arg events "$EVENTS_DIR/" \
		--arg names " ${OUR_MAP_NAMES[*]} " \
		--arg hprogs "$hprogs " --arg hmaps "$hmaps " '
		# bpftool may print an error object beside (or instead of) its list.
		def objs: [.[] | if type == "array" then .[] else empty end | objects];
		def has($set; $x): $set | contains(" \($x) ");
		def ours_path($p):
			($p | startswith($mine))
			or ($p | startswith($work)
				and (has($live; $p | ltrimstr($work) | split("/")[0]) | not));
		def theirs_link:
			.type == "cgroup"
			and ((.cgroup_id != 0 and (has($ours; .cgroup_id) | not))
			     or any(.pinned[]?; ours_path(.) | not));
		def ocb_prog: (.name // "") | startswith("ocb_");
		($progs | objs) as $progs | ($links | objs) as $links | ($maps | objs) as $maps
		| ([$links[] | select(theirs_link) | .prog_id]) as $theirs
		| ([$progs[] | select(any(.pinned[]?; contains("/oci-cgroup-bpf-hook-progs/"))) | .id]) as $sprogs
		| def known($p): has($base; $p) or has($hprogs; $p) or any($theirs[]; . == $p)
			or any($sprogs[]; . == $p);
		  ([$progs[] | select(ocb_prog) | .id | select(known(.) | not)]) as $uprogs
		| ([$progs[] | select(known(.id)) | .map_ids[]?]) as $held
		| ([$progs[] | select(ocb_prog) | .id]) as $all
		| if $kind == "progs" then $uprogs
		  elif $kind == "maps" then
			[$maps[] | select(.name != null and has($names; .name))
			 | select(has($bmaps; .id) | not)
			 | select(any(.pinned[]?; startswith($events)
				     or contains("/oci-cgroup-bpf-hook-progs/")) | not)
			 | select(any(.pinned[]?; ours_path(.) | not) | not)
			 | .id | select(. as $m | has($hmaps; $m) or any($held[]; . == $m) | not)]
		  else
			[$links[] | select(.prog_id as $p | any($all[]; . == $p))
			 | select(has($blinks; .id) | not) | select(theirs_link | not) | .id]
		  end
		| map(tostring) | join(" ")')
	[ -n "$left" ] || return 0
	# What was freed meanwhile was on its way out, not left behind.
	now=" $(bpftool -j "${1%s}" show 2>/dev/null | jq -r '.[]? | objects | .id' | tr '\n' ' ')"
	for id in $left; do
		[[ $now == *" $id "* ]] && printf '%s ' "$id"
	done
	return 0
}

# _lasting KIND [ID]: what _unexplained reports twice, a second apart.
# Others' containers come and go all the time on a shared machine: a map
# whose program was just detached lingers until the kernel frees it, a
# load in progress holds what it created; what is left behind stays.
_lasting() {
	local a b id
	a=$(_unexplained "$@")
	[ -n "$a" ] || return 0
	sleep 1
	b=" $(_unexplained "$@")"
	for id in $a; do
		[[ $b == *" $id "* ]] && printf '%s ' "$id"
	done
	return 0
}

# _settled KIND [ID]: _lasting, asked until it is empty (10 s at most);
# prints what is left.
_settled() {
	local left deadline=$((SECONDS + 10))
	while :; do
		left=$(_lasting "$@")
		[ -z "$left" ] || [ "$SECONDS" -ge "$deadline" ] && break
	done
	printf '%s' "${left% }"
}

# _show_objects KIND IDS: bpftool's line for each.
_show_objects() {
	local id
	for id in $2; do
		bpftool "${1%s}" show id "$id" 2>&1 | head -n 2
	done
}

# _left_in_work: work entries (staging, trash) that were not there
# before the test and whose hook process is gone.
_left_in_work() {
	local e live
	live=" $(_live_work)"
	for e in $(work_entries); do
		[[ " $T_BASE_WORK " == *" $e "* || $live == *" $e "* ]] && continue
		printf '%s ' "$e"
	done
}

# _pinned_objs ID: "map:N" and "link:N" for each of ID's own pins (not
# its profile's tries, `rules` and `ports`: shared with the containers of
# the same profile, they go with the last; "no ocb map beyond" sees them).
_pinned_objs() {
	local n kind id out=""
	for n in "${LINK_NAMES[@]}" "${MAP_NAMES[@]}"; do
		[ "$n" = rules ] || [ "$n" = ports ] && continue
		kind=map
		[[ " ${LINK_NAMES[*]} " == *" $n "* ]] && kind=link
		id=$(bpftool -j "$kind" show pinned "$(pin_dir "$1")/$n" 2>/dev/null | jq -r '.id // empty')
		[ -n "$id" ] && out+="$kind:$id "
	done
	printf '%s' "$out"
}

# jq: a little-endian byte list as bpftool prints it (["0x5a", ...]).
JQ_LE='def le: reverse | map(ltrimstr("0x") | explode
	| reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end)))
	| reduce .[] as $b (0; . * 256 + $b);'

# _pool_index: "MAPID SLOT DIR" for every map a shared programs'
# directory's outer maps hold (the slots' maps, kept between containers,
# and their tries), under any bpffs.
_pool_index() {
	local id pin
	bpftool -j -f map show 2>/dev/null | jq -r '.[]? | objects
		| select((.name // "") | test("^c_(stats|active|conf|info|rules|ports)$"))
		| select(any(.pinned[]?; contains("/oci-cgroup-bpf-hook-progs/")))
		| "\(.id) \(.pinned[0])"' |
		while read -r id pin; do
			bpftool -j map dump id "$id" 2>/dev/null | jq -r --arg d "${pin%/*}" --arg n "${pin##*/}" \
				"$JQ_LE"' .[]? | objects | select(.value | type == "array")
				| "\(.value | le) \(.key | le | if $n == "c_rules" or $n == "c_ports" then (. / 2 | floor) else . end) \($d)"'
		done
}

# _slot_state DIR SLOT: the state of a slot (ocb_maps.h: 1 taken, 2
# freeing, 3 ready), as the shared `slots` map records it.
_slot_state() {
	bpftool -j map lookup pinned "$1/slots" key $(printf '0x%02x 0x%02x 0x%02x 0x%02x' \
		$(($2 & 255)) $((($2 >> 8) & 255)) $((($2 >> 16) & 255)) $((($2 >> 24) & 255))) \
		2>/dev/null | jq -r '.formatted.value.state // .value.state // "?"'
}

# _seen_left OBJS ("map:N link:N ..."): prints those that still exist,
# but for maps back in the pool: in a slot no container has (a slot's
# maps stay in the outer maps for the next container, slots.c).
_seen_left() {
	local o out="" maps links pool="" line slot dir
	maps=" $(bpftool -j map show 2>/dev/null | jq -r '.[]? | objects | .id' | tr '\n' ' ') "
	links=" $(bpftool -j link show 2>/dev/null | jq -r '.[]? | objects | .id' | tr '\n' ' ') "
	for o in $1; do
		case $o in
		map:?*)
			[[ $maps == *" ${o#map:} "* ]] || continue
			[ -n "$pool" ] || pool=$(_pool_index)
			line=$(awk -v id="${o#map:}" '$1 == id { print $2, $3; exit }' <<<"$pool")
			if [ -n "$line" ]; then
				read -r slot dir <<<"$line"
				case $(_slot_state "$dir" "$slot") in
				2 | 3) continue ;;
				esac
			fi
			out+="$o " ;;
		link:?*) [[ $links == *" ${o#link:} "* ]] && out+="$o " ;;
		esac
	done
	printf '%s' "$out"
}

# assert_nothing_left LABEL ID [CG]: nothing of ID's is left: no pins,
# no lock file, nothing of ours on CG, the programs seen for ID unloaded;
# and nothing of ours the kernel or bpffs holds beyond what was there
# before the test and what other ids pin (_unexplained): no program, map
# or link, no work entry (staging, trash) of a hook that is gone.
assert_nothing_left() {
	local label=$1 id=$2 cg=${3:-} dir left short=$2 kind
	dir=$(pin_dir "$id")
	[ ${#short} -gt 48 ] && short="${short:0:40}...(${#id} bytes)"
	if [ -e "$dir" ]; then
		not_ok "$label: no pins left for $short" "$(ls -la "$dir" 2>&1)"
	else
		ok "$label: no pins left for $short"
	fi
	case $id in
	*/* | .* | '') ;;
	*) if [ -e "$LOCK_DIR/$id" ]; then
		not_ok "$label: no lock file left ($LOCK_DIR/$id)"
	else
		ok "$label: no lock file left"
	fi ;;
	esac
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		expect_eq "$label: no program of ours attached to the cgroup" "" "$(ocb_progs_on "$cg" | tr '\n' ' ')"
	fi
	if [ -n "${T_SEEN_OBJS[$id]:-}" ]; then
		wait_for 5 'test -z "$(_seen_left "${T_SEEN_OBJS[$id]}")"'
		left=$(_seen_left "${T_SEEN_OBJS[$id]}")
		expect_eq "$label: the container's links and maps are freed" "" "$left" \
			"$(for o in $left; do bpftool "${o%%:*}" show id "${o#*:}" | head -1; done 2>&1)"
	fi
	wait_for 5 'test -z "$(_left_in_work)"'
	left=$(_left_in_work)
	expect_eq "$label: nothing left in $WORK_DIR" "" "$left" \
		"$(for e in $left; do ls -la "$WORK_DIR/$e"; done 2>&1)"
	for kind in progs maps links; do
		left=$(_settled "$kind" "$id")
		expect_eq "$label: no ocb ${kind%s} beyond those there before the test" "" "$left" \
			"before: $(eval "echo \$T_BASE_${kind^^}")" "$(_show_objects "$kind" "$left")"
	done
}

# stats_sum ID: the `stats` map summed over CPUs, as one JSON object.
stats_sum() {
	bpftool -j map dump pinned "$(pin_dir "$1")/stats" 2>/dev/null | jq -c '
		[.[0].formatted.values[].value] as $v
		| reduce ($v[0] | paths(numbers)) as $p ({}; setpath($p; [$v[] | getpath($p)] | add))'
}

# stat_sum ID FIELD: one summed field, e.g. egress.packets_allowed.
stat_sum() {
	stats_sum "$1" | jq -r --arg f "$2" 'getpath($f | split(".")) // "none"'
}

# stat_of JSON FIELD: a field of a stats_sum snapshot.
stat_of() {
	jq -r --arg f "$2" 'getpath($f | split(".")) // "none"' <<<"$1"
}

# stat_fields JSON FIELD...: the fields of a snapshot, one a line.
stat_fields() {
	local json=$1
	shift
	jq -r '. as $s | $ARGS.positional[] | . as $f | $s | getpath($f | split(".")) // "none"' \
		--args "$@" <<<"$json"
}

# expect_moved LABEL BEFORE AFTER FIELD...: each FIELD grew.
expect_moved() {
	local label=$1 before=$2 after=$3 i
	shift 3
	local -a b a
	mapfile -t b < <(stat_fields "$before" "$@")
	mapfile -t a < <(stat_fields "$after" "$@")
	for ((i = 1; i <= $#; i++)); do
		expect_gt "$label: ${!i} moved (${b[i - 1]:-?} -> ${a[i - 1]:-?})" "${a[i - 1]:-}" "${b[i - 1]:-}"
	done
}

expect_still() { # LABEL BEFORE AFTER FIELD...: each FIELD unchanged
	local label=$1 before=$2 after=$3 i
	shift 3
	local -a b a
	mapfile -t b < <(stat_fields "$before" "$@")
	mapfile -t a < <(stat_fields "$after" "$@")
	for ((i = 1; i <= $#; i++)); do
		# A field missing on both sides is a wrong name, not a count.
		if ! [[ ${b[i - 1]:-} =~ ^[0-9]+$ && ${a[i - 1]:-} =~ ^[0-9]+$ ]]; then
			not_ok "$label: ${!i} unchanged" "not a counter: before '${b[i - 1]:-}', after '${a[i - 1]:-}'"
			continue
		fi
		expect_eq "$label: ${!i} unchanged" "${b[i - 1]}" "${a[i - 1]}"
	done
}

# our_guards: the ocb-guard processes of this test's hooks (forks of a
# hook given our --bpffs; other hooks on this machine fork guards too).
our_guards() {
	local p
	for p in $(pgrep -x ocb-guard); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "--bpffs $BPFFS " && echo "$p"
	done | sort
}

# ---------------------------------------------------------------- runc

RUNC_ROOT=/run/$T-runc

trunc() {
	runc --root "$RUNC_ROOT" "$@"
}

_t_runc_cleanup_registered=
_runc_defer_cleanup() {
	[ -n "$_t_runc_cleanup_registered" ] && return 0
	_t_runc_cleanup_registered=1
	defer runc_cleanup_all
}

# runc_cleanup_all [ROOT]: every container under ROOT (a runc --root of
# ours; default RUNC_ROOT) killed and deleted, then ROOT removed.
runc_cleanup_all() {
	local id root=${1:-$RUNC_ROOT}
	for id in $(runc --root "$root" list -q 2>/dev/null); do
		runc --root "$root" kill "$id" KILL 2>/dev/null
		timeout 20 runc --root "$root" delete -f "$id" 2>/dev/null
	done
	rm -rf "$root"
}

# remove_runc_cgroup NAME: the cgroup runc made for cgroupsPath /NAME
# (and its cgroup v1 twins on a hybrid host), if runc left it.
remove_runc_cgroup() {
	local name=$1 m
	case $name in "$T"-*) ;; *) return 1 ;; esac
	remove_cgroup "$CG2_MNT/$name"
	while read -r m; do
		[ -d "$m/$name" ] && rmdir "$m/$name"
	done < <(cg1_mounts)
	return 0
}

# ensure_rootfs: a busybox-static root file system, built once under
# build/test-rootfs (`make clean` removes it). Sets ROOTFS.
ensure_rootfs() {
	ROOTFS=$OCB_TOP/build/test-rootfs
	[ -x "$ROOTFS/bin/busybox" ] && [ -L "$ROOTFS/bin/sh" ] && return 0
	local bb tmp
	bb=$(command -v busybox) || bail "busybox is installed" "apt-get install busybox-static"
	ldd "$bb" >/dev/null 2>&1 && bail "$bb is statically linked" "apt-get install busybox-static"
	mkdir -p "$OCB_TOP/build" || bail "create $OCB_TOP/build"
	tmp=$(mktemp -d "$OCB_TOP/build/test-rootfs.tmp.XXXXXX") || bail "create a rootfs directory"
	defer "rm -rf '$tmp'"
	mkdir -p "$tmp"/{bin,proc,dev,sys,tmp,etc,root,run} &&
		cp "$bb" "$tmp/bin/busybox" &&
		chroot "$tmp" /bin/busybox --install -s /bin &&
		echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/etc/passwd" &&
		echo 'root:x:0:' >"$tmp/etc/group" &&
		chmod 755 "$tmp" || bail "build the busybox rootfs"
	# Atomic: a parallel run may have won the race; then keep theirs.
	mv -T "$tmp" "$ROOTFS" 2>/dev/null || rm -rf "$tmp"
	[ -x "$ROOTFS/bin/busybox" ] || bail "busybox rootfs at $ROOTFS"
}

# make_bundle VAR NAME NS STAGE ARG...: a runc bundle running ARG... in
# the busybox rootfs, in network namespace NS, in cgroup /$T-NAME, with
# the hook at STAGE (prestart or createRuntime) and at poststop.
# Sets VAR to the bundle directory and BUNDLE_CG to the cgroup path.
make_bundle() {
	local var=$1 name=$2 ns=$3 stage=$4 dir args hookargs
	shift 4
	ensure_rootfs
	_runc_defer_cleanup
	dir=$T_TMP/bundle-$name
	mkdir -p "$dir" && (cd "$dir" && runc spec) || bail "runc spec for $name"
	args=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
	hookargs=$(printf '%s\n' "${HOOK_ARGS[@]}" | jq -R . | jq -sc 'map(select(. != ""))')
	jq --argjson args "$args" --arg rootfs "$ROOTFS" --arg cg "/$T-$name" \
		--arg netns "$NETNS_DIR/$ns" --arg hook "$HOOK" --arg stage "$stage" \
		--argjson hookargs "$hookargs" --arg host "$name" '
		.process.args = $args
		| .process.terminal = false
		| del(.process.rlimits)
		| .root = {path: $rootfs, readonly: true}
		| .hostname = $host
		| .linux.cgroupsPath = $cg
		| .linux.namespaces |= map(if .type == "network" then .path = $netns else . end)
		| .hooks = {
			($stage): [{path: $hook, args: (["oci-cgroup-bpf-hook"] + $hookargs + [$stage]), timeout: 30}],
			poststop: [{path: $hook, args: (["oci-cgroup-bpf-hook"] + $hookargs + ["poststop"]), timeout: 30}]
		  }' "$dir/config.json" >"$dir/config.json.new" &&
		mv "$dir/config.json.new" "$dir/config.json" || bail "edit $dir/config.json"
	defer "remove_runc_cgroup '$T-$name'"
	BUNDLE_CG=$CG2_MNT/$T-$name
	printf -v "$var" '%s' "$dir"
}

runc_status() {
	trunc state "$1" 2>/dev/null | jq -r .status
}

runc_pid() {
	trunc state "$1" 2>/dev/null | jq -r .pid
}

# runc_scenario LABEL STAGE MODE NS PORT: a real container with the hook
# at STAGE; its process talks to the TCP echo server on 127.0.0.1:PORT in
# NS. MODE "detached": `runc run -d`, then kill and delete. MODE
# "foreground": `runc run` whose container waits on its stdin (a FIFO)
# and then exits by itself.
runc_scenario() {
	local label=$1 stage=$2 mode=$3 ns=$4 port=$5
	local name="${label}-${stage,,}-$mode" cid bundle log pid cg before after fifo fd rpid rc st
	cid="$T.$name"
	label="$label/$stage/$mode"
	log=$T_TMP/$name.log
	diag "--- $label: container $cid"
	if [ "$mode" = detached ]; then
		make_bundle bundle "$name" "$ns" "$stage" sh -c \
			"echo ping-$name | nc 127.0.0.1 $port; echo exchange-done; exec sleep 600"
		cg=$BUNDLE_CG
		defer_detach "$cid"
		trunc run -d --bundle "$bundle" "$cid" </dev/null >"$log" 2>&1
		rc=$?
		expect_eq "$label: runc run -d starts the container" 0 "$rc" "$(cat "$log")" || return 1
	else
		make_bundle bundle "$name" "$ns" "$stage" sh -c \
			"echo ping-$name | nc 127.0.0.1 $port; echo exchange-done; read x; echo bye-\$x"
		cg=$BUNDLE_CG
		defer_detach "$cid"
		fifo=$T_TMP/$name.stdin
		mkfifo "$fifo"
		trunc run --bundle "$bundle" "$cid" <"$fifo" >"$log" 2>&1 &
		rpid=$!
		defer "bg_stop $rpid"
		exec {fd}>"$fifo"
	fi
	if wait_for 15 grep -q exchange-done "$log"; then
		ok "$label: the container ran its exchange"
	else
		not_ok "$label: the container ran its exchange" "log: $(cat "$log")"
	fi
	expect_match "$label: the server answered the container" "pong ping-$name" "$(cat "$log")"
	st=$(runc_status "$cid")
	expect_eq "$label: container is running" running "$st"
	pid=$(runc_pid "$cid")
	expect_eq "$label: container process is in cgroup /$T-$name" "/$T-$name" "$(proc_cg2 "$pid")"
	check_attached "$label" "$cid" "$cg"
	after=$(stats_sum "$cid")
	before='{"ingress":{"packets_allowed":0,"bytes_allowed":0},"egress":{"packets_allowed":0,"bytes_allowed":0},"connects_allowed":0}'
	expect_moved "$label: counters" "$before" "$after" egress.packets_allowed egress.bytes_allowed \
		ingress.packets_allowed ingress.bytes_allowed connects_allowed
	if [ "$mode" = detached ]; then
		check "$label: runc kill" trunc kill "$cid" KILL
		wait_for 10 'test "$(runc_status "$cid")" = stopped'
		expect_eq "$label: container stopped" stopped "$(runc_status "$cid")"
		expect_eq "$label: pins stay until the container is deleted" yes \
			"$([ -d "$(pin_dir "$cid")" ] && echo yes || echo no)"
		check "$label: runc delete (runs poststop)" trunc delete "$cid"
	else
		echo "done" >&"$fd"
		exec {fd}>&-
		if wait_for 15 sh -c "! kill -0 $rpid"; then
			wait "$rpid"
			rc=$?
			expect_eq "$label: runc run exits 0 when the container does" 0 "$rc" "$(cat "$log")"
		else
			not_ok "$label: runc run exits when the container does" "$(cat "$log")"
		fi
		expect_match "$label: container read its stdin to the end" "bye-done" "$(cat "$log")"
		expect_eq "$label: runc forgot the container" "" "$(trunc list -q | grep -Fx "$cid")"
	fi
	if [ -d "$cg" ]; then
		not_ok "$label: runc removed the container cgroup" "$cg still exists"
	else
		ok "$label: runc removed the container cgroup"
	fi
	assert_nothing_left "$label" "$cid" "$cg"
	if grep -q 'oci-cgroup-bpf-hook' "$log"; then
		diag "hook output in runc log: $(grep 'oci-cgroup-bpf-hook' "$log")"
	fi
	return 0
}

# podman's cgroupfs manager makes a parent cgroup, libpod_parent, for its
# containers. A test that runs podman calls this first: at exit it removes
# libpod_parent if the test brought it (conmon may still be leaving it).
defer_libpod_parent_cleanup() {
	[ -d "$CG2_MNT/libpod_parent" ] || defer _remove_libpod_parent
}

_remove_libpod_parent() {
	local m
	[ ! -d "$CG2_MNT/libpod_parent" ] || wait_for 10 rmdir "$CG2_MNT/libpod_parent"
	for m in $(cg1_mounts); do
		[ -d "$m/libpod_parent" ] && rmdir "$m/libpod_parent" 2>/dev/null
	done
	return 0
}
