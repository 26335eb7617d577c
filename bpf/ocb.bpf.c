// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-container policy and accounting, attached to the container's cgroup.
 *
 * Who decides what:
 *  - connect4/connect6 decide every connect() (TCP and connected UDP) by the
 *    egress rules, on the address the kernel will really use, and record
 *    the decision with the socket; sendmsg4/sendmsg6 decide each UDP
 *    datagram sent to an address and remember the peers it was sent to.
 *  - egress and ingress decide every packet on what it carries: its
 *    addresses, protocol and ports, found behind any header chain. A
 *    recorded decision stands in for the rules only for packets of the
 *    peer it was made for (TCP: for the connection's life; UDP: under the
 *    same policy generation), and replies to a UDP socket are admitted
 *    from the peers it sent to. Packets the programs cannot read, or that
 *    carry their own route, are denied wherever anything could be.
 *  - sock_create (and lsm_cgroup/socket_create, where the kernel lets it
 *    load) refuse the sockets a profile forbids.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "ocb_maps.h"

#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define AF_XDP 44

/*
 * A container's maps, created and pinned by the hook (hook/attach.c) in
 * the container's directory; the programs reach them by the container's
 * slot (struct ocb_cgslot) through the outer maps below. These are the
 * templates the kernel checks them against (sizes, not types: libbpf
 * cannot size an inner map's key by BTF; the hook gives the maps their
 * types, hook/progs.c).
 */
struct stats_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct ocb_stats));
};

struct active_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct ocb_active));
};

struct conf_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct ocb_conf));
};

/* max_entries is sized by the hook to fit the profile. */
struct rules_map {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct ocb_rule_key));
	__uint(value_size, sizeof(struct ocb_rule));
};

struct ports_map {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct ocb_port_key));
	__uint(value_size, sizeof(struct ocb_class));
};

/* Written by the hook at attach time; read by `list` and `show`. Not
 * used by the programs: declared so that its type is in the object's
 * BTF, for the copies the hook creates. */
struct info_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct ocb_info));
};

#define OUTER(name, inner, n)                             \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); \
		__uint(max_entries, n);                   \
		__type(key, __u32);                       \
		__array(values, struct inner);            \
	} name SEC(".maps")

OUTER(c_stats, stats_map, OCB_MAX_SLOTS);
OUTER(c_active, active_map, OCB_MAX_SLOTS);
OUTER(c_conf, conf_map, OCB_MAX_SLOTS);
/* A profile's tries, shared by every container whose profile compiles
 * to the same entries: two per slot (OCB_BANK), one per generation. */
OUTER(c_rules, rules_map, 2 * OCB_MAX_SLOTS);
OUTER(c_ports, ports_map, 2 * OCB_MAX_SLOTS);
OUTER(c_info, info_map, OCB_MAX_SLOTS);

/*
 * Never called: its argument keeps the types of a container's maps in
 * the object's BTF (the templates above give only sizes), from which the
 * hook gives the maps it creates their types, so that `bpftool map dump`
 * prints named fields.
 */
struct ocb_map_types {
	struct ocb_stats stats;
	struct ocb_active active;
	struct ocb_conf conf;
	struct ocb_rule_key rule_key;
	struct ocb_rule rule;
	struct ocb_port_key port_key;
	struct ocb_class class;
	struct ocb_info info;
	struct ocb_slot_rec slot_rec;
};

__noinline int ocb_map_types(struct ocb_map_types *t)
{
	return t != 0;
}

/* Each cgroup we are attached to: its container's slot (ocb_maps.h). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, struct ocb_cgslot);
} cgslot SEC(".maps");

/*
 * Shared by every container: one ring buffer for `trace`, pinned by name
 * under <bpffs>/oci-cgroup-bpf-hook-events/ so every container's programs
 * reuse it. Nothing is reserved in it unless a reader is running.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ocb_trace_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} trace_ctl SEC(".maps");

/* Events that found the ring buffer full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} trace_lost SEC(".maps");

/* Per-packet tracing's budget: a one-second window per CPU. */
struct rate_window {
	__u64 start_ns;
	__u32 count;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_window);
} trace_rate SEC(".maps");

/*
 * What a socket hook or the first packet decided for a connected TCP or
 * UDP socket, kept with the socket: later packets whose peer is the one
 * decided, under the same policy generation, need no lookup in the rules.
 * A packet with any other peer is decided afresh: the kernel may send a
 * socket's packets elsewhere than connect() was told (the unspecified
 * address, source routes, NAT in the container's network namespace).
 * The programs are shared: each record names the attachment (cgroup)
 * whose policy made it, and a socket keeps two (a pod's and its
 * container's, where both are attached).
 */
struct flow {
	__u64 owner; /* the cgroup whose policy decided; 0: empty */
	__u32 gen;   /* that container's active counter when decided */
	__u32 rule;
	__u8 remote[16]; /* the peer decided on */
	__u16 port;	 /* its port, host order */
	__u8 verdict;	 /* enum ocb_verdict */
	__u8 dir;	 /* whose rules decided: OCB_EGRESS, the container opened it */
};

#define N_FLOWS 2

struct flows {
	struct bpf_spin_lock lock;
	/* A connect() hook of ours decided this socket, for some owner: a
	 * TCP socket whose own record is gone (more nested attachments than
	 * N_FLOWS) was still opened from inside, never by its peer. */
	__u32 connected;
	struct flow f[N_FLOWS];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct flows);
} flows SEC(".maps");

/*
 * The peers an unconnected UDP socket sent to with the policy's consent,
 * for REPLY_WINDOW_NS: their replies are admitted, as a stateful firewall
 * admits them, without admitting anyone else.
 */
#define N_PEERS 8
#define REPLY_WINDOW_NS (30ull * 1000000000ull)

struct peer {
	__u8 addr[16];
	__u64 owner;   /* the cgroup whose policy consented */
	__u64 expires; /* bpf_ktime_get_ns(); 0: empty */
	__u32 gen;
	__u16 port;
	__u16 pad;
};

struct peers {
	struct bpf_spin_lock lock;
	__u32 next; /* the slot the next new peer takes */
	struct peer p[N_PEERS];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct peers);
} peers SEC(".maps");

/* The container a program runs for: the attachment's cgroup and slot,
 * its settings (NULL until the hook has written its slot: fail closed)
 * and their generation. */
struct cont {
	__u64 cgid;
	__u32 slot;
	__u32 gen;
	struct ocb_conf *c;
};

struct packet {
	__u8 remote[16]; /* IPv6 or IPv4-mapped */
	__u8 local[16];
	__u16 port; /* remote port at egress, local port at ingress */
	__u16 remote_port;
	__u16 local_port;
	__u8 proto;
	__u8 family;
	__u8 unreadable; /* ports not found, or a packet that carries its own route */
};

struct decision {
	__u32 rule;   /* deciding rule, or OCB_RULE_DEFAULT */
	__u8 verdict; /* enum ocb_verdict, as the policy decided */
	__u8 enforce; /* 0 in audit mode */
	__u8 trace;   /* OCB_TRACE_* of the live profile */
};

static __always_inline void map_ipv4(__u8 addr[16], __u32 ip4)
{
	__builtin_memset(addr, 0, 10);
	addr[10] = 0xff;
	addr[11] = 0xff;
	__builtin_memcpy(&addr[12], &ip4, 4);
}

static __always_inline int same_addr(const __u8 a[16], const __u8 b[16])
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/*
 * The live settings of slot @slot, or NULL. @gen receives the whole
 * generation counter; its low bit selects the map entries.
 */
static __always_inline struct ocb_conf *live_conf(__u32 slot, __u32 *gen)
{
	struct ocb_active *act;
	__u32 zero = 0, bank;
	void *m;

	m = bpf_map_lookup_elem(&c_active, &slot);
	if (!m)
		return NULL;
	act = bpf_map_lookup_elem(m, &zero);
	if (!act)
		return NULL;
	*gen = act->gen;
	bank = act->gen & 1;
	m = bpf_map_lookup_elem(&c_conf, &slot);
	if (!m)
		return NULL;
	return bpf_map_lookup_elem(m, &bank);
}

/*
 * The live settings of this attachment's container, @gen its generation:
 * cached in the cgroup's storage (no lookup), else read from its slot's
 * maps. No slot (0): none, as no map is ever given slot 0 but by the unit
 * tests.
 */
static __always_inline struct ocb_conf *cgroup_conf(struct ocb_cgslot *cs, __u32 *gen)
{
	if (cs->cached && cs->slot) {
		*gen = cs->gen;
		return &cs->conf;
	}
	return live_conf(cs->slot, gen);
}

/* Who we run for: this attachment's container (see struct cont). */
static __always_inline struct ocb_conf *container(struct cont *k)
{
	struct ocb_cgslot *cs = bpf_get_local_storage(&cgslot, 0);

	k->cgid = cs->cgid;
	k->slot = cs->slot;
	k->gen = 0;
	k->c = cgroup_conf(cs, &k->gen);
	return k->c;
}

/* What decide_rules() is given the remote address in. */
struct addr16 {
	__u8 b[16];
};

#define PACK_DECISION(d)                                                         \
	((__u64)(d).rule | (__u64)(d).verdict << 32 | (__u64)(d).enforce << 40 | \
	 (__u64)(d).trace << 48)

/*
 * The profile's verdict for a packet or call: the longest matching prefix,
 * at equal prefix the rule with protocol/ports, else the direction's
 * default. A global function, packed into one scalar (PACK_DECISION): the
 * verifier checks it once per program, not once per caller's path. A
 * slot without maps (not yet written by the hook) denies.
 */
__noinline __u64 decide_rules(__u32 dir, __u32 proto, __u32 port, const struct addr16 *remote)
{
	struct decision d = { .rule = OCB_RULE_FAILSAFE, .verdict = OCB_DENY, .enforce = 1 };
	struct ocb_rule_key key = {};
	struct ocb_port_key pkey = {};
	struct ocb_rule *best, *r;
	struct ocb_cgslot *cs;
	struct ocb_class *cls;
	struct ocb_conf *c;
	void *rules, *ports;
	__u32 gen = 0, bank, slot;

	/* Read again (a global function sees only its arguments): an
	 * `apply` since the caller's read gives the new settings and tries
	 * together. */
	cs = bpf_get_local_storage(&cgslot, 0);
	slot = cs->slot;
	c = cgroup_conf(cs, &gen);
	bank = OCB_BANK(slot, gen);
	rules = bpf_map_lookup_elem(&c_rules, &bank);
	ports = bpf_map_lookup_elem(&c_ports, &bank);
	if (!c || !remote || !rules || !ports)
		return PACK_DECISION(d);
	d.rule = OCB_RULE_DEFAULT;
	d.verdict = OCB_ALLOW;
	d.enforce = !(c->mode & OCB_MODE_AUDIT);
	d.trace = c->trace;

	key.prefixlen = OCB_RULE_KEY_HDR_BITS + 128;
	key.dir = dir & 1;
	key.kind = OCB_KIND_ADDR;
	__builtin_memcpy(key.addr, remote->b, 16);
	best = bpf_map_lookup_elem(rules, &key);

	if (!c->has_classes)
		goto out;
	pkey.prefixlen = OCB_PORT_KEY_HDR_BITS + 16;
	pkey.dir = dir & 1;
	pkey.proto = proto;
	pkey.port = bpf_htons(ocb_has_ports(proto) ? port : 0);
	cls = bpf_map_lookup_elem(ports, &pkey);
	if (cls) {
		key.kind = OCB_KIND_CLASS;
		key.class = (__u16)cls->class;
		r = bpf_map_lookup_elem(rules, &key);
		/* At equal prefix, a rule with protocol/ports wins. */
		if (r && (!best || r->addr_bits >= best->addr_bits))
			best = r;
	}
out:
	if (best) {
		d.verdict = best->verdict;
		d.rule = best->rule;
	} else {
		d.verdict = (dir & 1) == OCB_INGRESS ? c->default_verdict[OCB_INGRESS]
						     : c->default_verdict[OCB_EGRESS];
	}
	return PACK_DECISION(d);
}

static __always_inline struct decision decide(const struct cont *k, __u8 dir, __u8 proto,
					      __u16 port, const __u8 remote[16])
{
	__u64 v = decide_rules(dir, proto, port, (const struct addr16 *)remote);
	struct decision d = {
		.rule = (__u32)v,
		.verdict = (__u8)(v >> 32),
		.enforce = (__u8)(v >> 40),
		.trace = (__u8)(v >> 48),
	};

	return d;
}

/* The settings' verdict without rules: every packet allowed, or (for a
 * packet that cannot be read) denied if anything could be. */
static __always_inline struct decision settled(const struct ocb_conf *c, __u8 verdict, __u32 rule)
{
	struct decision d = { .rule = rule, .verdict = verdict };

	d.enforce = !(c->mode & OCB_MODE_AUDIT);
	d.trace = c->trace;
	return d;
}

static __always_inline int allows(struct decision d)
{
	return d.verdict != OCB_DENY || !d.enforce;
}

static __always_inline struct ocb_stats *cpu_stats(const struct cont *k)
{
	__u32 zero = 0;
	void *m = bpf_map_lookup_elem(&c_stats, &k->slot);

	return m ? bpf_map_lookup_elem(m, &zero) : NULL;
}

static __always_inline void count_traffic(struct ocb_traffic *t, struct decision d, __u32 len)
{
	if (d.verdict == OCB_DENY) {
		t->packets_denied++;
		t->bytes_denied += len;
	} else {
		t->packets_allowed++;
		t->bytes_allowed += len;
	}
}

#define IPV4_OPT_END 0
#define IPV4_OPT_NOOP 1
#define IPV4_OPT_LSRR 0x83
#define IPV4_OPT_SSRR 0x89
#define IPV4_MAX_OPTS 40 /* 40 bytes of options: at most 40 of them */

/*
 * Does an IPv4 header ending at @end carry a source route? Malformed
 * options count as one: such a packet is not let through unread. A global
 * function: the verifier checks its walk once, not once per caller state.
 */
__noinline int ipv4_source_routed(struct __sk_buff *skb, __u32 end)
{
	__u32 off = sizeof(struct iphdr);
	__u8 type, len;
	int i;

	for (i = 0; i < IPV4_MAX_OPTS; i++) {
		if (off >= end)
			return 0;
		if (bpf_skb_load_bytes(skb, off, &type, 1))
			return 1;
		if (type == IPV4_OPT_END)
			return 0;
		if (type == IPV4_OPT_NOOP) {
			off++;
			continue;
		}
		if (type == IPV4_OPT_LSRR || type == IPV4_OPT_SSRR)
			return 1;
		if (bpf_skb_load_bytes(skb, off + 1, &len, 1) || len < 2)
			return 1;
		off += len;
	}
	return off < end;
}

/* Fills the IPv4 part of @p; returns the transport header's offset. */
static __always_inline __u32 parse_ipv4(struct __sk_buff *skb, __u8 dir, struct packet *p)
{
	struct iphdr ip;
	__u32 l4_off;

	p->family = AF_INET;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.ihl < 5) {
		p->unreadable = 1;
		return 0;
	}
	map_ipv4(p->remote, dir == OCB_INGRESS ? ip.saddr : ip.daddr);
	map_ipv4(p->local, dir == OCB_INGRESS ? ip.daddr : ip.saddr);
	p->proto = ip.protocol;
	l4_off = ip.ihl * 4;
	/* A source route sends the packet on to hops the policy never saw. */
	if (dir == OCB_EGRESS && ip.ihl > 5 && ipv4_source_routed(skb, l4_off))
		p->unreadable = 1;
	/* A fragment past the first carries no ports. */
	if (ip.frag_off & bpf_htons(0x1fff))
		p->unreadable |= ocb_has_ports(p->proto);
	return l4_off;
}

/* Extension headers the IPv6 walk steps over, and the most it steps over. */
#define IPPROTO_AH_HDR 51
#define MAX_IPV6_EXT 8

static __always_inline int ipv6_ext(__u8 proto)
{
	return proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING || proto == IPPROTO_DSTOPTS ||
	       proto == IPPROTO_FRAGMENT || proto == IPPROTO_AH_HDR;
}

/* What the IPv6 walk returns, packed in one scalar. */
#define WALK_OFF(w) ((w)&0xffff)
#define WALK_PROTO(w) (((w) >> 16) & 0xff)
#define WALK_UNREADABLE (1u << 24)

/*
 * Walks the IPv6 extension headers from @proto at offset 40 to the
 * transport header: hop-by-hop, routing and destination options are
 * (len + 1) * 8 bytes, AH is (len + 2) * 4, a fragment header 8. What it
 * cannot follow is unreadable. A global function, checked once.
 */
__noinline __u32 ipv6_walk(struct __sk_buff *skb, __u32 proto, __u32 egress)
{
	__u32 off = sizeof(struct ipv6hdr), flags = 0;
	__u8 h[4];
	int i;

	proto &= 0xff;
	for (i = 0; i < MAX_IPV6_EXT && ipv6_ext(proto); i++) {
		__u32 cur = proto;

		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			return off | proto << 16 | WALK_UNREADABLE;
		proto = h[0];
		if (cur == IPPROTO_FRAGMENT) {
			off += 8;
			/* Past the first fragment there is no header to read. */
			if ((h[2] << 8 | h[3]) & 0xfff8) {
				if (ocb_has_ports(proto) || ipv6_ext(proto))
					flags = WALK_UNREADABLE;
				return off | proto << 16 | flags;
			}
		} else if (cur == IPPROTO_AH_HDR) {
			off += (h[1] + 2) * 4;
		} else {
			/* A routing header with segments left sends the
			 * packet on to hops the policy never saw. */
			if (cur == IPPROTO_ROUTING && h[3] && egress)
				flags = WALK_UNREADABLE;
			off += (h[1] + 1) * 8;
		}
	}
	if (ipv6_ext(proto))
		flags = WALK_UNREADABLE;
	return (off & 0xffff) | proto << 16 | flags;
}

/* Fills the IPv6 part of @p; returns the transport header's offset. */
static __always_inline __u32 parse_ipv6(struct __sk_buff *skb, __u8 dir, struct packet *p)
{
	struct ipv6hdr ip6;
	__u32 walk;

	p->family = AF_INET6;
	if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6))) {
		p->unreadable = 1;
		return 0;
	}
	__builtin_memcpy(p->remote, dir == OCB_INGRESS ? (void *)&ip6.saddr : (void *)&ip6.daddr,
			 16);
	__builtin_memcpy(p->local, dir == OCB_INGRESS ? (void *)&ip6.daddr : (void *)&ip6.saddr,
			 16);
	p->proto = ip6.nexthdr;
	if (!ipv6_ext(p->proto))
		return sizeof(ip6);
	walk = ipv6_walk(skb, ip6.nexthdr, dir == OCB_EGRESS);
	p->proto = WALK_PROTO(walk);
	p->unreadable = !!(walk & WALK_UNREADABLE);
	return WALK_OFF(walk);
}

/* Fills @p from the packet; returns 0 on success, -1 for non-IP. */
static __always_inline int parse_packet(struct __sk_buff *skb, __u8 dir, struct packet *p)
{
	__u16 l4_ports[2] = {};
	__u32 l4_off;

	if (skb->protocol == bpf_htons(ETH_P_IP))
		l4_off = parse_ipv4(skb, dir, p);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		l4_off = parse_ipv6(skb, dir, p);
	else
		return -1;
	if (p->unreadable || !ocb_has_ports(p->proto))
		return 0;
	if (bpf_skb_load_bytes(skb, l4_off, l4_ports, sizeof(l4_ports))) {
		p->unreadable = 1;
		return 0;
	}
	p->port = bpf_ntohs(l4_ports[1]);
	p->remote_port = bpf_ntohs(dir == OCB_INGRESS ? l4_ports[0] : l4_ports[1]);
	p->local_port = bpf_ntohs(dir == OCB_INGRESS ? l4_ports[1] : l4_ports[0]);
	return 0;
}

/* Reserves an event if a `trace` reader runs; NULL otherwise. */
static __always_inline struct ocb_event *event_start(const struct cont *k, __u8 type,
						     struct decision d, __u8 dir)
{
	struct ocb_trace_ctl *ctl;
	struct ocb_event *e;
	__u32 zero = 0;
	__u64 *lost;

	ctl = bpf_map_lookup_elem(&trace_ctl, &zero);
	if (!ctl || !ctl->readers)
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		lost = bpf_map_lookup_elem(&trace_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = k->cgid;
	e->rule = d.rule;
	e->type = type;
	e->verdict = d.verdict;
	e->enforced = d.enforce;
	e->dir = dir;
	return e;
}

/* A drop or packet event: what the packet's headers say. */
static __always_inline void submit_packet_event(const struct cont *k, __u8 type,
						struct __sk_buff *skb, __u8 dir,
						const struct packet *p, struct decision d)
{
	struct ocb_event *e = event_start(k, type, d, dir);

	if (!e)
		return;
	e->len = skb->len;
	e->proto = p->proto;
	e->family = p->family;
	e->port = p->remote_port;
	e->local_port = p->local_port;
	__builtin_memcpy(e->remote, p->remote, 16);
	__builtin_memcpy(e->local, p->local, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void trace_drop(const struct cont *k, struct __sk_buff *skb, __u8 dir,
				       const struct packet *p, struct decision d)
{
	if (d.verdict != OCB_DENY || !(d.trace & OCB_TRACE_DROPS))
		return;
	submit_packet_event(k, OCB_EV_DROP, skb, dir, p, d);
}

static __always_inline int reader_present(void)
{
	struct ocb_trace_ctl *ctl;
	__u32 zero = 0;

	ctl = bpf_map_lookup_elem(&trace_ctl, &zero);
	return ctl && ctl->readers;
}

/* True while this CPU's window still has room for a packet event. */
static __always_inline int within_packet_rate(__u32 rate)
{
	struct rate_window *w;
	__u32 zero = 0;
	__u64 now;

	w = bpf_map_lookup_elem(&trace_rate, &zero);
	if (!w)
		return 0;
	now = bpf_ktime_get_ns();
	if (now - w->start_ns >= 1000000000ull) {
		w->start_ns = now;
		w->count = 0;
	}
	if (w->count >= rate)
		return 0;
	w->count++;
	return 1;
}

/*
 * Per-packet tracing (opt-in): every packet the policy let through, up to
 * the profile's rate. Runs only while a reader is present, so the
 * common case costs one array lookup.
 */
static __always_inline void trace_packet(const struct cont *k, struct __sk_buff *skb, __u8 dir,
					 struct packet *p, struct decision d, int parsed)
{
	const struct ocb_conf *c = k->c;

	if (d.verdict == OCB_DENY || !reader_present())
		return;
	if (!c || !(c->trace & OCB_TRACE_PACKETS) || !within_packet_rate(c->packet_rate))
		return;
	if (!parsed && parse_packet(skb, dir, p))
		return;
	submit_packet_event(k, OCB_EV_PACKET, skb, dir, p, d);
}

/*
 * A socket that may send from an address that is not its own (freebind or
 * transparent). ocb_sockopt refuses setting those flags, but a 32-bit
 * (compat) setsockopt() runs no cgroup sockopt program, so the flags are
 * read from the kernel's socket at each packet. Where and which bits they
 * are is this kernel's (struct inet_sock, enum inet_flags): the hook sets
 * them from its BTF; zero (older kernels) skips the check.
 */
const volatile __u32 inet_flags_off = 0;
const volatile __u64 spoof_mask = 0;

static __always_inline int sends_as_anyone(struct bpf_sock *sk)
{
	struct bpf_sock *volatile spilled = sk;
	unsigned long addr = 0, flags = 0;

	if (!spoof_mask)
		return 0;
	/* The socket's kernel address as a number (the verifier allows no
	 * arithmetic on a socket pointer), then its inet_flags. Unreadable
	 * counts as set: a packet is not let through unread. */
	if (bpf_probe_read_kernel(&addr, sizeof(addr), (const void *)&spilled) ||
	    bpf_probe_read_kernel(&flags, sizeof(flags), (const void *)(addr + inet_flags_off)))
		return 1;
	return !!(flags & spoof_mask);
}

/* Sockets whose decisions are kept: TCP, UDP and UDP-Lite. */
enum sock_kind { SK_OTHER, SK_STREAM, SK_DGRAM };

static __always_inline enum sock_kind sock_kind(__u32 type, __u32 protocol)
{
	if (type == SOCK_STREAM && protocol == IPPROTO_TCP)
		return SK_STREAM;
	if (type == SOCK_DGRAM && (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE))
		return SK_DGRAM;
	return SK_OTHER;
}

/*
 * A copy of @sk's flow for @owner, taken under its lock; 0 if it has
 * none. @connected receives whether a connect() hook decided @sk.
 */
static __always_inline int flow_read(struct bpf_sock *sk, __u64 owner, struct flow *out,
				     __u32 *connected)
{
	struct flows *fs = bpf_sk_storage_get(&flows, sk, 0, 0);
	int i, found = 0;

	*connected = 0;
	if (!fs)
		return 0;
	bpf_spin_lock(&fs->lock);
	*connected = fs->connected;
	for (i = 0; i < N_FLOWS; i++) {
		if (fs->f[i].owner == owner) {
			*out = fs->f[i];
			found = 1;
			break;
		}
	}
	bpf_spin_unlock(&fs->lock);
	return found;
}

/*
 * Records what @owner's policy decided for @sk's flow (@connect: in a
 * connect() hook); 0, or -1 without memory. @owner's own record, else an
 * empty one, else the last (a third nested attachment decides afresh).
 */
static __always_inline int flow_write(struct bpf_sock *sk, __u64 owner, const __u8 remote[16],
				      __u16 port, __u8 dir, __u32 gen, struct decision d,
				      int connect)
{
	struct flows *fs = bpf_sk_storage_get(&flows, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	struct flow *f;
	__u32 i, at = N_FLOWS - 1;

	if (!fs)
		return -1;
	bpf_spin_lock(&fs->lock);
	for (i = 0; i < N_FLOWS; i++) {
		if (fs->f[i].owner == owner) {
			at = i;
			break;
		}
		if (!fs->f[i].owner && at == N_FLOWS - 1)
			at = i;
	}
	f = &fs->f[at & (N_FLOWS - 1)];
	f->owner = owner;
	f->gen = gen;
	__builtin_memcpy(f->remote, remote, 16);
	f->port = port;
	f->verdict = d.verdict;
	f->dir = dir;
	f->rule = d.rule;
	if (connect)
		fs->connected = 1;
	bpf_spin_unlock(&fs->lock);
	return 0;
}

/* Did @sk send to @remote:@port, with @owner's policy's consent, lately? */
static __always_inline int peer_seen(struct bpf_sock *sk, __u64 owner, const __u8 remote[16],
				     __u16 port, __u32 gen)
{
	struct peers *ps = bpf_sk_storage_get(&peers, sk, 0, 0);
	__u64 now = bpf_ktime_get_ns();
	int i, seen = 0;

	if (!ps)
		return 0;
	bpf_spin_lock(&ps->lock);
	for (i = 0; i < N_PEERS; i++) {
		struct peer *e = &ps->p[i];

		if (e->expires > now && e->owner == owner && e->gen == gen && e->port == port &&
		    same_addr(e->addr, remote)) {
			seen = 1;
			break;
		}
	}
	bpf_spin_unlock(&ps->lock);
	return seen;
}

/* Remembers an allowed send: replies from there are admitted a while. */
static __always_inline void peer_remember(struct bpf_sock *sk, __u64 owner, const __u8 remote[16],
					  __u16 port, __u32 gen)
{
	struct peers *ps = bpf_sk_storage_get(&peers, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	__u64 expires = bpf_ktime_get_ns() + REPLY_WINDOW_NS;
	__u32 slot = N_PEERS;
	struct peer *e;
	int i;

	if (!ps)
		return;
	bpf_spin_lock(&ps->lock);
	for (i = 0; i < N_PEERS; i++) {
		e = &ps->p[i];
		if (e->owner == owner && e->port == port && same_addr(e->addr, remote)) {
			slot = i;
			break;
		}
	}
	if (slot == N_PEERS)
		slot = ps->next++;
	e = &ps->p[slot & (N_PEERS - 1)];
	__builtin_memcpy(e->addr, remote, 16);
	e->owner = owner;
	e->port = port;
	e->gen = gen;
	e->expires = expires;
	bpf_spin_unlock(&ps->lock);
}

/*
 * A packet of a TCP or UDP socket. A recorded flow vouches for packets to
 * and from the peer it was decided for: TCP keeps its first decision for
 * the life of the connection, UDP is decided again under a new policy.
 * A TCP socket that no connect() decided was opened by its peer, and the
 * ingress rules decide its packets both ways, as they decided its SYN.
 * Any other packet is decided afresh from what it carries.
 */
static __always_inline struct decision decide_on_socket(const struct cont *k, struct bpf_sock *sk,
							enum sock_kind kind, __u8 dir,
							const struct packet *p)
{
	const struct ocb_conf *c = k->c;
	struct flow f = {};
	__u32 connected = 0;
	struct decision d;
	int have = 0;

	if (p->proto != sk->protocol)
		return decide(k, dir, p->proto, p->port, p->remote);
	/* A listener's packets (SYN-ACKs out, SYNs in) are never its own
	 * connect()'s, even if it made one before it listened. */
	if (sk->state != BPF_TCP_LISTEN)
		have = flow_read(sk, k->cgid, &f, &connected);
	if (have && f.port == p->remote_port && same_addr(f.remote, p->remote)) {
		if (kind == SK_STREAM || f.gen == k->gen)
			return settled(c, f.verdict, f.rule);
		d = decide(k, OCB_EGRESS, p->proto, p->remote_port, p->remote);
		flow_write(sk, k->cgid, p->remote, p->remote_port, OCB_EGRESS, k->gen, d, 0);
		return d;
	}
	if (kind == SK_DGRAM && peer_seen(sk, k->cgid, p->remote, p->remote_port, k->gen))
		return settled(c, OCB_ALLOW, OCB_RULE_DEFAULT);
	/* Opened from inside, but our record of it is gone: decided by the
	 * egress rules, packet by packet. */
	if (kind == SK_STREAM && !have && connected)
		return decide(k, OCB_EGRESS, p->proto, p->remote_port, p->remote);
	if (kind == SK_STREAM && !have) {
		d = decide(k, OCB_INGRESS, p->proto, p->local_port, p->remote);
		if (sk->state != BPF_TCP_LISTEN)
			flow_write(sk, k->cgid, p->remote, p->remote_port, OCB_INGRESS, k->gen, d,
				   0);
		return d;
	}
	return decide(k, dir, p->proto, p->port, p->remote);
}

static __always_inline struct decision decide_packet(const struct cont *k, struct __sk_buff *skb,
						     __u8 dir, const struct packet *p)
{
	const struct ocb_conf *c = k->c;
	struct bpf_sock *sk = skb->sk, *full;
	enum sock_kind kind;

	/* What cannot be read, or goes on to hops never seen, fails closed. */
	if (p->unreadable)
		return settled(c, OCB_DENY, OCB_RULE_FAILSAFE);
	if (!sk)
		return decide(k, dir, p->proto, p->port, p->remote);
	/* The kernel runs us with a full socket: a SYN-ACK's is its
	 * listener, which decide_on_socket() hands to the ingress rules. */
	full = bpf_sk_fullsock(sk);
	if (full) {
		kind = sock_kind(full->type, full->protocol);
		/* A TCP connection's source is fixed when it connects, and
		 * the connect hooks look at it then; other sockets choose
		 * theirs at each send. */
		if (dir == OCB_EGRESS && kind != SK_STREAM && sends_as_anyone(full))
			return settled(c, OCB_DENY, OCB_RULE_FAILSAFE);
		if (kind != SK_OTHER)
			return decide_on_socket(k, full, kind, dir, p);
	}
	return decide(k, dir, p->proto, p->port, p->remote);
}

/*
 * Every packet is decided on what it carries, or on a recorded decision
 * that provably covers it. A direction that can deny nothing skips it all.
 * A cgroup whose slot the hook has not written (yet) passes nothing.
 */
static __always_inline int filter_skb(struct __sk_buff *skb, __u8 dir)
{
	struct decision d = { .rule = OCB_RULE_DEFAULT, .verdict = OCB_ALLOW, .enforce = 1 };
	struct packet p = {};
	struct ocb_stats *s;
	struct ocb_conf *c;
	struct cont k;
	int parsed = 0;

	c = container(&k);
	if (!c)
		return 0;
	if (c->may_deny & (1u << dir)) {
		parsed = !parse_packet(skb, dir, &p);
		if (parsed) {
			d = decide_packet(&k, skb, dir, &p);
			trace_drop(&k, skb, dir, &p, d);
		}
	}
	trace_packet(&k, skb, dir, &p, d, parsed);
	s = cpu_stats(&k);
	if (s)
		count_traffic(dir == OCB_INGRESS ? &s->ingress : &s->egress, d, skb->len);
	return allows(d);
}

SEC("cgroup_skb/ingress")
int ocb_ingress(struct __sk_buff *skb)
{
	return filter_skb(skb, OCB_INGRESS);
}

SEC("cgroup_skb/egress")
int ocb_egress(struct __sk_buff *skb)
{
	return filter_skb(skb, OCB_EGRESS);
}

enum sock_hook { HOOK_CONNECT, HOOK_SENDMSG };

static __always_inline void trace_sock_addr(const struct cont *k, struct bpf_sock_addr *ctx,
					    enum sock_hook hook, int family, __u16 port,
					    const __u8 remote[16], struct decision d)
{
	struct ocb_event *e;
	__u8 flag =
		d.verdict == OCB_DENY ? OCB_TRACE_CONNECTS | OCB_TRACE_DROPS : OCB_TRACE_CONNECTS;

	if (!(d.trace & flag))
		return;
	e = event_start(k, hook == HOOK_CONNECT ? OCB_EV_CONNECT : OCB_EV_SEND, d, OCB_EGRESS);
	if (!e)
		return;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->proto = ctx->protocol;
	e->family = family;
	e->port = port;
	__builtin_memcpy(e->remote, remote, 16);
	bpf_ringbuf_submit(e, 0);
}

/*
 * The unspecified IPv4 address: with no port either, a connected socket
 * sending with ancillary data (its peer); else where the kernel sends it,
 * the socket's bound address or 127.0.0.1.
 */
static __always_inline __u32 unspecified_ipv4(struct bpf_sock *sk, enum sock_hook hook, __u16 *port)
{
	if (hook == HOOK_SENDMSG && !*port) {
		*port = bpf_ntohs(sk->dst_port);
		return sk->dst_ip4;
	}
	return sk->src_ip4 ? sk->src_ip4 : bpf_htonl(0x7f000001);
}

/* Where the kernel will really send, as far as the call tells. */
static __always_inline void sock_addr_dest(struct bpf_sock_addr *ctx, enum sock_hook hook,
					   int family, __u8 remote[16], __u16 *port)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 *w = (__u32 *)remote;

	*port = bpf_ntohs((__u16)ctx->user_port);
	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;

		/* Keep the context read a plain load at a constant offset. */
		barrier_var(ip4);
		map_ipv4(remote, ip4 ? ip4 : unspecified_ipv4(sk, hook, port));
		return;
	}
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	if (w[0] || w[1] || w[3] || (w[2] && w[2] != bpf_htonl(0xffff)))
		return;
	if (w[2]) {
		/* ::ffff:0.0.0.0 is IPv4's unspecified address. */
		map_ipv4(remote, unspecified_ipv4(sk, hook, port));
	} else if (hook == HOOK_SENDMSG && !*port) {
		*port = bpf_ntohs(sk->dst_port);
		w[0] = sk->dst_ip6[0];
		w[1] = sk->dst_ip6[1];
		w[2] = sk->dst_ip6[2];
		w[3] = sk->dst_ip6[3];
	} else if (!sk->src_ip6[0] && !sk->src_ip6[1] && sk->src_ip6[2] == bpf_htonl(0xffff)) {
		/* Bound to an IPv4-mapped address, "::" is IPv4's loopback. */
		map_ipv4(remote, bpf_htonl(0x7f000001));
	} else {
		/* "::" means loopback (a BSD-ism the kernel keeps). */
		w[3] = bpf_htonl(1);
	}
}

static __always_inline void count_sock_addr(const struct cont *k, enum sock_hook hook,
					    struct decision d)
{
	struct ocb_stats *s = cpu_stats(k);

	if (!s)
		return;
	if (hook == HOOK_CONNECT) {
		if (d.verdict == OCB_DENY)
			s->connects_denied++;
		else
			s->connects_allowed++;
	} else {
		if (d.verdict == OCB_DENY)
			s->sends_denied++;
		else
			s->sends_allowed++;
	}
}

/* @family is a constant: connect4/sendmsg4 may not read user_ip6. */
static __always_inline int filter_sock_addr(struct bpf_sock_addr *ctx, enum sock_hook hook,
					    int family)
{
	enum sock_kind kind = sock_kind(ctx->type, ctx->protocol);
	struct ocb_conf *c;
	struct decision d;
	__u8 remote[16];
	struct cont k;
	__u16 port;

	/* Without its settings, decide() denies. */
	c = container(&k);
	sock_addr_dest(ctx, hook, family, remote, &port);
	d = decide(&k, OCB_EGRESS, ctx->protocol, port, remote);
	/* A TCP socket that may send as anyone would connect from a source
	 * that is not its own: refused wherever egress can deny. */
	if (c && hook == HOOK_CONNECT && kind == SK_STREAM && (c->may_deny & (1u << OCB_EGRESS)) &&
	    sends_as_anyone(ctx->sk))
		d = settled(c, OCB_DENY, OCB_RULE_FAILSAFE);
	/* Under a profile that can deny nothing there is nothing to record:
	 * what it allows now, a later profile decides afresh (a TCP
	 * connection from before `apply` is then decided by the ingress
	 * rules, as one the peer opened). Recording costs an allocation. */
	if (c && c->may_deny && kind != SK_OTHER && allows(d)) {
		if (hook == HOOK_SENDMSG)
			peer_remember(ctx->sk, k.cgid, remote, port, k.gen);
		else if (flow_write(ctx->sk, k.cgid, remote, port, OCB_EGRESS, k.gen, d, 1) &&
			 kind == SK_STREAM)
			/* Unrecorded, its packets would pass as the peer's. */
			d = settled(c, OCB_DENY, OCB_RULE_FAILSAFE);
	}
	trace_sock_addr(&k, ctx, hook, family, port, remote, d);
	count_sock_addr(&k, hook, d);
	return allows(d);
}

SEC("cgroup/connect4")
int ocb_connect4(struct bpf_sock_addr *ctx)
{
	return filter_sock_addr(ctx, HOOK_CONNECT, AF_INET);
}

SEC("cgroup/connect6")
int ocb_connect6(struct bpf_sock_addr *ctx)
{
	return filter_sock_addr(ctx, HOOK_CONNECT, AF_INET6);
}

SEC("cgroup/sendmsg4")
int ocb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return filter_sock_addr(ctx, HOOK_SENDMSG, AF_INET);
}

SEC("cgroup/sendmsg6")
int ocb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return filter_sock_addr(ctx, HOOK_SENDMSG, AF_INET6);
}

#define SOL_IP 0
#define SOL_IPV6 41
#define IP_FREEBIND 15
#define IP_TRANSPARENT 19
#define IPV6_TRANSPARENT 75
#define IPV6_FREEBIND 78

/*
 * Socket options that let a socket send from an address that is not its
 * own: with IPV6_FREEBIND (unprivileged) and an IPV6_PKTINFO source, a
 * datagram to a closed port makes the kernel's own ICMP socket, which no
 * program of ours sees, carry its payload to any "source"; an allowed
 * host answers a forged source too. Refused wherever egress can deny.
 */
SEC("cgroup/setsockopt")
int ocb_sockopt(struct bpf_sockopt *ctx)
{
	struct ocb_conf *c;
	struct ocb_stats *s;
	struct cont k;
	int spoof;

	spoof = (ctx->level == SOL_IP &&
		 (ctx->optname == IP_FREEBIND || ctx->optname == IP_TRANSPARENT)) ||
		(ctx->level == SOL_IPV6 &&
		 (ctx->optname == IPV6_FREEBIND || ctx->optname == IPV6_TRANSPARENT));
	if (!spoof)
		return 1;
	c = container(&k);
	if (!c)
		return 0;
	if (!(c->may_deny & (1u << OCB_EGRESS)))
		return 1;
	s = cpu_stats(&k);
	if (s)
		s->sockets_denied++;
	return (c->mode & OCB_MODE_AUDIT) ? 1 : 0;
}

/*
 * Socket creation the profile denies: counted, traced, refused unless in
 * audit mode. Returns the program's verdict (1 lets the socket be made).
 */
static __always_inline int refuse_socket(int family, int type, int protocol)
{
	struct ocb_conf *c;
	struct ocb_stats *s;
	struct ocb_event *e;
	struct decision d = { .rule = OCB_RULE_DEFAULT, .verdict = OCB_DENY };
	int raw = (family == AF_INET || family == AF_INET6) && (type & 0xf) == SOCK_RAW;
	struct cont k;
	int deny = 0;

	c = container(&k);
	/* Not written yet: the sockets a profile may deny are refused. */
	if (!c)
		return raw || family == AF_PACKET || family == AF_XDP ? 0 : 1;
	if (family == AF_PACKET || family == AF_XDP)
		deny = c->sockets & OCB_SOCK_DENY_PACKET;
	else if (raw)
		deny = c->sockets & OCB_SOCK_DENY_RAW;
	if (!deny)
		return 1;
	s = cpu_stats(&k);
	if (s)
		s->sockets_denied++;
	d.enforce = !(c->mode & OCB_MODE_AUDIT);
	e = c->trace & OCB_TRACE_DROPS ? event_start(&k, OCB_EV_SOCKET, d, OCB_EGRESS) : NULL;
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		e->family = family;
		e->proto = protocol;
		e->port = type;
		bpf_ringbuf_submit(e, 0);
	}
	return d.enforce ? 0 : 1;
}

/*
 * Raw IP sockets: cgroup/sock_create runs for every AF_INET/AF_INET6
 * socket the container creates and needs no LSM. A raw socket writes
 * whole packets (headers it chooses, protocols without ports): a profile
 * can forbid it.
 */
SEC("cgroup/sock_create")
int ocb_sock_raw(struct bpf_sock *sk)
{
	return refuse_socket(sk->family, sk->type, sk->protocol);
}

/*
 * Packet and XDP sockets never reach the IP layer, so no cgroup_skb
 * program sees their traffic, and sock_create does not run for them: only
 * the BPF LSM can deny creating them. Loaded only where the kernel lets
 * it load (not on this project's test hosts, which refuse trampolines).
 */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(ocb_sock_create, int family, int type, int protocol, int kern)
{
	/* Raw IP sockets are ocb_sock_raw's: counted once, refused once. */
	if (kern || (family != AF_PACKET && family != AF_XDP))
		return 1;
	return refuse_socket(family, type, protocol);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
