/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_POLICY_H
#define OCB_POLICY_H

#include <stddef.h>

#include "ocb_maps.h"

struct bpf_map;

struct policy_rule_entry {
	struct ocb_rule_key key; /* gen is set when written */
	struct ocb_rule val;
};

struct policy_port_entry {
	struct ocb_port_key key; /* gen is set when written */
	struct ocb_class val;
};

/* A profile compiled to the entries of the BPF maps. */
struct ocb_policy {
	__u8 default_verdict[2]; /* by enum ocb_dir */
	__u8 mode;		 /* OCB_MODE_* */
	__u8 sockets;		 /* OCB_SOCK_DENY_* */
	__u8 trace;		 /* OCB_TRACE_* */
	__u32 packet_rate;	 /* per-packet events a second per CPU */
	__u8 may_deny;		 /* bit 1 << dir: that direction can deny */
	size_t n_rules, n_ports;
	struct policy_rule_entry *rules;
	struct policy_port_entry *ports;
};

struct policy_maps {
	int active, conf, rules, ports;
};

/* Sets the tries' capacity before load; a NULL policy allows everything. */
int policy_size_maps(const struct ocb_policy *p, struct bpf_map *rules, struct bpf_map *ports);
/* The tries' capacity for @p (the maps the hook creates). */
void policy_capacity(const struct ocb_policy *p, __u32 *rules, __u32 *ports);
/* Fills freshly created maps with generation 0 of @p. */
int policy_write_maps(const struct ocb_policy *p, const struct policy_maps *m);
/* Loads @p as the inactive generation, switches to it with one write,
 * then removes the old generation: no instant without a whole policy. */
int policy_switch(const struct ocb_policy *p, const struct policy_maps *m);
void policy_free(struct ocb_policy *p);

#endif
