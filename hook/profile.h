/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_PROFILE_H
#define OCB_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#define OCB_PROFILE_NAME_MAX 63
/* A 100,000-rule profile is a few MiB; this only stops runaway files. */
#define OCB_PROFILE_FILE_MAX (64 * 1024 * 1024)

struct port_span {
	__u16 lo, hi;
};

/* The specificity of a rule: at equal prefix, higher wins. */
enum rule_tier {
	TIER_ADDR = 0,	/* CIDR only */
	TIER_PROTO = 1, /* CIDR and protocol */
	TIER_PORTS = 2, /* CIDR, protocol (tcp, udp or any) and ports */
};

struct rule {
	unsigned int index; /* position in the profile, counted from 0 */
	char where[64];	    /* e.g. "egress.deny[3]", for messages */
	__u8 dir;	    /* enum ocb_dir */
	__u8 verdict;	    /* enum ocb_verdict */
	__u8 addr[16];	    /* IPv6, or IPv4-mapped; host bits zero */
	__u8 addr_bits;	    /* 0..128, in the mapped space */
	__u8 proto;	    /* IPPROTO_*, 0 for any */
	enum rule_tier tier;
	size_t n_ranges;
	struct port_span *ranges; /* sorted, merged; none: all ports */
};

struct profile {
	char *description;
	__u8 mode;		 /* OCB_MODE_* */
	__u8 default_verdict[2]; /* by enum ocb_dir */
	__u8 sockets;		 /* OCB_SOCK_DENY_* */
	__u8 trace;		 /* OCB_TRACE_* */
	__u32 packet_rate;	 /* per-packet events a second per CPU */
	size_t n_rules;
	struct rule *rules;
};

bool profile_name_valid(const char *name);
/* Parses a profile; @origin names it in messages (a file path). */
int profile_parse(const char *json, size_t len, const char *origin, struct profile *p);
void profile_free(struct profile *p);
/* "10.0.0.0/8", "::1" ... to a mapped address and prefix (exposed for tests). */
int parse_cidr(const char *s, __u8 addr[16], __u8 *bits);
/* "25,465,1000-2000" to sorted, merged ranges (exposed for tests). */
int parse_ports(const char *s, struct port_span **ranges, size_t *n);

#endif
