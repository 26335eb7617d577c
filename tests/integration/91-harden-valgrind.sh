#!/bin/bash
# The hook under valgrind memcheck: attach (with a profile, so parsing and
# compiling run too), list, show, stats and detach of a real cgroup, with
# no memory error and no definite or indirect leak ("still reachable"
# memory of libbpf and jansson is fine).
#
# Two things make this run differ from production, both outside the code
# under test:
#  - valgrind has no seccomp(2) and its own calls would be filtered: the
#    hook detects valgrind (its client request, which nothing else can
#    fake) and runs unsandboxed (see SECURITY.md);
#  - valgrind 3.19 (Debian 12) does not know pidfd_open/pidfd_send_signal
#    and fails them with ENOSYS. If so, an LD_PRELOAD shim built here
#    serves both from a /proc/PID directory fd, which refers to the same
#    process just as a pidfd does.
# libbpf leaves unused fields of its bpf() attribute unions unset, and
# passes a NULL key to BPF_MAP_GET_NEXT_KEY for the first key (which the
# kernel allows); valgrind's bpf() wrapper reports both: suppressed.
OCB_BPFFS=/tmp/ocbt-vg-$$-bpffs
. "$(dirname "$0")/../lib.sh"
T=ocbt-vg-$$
test_init
if ! command -v valgrind >/dev/null 2>&1; then
	skip "valgrind" "not installed (apt-get install valgrind)"
	done_testing
fi
# clang links the ASan runtime statically: look for its symbols, not libasan.so.
if grep -qa __asan_init "$HOOK"; then
	skip "valgrind" "the hook is built with AddressSanitizer, which valgrind cannot run; the plain build's run covers it"
	done_testing
fi
require_cmds cc

mkdir -p "$BPFFS" && mount -t bpf bpffs "$BPFFS" || bail "mount a private bpffs at $BPFFS"
defer "umount '$BPFFS'; rmdir '$BPFFS'"
CONF=$T_TMP/config
mkdir -p "$CONF/profiles" && chmod 755 "$CONF" "$CONF/profiles" || bail "create $CONF"
cat >"$CONF/profiles/vg.json" <<'EOF'
{
  "description": "exercise the compiler",
  "egress": {
    "default": "allow",
    "deny": ["10.0.0.0/8", "2001:db8::/32",
             {"cidr": "192.168.0.0/16", "proto": "tcp", "ports": "1024-2047,8080"}],
    "allow": [{"cidr": "192.168.1.0/24", "proto": "udp", "ports": "53"}]
  },
  "ingress": { "default": "deny", "allow": ["127.0.0.0/8", "::1"] }
}
EOF
chmod 644 "$CONF/profiles/vg.json"
HOOK_ARGS=(--bpffs "$BPFFS" --config-dir "$CONF")

cat >"$T_TMP/vg.supp" <<'EOF'
{
   libbpf-bpf-attr-expected_attach_type
   Memcheck:Param
   bpf(attr->expected_attach_type)
   ...
   obj:*libbpf.so*
}
{
   libbpf-bpf-attr-prog_ifindex
   Memcheck:Param
   bpf(attr->prog_ifindex)
   ...
   obj:*libbpf.so*
}
{
   libbpf-bpf-attr-flags
   Memcheck:Param
   bpf(attr->flags)
   ...
   obj:*libbpf.so*
}
{
   libbpf-get-next-key-null-key-means-first
   Memcheck:Param
   bpf(attr->key)
   ...
   fun:bpf_map_get_next_key
}
EOF

# Does this valgrind know pidfd_open?
cat >"$T_TMP/probe.c" <<'EOF'
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { return syscall(SYS_pidfd_open, getpid(), 0) < 0; }
EOF
cc -o "$T_TMP/probe" "$T_TMP/probe.c" || bail "build the pidfd probe"
PRELOAD=
if ! valgrind -q "$T_TMP/probe" >/dev/null 2>&1; then
	cat >"$T_TMP/pidfd-shim.c" <<'EOF'
/* pidfd_open and pidfd_send_signal(fd, 0) from /proc/PID directory fds,
 * for a valgrind that lacks both; every other syscall() goes through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	char path[32];
	long a[6];
	va_list ap;
	int i, fd;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_pidfd_open && a[1] == 0) {
		snprintf(path, sizeof(path), "/proc/%ld", a[0]);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			errno = ESRCH;
		return fd;
	}
	if (nr == SYS_pidfd_send_signal && a[1] == 0 && a[2] == 0 && a[3] == 0) {
		/* A dead (or reaped and reused) pid's directory is empty. */
		fd = openat((int)a[0], "stat", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			errno = ESRCH;
			return -1;
		}
		close(fd);
		return 0;
	}
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
EOF
	cc -shared -fPIC -O2 -Wall -Werror -o "$T_TMP/pidfd-shim.so" "$T_TMP/pidfd-shim.c" -ldl ||
		bail "build the pidfd shim"
	PRELOAD=$T_TMP/pidfd-shim.so
	diag "$(valgrind --version) has no pidfd_open: using $PRELOAD"
fi

VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
	--show-leak-kinds=definite,indirect --track-origins=yes --suppressions="$T_TMP/vg.supp")

# vg LABEL RC STDIN ARGS...: the hook under valgrind; ok if it exits RC
# (valgrind's own failure is 99) and valgrind reported nothing.
vg() {
	local label=$1 want=$2 in=$3 log=$T_TMP/vg-$RANDOM.log rc
	shift 3
	env ${PRELOAD:+LD_PRELOAD=$PRELOAD} "${VG[@]}" --log-file="$log" \
		"$HOOK" "${HOOK_ARGS[@]}" "$@" <"$in" >"$T_TMP/vg.out" 2>"$T_TMP/vg.err"
	rc=$?
	expect_eq "valgrind $label: exit $want, no error, no leak" "$want" "$rc" \
		"stderr: $(cat "$T_TMP/vg.err")" "$(grep -v 'unhandled eBPF command' "$log")"
	VG_OUT=$(cat "$T_TMP/vg.out")
}

new_netns NS net
new_cgroup CG a
start_in_ns_cg PID "$NS" "$CG"
ID=$T.vg
defer_detach "$ID"
hook_state "$ID" "$PID" created '{"annotations":{"oci-cgroup-bpf-hook/profile":"vg"}}' >"$T_TMP/attach.json"
hook_state "$ID" 0 stopped >"$T_TMP/detach.json"

vg "prestart" 0 "$T_TMP/attach.json" prestart
check_attached "attached under valgrind" "$ID" "$CG"
vg "list" 0 /dev/null list
expect_match "  list shows the container" "^$T\.vg +live +vg " "$VG_OUT"
vg "show" 0 /dev/null show "$ID"
vg "stats --json" 0 /dev/null stats --json
vg "a second prestart of the same id (refused)" 1 "$T_TMP/attach.json" prestart
cg_park "$CG"
vg "poststop" 0 "$T_TMP/detach.json" poststop
cg_unpark "$CG"
assert_nothing_left "detached under valgrind" "$ID" "$CG"
done_testing
