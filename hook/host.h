/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_HOST_H
#define OCB_HOST_H

#include <stdbool.h>

#define OCB_LSM_LIST "/sys/kernel/security/lsm"

enum host_root {
	HOST_ROOT, /* euid 0 in the initial user namespace */
	HOST_NOT_ROOT,
	HOST_IN_USERNS, /* root, but in a user namespace (rootless) */
};

/* cgroup BPF needs CAP_SYS_ADMIN in the initial user namespace. */
enum host_root host_root_status(void);

/* 1 if "bpf" is in the active LSM list, 0 if not, -errno if unknown. */
int host_bpf_lsm_active(void);
/* 0 if the BPF LSM is active, else an error saying what to do. */
int host_bpf_lsm_check(void);

#endif
