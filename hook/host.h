/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_HOST_H
#define OCB_HOST_H

#include <stdbool.h>

#define OCB_LSM_LIST "/sys/kernel/security/lsm"

/* 1 if "bpf" is in the active LSM list, 0 if not, -errno if unknown. */
int host_bpf_lsm_active(void);
/* 0 if the BPF LSM is active, else an error saying what to do. */
int host_bpf_lsm_check(void);

#endif
