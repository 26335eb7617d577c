#!/bin/bash
# Crash-safe attach: the hook is killed with SIGKILL at every step of an
# attach, deterministically: strace -e inject=SYSCALL:signal=KILL:when=N
# kills it as it enters the Nth call of SYSCALL, for every system call
# that changes state (bpf: maps, programs, pins, links; mkdir, rename,
# unlink, unlinkat, rmdir: the pin tree; openat, flock: the lock) and N =
# 1.. until the attach completes. Twice: on a fresh bpffs (the first
# attach also creates the shared trace maps) and on a warm one.
#
# After each kill:
#  1. what is attached to the cgroup is accounted for: each of our
#     programs on it is held by a link pinned either in the container's
#     published directory (then complete: every link and map) or in a
#     staging directory of the dead process (that cleanup finds);
#  2. odd N: `gc` removes the dead process's work directories; then the
#     cgroup has none of our programs or exactly the published set;
#  3. a new attach of the same id succeeds, or is refused as "already
#     attached" exactly when the killed one had published;
#  4. poststop leaves nothing: no pins, no work directories, no lock
#     file, none of our programs on the cgroup. For even N this is
#     poststop alone, right after the kill and the new attach, without gc.
# Then the same for poststop killed at each step: the pins are published
# whole or out of view, and poststop run again leaves nothing.
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
	"$HOOK" "${HOOK_ARGS[@]}" "$1" <"$2" >/dev/null 2>"$T_TMP/err"
	RC=$?
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
	# A subshell that waits (not execs): its "Killed" notice is dropped.
	# LeakSanitizer (a SANITIZE=1 build) cannot work under ptrace.
	(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null -e trace="$1" -e inject="$1:signal=KILL:when=$2" \
		"$HOOK" "${HOOK_ARGS[@]}" "$3" <"$4" >/dev/null 2>&1; exit $?) 2>/dev/null
	RC=$?
}

# One failure line per step and kill point, counted per system call.
FAILS=()
fail() {
	FAILS+=("$*")
}

# crash_once SYSCALL N: returns 1 when the attach completed before the
# Nth call (the series for SYSCALL is over).
crash_once() {
	local sc=$1 n=$2 where="$1 #$2" published=no attached left
	# In a subshell: the shell's "Killed" notice goes to /dev/null.
	killed_at "$sc" "$n" prestart "$T_TMP/attach.json"
	if [ "$RC" -ne 137 ]; then
		# Not killed: it ran to the end. It must have attached.
		[ "$RC" -eq 0 ] || fail "$where: an attach that was not killed exited $RC"
		hook poststop "$T_TMP/detach.json"
		return 1
	fi
	# 1. Everything attached is held by a pin that cleanup can find.
	attached=$(progs_on_cg)
	[ -d "$DIR" ] && published=yes
	if [ $published = yes ] && [ "$(ls "$DIR" | wc -l)" -ne "$N_PINS" ]; then
		fail "$where: published but incomplete: $(ls "$DIR" | tr '\n' ' ')"
	fi
	left=$(link_pins "$DIR" "$WORK"/*)
	[ "$attached" -eq "$left" ] ||
		fail "$where: $attached programs on the cgroup, $left link pins (published: $published; work: $(work_dirs))"
	# 2. gc removes what the dead process left in the work directory.
	if [ $((n % 2)) -eq 1 ]; then
		"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1 || fail "$where: gc failed"
		[ -z "$(work_dirs)" ] || fail "$where: gc left work directories: $(work_dirs)"
		attached=$(progs_on_cg)
		case $published/$attached in
		no/0 | yes/6) ;;
		*) fail "$where: after gc, $attached of our programs on the cgroup (published: $published)" ;;
		esac
	fi
	# 3. A new attach of the same id.
	hook prestart "$T_TMP/attach.json"
	if [ $published = yes ]; then
		[ "$RC" -eq 1 ] && [[ $ERR == *"already attached"* ]] ||
			fail "$where: a new attach over the published pins: exit $RC: $ERR"
	else
		[ "$RC" -eq 0 ] || fail "$where: a new attach after the kill: exit $RC: $ERR"
	fi
	[ -d "$DIR" ] && [ "$(link_pins "$DIR")" -eq 6 ] ||
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
	local sc=$1 n=$2 where="poststop: $1 #$2" attached
	hook prestart "$T_TMP/attach.json"
	[ "$RC" -eq 0 ] || fail "$where: the attach before it exited $RC: $ERR"
	killed_at "$sc" "$n" poststop "$T_TMP/detach.json"
	[ "$RC" -eq 137 ] || return 1
	attached=$(progs_on_cg)
	if [ -d "$DIR" ]; then
		[ "$(ls "$DIR" | wc -l)" -eq "$N_PINS" ] ||
			fail "$where: the published directory is incomplete: $(ls "$DIR" | tr '\n' ' ')"
	fi
	[ "$attached" -eq "$(link_pins "$DIR" "$WORK"/*)" ] ||
		fail "$where: $attached programs on the cgroup, $(link_pins "$DIR" "$WORK"/*) link pins"
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
	for sc in ${CRASH_SYSCALLS:-bpf mkdir openat flock rename unlink unlinkat rmdir}; do
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
assert_nothing_left "after the crash series" "$ID" "$CG"
expect_eq "no work directory left" "" "$(work_dirs)"
done_testing
