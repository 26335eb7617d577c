#!/bin/bash
# Runtimes often drop a hook's stderr: attaches and errors also go to
# syslog, facility daemon. The hook runs in a private mount namespace
# whose /dev is a tmpfs holding a test socket at /dev/log.
. "$(dirname "$0")/../lib.sh"
test_init

new_netns NS log
new_cgroup CG target
start_in_ns_cg PID "$NS" "$CG"
ID="$T.syslog"
defer_detach "$ID"
hook_state "$ID" "$PID" creating >"$T_TMP/attach.json"
hook_state "$ID" - stopped >"$T_TMP/detach.json"
hook_state "$ID" "$PID" creating '{"annotations": {"oci-cgroup-bpf-hook/profile": "missing"}}' >"$T_TMP/bad.json"
# Before the detach the process leaves the cgroup, as a runtime empties it.
cg_parking "$CG" || bail "create $CG-parked"

# Inside the namespace: a datagram socket at /dev/log, then the hook three
# times (attach, a refused attach, detach); the log lands in $T_TMP/syslog.
unshare -m --propagation private sh -c '
	mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 || exit 1
	socat -u UNIX-RECV:/dev/log,unlink-early OPEN:"$1/syslog",creat,append &
	sock=$!
	i=0; while [ ! -S /dev/log ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	"$2" prestart <"$1/attach.json"; echo "attach $?" >"$1/rc"
	"$2" --config-dir "$1/cfg" prestart <"$1/bad.json"; echo "bad $?" >>"$1/rc"
	echo "$3" >"$4-parked/cgroup.procs"
	"$2" poststop <"$1/detach.json"; echo "detach $?" >>"$1/rc"
	sleep 0.3; kill $sock
' sh "$T_TMP" "$HOOK" "$PID" "$CG" 2>"$T_TMP/stderr"

expect_eq "the three runs exit 0, 1, 0" "attach 0 bad 1 detach 0" "$(tr '\n' ' ' <"$T_TMP/rc" | sed 's/ $//')"
log=$(tr '\0' '\n' <"$T_TMP/syslog" 2>/dev/null)
diag "syslog: $log"
# <30>: facility daemon (3) * 8 + info (6); <27>: daemon + err (3).
expect_match "an attach is logged at daemon.info with the id and the cgroup" \
	"<30>.*oci-cgroup-bpf-hook\[[0-9]+\]: attached container $ID \(cgroup $CG" "$log"
expect_match "a refusal is logged at daemon.err with the reason" \
	"<27>.*oci-cgroup-bpf-hook\[[0-9]+\]: unknown profile 'missing'" "$log"
expect_match "the refusal's one line also reaches stderr" \
	"^oci-cgroup-bpf-hook: unknown profile 'missing'" "$(cat "$T_TMP/stderr")"
expect_match "a detach is logged at daemon.info" \
	"<30>.*oci-cgroup-bpf-hook\[[0-9]+\]: detached container $ID" "$log"
assert_nothing_left "after detach" "$ID" "$CG"
done_testing
