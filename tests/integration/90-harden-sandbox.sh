#!/bin/bash
# The seccomp sandbox, observed on real runs of the shipped binary (no
# test-only code in the hook):
#  - strace shows the filter going on after the state is read from stdin
#    and before the first lock or bpf() call;
#  - an attach and a detach held on their per-id lock (we hold it) run
#    with "Seccomp: 2" and "NoNewPrivs: 1" in /proc/PID/status;
#  - a running `trace` (filter on) is made to execute system calls with
#    ptrace (a small injector built here): allowed calls work, calls off
#    its list fail with EPERM where an unconfined process succeeds, an
#    argument filter tells AF_UNIX from AF_INET sockets, and a fatal call
#    (mount) kills it with SIGSYS;
#  - attach may mount bpffs where none is mounted yet (the one mount the
#    filter lets through, flags 0).
OCB_BPFFS=/tmp/ocbt-sbx-$$-bpffs
. "$(dirname "$0")/../lib.sh"
T=ocbt-sbx-$$
test_init
require_cmds strace flock cc

mkdir -p "$BPFFS" && mount -t bpf bpffs "$BPFFS" || bail "mount a private bpffs at $BPFFS"
defer "umount '$BPFFS'; rmdir '$BPFFS'"
CONF=$T_TMP/config
mkdir -p "$CONF/profiles" && chmod 755 "$CONF" "$CONF/profiles" || bail "create $CONF"
printf '%s\n' '{"egress": {"deny": ["127.0.0.2"]}}' >"$CONF/profiles/deny2.json"
chmod 644 "$CONF/profiles/deny2.json"
HOOK_ARGS=(--bpffs "$BPFFS" --config-dir "$CONF")

new_netns NS net
new_cgroup CG a
start_in_ns_cg PID "$NS" "$CG"
ID=$T.a

# in_syscall PID NR...: PID is blocked in one of these system calls.
in_syscall() {
	local pid=$1 nr
	shift
	nr=$(cut -d' ' -f1 "/proc/$pid/syscall" 2>/dev/null)
	for n in "$@"; do
		[ "$nr" = "$n" ] && return 0
	done
	return 1
}

# status_of PID FIELD: a field of /proc/PID/status ("" if gone).
status_of() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ------------------------------------------------ when the filter goes on
hook_state "$ID" "$PID" created '{"annotations":{"oci-cgroup-bpf-hook/profile":"deny2"}}' \
	>"$T_TMP/attach.json"
defer_detach "$ID"
# LeakSanitizer (a SANITIZE=1 build) cannot work under ptrace: off here.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -f -qq -e trace=read,seccomp,flock,bpf -o "$T_TMP/attach.strace" \
	"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach.json" >"$T_TMP/attach.out" 2>&1
expect_eq "prestart under strace attaches" 0 "$?" "$(cat "$T_TMP/attach.out")"
check_attached "prestart under strace" "$ID" "$CG" >/dev/null
order=$(awk '/read\(0, "", / { print "eof"; next }
	/seccomp\(SECCOMP_SET_MODE_FILTER, 0, / { print "filter"; next }
	/ (flock|bpf)\(/ { print "work"; exit }' "$T_TMP/attach.strace" | uniq | tr '\n' ' ')
expect_eq "strace: end of stdin, then the filter, then locks and bpf()" "eof filter work " "$order" \
	"$(grep -E 'read\(0|seccomp\(SECCOMP_SET_MODE_FILTER' "$T_TMP/attach.strace")"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop after the strace run"

# ----------------------------- attach and detach paused on their id lock
# paused_stage STAGE STATUS PID: runs STAGE while we hold the id's lock,
# reads its /proc status while it waits, then lets it finish.
paused_stage() {
	local stage=$1 status=$2 pid=$3 hp holder lock=$LOCK_DIR/$ID
	mkdir -p "$LOCK_DIR"
	# -o: only flock holds the lock, not sleep; neither keeps our stdout.
	flock -o "$lock" sleep 60 >/dev/null 2>&1 &
	holder=$!
	defer "bg_stop $holder"
	wait_for 5 sh -c "flock -n '$lock' true; [ \$? -ne 0 ]" || bail "hold the lock $lock"
	hook_state "$ID" "$pid" "$status" >"$T_TMP/$stage.json"
	# A poststop finds the cgroup empty, as after a runtime's teardown.
	[ "$stage" = poststop ] && cg_park "$CG"
	"$HOOK" "${HOOK_ARGS[@]}" "$stage" <"$T_TMP/$stage.json" >"$T_TMP/$stage.out" 2>&1 &
	hp=$!
	defer "bg_stop $hp"
	# It waits in flock(2) on the lock we hold: the filter is on by then.
	wait_for 5 in_syscall "$hp" 73 ||
		diag "$stage: not seen in flock(2); reading its status anyway"
	expect_eq "$stage, waiting for its lock: Seccomp: 2 (filter mode)" 2 "$(status_of "$hp" Seccomp)"
	expect_eq "$stage, waiting for its lock: one filter" 1 "$(status_of "$hp" Seccomp_filters)"
	expect_eq "$stage, waiting for its lock: NoNewPrivs: 1" 1 "$(status_of "$hp" NoNewPrivs)"
	kill $(cat "/proc/$holder/task/$holder/children" 2>/dev/null) "$holder"
	wait "$hp"
	expect_eq "$stage completes once the lock is free" 0 "$?" "$(cat "$T_TMP/$stage.out")"
	[ "$stage" = poststop ] && cg_unpark "$CG"
	return 0
}
defer_detach "$ID"
paused_stage prestart created "$PID"
check_attached "paused prestart" "$ID" "$CG" >/dev/null
paused_stage poststop stopped 0
assert_nothing_left "paused poststop" "$ID" "$CG"

# --------------------------------------- system calls injected into trace
if [ "$(uname -m)" != x86_64 ]; then
	skip "injected system calls" "the injector is x86_64 only"
	done_testing
fi
cat >"$T_TMP/inject.c" <<'EOF'
/* inject PID NR [ARG...]: makes PID, stopped in a system call, execute
 * system call NR once; prints its raw return value (-errno on failure)
 * or "killed SIG". x86_64 only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	struct user_regs_struct saved, r;
	unsigned long long a[6] = { 0 };
	long word;
	pid_t pid;
	int i, st;

	if (argc < 3 || argc > 9)
		return fprintf(stderr, "usage: inject PID NR [ARG...]\n"), 2;
	pid = atoi(argv[1]);
	for (i = 3; i < argc; i++)
		a[i - 3] = strtoull(argv[i], NULL, 0);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		return perror("ptrace"), 1;
	if (waitpid(pid, &st, __WALL) < 0 || !WIFSTOPPED(st))
		return fprintf(stderr, "not stopped\n"), 1;
	if (ptrace(PTRACE_GETREGS, pid, 0, &saved))
		return perror("getregs"), 1;
	/* Blocked in a system call: the instruction before rip is one. */
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, saved.rip - 2, 0);
	if (errno || (word & 0xffff) != 0x050f)
		return fprintf(stderr, "not stopped after a syscall instruction\n"), 1;
	r = saved;
	r.rip = saved.rip - 2;
	r.orig_rax = -1;
	r.rax = strtoull(argv[2], NULL, 0);
	r.rdi = a[0], r.rsi = a[1], r.rdx = a[2], r.r10 = a[3], r.r8 = a[4], r.r9 = a[5];
	if (ptrace(PTRACE_SETREGS, pid, 0, &r) || ptrace(PTRACE_SINGLESTEP, pid, 0, 0))
		return perror("setregs"), 1;
	if (waitpid(pid, &st, __WALL) < 0)
		return perror("waitpid"), 1;
	if (WIFSIGNALED(st))
		return printf("killed %d\n", WTERMSIG(st)), 0;
	if (WIFEXITED(st))
		return printf("exited %d\n", WEXITSTATUS(st)), 0;
	if (ptrace(PTRACE_GETREGS, pid, 0, &r))
		return perror("getregs"), 1;
	printf("%lld\n", (long long)r.rax);
	/* Back to the interrupted call, which the kernel restarts. */
	if (ptrace(PTRACE_SETREGS, pid, 0, &saved) || ptrace(PTRACE_DETACH, pid, 0, 0))
		return perror("restore"), 1;
	return 0;
}
EOF
cc -O2 -Wall -Werror -o "$T_TMP/inject" "$T_TMP/inject.c" || bail "build the system call injector"
INJECT=$T_TMP/inject
# x86_64 numbers and constants.
NR_GETPID=39 NR_SYNC=162 NR_SOCKET=41 NR_CLOSE=3 NR_BPF=321 NR_MOUNT=165
AF_UNIX=1 AF_INET=2 SOCK_STREAM=1 SOCK_DGRAM=2 BPF_PROG_LOAD=5 BPF_OBJ_GET=7
EPERM=-1

# The same calls in an unconfined process show what the filter changes.
sleep 600 &
FREE=$!
defer "bg_stop $FREE"
# inject_into PID NR [ARG...]: once PID is blocked in a system call
# (nanosleep, clock_nanosleep, epoll_wait, epoll_pwait); caught between
# two calls, try again.
inject_into() {
	local pid=$1 got i
	shift
	for i in 1 2 3 4 5; do
		wait_for 2 in_syscall "$pid" 35 230 232 281
		got=$("$INJECT" "$pid" "$@" 2>&1)
		[[ $got == *"not stopped"* ]] || break
	done
	printf '%s\n' "$got"
}
free_sync=$(inject_into "$FREE" $NR_SYNC)
free_inet=$(inject_into "$FREE" $NR_SOCKET $AF_INET $SOCK_STREAM 0)
free_bpf=$(inject_into "$FREE" $NR_BPF $BPF_PROG_LOAD 0 0)
diag "unconfined: sync=$free_sync socket(AF_INET)=$free_inet bpf(PROG_LOAD, NULL, 0)=$free_bpf"
expect_eq "unconfined: sync() succeeds" 0 "$free_sync"
expect_match "unconfined: socket(AF_INET) gives an fd" '^[0-9]+$' "$free_inet"
expect_ne "unconfined: bpf(PROG_LOAD) is not refused with EPERM" "$EPERM" "$free_bpf"

run_hook prestart "$ID" "$PID" created
expect_hook_ok "attach (trace needs the shared maps)"
# A process the filter kills must not leave a core file behind.
ulimit -c 0
# In a subshell that waits for it: the shell's notice of its death by
# SIGSYS goes to /dev/null, and its exit status to trace.rc.
("$HOOK" "${HOOK_ARGS[@]}" trace >"$T_TMP/trace.out" 2>&1
	echo $? >"$T_TMP/trace.rc") 2>/dev/null &
SUB=$!
defer "bg_stop $SUB"
wait_for 5 'test -n "$(cat /proc/$SUB/task/$SUB/children 2>/dev/null)"' || bail "start trace"
TP=$(awk '{ print $1 }' /proc/$SUB/task/$SUB/children)
defer "bg_stop $TP"
# epoll_wait or epoll_pwait: waiting on the ring buffer.
wait_for 5 in_syscall "$TP" 232 281 || diag "trace not seen in epoll_wait yet"
expect_eq "trace: Seccomp: 2 (filter mode)" 2 "$(status_of "$TP" Seccomp)"

inj() { # DESC EXPECTED-REGEX NR [ARG...]
	local desc=$1 want=$2 got
	shift 2
	got=$(inject_into "$TP" "$@")
	expect_match "trace: $desc ($got)" "^($want)\$" "$got"
	INJ_OUT=$got
}
inj "getpid() is allowed and answers" "$TP" $NR_GETPID
inj "sync() is not on its list: EPERM" "$EPERM" $NR_SYNC
inj "socket(AF_INET) is refused by the argument filter: EPERM" "$EPERM" \
	$NR_SOCKET $AF_INET $SOCK_STREAM 0
inj "socket(AF_UNIX) is allowed (syslog)" '[0-9]+' $NR_SOCKET $AF_UNIX $SOCK_DGRAM 0
[[ $INJ_OUT =~ ^[0-9]+$ ]] && inject_into "$TP" $NR_CLOSE "$INJ_OUT" >/dev/null
inj "bpf(BPF_PROG_LOAD) is not a command trace may use: EPERM" "$EPERM" $NR_BPF $BPF_PROG_LOAD 0 0
inj "bpf(BPF_OBJ_GET) is one it uses (EFAULT on a NULL attr, not EPERM)" '-14|-22' \
	$NR_BPF $BPF_OBJ_GET 0 0
kill -0 "$TP" 2>/dev/null
expect_eq "trace: still running after the refused calls" 0 "$?"
inj "mount() is fatal: the process is killed with SIGSYS" "killed 31" $NR_MOUNT 0 0 0 0 0
wait "$SUB"
expect_eq "trace: exit status of a process killed by SIGSYS" 159 "$(cat "$T_TMP/trace.rc")"
# The killed reader left event building on; gc turns it off.
"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop after trace was killed"
assert_nothing_left "after the injections" "$ID" "$CG"

# ------------------------------------ attach mounts bpffs where there is none
EMPTY=$T_TMP/empty-bpffs
mkdir "$EMPTY" || bail "create $EMPTY"
defer "umount '$EMPTY' 2>/dev/null; rmdir '$EMPTY'"
ID2=$T.mount
hook_state "$ID2" "$PID" created >"$T_TMP/mount.json"
"$HOOK" --bpffs "$EMPTY" --config-dir "$CONF" prestart <"$T_TMP/mount.json" >"$T_TMP/mount.out" 2>&1
expect_eq "attach with --bpffs an empty directory: mounts bpffs there (filter lets it)" 0 "$?" \
	"$(cat "$T_TMP/mount.out")"
expect_eq "  it is a bpffs now" bpf_fs "$(stat -f -c %T "$EMPTY" 2>/dev/null)"
expect_eq "  and the programs are on the cgroup" "${#LINK_NAMES[@]}" "$(ocb_progs_on "$CG" | wc -l)"
cg_park "$CG"
hook_state "$ID2" 0 stopped | "$HOOK" --bpffs "$EMPTY" poststop
cg_unpark "$CG"
expect_eq "  poststop there" "" "$(ocb_progs_on "$CG" | tr '\n' ' ')"
expect_eq "  nothing pinned there" "" "$(ls "$EMPTY/oci-cgroup-bpf-hook" 2>/dev/null)"
rm -f "$LOCK_DIR/$ID2"
done_testing
