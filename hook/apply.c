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
#include "progs.h"
#include "slots.h"

struct pinned_maps {
	struct pinned_policy m;
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

/* Pins @fd as @dir/@name in place of the old pin, in one rename. */
static int repin(const char *dir, const char *name, int fd)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];

	snprintf(tmp, sizeof(tmp), "%s/%s-new", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) || rename(tmp, path)) {
		int err = ocb_errno();

		unlink(tmp);
		return err;
	}
	return 0;
}

/* The switch is made: a failure to free what no container uses any
 * more is a warning (gc frees it), not a failed apply. */
static int let_go(const struct ocb_shared *s, const char *id)
{
	unsigned int dropped;

	if (slots_let_go(s, &dropped)) {
		ocb_log_warn("container %s: the policy is applied, but the tries no container uses any more are not freed (%s); run gc",
			     id, ocb_err_msg());
		ocb_err_clear();
	}
	return 0;
}

/*
 * The container's slot, from its info, in the shared maps of the
 * programs it was attached with: the new profile's tries (shared, or
 * made) go in its inactive generation, then one write switches.
 */
static int switch_policy(const char *dir, const struct pinned_maps *pm, const struct ocb_info *info,
			 const struct apply_opts *o)
{
	struct ocb_shared s;
	struct pin_tree tree;
	char build[sizeof(info->build) + 1];
	int rules = -1, ports = -1, err;

	progs_init(&s);
	snprintf(build, sizeof(build), "%.*s", (int)sizeof(info->build), info->build);
	if (!info->slot)
		return ocb_err(-ENOENT,
			       "container %s has no slot in the programs' maps; restart it", o->id);
	err = pin_tree_init(&tree, o->bpffs);
	if (!err)
		err = progs_open_maps(&tree, build, &s);
	if (!err)
		err = progs_open_btf(&s);
	if (!err)
		err = progs_profile_tries(&s, o->policy, &rules, &ports);
	if (!err)
		err = policy_switch(o->policy,
				    &(struct policy_maps){ .active = pm->m.active,
							   .conf = pm->m.conf,
							   .rules_outer = s.outer[OCB_MAP_RULES],
							   .ports_outer = s.outer[OCB_MAP_PORTS],
							   .slot = info->slot,
							   .cgslot = s.cgslot,
							   .cgid = info->cgroup_id },
				    rules, ports);
	/* The pool's record of what the slot holds; the old profile's
	 * tries go if this container was their last user. */
	slots_note(&s, info->slot);
	if (!err && !o->keep_unused)
		err = let_go(&s, o->id);
	/* What show and bpftool read: the live tries. */
	if (!err && (repin(dir, ocb_map_pins[OCB_MAP_RULES], rules) ||
		     repin(dir, ocb_map_pins[OCB_MAP_PORTS], ports)))
		ocb_log_warn("container %s: the policy is applied but its pinned rules and ports are the old ones (%s)",
			     o->id, strerror(errno));
	if (rules >= 0)
		close(rules);
	if (ports >= 0)
		close(ports);
	progs_close(&s);
	return err;
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

static int update_info(int fd, struct ocb_info *info, const struct apply_opts *o,
		       unsigned int flags)
{
	__u32 zero = 0;

	snprintf(info->profile, sizeof(info->profile), "%s", o->profile);
	snprintf(info->description, sizeof(info->description), "%s",
		 o->policy ? o->policy->description : "");
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
		err = check_sockets(dir, o->policy, o->id);
	if (!err)
		err = read_info(pm.info, &info, o->id);
	if (!err)
		err = check_privileged(&info, o, &flags);
	if (!err)
		err = switch_policy(dir, &pm, &info, o);
	if (!err && update_info(pm.info, &info, o, flags))
		ocb_log_warn("container %s: the policy is applied but its recorded profile name and flags are not",
			     o->id);
	if (!err)
		ocb_log_info("applied profile %s to container %s", o->profile, o->id);
out:
	close_maps(&pm);
	pin_unlock_id(&lock, false);
	return err;
}
