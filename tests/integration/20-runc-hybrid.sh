#!/bin/bash
# A real runc container (busybox-static rootfs) with the hook in its
# config.json, in this host's cgroup layout (hybrid here: cgroup v1
# controllers plus cgroup v2 at /sys/fs/cgroup/unified; unified on most
# production hosts). The hook runs at prestart, then at createRuntime;
# each both detached (`runc run -d`, kill, delete) and in the foreground
# (the container exits by itself). Pins exist while the container runs and
# are gone once it is deleted.
. "$(dirname "$0")/../lib.sh"
test_init

if [ -n "$(cg1_mounts)" ]; then
	diag "host layout: hybrid (cgroup v2 at $CG2_MNT, cgroup v1 controllers beside it)"
else
	diag "host layout: unified (cgroup v2 at $CG2_MNT)"
fi

new_netns NS net
start_tcp_echo "$NS" 127.0.0.1 7001

for stage in prestart createRuntime; do
	for mode in detached foreground; do
		runc_scenario host "$stage" "$mode" "$NS" 7001
	done
done

done_testing
