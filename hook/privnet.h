/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_PRIVNET_H
#define OCB_PRIVNET_H

#include <stdbool.h>

struct ocb_policy;

struct privnet_in {
	const char *id;
	const char *bundle; /* from the OCI state; NULL if absent */
	const struct ocb_policy *policy;
	const char *profile;	/* its name, for messages */
	const char *config_dir; /* where config.json is, for messages */
	bool warn;		/* "privileged_network": "warn" */
};

/* Whether @pol can deny anything: a deny rule, a deny default or denied
 * sockets, outside audit mode. NULL (accounting only) cannot. */
bool privnet_can_deny(const struct ocb_policy *pol);

/*
 * At prestart: refuses (-EPERM, with one line saying why and what to
 * change) a container whose profile can deny anything while it holds
 * CAP_NET_ADMIN, or CAP_NET_RAW with packet sockets that cannot be
 * refused, per the bundle's config.json. With @warn it warns instead and
 * sets OCB_INFO_BYPASSABLE in *info_flags.
 */
int privnet_check(const struct privnet_in *in, unsigned int *info_flags);

#endif
