/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_APPLY_H
#define OCB_APPLY_H

#include <stdbool.h>

struct ocb_policy;

struct apply_opts {
	const char *bpffs;
	const char *id;
	const struct ocb_policy *policy; /* NULL: accounting only */
	const char *profile;		 /* its name */
	const char *config_dir;		 /* for messages */
	bool privileged_warn;		 /* "privileged_network": "warn" */
	bool keep_unused;		 /* "unused_profiles": "keep" */
};

/* Switches a running container to @o->policy, atomically, unless its
 * capabilities would let it bypass that policy (privnet.c). */
int ocb_apply(const struct apply_opts *o);

#endif
