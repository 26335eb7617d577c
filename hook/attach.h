/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_ATTACH_H
#define OCB_ATTACH_H

#include <sys/types.h>

struct ocb_policy;

struct attach_opts {
	const char *bpffs;
	const char *id;
	pid_t pid;
	const struct ocb_policy *policy; /* compiled profile */
	const char *profile;		 /* its name, for info and logs */
};

/* Attaches and pins every program for a container: all or nothing. */
int ocb_attach(const struct attach_opts *opts);
/* Unpins a container's directory; nothing pinned is not an error. */
int ocb_detach(const char *bpffs, const char *id);

#endif
