// SPDX-License-Identifier: GPL-2.0
/* Facts about the host that decide what the hook can enforce. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

enum host_root host_root_status(void)
{
	unsigned long inner = 1, outer = 1, count = 0;
	struct stat self, init;
	FILE *f;

	if (geteuid() != 0)
		return HOST_NOT_ROOT;
	f = fopen("/proc/self/uid_map", "re");
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &inner, &outer, &count) != 3)
			count = 0;
		fclose(f);
	}
	/* Only the initial namespace maps all of 0..2^32-2 onto itself... */
	if (inner || outer || count != 4294967295ul)
		return HOST_IN_USERNS;
	/* ...unless root made a child namespace with that same map. */
	if (!stat("/proc/self/ns/user", &self) && !stat("/proc/1/ns/user", &init) &&
	    self.st_ino != init.st_ino)
		return HOST_IN_USERNS;
	return HOST_ROOT;
}

/* r0 = 1; exit: allows. The probes test what the kernel lets load, not
 * what a program does. */
static const struct bpf_insn allow_insns[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int probe_load(enum bpf_prog_type type, struct bpf_prog_load_opts *opts)
{
	int fd = bpf_prog_load(type, "probe", "GPL", allow_insns,
			       sizeof(allow_insns) / sizeof(allow_insns[0]), opts);

	if (fd < 0)
		return ocb_errno();
	close(fd);
	return 0;
}

int host_probe_sock_create(void)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET_SOCK_CREATE);

	return probe_load(BPF_PROG_TYPE_CGROUP_SOCK, &opts);
}

/*
 * Whether the BPF LSM is on cannot be read from /sys/kernel/security/lsm:
 * a kernel may list "bpf" there and still refuse trampoline-based
 * programs (some sandboxed hosts let only PID 1 load them). So load one,
 * on the hook the socket program uses. Attaching is not tried (it needs
 * a cgroup): a kernel that loaded it and then refused the attach would
 * fail the container's start with that error, not let it pass.
 */
int host_probe_lsm_cgroup(void)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_LSM_CGROUP);
	int id = libbpf_find_vmlinux_btf_id("socket_create", BPF_LSM_CGROUP);

	if (id < 0)
		return id == -ENOENT || id == -ESRCH ? -EOPNOTSUPP : id;
	opts.attach_btf_id = (__u32)id;
	return probe_load(BPF_PROG_TYPE_LSM, &opts);
}
