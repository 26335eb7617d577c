/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_APPLY_H
#define OCB_APPLY_H

struct ocb_policy;

/* Switches a running container to @pol (named @profile), atomically. */
int ocb_apply(const char *bpffs, const char *id, const struct ocb_policy *pol, const char *profile);

#endif
