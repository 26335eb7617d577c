/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_KFACTS_H
#define OCB_KFACTS_H

#include <stdbool.h>

#include <linux/types.h>

/* What the programs need to know of this kernel's struct inet_sock. */
struct kfacts {
	__u32 inet_flags_off; /* offset of inet_flags in struct inet_sock */
	__u64 spoof_mask;     /* its freebind and transparent bits; 0: unknown */
};

/*
 * Fills @f from this boot's cached answer, or from the kernel's BTF (some
 * 20 ms to parse), caching it if @cache (a process whose sandbox lets it
 * create files). A kernel without enum inet_flags (before 6.6) leaves it
 * zero: the programs then skip the check. Never fails.
 */
void kfacts_inet_flags(struct kfacts *f, bool cache);

#endif
