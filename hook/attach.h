/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_ATTACH_H
#define OCB_ATTACH_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <sys/types.h>

struct ocb_policy;

struct attach_opts {
	const char *bpffs;
	const char *id;
	pid_t pid;
	const struct ocb_policy *policy; /* compiled profile */
	const char *profile;		 /* its name, for info and logs */
	const char *bundle;		 /* from the state, NULL if absent */
	const char *name;		 /* the runtime's name for it, NULL if none */
	unsigned int info_flags;	 /* OCB_INFO_*, recorded in the info map */
};

/* A container's links, by pin name in ocb_link_pins. The socket links
 * exist only for profiles that deny raw or packet sockets. */
enum ocb_link {
	OCB_LINK_INGRESS,
	OCB_LINK_EGRESS,
	OCB_LINK_CONNECT4,
	OCB_LINK_CONNECT6,
	OCB_LINK_SENDMSG4,
	OCB_LINK_SENDMSG6,
	OCB_LINK_SOCKOPT,  /* cgroup/setsockopt: options that forge a source */
	OCB_LINK_SOCK_RAW, /* cgroup/sock_create: raw IP sockets */
	OCB_LINK_SOCKETS,  /* lsm_cgroup/socket_create: packet (and raw) sockets */
	OCB_N_LINKS,
};

extern const char *const ocb_link_pins[OCB_N_LINKS];
/* How each link attaches (bpf_link_create()'s attach type). */
extern const enum bpf_attach_type ocb_link_types[OCB_N_LINKS];

/* A container's maps, pinned by these names in its directory (the
 * programs reach them through the shared outer maps c_<name>). */
enum ocb_map {
	OCB_MAP_STATS,
	OCB_MAP_ACTIVE,
	OCB_MAP_CONF,
	OCB_MAP_RULES,
	OCB_MAP_PORTS,
	OCB_MAP_INFO,
	OCB_N_MAPS,
};

extern const char *const ocb_map_pins[OCB_N_MAPS];

struct pin_tree;

/* Attaches and pins every program for a container: all or nothing. */
int ocb_attach(const struct attach_opts *opts);
/*
 * Unpins a container's directory; nothing pinned is not an error. Ids
 * are unique only within one runtime's state directory, so the pins are
 * left alone unless they are proven to be @bundle's container's and its
 * cgroup is gone or empty (a twin's poststop runs while the owner runs).
 * @let_go: ocb_release_slot()'s.
 */
int ocb_detach(const char *bpffs, const char *id, const char *bundle, bool let_go);
/*
 * Frees the slot of the container pinned in @dir, if it still holds one:
 * its programs then find no maps and pass nothing until its links go.
 * With @let_go, the compiled profiles no container uses any more go too
 * (its own, if it was the profile's last container): slots_let_go().
 */
int ocb_release_slot(const struct pin_tree *t, const char *dir, bool let_go);

#endif
