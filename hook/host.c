// SPDX-License-Identifier: GPL-2.0
/* Facts about the host that decide what the hook can enforce. */
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

int host_bpf_lsm_active(void)
{
	char list[512], *tok, *save = NULL;
	FILE *f = fopen(OCB_LSM_LIST, "re");

	if (!f)
		return ocb_errno();
	if (!fgets(list, sizeof(list), f))
		list[0] = '\0';
	fclose(f);
	list[strcspn(list, "\n")] = '\0';
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, "bpf"))
			return 1;
	return 0;
}

int host_bpf_lsm_check(void)
{
	int active = host_bpf_lsm_active();

	if (active == 1)
		return 0;
	if (active == 0)
		return ocb_err(-EOPNOTSUPP,
			       "the profile denies packet or raw sockets, which needs the BPF LSM, and it is not active on this host; add \"bpf\" to the kernel's lsm= parameter, or remove \"sockets\" from the profile");
	return ocb_err(active,
		       "the profile denies packet or raw sockets, which needs the BPF LSM, but " OCB_LSM_LIST
		       " cannot be read (%s); mount securityfs, or remove \"sockets\" from the profile",
		       strerror(-active));
}
