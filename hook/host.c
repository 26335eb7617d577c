// SPDX-License-Identifier: GPL-2.0
/* Facts about the host that decide what the hook can enforce. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "log.h"

int host_bpf_lsm_active(void)
{
	char list[512], *tok, *save = NULL;
	FILE *f = fopen(OCB_LSM_LIST, "re");

	if (!f)
		return -errno;
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
		       "the profile denies packet or raw sockets, which needs the BPF LSM, but " OCB_LSM_LIST " cannot be read (%s); mount securityfs, or remove \"sockets\" from the profile",
		       strerror(-active));
}
