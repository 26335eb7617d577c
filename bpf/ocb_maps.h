/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by the BPF programs and the hook. Every map key and value
 * is a named struct so that `bpftool map dump` prints named fields.
 */
#ifndef OCB_MAPS_H
#define OCB_MAPS_H

#include <linux/types.h>

enum ocb_verdict {
	OCB_ALLOW = 1,
	OCB_DENY = 2,
};

enum ocb_dir {
	OCB_INGRESS = 0,
	OCB_EGRESS = 1,
};

/* Rule kinds in the rules trie: an address-only rule, or one that also
 * names a protocol (and ports), reduced to a class by the ports trie. */
enum ocb_rule_kind {
	OCB_KIND_ADDR = 0,
	OCB_KIND_CLASS = 1,
};

#define OCB_MODE_AUDIT 0x1

/* Socket creation the profile denies (needs the BPF LSM). */
#define OCB_SOCK_DENY_PACKET 0x1
#define OCB_SOCK_DENY_RAW 0x2

/* What the profile traces (events reach `trace` only while it runs). */
#define OCB_TRACE_CONNECTS 0x1
#define OCB_TRACE_DROPS 0x2
#define OCB_TRACE_PACKETS 0x4 /* every packet, at most packet_rate a second per CPU */
#define OCB_PACKET_RATE_DEFAULT 100
#define OCB_PACKET_RATE_MAX 100000

/*
 * Protocols whose packets carry a source and destination port in their
 * first four bytes, as TCP and UDP do: TCP, UDP, DCCP, SCTP and UDP-Lite.
 * "proto": "any" with "ports" covers all of them. Numbers, not IPPROTO_*,
 * so that the BPF side and the hook share one definition.
 */
static inline int ocb_has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136;
}

/* Whether a 16-byte address is IPv4-mapped (::ffff:a.b.c.d): how IPv4
 * addresses are kept in the maps and events (the hook's side). */
static inline int ocb_v4_mapped(const __u8 a[16])
{
	int i;

	for (i = 0; i < 10; i++)
		if (a[i])
			return 0;
	return a[10] == 0xff && a[11] == 0xff;
}

/* Number of bits in an ocb_rule_key that precede the address. */
#define OCB_RULE_KEY_HDR_BITS 40
/* Number of bits in an ocb_port_key that precede the port. */
#define OCB_PORT_KEY_HDR_BITS 32

struct ocb_traffic {
	__u64 packets_allowed;
	__u64 bytes_allowed;
	__u64 packets_denied;
	__u64 bytes_denied;
};

/* One per-CPU value of the `stats` map (single entry, key 0). In audit
 * mode the *_denied counters count what would have been denied. */
struct ocb_stats {
	struct ocb_traffic ingress;
	struct ocb_traffic egress;
	__u64 connects_allowed;
	__u64 connects_denied;
	__u64 sends_allowed;
	__u64 sends_denied;
	__u64 sockets_denied; /* sockets and socket options refused */
};

/*
 * Key of the rules LPM trie. IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d), so an IPv4 rule also matches an IPv6 socket talking
 * to a mapped address, and one lookup path serves both families.
 * A profile's tries are shared by the containers that use it and never
 * change: `gen` is 0 in every entry the programs look up. The hook keeps
 * one entry of `gen` 1 (OCB_TRIE_NAME_GEN) that names the tries' content
 * (struct ocb_rule_key with the SHA-256's first 16 bytes as address):
 * the proof that tries found by id are the ones it looks for.
 */
#define OCB_TRIE_NAME_GEN 1
struct ocb_rule_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 dir;
	__u16 class; /* fully covered by every prefix: host order */
	__u8 kind;
	__u8 addr[16];
	__u8 pad[3]; /* never covered by prefixlen */
};

struct ocb_rule {
	__u32 rule;	/* index of the rule in the profile, for tracing */
	__u8 addr_bits; /* prefix length of the address, 0..128 */
	__u8 verdict;	/* enum ocb_verdict */
	__u8 pad[2];
};

/* Key of the ports LPM trie: (gen, dir, protocol, port) -> class. */
struct ocb_port_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 dir;
	__u8 proto;
	__u8 zero;
	__be16 port;
	__u8 pad[2]; /* never covered by prefixlen */
};

struct ocb_class {
	__u32 class;
};

/* Per-generation settings (array indexed by generation). */
struct ocb_conf {
	__u8 default_verdict[2]; /* indexed by enum ocb_dir */
	__u8 mode;		 /* OCB_MODE_* */
	__u8 sockets;		 /* OCB_SOCK_DENY_* */
	__u8 trace;		 /* OCB_TRACE_* */
	__u8 has_classes;	 /* any protocol/port rule: consult the ports trie */
	__u8 may_deny;		 /* bit 1 << dir: some packet of that direction can be
				  * denied (a deny rule or a deny default) */
	__u8 pad;
	__u32 packet_rate; /* OCB_TRACE_PACKETS: events a second per CPU */
};

/* The live generation: the one element of the `active` map. */
struct ocb_active {
	__u32 gen;
};

/* ocb_info.flags */
#define OCB_INFO_BYPASSABLE                                                            \
	0x1			  /* privileged_network "warn": the container holds    \
				   * CAP_NET_RAW or CAP_NET_ADMIN and this host cannot \
				   * stop packet sockets: its policy can be bypassed */
#define OCB_INFO_NET_RAW 0x2	  /* its bundle grants CAP_NET_RAW */
#define OCB_INFO_NET_ADMIN 0x4	  /* its bundle grants CAP_NET_ADMIN */
#define OCB_INFO_CAPS_UNKNOWN 0x8 /* its bundle could not be read: both assumed */

/*
 * Programs are loaded once per host and shared (hook/progs.c). Each
 * cgroup they are attached to has its own `cgslot` element (cgroup local
 * storage, one per cgroup for all our programs and attach types), which
 * the hook writes after attaching: the slot of the container's maps in
 * the shared outer maps (c_active, c_conf, c_rules, c_ports, c_stats).
 * Slot 0 is never given to a container: an element the hook has not
 * written yet (all zero) finds no maps, and the programs fail closed.
 * BPF_PROG_TEST_RUN gives a program fresh zeroed storage: the unit tests
 * load their own copy of the object and fill slot 0.
 */
#define OCB_MAX_SLOTS 16384

/* Where a slot's tries for generation @gen are in c_rules and c_ports:
 * `apply` fills the other generation's, then switches. */
#define OCB_BANK(slot, gen) ((slot)*2 + ((gen)&1))

/*
 * A cgroup's element. The hook writes it whole (the kernel swaps in a new
 * copy, which a program run sees entirely or not at all): when it points
 * the cgroup at its slot, and at each `apply`. `cached`: `gen` and `conf`
 * are the live generation and settings of the slot's `active` and `conf`
 * maps, which a packet then need not look up. Not cached (a test run's
 * zeroed storage), the programs read the maps.
 */
struct ocb_cgslot {
	__u64 cgid; /* the cgroup attached to: events, decisions kept with sockets */
	__u32 slot;
	__u32 gen;	      /* cached: the live generation (struct ocb_active) */
	__u32 cached;	      /* 1: gen and conf are the live ones */
	struct ocb_conf conf; /* cached: the live settings */
};

/*
 * The hook's record of a slot, in the shared `slots` map (memory-mapped by
 * the hook; the programs never read it). A slot's maps stay in the outer
 * maps when its container goes, for the next container to reuse: writing
 * a map-in-map from user space waits for an RCU grace period, writing an
 * array does not. A released slot is FREEING until a grace period has
 * passed (no program run that could have found it through its old
 * cgroup is left), then READY. Element 0 is the header: `seq` the last
 * release's number, `token` the last number a grace period has passed,
 * `pid` the highest slot ever given.
 */
enum ocb_slot_state {
	OCB_SLOT_NONE = 0,    /* no maps in the outer maps yet */
	OCB_SLOT_TAKEN = 1,   /* a container's */
	OCB_SLOT_FREEING = 2, /* released; waits for a grace period */
	OCB_SLOT_READY = 3,   /* free, with its maps, for the next container */
};

struct ocb_slot_rec {
	__u64 owner; /* TAKEN: its container's cgroup id */
	__u64 token; /* TAKEN: its container's attach time (info.attach_time) */
	__u64 seq;   /* FREEING: the release's number */
	__u32 state; /* enum ocb_slot_state */
	__u32 pid;   /* TAKEN and not yet published: the prestart taking it */
	/* The tries in its banks 0 and 1, as last written or read (gc
	 * reads them again): what tells a profile no container uses. */
	__u32 rules_id, ports_id;
	__u32 rules1_id, ports1_id;
};

/* The info map's free-text fields: what list and show print. */
#define OCB_TEXT_MAX 128

/* What the hook recorded at attach time: the one element of `info`. */
struct ocb_info {
	__u64 attach_time; /* CLOCK_REALTIME, nanoseconds */
	__u64 cgroup_id;
	char profile[64];
	char cgroup[432];		/* the cgroup's directory as the hook saw it (mount
					 * point included), truncated if longer */
	__u32 flags;			/* OCB_INFO_* */
	__u32 slot;			/* the container's slot in the shared programs' maps */
	char bundle[512];		/* the bundle path from the OCI state: with the
					 * cgroup, what proves which container owns the pins */
	char build[24];			/* the shared programs' build (their directory) */
	char description[OCB_TEXT_MAX]; /* the profile's, truncated */
	char name[OCB_TEXT_MAX];	/* the runtime's name for the container (its
					 * annotations: namespace/pod/container) */
};

enum ocb_event_type {
	OCB_EV_CONNECT = 1, /* a connect() decision */
	OCB_EV_SEND = 2,    /* an unconnected UDP send decision */
	OCB_EV_DROP = 3,    /* a packet the policy dropped */
	OCB_EV_SOCKET = 4,  /* a socket creation the policy refused */
	OCB_EV_PACKET = 5,  /* any packet (per-packet tracing, rate-limited) */
};

#define OCB_RULE_DEFAULT 0xffffffffu /* decided by the direction's default */
/* Denied unread: a packet whose ports cannot be found, one that carries
 * its own route, or a connect() whose decision could not be recorded. */
#define OCB_RULE_FAILSAFE 0xfffffffeu

/*
 * One event in the shared `events` ring buffer. Addresses are IPv6 or
 * IPv4-mapped; ports are host order.
 */
struct ocb_event {
	__u64 time_ns;	 /* CLOCK_BOOTTIME */
	__u64 cgroup_id; /* the container's cgroup (where we are attached) */
	__u32 pid;	 /* 0 for packets */
	__u32 rule;	 /* rule index, or OCB_RULE_DEFAULT */
	__u32 len;	 /* packet length, 0 for connects */
	__u8 type;	 /* enum ocb_event_type */
	__u8 verdict;	 /* enum ocb_verdict, as decided */
	__u8 enforced;	 /* 0 in audit mode: a deny was only counted */
	__u8 dir;	 /* enum ocb_dir */
	__u8 proto;
	__u8 family; /* AF_INET, AF_INET6; for sockets the socket's */
	__u16 port;  /* remote port (local port for ingress drops) */
	__u16 local_port;
	__u16 pad;
	char comm[16];
	__u8 remote[16];
	__u8 local[16];
};

/* The one element of the shared `trace_ctl` map. */
struct ocb_trace_ctl {
	__u32 readers; /* non-zero while a `trace` runs: events are built */
	__u32 pad;
};

#endif
