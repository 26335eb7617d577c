#!/bin/bash
# runc and the hook in a pure cgroup v2 layout, as on production hosts:
# cgroup2 alone at /sys/fs/cgroup. This host is hybrid, so the test runs
# in a private mount namespace with the cgroup v1 mounts taken away and
# cgroup2 mounted at /sys/fs/cgroup (the same hierarchy as the host's v2
# mount, so the cgroups are real). Then once more with no bpffs mounted
# in that namespace: the hook mounts bpffs at /sys/fs/bpf itself.
if [ -z "${OCB_PRIVATE_MNTNS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || {
		echo "not ok - $(basename "$0" .sh) must run as root (try: sudo make check)"
		exit 1
	}
	exec unshare -m --propagation private env OCB_PRIVATE_MNTNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
require_root

# Only this private mount namespace sees these changes.
if mountpoint -q /sys/fs/cgroup; then
	umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup ||
		bail "unmount /sys/fs/cgroup in the private mount namespace"
fi
mount -t cgroup2 cgroup2 /sys/fs/cgroup || bail "mount cgroup2 at /sys/fs/cgroup"
test_init
expect_eq "pure cgroup v2 layout in a private mount namespace" \
	"/sys/fs/cgroup cgroup2fs 0" "$CG2_MNT $(stat -f -c %T "$CG2_MNT") $(cg1_mounts | wc -l)"

if mountpoint -q /sys/fs/bpf && [ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]; then
	diag "bpffs is mounted at /sys/fs/bpf (the host's)"
else
	diag "no bpffs at /sys/fs/bpf: the hook mounts it"
fi

new_netns NS net
start_tcp_echo "$NS" 127.0.0.1 7001

for stage in prestart createRuntime; do
	for mode in detached foreground; do
		runc_scenario v2 "$stage" "$mode" "$NS" 7001
	done
done

# No bpffs in this namespace at all: the hook mounts one at /sys/fs/bpf.
if [ -z "${OCB_BPFFS:-}" ]; then
	while mountpoint -q /sys/fs/bpf; do
		umount /sys/fs/bpf || bail "unmount bpffs in the private mount namespace"
	done
	expect_eq "no bpffs at /sys/fs/bpf in the private namespace" no \
		"$(mountpoint -q /sys/fs/bpf && echo yes || echo no)"
	# The programs of the host bpffs are not ours to count here.
	snapshot_progs
	runc_scenario v2-nobpffs prestart detached "$NS" 7001
	expect_eq "the hook mounted bpffs at /sys/fs/bpf" bpf_fs "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)"
	expect_eq "  with mode 0700 (and the sticky bit bpffs always sets)" 1700 "$(stat -c %a /sys/fs/bpf 2>/dev/null)"
	runc_scenario v2-nobpffs createRuntime foreground "$NS" 7001
	expect_eq "one bpffs mount, reused by later runs" 1 \
		"$(awk '$5 == "/sys/fs/bpf"' /proc/self/mountinfo | wc -l)"
else
	skip "bpffs auto-mount" "OCB_BPFFS is set"
fi

# A cgroup2 mount hidden under a later one (what mounting cgroup2 over a
# hybrid /sys/fs/cgroup gives): the hook reads the first cgroup2 line of
# mountinfo, whose mount point no longer leads to it: the hook must use
# the cgroup2 mount that is reachable.
new_cgroup CGS shadow
start_in_ns_cg PS "$NS" "$CGS"
ID=$T.shadow
defer_detach "$ID"
hook_state "$ID" "$PS" created >"$T_TMP/shadow.json"
HOOK_ERR=$(unshare -m --propagation private sh -c '
	umount /sys/fs/cgroup && mount -t tmpfs tmpfs /sys/fs/cgroup && mkdir /sys/fs/cgroup/unified &&
	mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified &&
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 99
	exec "$@" prestart' sh "$HOOK" "${HOOK_ARGS[@]}" <"$T_TMP/shadow.json" 2>&1 >/dev/null)
HOOK_RC=$?
expect_hook_ok "attach with a cgroup2 mount hidden under another" &&
	check_attached "hidden cgroup2 mount" "$ID" "$CGS"
run_hook poststop "$ID" 0 stopped
assert_nothing_left "hidden cgroup2 mount" "$ID" "$CGS"

done_testing
