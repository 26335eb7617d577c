/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_PRIVNET_H
#define OCB_PRIVNET_H

#include <stdbool.h>
#include <stddef.h>

struct ocb_policy;

struct privnet_in {
	const char *id;
	unsigned int caps; /* OCB_INFO_NET_* and OCB_INFO_CAPS_UNKNOWN */
	const char *why;   /* with OCB_INFO_CAPS_UNKNOWN: why, for messages */
	const struct ocb_policy *policy;
	const char *profile;	/* its name, for messages */
	const char *config_dir; /* where config.json is, for messages */
	bool warn;		/* "privileged_network": "warn" */
	/* 1: a program of ours refuses the container's packet sockets (the
	 * lsm_cgroup one is attached); 0: none does; -1: at prestart, one
	 * will if the profile denies them and the kernel loads it. */
	int packet_program;
};

/* Whether @pol can deny anything: a deny rule, a deny default or denied
 * sockets, outside audit mode. NULL (accounting only) cannot. */
bool privnet_can_deny(const struct ocb_policy *pol);

/*
 * The capabilities the bundle's config.json grants, as OCB_INFO_NET_RAW
 * and OCB_INFO_NET_ADMIN. What cannot be read counts as both, with
 * OCB_INFO_CAPS_UNKNOWN, and the reason in @why.
 */
unsigned int privnet_read_caps(const char *bundle, char *why, size_t size);

/*
 * At prestart and at apply: refuses (-EPERM, with one line saying why and
 * what to change) a profile that can deny anything for a container that
 * holds CAP_NET_ADMIN, or CAP_NET_RAW with packet sockets that no program
 * refuses. With @warn it warns instead and sets OCB_INFO_BYPASSABLE in
 * *info_flags (which it clears otherwise).
 */
int privnet_check(const struct privnet_in *in, unsigned int *info_flags);

#endif
