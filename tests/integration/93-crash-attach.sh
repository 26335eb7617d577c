#!/bin/bash
# Crash-safe attach: the hook is killed with SIGKILL at every step of an
# attach, deterministically: strace -e inject=SYSCALL:signal=KILL:when=N
# kills it as it enters the Nth call of SYSCALL, for every system call
# that changes state (bpf: maps, programs, pins, links; mkdir, rename,
# unlink, unlinkat, rmdir: the pin tree; openat, flock: the lock;
# socketpair, clone, sendto, wait4: starting and releasing the guard) and N =
# 1.. until a run is not killed: it ran to the end and must exit 0 (the
# kill points of that call are N - 1). A system call that a stage does
# not make gives no kill point and tests nothing: that fails, so a call
# that moves (a renameat2 for a rename) or goes cannot pass unseen. An
# attach removes nothing on its way to success (unlink, unlinkat and
# rmdir are on its error paths, which no kill reaches): its series
# leave those out. Twice: on a fresh bpffs (the first attach also loads
# the programs and creates the shared maps: of its bpf() calls, which
# are mostly the load, the first 8, every 8th and the last ones) and on
# a warm one. strace
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
# leaves nothing. Every run of the hook (a stage or gc) that is not
# killed must exit 0; a failure shows its stderr.
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

hook() { # STAGE STATE: the hook, quiet; sets RC and ERR (gc: STATE /dev/null)
	# A poststop finds the cgroup empty, as after a runtime's teardown.
	[ "$1" = poststop ] && cg_park_for "$ID"
	"$HOOK" "${HOOK_ARGS[@]}" "$1" <"$2" >/dev/null 2>"$T_TMP/err"
	RC=$?
	[ "$1" = poststop ] && [ -n "$T_PARKED" ] && cg_unpark "$T_PARKED"
	ERR=$(cat "$T_TMP/err")
}

# hook_ok DESC STAGE STATE: the hook, not killed: it must exit 0.
hook_ok() {
	hook "$2" "$3"
	expect_eq "$1: $2 exits 0" 0 "$RC" "$ERR"
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
# SYSCALL; RC is 137 if it was, else its exit status; ERR its stderr.
killed_at() {
	[ "$3" = poststop ] && cg_park_for "$ID"
	# A subshell that waits (not execs): its "Killed" notice is dropped.
	# LeakSanitizer (a SANITIZE=1 build) cannot work under ptrace.
	(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -qq -o /dev/null -e trace="$1" -e inject="$1:signal=KILL:when=$2" \
		"$HOOK" "${HOOK_ARGS[@]}" "$3" <"$4" >/dev/null 2>"$T_TMP/err"; exit $?) 2>/dev/null
	RC=$?
	ERR=$(cat "$T_TMP/err")
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

# nothing_left WHAT: WHAT (a poststop) left no pins, no work directory,
# none of our programs on the cgroup and no lock file.
nothing_left() {
	local attached
	[ ! -e "$DIR" ] || fail "$1 left $DIR"
	[ -z "$(work_dirs)" ] || fail "$1 left work directories: $(work_dirs)"
	attached=$(progs_on_cg)
	[ "$attached" -eq 0 ] || fail "$1 left $attached of our programs on the cgroup"
	[ ! -e "$LOCK_DIR/$ID" ] || fail "$1 left the lock file"
	no_orphan_slot "$1"
}

# no_orphan_slot WHAT: no slot is left taken by a container whose pins
# are gone (a killed prestart's guard gives its slot back).
no_orphan_slot() {
	local out
	out=$("$HOOK" "${HOOK_ARGS[@]}" gc --dry-run 2>&1 </dev/null)
	[[ $out != *"orphaned slot"* ]] || fail "$1 left a slot taken: $out"
}

# crash_once SYSCALL N: returns 1 when the attach completed before the
# Nth call (the series for SYSCALL is over).
crash_once() {
	local sc=$1 n=$2 where="$1 #$2" published=no
	# In a subshell: the shell's "Killed" notice goes to /dev/null.
	killed_at "$sc" "$n" prestart "$T_TMP/attach.json"
	if [ "$RC" -ne 137 ]; then
		# Not killed: it ran to the end. It must have attached.
		[ "$RC" -eq 0 ] || fail "$where: not killed, the attach exited $RC: $ERR"
		[ -d "$DIR" ] || fail "$where: not killed, the attach published nothing"
		consistent "$where: not killed"
		hook poststop "$T_TMP/detach.json"
		[ "$RC" -eq 0 ] || fail "$where: the poststop after it exited $RC: $ERR"
		nothing_left "$where: the poststop after it"
		return 1
	fi
	# 1. None or all, nothing in between, and nothing to sweep.
	[ -d "$DIR" ] && published=yes
	consistent "$where"
	no_orphan_slot "$where"
	# 2. gc keeps it so.
	if [ $((n % 2)) -eq 1 ]; then
		hook gc /dev/null
		[ "$RC" -eq 0 ] || fail "$where: gc exited $RC: $ERR"
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
	nothing_left "$where: poststop"
	# Clean slate for the next kill point, whatever happened.
	if [ -n "$(work_dirs)" ]; then
		hook gc /dev/null
		[ "$RC" -eq 0 ] || fail "$where: gc after it exited $RC: $ERR"
	fi
	return 0
}

# crash_detach_once SYSCALL N: poststop killed at the Nth SYSCALL, after
# a good attach. The pins are either still published (complete) or out
# of view; a poststop run again leaves nothing. Returns 1 when poststop
# completed before the Nth call: it must have exited 0 and left nothing.
crash_detach_once() {
	local sc=$1 n=$2 where="poststop: $1 #$2"
	hook prestart "$T_TMP/attach.json"
	[ "$RC" -eq 0 ] || fail "$where: the attach before it exited $RC: $ERR"
	killed_at "$sc" "$n" poststop "$T_TMP/detach.json"
	if [ "$RC" -ne 137 ]; then
		[ "$RC" -eq 0 ] || fail "$where: not killed, poststop exited $RC: $ERR"
		nothing_left "$where: not killed, poststop"
		return 1
	fi
	consistent "$where"
	hook poststop "$T_TMP/detach.json"
	[ "$RC" -eq 0 ] || fail "$where: poststop again exited $RC: $ERR"
	nothing_left "$where: poststop again"
	return 0
}

# The system calls of each stage's series (see the top).
ATTACH_CALLS="bpf mkdir openat flock rename clone socketpair sendto wait4"
DETACH_CALLS="bpf mkdir openat flock rename unlink unlinkat rmdir clone socketpair sendto wait4"
for sc in ${CRASH_SYSCALLS:-}; do
	[[ " $DETACH_CALLS " == *" $sc "* ]] || bail "CRASH_SYSCALLS: $sc is none of $DETACH_CALLS"
done

# series LABEL FRESH [STAGE]: every system call, every N.
series() {
	local label=$1 fresh=$2 stage=${3:-prestart} sc n before total=0 once=crash_once calls=$ATTACH_CALLS
	if [ "$stage" = poststop ]; then
		once=crash_detach_once calls=$DETACH_CALLS
	fi
	for sc in $calls; do
		[ -n "${CRASH_SYSCALLS:-}" ] && [[ " $CRASH_SYSCALLS " != *" $sc "* ]] && continue
		before=${#FAILS[@]}
		# On a fresh bpffs most bpf() calls load the programs (nothing
		# attached yet, all alike): after the first 8, every 8th, then
		# each of the last ones.
		step=1 killed=0 kills=0
		[ "$fresh" = yes ] && [ "$sc" = bpf ] && step=8
		n=1
		while :; do
			[ "$fresh" = yes ] && fresh_bpffs
			$once "$sc" "$n" || break
			killed=$n kills=$((kills + 1))
			n=$((n + (n < 8 ? 1 : step)))
			[ "$n" -gt 400 ] && fail "$sc: still killed at call 400; giving up" && break
		done
		while [ $((killed + 1)) -lt "$n" ]; do
			[ "$fresh" = yes ] && fresh_bpffs
			$once "$sc" $((killed + 1)) || break
			killed=$((killed + 1)) kills=$((kills + 1))
		done
		n=$killed
		total=$((total + kills))
		if [ "$n" -eq 0 ]; then
			not_ok "$label: no kill point: $stage makes no $sc() call" \
				"not killed at its first $sc() call, $stage ran to the end: nothing was tested" \
				"${FAILS[@]:$before:20}"
		elif [ ${#FAILS[@]} -eq "$before" ]; then
			ok "$label: SIGKILL at $kills of the $n $sc() calls of $stage: consistent, cleaned up; run to the end, exit 0"
		else
			not_ok "$label: SIGKILL at each of the $n $sc() calls of $stage" \
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
hook_ok "warm-up" prestart "$T_TMP/attach.json"
hook_ok "warm-up" poststop "$T_TMP/detach.json"
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
hook_ok "guard killed" poststop "$T_TMP/detach.json"
expect_eq "guard killed: poststop leaves none" 0 "$(progs_on_cg)"
# A normal attach and detach leave no guard behind: the hook reaps it.
# (Guards of the hooks killed above were orphaned; a zombie may remain
# where init is slow to reap, so only new ones count.)
guards_before=$(our_guards)
hook_ok "a plain attach and detach" prestart "$T_TMP/attach.json"
hook_ok "a plain attach and detach" poststop "$T_TMP/detach.json"
expect_eq "no ocb-guard process outlives its hook" "" \
	"$(comm -13 <(echo "$guards_before") <(our_guards))"

# Hook and guard killed together (the guard first, at setsid; the hook
# at its last link's creation, after it pinned the others in staging):
# that is what poststop and gc sweep. Which bpf() call that is comes from
# good attaches: how many come before the links depends on the slot an
# attach takes (one free with the profile's tries in it, or one whose
# tries must be written, a wait for a grace period, a pool that grows),
# so good attaches are repeated until two in a row agree: the next one
# then most likely takes a slot the same way.
last_link_create() { # prints the index of the last BPF_LINK_CREATE
	local prev='' n i
	for ((i = 0; i < 6; i++)); do
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -qq -o "$T_TMP/bpf.trace" -e trace=bpf "$HOOK" "${HOOK_ARGS[@]}" prestart \
			<"$T_TMP/attach.json" >/dev/null 2>"$T_TMP/err" || return 1
		n=$(grep '^bpf(' "$T_TMP/bpf.trace" | grep -n '^bpf(BPF_LINK_CREATE' | tail -n 1 | cut -d: -f1)
		hook poststop "$T_TMP/detach.json"
		[ "$RC" -eq 0 ] || return 1
		[ "$n" = "$prev" ] && break
		prev=$n
	done
	printf '%s' "$n"
}
for cleaner in poststop gc; do
	LAST_BPF=$(last_link_create)
	expect_match "$cleaner: good attaches under strace -e trace=bpf exit 0 and create links" "^[0-9]+$" "$LAST_BPF" "$(cat "$T_TMP/err")"
	(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null -e trace=bpf,setsid -e inject=setsid:signal=KILL \
		-e inject=bpf:signal=KILL:when="$LAST_BPF" \
		"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach.json" >/dev/null 2>&1; exit $?) 2>/dev/null
	rc=$?
	attached=$(progs_on_cg)
	check "both killed ($cleaner): the hook was killed, with some links pinned in staging" \
		test "$rc" -eq 137 -a "$attached" -gt 0 -a "$attached" -lt "${#LINK_NAMES[@]}" -a ! -d "$DIR" -a -n "$(work_dirs)"
	if [ $cleaner = gc ]; then
		hook_ok "both killed" gc /dev/null
	else
		hook_ok "both killed" poststop "$T_TMP/detach.json"
	fi
	expect_eq "both killed: $cleaner removes the staging directory" "" "$(work_dirs)"
	expect_eq "both killed: after $cleaner, none of our programs on the cgroup" 0 "$(progs_on_cg)"
	# The runtime runs poststop for a container whose prestart failed:
	# that removes the lock file the killed hook left.
	[ $cleaner = gc ] && hook_ok "both killed, after gc" poststop "$T_TMP/detach.json"
	check "both killed: no lock file left after poststop" test ! -e "$LOCK_DIR/$ID"
done
assert_nothing_left "after the crash series" "$ID" "$CG"
expect_eq "no work directory left" "" "$(work_dirs)"
done_testing
