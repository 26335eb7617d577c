#!/bin/bash
# Crash-safe attach: the hook is killed with SIGKILL at every step of an
# attach, deterministically: strace -e inject=SYSCALL:signal=KILL:when=N
# kills it as it enters the Nth call of SYSCALL, for every system call
# that changes state (bpf: maps, programs, pins, links; mkdir, rename,
# unlink, unlinkat, rmdir: the pin tree; openat, flock: the lock;
# socketpair, clone, sendto, wait4: starting and releasing the guard) and N =
# 1.. until the attach completes. Twice: on a fresh bpffs (the first
# attach also creates the shared trace maps) and on a warm one. strace
# follows the hook only, not its guard (hook/guard.c): that is the
# process that outlives a killed hook.
#
# After each kill, once the guard has let go of the container's lock:
#  1. the cgroup has none of our programs and no work directory is
#     left, or the container is published whole and the cgroup has
#     exactly its programs;
#  2. odd N: `gc` keeps it that way;
#  3. a new attach of the same id succeeds, or is refused as "already
#     attached" exactly when the killed one had published;
#  4. poststop leaves nothing: no pins, no work directories, no lock
#     file, none of our programs on the cgroup.
# Then the same for poststop killed at each step: the pins are published
# whole (all programs attached) or gone (none), and poststop run again
# leaves nothing.
# CRASH_SYSCALLS limits the system calls (default: all of the above).
OCB_BPFFS=/tmp/ocbt-crash-$$-bpffs
. "$(dirname "$0")/../lib.sh"
T=ocbt-crash-$$
test_init
require_cmds strace

mkdir -p "$BPFFS" || bail "create $BPFFS"
defer "umount '$BPFFS' 2>/dev/null; rmdir '$BPFFS'"
CONF=$T_TMP/config
mkdir -p "$CONF/profiles" && chmod 755 "$CONF" "$CONF/profiles" || bail "create $CONF"
printf '%s\n' '{"egress": {"deny": ["127.0.0.2", {"cidr": "10.0.0.0/8", "proto": "tcp", "ports": "22,80"}]}}' \
	>"$CONF/profiles/deny2.json"
chmod 644 "$CONF/profiles/deny2.json"
HOOK_ARGS=(--bpffs "$BPFFS" --config-dir "$CONF")
WORK=$BPFFS/oci-cgroup-bpf-hook-work

new_netns NS net
new_cgroup CG a
start_in_ns_cg PID "$NS" "$CG"
ID=$T.c
DIR=$(pin_dir "$ID")
defer_detach "$ID"
hook_state "$ID" "$PID" created '{"annotations":{"oci-cgroup-bpf-hook/profile":"deny2"}}' \
	>"$T_TMP/attach.json"
hook_state "$ID" 0 stopped >"$T_TMP/detach.json"
N_PINS=$((${#LINK_NAMES[@]} + ${#MAP_NAMES[@]}))

fresh_bpffs() {
	umount "$BPFFS" 2>/dev/null
	mount -t bpf bpffs "$BPFFS" || bail "mount a private bpffs at $BPFFS"
}

hook() { # STAGE STATE: the hook, quiet; sets RC and ERR
	# A poststop finds the cgroup empty, as after a runtime's teardown.
	[ "$1" = poststop ] && cg_park_for "$ID"
	"$HOOK" "${HOOK_ARGS[@]}" "$1" <"$2" >/dev/null 2>"$T_TMP/err"
	RC=$?
	[ "$1" = poststop ] && [ -n "$T_PARKED" ] && cg_unpark "$T_PARKED"
	ERR=$(cat "$T_TMP/err")
}

progs_on_cg() {
	ocb_progs_on "$CG" | wc -l
}

# Link pins (not maps) under DIR...
link_pins() {
	local d n c=0
	for d in "$@"; do
		for n in "${LINK_NAMES[@]}" sockets; do
			[ -e "$d/$n" ] && c=$((c + 1))
		done
	done
	echo "$c"
}

work_dirs() {
	ls -A "$WORK" 2>/dev/null | tr '\n' ' '
}

# killed_at SYSCALL N STAGE STATE: the hook, killed as it enters the Nth
# SYSCALL; RC is 137 if it was.
killed_at() {
	[ "$3" = poststop ] && cg_park_for "$ID"
	# A subshell that waits (not execs): its "Killed" notice is dropped.
	# LeakSanitizer (a SANITIZE=1 build) cannot work under ptrace.
	(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -qq -o /dev/null -e trace="$1" -e inject="$1:signal=KILL:when=$2" \
		"$HOOK" "${HOOK_ARGS[@]}" "$3" <"$4" >/dev/null 2>&1; exit $?) 2>/dev/null
	RC=$?
	wait_guard
	[ "$3" = poststop ] && [ -n "$T_PARKED" ] && cg_unpark "$T_PARKED"
	return 0
}

# The guard of a killed hook holds the container's lock until it has
# cleaned up (opened read-only: flock(1) would create a removed file).
wait_guard() {
	local fd
	{ exec {fd}<"$LOCK_DIR/$ID"; } 2>/dev/null || return 0
	flock "$fd"
	exec {fd}<&-
}

# consistent WHERE: none of our programs and no work directory, or the
# container published whole with all of its programs attached.
consistent() {
	local attached
	attached=$(progs_on_cg)
	if [ -d "$DIR" ]; then
		[ "$(ls "$DIR" | wc -l)" -eq "$N_PINS" ] && [ "$attached" -eq "${#LINK_NAMES[@]}" ] ||
			fail "$1: published with $attached programs on the cgroup: $(ls "$DIR" | tr '\n' ' ')"
	else
		[ "$attached" -eq 0 ] || fail "$1: not published, yet $attached of our programs on the cgroup"
	fi
	[ -z "$(work_dirs)" ] || fail "$1: work directories left: $(work_dirs)"
}

# One failure line per step and kill point, counted per system call.
FAILS=()
fail() {
	FAILS+=("$*")
}

# crash_once SYSCALL N: returns 1 when the attach completed before the
# Nth call (the series for SYSCALL is over).
crash_once() {
	local sc=$1 n=$2 where="$1 #$2" published=no attached
	# In a subshell: the shell's "Killed" notice goes to /dev/null.
	killed_at "$sc" "$n" prestart "$T_TMP/attach.json"
	if [ "$RC" -ne 137 ]; then
		# Not killed: it ran to the end. It must have attached.
		[ "$RC" -eq 0 ] || fail "$where: an attach that was not killed exited $RC"
		hook poststop "$T_TMP/detach.json"
		return 1
	fi
	# 1. None or all, nothing in between, and nothing to sweep.
	[ -d "$DIR" ] && published=yes
	consistent "$where"
	# 2. gc keeps it so.
	if [ $((n % 2)) -eq 1 ]; then
		"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1 || fail "$where: gc failed"
		consistent "$where: after gc"
	fi
	# 3. A new attach of the same id.
	hook prestart "$T_TMP/attach.json"
	if [ $published = yes ]; then
		[ "$RC" -eq 1 ] && [[ $ERR == *"already attached"* ]] ||
			fail "$where: a new attach over the published pins: exit $RC: $ERR"
	else
		[ "$RC" -eq 0 ] || fail "$where: a new attach after the kill: exit $RC: $ERR"
	fi
	[ -d "$DIR" ] && [ "$(link_pins "$DIR")" -eq "${#LINK_NAMES[@]}" ] ||
		fail "$where: after the new attach, $(link_pins "$DIR") links pinned"
	# 4. poststop leaves nothing.
	hook poststop "$T_TMP/detach.json"
	[ "$RC" -eq 0 ] || fail "$where: poststop exited $RC: $ERR"
	[ ! -e "$DIR" ] || fail "$where: poststop left $DIR"
	[ -z "$(work_dirs)" ] || fail "$where: poststop left work directories: $(work_dirs)"
	attached=$(progs_on_cg)
	[ "$attached" -eq 0 ] || fail "$where: poststop left $attached of our programs on the cgroup"
	[ ! -e "$LOCK_DIR/$ID" ] || fail "$where: poststop left the lock file"
	# Clean slate for the next kill point, whatever happened.
	if [ -n "$(work_dirs)" ]; then
		"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1
	fi
	return 0
}

# crash_detach_once SYSCALL N: poststop killed at the Nth SYSCALL, after
# a good attach. The pins are either still published (complete) or out
# of view; a poststop run again leaves nothing. Returns 1 when poststop
# completed before the Nth call.
crash_detach_once() {
	local sc=$1 n=$2 where="poststop: $1 #$2"
	hook prestart "$T_TMP/attach.json"
	[ "$RC" -eq 0 ] || fail "$where: the attach before it exited $RC: $ERR"
	killed_at "$sc" "$n" poststop "$T_TMP/detach.json"
	[ "$RC" -eq 137 ] || return 1
	consistent "$where"
	hook poststop "$T_TMP/detach.json"
	[ "$RC" -eq 0 ] || fail "$where: poststop again exited $RC: $ERR"
	[ ! -e "$DIR" ] || fail "$where: poststop again left $DIR"
	[ -z "$(work_dirs)" ] || fail "$where: poststop again left work directories: $(work_dirs)"
	[ "$(progs_on_cg)" -eq 0 ] || fail "$where: poststop again left programs on the cgroup"
	[ ! -e "$LOCK_DIR/$ID" ] || fail "$where: poststop again left the lock file"
	return 0
}

# series LABEL FRESH [STAGE]: every system call, every N.
series() {
	local label=$1 fresh=$2 stage=${3:-prestart} sc n before total=0 once=crash_once
	[ "$stage" = poststop ] && once=crash_detach_once
	for sc in ${CRASH_SYSCALLS:-bpf mkdir openat flock rename unlink unlinkat rmdir clone socketpair sendto wait4}; do
		before=${#FAILS[@]}
		n=1
		while :; do
			[ "$fresh" = yes ] && fresh_bpffs
			$once "$sc" "$n" || break
			n=$((n + 1))
			[ "$n" -gt 400 ] && fail "$sc: still killed at call 400; giving up" && break
		done
		total=$((total + n - 1))
		if [ ${#FAILS[@]} -eq "$before" ]; then
			ok "$label: SIGKILL at each of the $((n - 1)) $sc() calls of $stage: consistent, cleaned up"
		else
			not_ok "$label: SIGKILL at each of the $((n - 1)) $sc() calls of $stage" \
				"${FAILS[@]:$before:20}"
		fi
	done
	diag "$label: $total kill points"
}

start=$SECONDS
fresh_bpffs
series "fresh bpffs" yes
# Warm: the shared maps exist (attach reuses them).
fresh_bpffs
hook prestart "$T_TMP/attach.json"
expect_eq "warm-up attach" 0 "$RC" "$ERR"
hook poststop "$T_TMP/detach.json"
series "warm bpffs" no
series "warm bpffs" no poststop
diag "crash series took $((SECONDS - start))s"

# The guard itself. strace -f follows it too; it alone calls setsid().
# Killed there, before it waits: the hook must not notice (its byte to
# the guard goes nowhere, without SIGPIPE) and attaches in full.
(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null -e trace=setsid -e inject=setsid:signal=KILL \
	"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach.json" >/dev/null 2>"$T_TMP/err"; exit $?) 2>/dev/null
expect_eq "guard killed: the attach still succeeds" 0 "$?" "$(cat "$T_TMP/err")"
expect_eq "guard killed: all of our programs on the cgroup" "${#LINK_NAMES[@]}" "$(progs_on_cg)"
hook poststop "$T_TMP/detach.json"
expect_eq "guard killed: poststop leaves none" 0 "$(progs_on_cg)"
# A normal attach and detach leave no guard behind: the hook reaps it.
# (Guards of the hooks killed above were orphaned; a zombie may remain
# where init is slow to reap, so only new ones count.)
guards_before=$(pgrep -x ocb-guard | sort)
hook prestart "$T_TMP/attach.json"
hook poststop "$T_TMP/detach.json"
expect_eq "no ocb-guard process outlives its hook" "" \
	"$(comm -13 <(echo "$guards_before") <(pgrep -x ocb-guard | sort))"

# Hook and guard killed together (the guard first, at setsid; the hook
# at its last bpf() call, after it pinned links): that is what poststop
# and gc sweep. The number of bpf() calls comes from a good attach.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -qq -o "$T_TMP/bpf.trace" -e trace=bpf "$HOOK" "${HOOK_ARGS[@]}" prestart \
	<"$T_TMP/attach.json" >/dev/null 2>&1
LAST_BPF=$(grep -c '^bpf(' "$T_TMP/bpf.trace")
hook poststop "$T_TMP/detach.json"
for cleaner in poststop gc; do
	(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null -e trace=bpf,setsid -e inject=setsid:signal=KILL \
		-e inject=bpf:signal=KILL:when="$LAST_BPF" \
		"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach.json" >/dev/null 2>&1; exit $?) 2>/dev/null
	rc=$?
	attached=$(progs_on_cg)
	check "both killed ($cleaner): the hook was killed, with some links pinned in staging" \
		test "$rc" -eq 137 -a "$attached" -gt 0 -a "$attached" -lt "${#LINK_NAMES[@]}" -a ! -d "$DIR" -a -n "$(work_dirs)"
	if [ $cleaner = gc ]; then
		"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1
	else
		hook poststop "$T_TMP/detach.json"
	fi
	expect_eq "both killed: $cleaner removes the staging directory" "" "$(work_dirs)"
	expect_eq "both killed: after $cleaner, none of our programs on the cgroup" 0 "$(progs_on_cg)"
	# The runtime runs poststop for a container whose prestart failed:
	# that removes the lock file the killed hook left.
	[ $cleaner = gc ] && hook poststop "$T_TMP/detach.json"
	check "both killed: no lock file left after poststop" test ! -e "$LOCK_DIR/$ID"
done
assert_nothing_left "after the crash series" "$ID" "$CG"
expect_eq "no work directory left" "" "$(work_dirs)"
done_testing
