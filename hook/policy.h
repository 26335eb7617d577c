/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_POLICY_H
#define OCB_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "ocb_maps.h"
#include "sha256.h"

struct bpf_map;

struct policy_rule_entry {
	struct ocb_rule_key key; /* gen 0 */
	struct ocb_rule val;
};

struct policy_port_entry {
	struct ocb_port_key key; /* gen 0 */
	struct ocb_class val;
};

/* A profile compiled to the entries of the BPF maps. */
struct ocb_policy {
	__u8 default_verdict[2];	/* by enum ocb_dir */
	__u8 mode;			/* OCB_MODE_* */
	__u8 sockets;			/* OCB_SOCK_DENY_* */
	__u8 trace;			/* OCB_TRACE_* */
	__u32 packet_rate;		/* per-packet events a second per CPU */
	__u8 may_deny;			/* bit 1 << dir: that direction can deny */
	char description[OCB_TEXT_MAX]; /* the profile's, truncated; for info */
	size_t n_rules, n_ports;
	struct policy_rule_entry *rules;
	struct policy_port_entry *ports;
};

/* A container's policy maps, and the outer maps that hold its tries. */
struct policy_maps {
	int active, conf;
	int rules_outer, ports_outer; /* c_rules, c_ports */
	__u32 slot;
	int cgslot; /* the cgroup's cached copy (struct ocb_cgslot); 0 or -1: none
		     * (libbpf never returns fds 0-2) */
	__u64 cgid;
};

/* The tries' capacity for @p (the maps the hook creates). */
void policy_capacity(const struct ocb_policy *p, __u32 *rules, __u32 *ports);
/* Names what @p's tries hold: containers whose profiles compile to the
 * same entries share one pair of tries. */
void policy_hash(const struct ocb_policy *p, unsigned char out[SHA256_LEN]);
/* Fills fresh tries with @p and the entry naming them, then freezes them. */
int policy_fill_tries(const struct ocb_policy *p, const unsigned char hash[SHA256_LEN], int rules,
		      int ports);
/* Whether @rules are tries filled for @hash (found again by map id). */
bool policy_tries_named(int rules, const unsigned char hash[SHA256_LEN]);
/* A new container's generation 0 settings (its tries are given with
 * its slot, progs.c). */
int policy_write_maps(const struct ocb_policy *p, const struct policy_maps *m);
/* Gives the container @p's settings and tries @rules, @ports as the
 * inactive generation, switches to it with one write, waits for running
 * programs, then lets go of the old tries: no instant without a whole
 * policy. */
int policy_switch(const struct ocb_policy *p, const struct policy_maps *m, int rules, int ports);
/* Points cgroup @cgid at @slot, with @p's settings and generation @gen
 * as the live ones (struct ocb_cgslot in @cgslot: one write, seen whole). */
int policy_cache(const struct ocb_policy *p, int cgslot, __u64 cgid, __u32 slot, __u32 gen);
/* Waits until no program run that began before the call is left (an RCU
 * grace period: the kernel's wait after a map-in-map write). */
int policy_wait_programs(void);
void policy_free(struct ocb_policy *p);

#endif
