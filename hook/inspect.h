/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_INSPECT_H
#define OCB_INSPECT_H

/*
 * Reading what the hook pinned: the containers in the pin tree, and each
 * one's info, counters, links and policy as the kernel holds them.
 * Nothing here writes to a pin, and nothing formats: the attach and
 * detach stages use it too (the commands' formatting is in fmt.h).
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ocb_maps.h"
#include "pin.h"
#include "policy.h"
#include "state.h"

/* One container directory in the pin tree. */
struct ocb_entry {
	char id[OCB_ID_MAX + 1]; /* decoded */
	char dir[PATH_MAX];
};

struct ocb_entries {
	struct ocb_entry *v;
	size_t n;
};

/* The containers in the tree, sorted by id; a missing tree is empty. */
int inspect_scan(const struct pin_tree *t, struct ocb_entries *out);
/* pin_tree_init() for @bpffs, then inspect_scan(). */
int inspect_scan_bpffs(const char *bpffs, struct pin_tree *t, struct ocb_entries *out);
void inspect_entries_free(struct ocb_entries *e);
/* An exact id, or a unique prefix of one, as podman accepts them. */
int inspect_resolve(const struct ocb_entries *e, const char *prefix, const struct ocb_entry **out);

enum ocb_liveness {
	OCB_LIVE,    /* a link is attached to an existing cgroup */
	OCB_STALE,   /* the cgroup is gone: the pins only hold memory */
	OCB_UNKNOWN, /* the links could not be read */
};

const char *inspect_liveness_name(enum ocb_liveness l);
/* A failure a command can live with: warn with its message, forget it. */
void inspect_tolerate(void);

/* Whether the container's cgroup still exists, from its links. */
enum ocb_liveness inspect_liveness(const char *dir, unsigned long long *cgroup_id);

/* A map's value, cut or zero-filled to @size: pins made by another
 * version of the hook may hold shorter or longer values. */
int inspect_lookup(int fd, const void *key, void *val, size_t size);
/* Opens the pin @dir/@name (a map or link) into @fd. */
int inspect_open_pin(const char *dir, const char *name, int *fd);
/* A container's policy as pinned: its settings, and the live
 * generation's tries (shared with the containers of the same profile). */
struct pinned_policy {
	int active, conf, rules, ports;
};

/* Opens a container's four policy pins; on error some fds may be open:
 * inspect_close_policy() closes those that are. */
int inspect_open_policy(const char *dir, struct pinned_policy *m);
void inspect_close_policy(struct pinned_policy *m);
int inspect_map_value_size(int fd, size_t *size);
int inspect_read_info(const char *dir, struct ocb_info *info);
/* The per-CPU counters, summed. */
int inspect_read_stats(const char *dir, struct ocb_stats *sum);

/* What a pin is, read from the kernel. */
enum pin_kind { PIN_LINK, PIN_MAP, PIN_PROG, PIN_OTHER };

struct pin_desc {
	char name[NAME_MAX + 1];
	enum pin_kind kind;
	int err;	 /* could not be read: the rest is zero */
	unsigned int id; /* link, map or prog id */
	/* links */
	unsigned int link_type, attach_type, prog_id;
	unsigned long long cgroup_id;
	char prog_name[16];
	/* maps */
	unsigned int map_type, max_entries;
	char map_name[16];
};

/* Every pin in @dir, sorted by name; extra pins are described too. */
int inspect_pins(const char *dir, struct pin_desc **pins, size_t *n);

/* A port range of one class, as the ports trie resolves it. */
struct port_range {
	unsigned int class;
	unsigned char dir; /* enum ocb_dir, or PORT_DIR_ANY */
	unsigned char proto;
	bool any_proto; /* an entry that does not name the protocol */
	unsigned short from, to;
};

/* One entry of the rules trie. */
struct policy_rule_view {
	struct ocb_rule_key key;
	struct ocb_rule val;
};

/* The policy in effect: the active generation of conf, rules and ports. */
struct policy_view {
	unsigned int gen;
	struct ocb_conf conf;
	struct policy_rule_view *rules;
	size_t n_rules;
	struct port_range *ranges;
	size_t n_ranges;
};

/* An entry too short to cover the direction byte matches both. */
#define PORT_DIR_ANY 2

int inspect_read_policy(const char *dir, struct policy_view *pv);
/* Only the live generation's settings (mode, defaults), for `list`. */
int inspect_read_conf(const char *dir, struct ocb_conf *conf);
/* TCP, UDP, SCTP and UDP-Lite: the programs look up port 0 for others. */
bool inspect_proto_has_ports(unsigned int proto);
void inspect_policy_free(struct policy_view *pv);
/* A rule key's address as CIDR; IPv4-mapped prefixes print as IPv4. */
void inspect_rule_cidr(const struct ocb_rule_key *k, char *buf, size_t size);

#endif
