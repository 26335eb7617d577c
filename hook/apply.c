// SPDX-License-Identifier: GPL-2.0
/* Switching a running container's policy in place, under its lock. */
#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "attach.h"
#include "inspect.h"
#include "log.h"
#include "ocb_maps.h"
#include "pin.h"
#include "policy.h"
#include "privnet.h"

struct pinned_maps {
	struct policy_maps m;
	int info;
};

static int open_maps(const char *dir, struct pinned_maps *pm)
{
	int err = inspect_open_policy(dir, &pm->m);

	if (!err)
		err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_INFO], &pm->info);
	return err;
}

static void close_maps(struct pinned_maps *pm)
{
	inspect_close_policy(&pm->m);
	if (pm->info >= 0)
		close(pm->info);
}

static int map_capacity(int fd, __u32 *max_entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return ocb_errno();
	*max_entries = info.max_entries;
	return 0;
}

/* The old and the new generation live side by side for a moment. */
static int check_fits(const struct pinned_maps *pm, const struct ocb_policy *pol, const char *id)
{
	__u32 rules_cap = 0, ports_cap = 0;
	int err = map_capacity(pm->m.rules, &rules_cap);

	if (!err)
		err = map_capacity(pm->m.ports, &ports_cap);
	if (err)
		return ocb_err(err, "cannot read the policy maps of %s: %s", id, strerror(-err));
	if (pol && (pol->n_rules > rules_cap / 2 || pol->n_ports > ports_cap / 2))
		return ocb_err(-E2BIG,
			       "the profile needs %zu rule entries, more than container %s was sized for (%u); restart the container with it instead",
			       pol->n_rules, id, rules_cap / 2);
	return 0;
}

/* A profile that denies sockets needs the program that refuses them,
 * which only an attach loads. */
static int check_sockets(const char *dir, const struct ocb_policy *pol, const char *id)
{
	static const struct {
		unsigned int bit;
		enum ocb_link link;
		const char *what;
	} needs[] = { { OCB_SOCK_DENY_RAW, OCB_LINK_SOCK_RAW, "raw" },
		      { OCB_SOCK_DENY_PACKET, OCB_LINK_SOCKETS, "packet" } };
	char path[PATH_MAX + 32];
	struct stat st;
	size_t i;

	for (i = 0; pol && i < sizeof(needs) / sizeof(needs[0]); i++) {
		if (!(pol->sockets & needs[i].bit))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ocb_link_pins[needs[i].link]);
		if (stat(path, &st))
			return ocb_err(-EOPNOTSUPP,
				       "the profile denies %s sockets, but container %s was started without the program that refuses them; restart the container with this profile",
				       needs[i].what, id);
	}
	return 0;
}

/*
 * Judges the new profile as prestart judged the first one: a container
 * whose capabilities could bypass it is refused, or flagged with "warn"
 * (privnet.c). The capabilities are those recorded at attach.
 */
static int check_privileged(const struct ocb_info *info, const struct apply_opts *o,
			    unsigned int *flags)
{
	*flags = info->flags;
	return privnet_check(&(struct privnet_in){ .id = o->id,
						   .caps = info->flags &
							   (OCB_INFO_NET_RAW | OCB_INFO_NET_ADMIN |
							    OCB_INFO_CAPS_UNKNOWN),
						   .why = "its capabilities could not be read when it started",
						   .policy = o->policy,
						   .profile = o->profile,
						   .config_dir = o->config_dir,
						   .warn = o->privileged_warn,
						   /* check_sockets() made sure the program is
						      there. */
						   .packet_program = 1 },
			     flags);
}

static int update_info(int fd, struct ocb_info *info, const char *profile, unsigned int flags)
{
	__u32 zero = 0;

	snprintf(info->profile, sizeof(info->profile), "%s", profile);
	info->flags = flags;
	return bpf_map_update_elem(fd, &zero, info, BPF_ANY) ? ocb_errno() : 0;
}

static int read_info(int fd, struct ocb_info *info, const char *id)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, info))
		return ocb_err(ocb_errno(), "cannot read the info map of %s: %s", id,
			       strerror(errno));
	return 0;
}

int ocb_apply(const struct apply_opts *o)
{
	struct pinned_maps pm = { { -1, -1, -1, -1 }, -1 };
	struct pin_lock lock = { .fd = -1 };
	struct ocb_info info;
	struct pin_tree tree;
	unsigned int flags = 0;
	char dir[PATH_MAX];
	int err;

	err = pin_tree_init(&tree, o->bpffs);
	if (!err)
		err = pin_container_dir(&tree, o->id, dir, sizeof(dir));
	if (!err)
		err = pin_lock_id(o->id, &lock);
	if (err)
		return err;
	if (!pin_exists(&tree, o->id)) {
		err = ocb_err(-ENOENT, "container %s is not attached", o->id);
		goto out;
	}
	err = open_maps(dir, &pm);
	if (!err)
		err = check_fits(&pm, o->policy, o->id);
	if (!err)
		err = check_sockets(dir, o->policy, o->id);
	if (!err)
		err = read_info(pm.info, &info, o->id);
	if (!err)
		err = check_privileged(&info, o, &flags);
	if (!err)
		err = policy_switch(o->policy, &pm.m);
	if (!err && update_info(pm.info, &info, o->profile, flags))
		ocb_log_warn("container %s: the policy is applied but its recorded profile name and flags are not",
			     o->id);
	if (!err)
		ocb_log_info("applied profile %s to container %s", o->profile, o->id);
out:
	close_maps(&pm);
	pin_unlock_id(&lock, false);
	return err;
}
