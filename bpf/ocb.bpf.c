// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-container policy and accounting, attached to the container's cgroup.
 *
 * Who decides what:
 *  - connect4/connect6 decide every connect() (TCP and connected UDP) by the
 *    egress rules; sendmsg4/sendmsg6 decide unconnected UDP datagrams.
 *  - egress is the backstop for packets no socket hook saw: raw, ICMP
 *    (ping) and every protocol other than TCP and UDP.
 *  - ingress decides packets that open a flow: segments to a listening
 *    TCP socket, datagrams to unconnected UDP sockets, everything else.
 *    Replies on flows the container opened were decided at connect time.
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

/* Highest number of IPv6 extension headers walked to find the L4 header. */
#define MAX_IPV6_EXT 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ocb_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ocb_active);
} active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ocb_conf);
} conf SEC(".maps");

/* max_entries is set by the loader to fit the profile. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct ocb_rule_key);
	__type(value, struct ocb_rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct ocb_port_key);
	__type(value, struct ocb_class);
} ports SEC(".maps");

/* Written by the hook at attach time; read by `list` and `show`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ocb_info);
} info SEC(".maps");

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

/* The container's cgroup id, set by the hook before load. */
const volatile __u64 container_cgid = 0;

struct packet {
	__u8 remote[16]; /* IPv6 or IPv4-mapped */
	__u8 local[16];
	__u16 port; /* remote port at egress, local port at ingress */
	__u16 remote_port;
	__u16 local_port;
	__u8 proto;
	__u8 family;
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

static __always_inline int has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

/* The live generation's settings, or NULL; @gen receives the generation. */
static __always_inline struct ocb_conf *live_conf(__u32 *gen)
{
	struct ocb_active *act;
	__u32 zero = 0;

	act = bpf_map_lookup_elem(&active, &zero);
	if (!act)
		return NULL;
	*gen = act->gen & 1;
	return bpf_map_lookup_elem(&conf, gen);
}

static __always_inline struct decision decide(__u8 dir, __u8 proto, __u16 port,
					      const __u8 remote[16])
{
	struct decision d = { .rule = OCB_RULE_DEFAULT, .verdict = OCB_ALLOW, .enforce = 1 };
	struct ocb_rule_key key = {};
	struct ocb_port_key pkey = {};
	struct ocb_rule *best, *r;
	struct ocb_class *cls;
	struct ocb_conf *c;
	__u32 gen = 0;

	c = live_conf(&gen);
	if (!c)
		return d;
	d.enforce = !(c->mode & OCB_MODE_AUDIT);
	d.trace = c->trace;

	key.prefixlen = OCB_RULE_KEY_HDR_BITS + 128;
	key.gen = gen;
	key.dir = dir;
	key.kind = OCB_KIND_ADDR;
	__builtin_memcpy(key.addr, remote, 16);
	best = bpf_map_lookup_elem(&rules, &key);

	if (!c->has_classes)
		goto out;
	pkey.prefixlen = OCB_PORT_KEY_HDR_BITS + 16;
	pkey.gen = gen;
	pkey.dir = dir;
	pkey.proto = proto;
	pkey.port = bpf_htons(has_ports(proto) ? port : 0);
	cls = bpf_map_lookup_elem(&ports, &pkey);
	if (cls) {
		key.kind = OCB_KIND_CLASS;
		key.class = (__u16)cls->class;
		r = bpf_map_lookup_elem(&rules, &key);
		/* At equal prefix, a rule with protocol/ports wins. */
		if (r && (!best || r->addr_bits >= best->addr_bits))
			best = r;
	}
out:
	if (best) {
		d.verdict = best->verdict;
		d.rule = best->rule;
	} else {
		d.verdict = dir == OCB_INGRESS ? c->default_verdict[OCB_INGRESS]
					       : c->default_verdict[OCB_EGRESS];
	}
	return d;
}

static __always_inline int allows(struct decision d)
{
	return d.verdict != OCB_DENY || !d.enforce;
}

static __always_inline struct ocb_stats *cpu_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
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

/* Fills @p from the packet; returns 0 on success, -1 for non-IP. */
static __always_inline int parse_packet(struct __sk_buff *skb, __u8 dir, struct packet *p)
{
	__u16 l4_ports[2] = {};
	__u32 l4_off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return -1;
		map_ipv4(p->remote, dir == OCB_INGRESS ? ip.saddr : ip.daddr);
		map_ipv4(p->local, dir == OCB_INGRESS ? ip.daddr : ip.saddr);
		p->proto = ip.protocol;
		p->family = AF_INET;
		l4_off = ip.ihl * 4;
		/* A fragment past the first carries no ports. */
		if (ip.frag_off & bpf_htons(0x1fff))
			return 0;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		__u8 ext[2];
		int i;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		__builtin_memcpy(p->remote,
				 dir == OCB_INGRESS ? (void *)&ip6.saddr : (void *)&ip6.daddr, 16);
		__builtin_memcpy(p->local,
				 dir == OCB_INGRESS ? (void *)&ip6.daddr : (void *)&ip6.saddr, 16);
		p->proto = ip6.nexthdr;
		p->family = AF_INET6;
		l4_off = sizeof(ip6);
		for (i = 0; i < MAX_IPV6_EXT; i++) {
			if (p->proto != IPPROTO_HOPOPTS && p->proto != IPPROTO_ROUTING &&
			    p->proto != IPPROTO_DSTOPTS && p->proto != IPPROTO_FRAGMENT)
				break;
			if (bpf_skb_load_bytes(skb, l4_off, ext, sizeof(ext)))
				return 0;
			p->proto = ext[0];
			l4_off += p->proto == IPPROTO_FRAGMENT ? 8 : (ext[1] + 1) * 8;
		}
	} else {
		return -1;
	}
	if (has_ports(p->proto) && !bpf_skb_load_bytes(skb, l4_off, l4_ports, sizeof(l4_ports))) {
		p->port = bpf_ntohs(l4_ports[1]);
		p->remote_port = bpf_ntohs(dir == OCB_INGRESS ? l4_ports[0] : l4_ports[1]);
		p->local_port = bpf_ntohs(dir == OCB_INGRESS ? l4_ports[1] : l4_ports[0]);
	}
	return 0;
}

/* Reserves an event if a `trace` reader runs; NULL otherwise. */
static __always_inline struct ocb_event *event_start(__u8 type, struct decision d, __u8 dir)
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
	e->cgroup_id = container_cgid;
	e->rule = d.rule;
	e->type = type;
	e->verdict = d.verdict;
	e->enforced = d.enforce;
	e->dir = dir;
	return e;
}

/* A drop or packet event: what the packet's headers say. */
static __always_inline void submit_packet_event(__u8 type, struct __sk_buff *skb, __u8 dir,
						const struct packet *p, struct decision d)
{
	struct ocb_event *e = event_start(type, d, dir);

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

static __always_inline void trace_drop(struct __sk_buff *skb, __u8 dir, const struct packet *p,
				       struct decision d)
{
	if (d.verdict != OCB_DENY || !(d.trace & OCB_TRACE_DROPS))
		return;
	submit_packet_event(OCB_EV_DROP, skb, dir, p, d);
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
static __always_inline void trace_packet(struct __sk_buff *skb, __u8 dir, struct packet *p,
					 struct decision d, int parsed)
{
	struct ocb_conf *c;
	__u32 gen;

	if (d.verdict == OCB_DENY || !reader_present())
		return;
	c = live_conf(&gen);
	if (!c || !(c->trace & OCB_TRACE_PACKETS) || !within_packet_rate(c->packet_rate))
		return;
	if (!parsed && parse_packet(skb, dir, p))
		return;
	submit_packet_event(OCB_EV_PACKET, skb, dir, p, d);
}

enum flow {
	FLOW_NEW,      /* the policy decides this packet */
	FLOW_DECIDED,  /* a socket hook decided the flow already */
	FLOW_UDP_PEER, /* decided if it comes from the connected UDP peer */
};

/*
 * Packets on a flow a socket hook already decided need no second look,
 * and most packets are such: this runs before the packet is parsed.
 */
static __always_inline enum flow classify_flow(struct __sk_buff *skb, __u8 dir, __be16 *peer_port)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return FLOW_NEW;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return FLOW_NEW;
	if (sk->type == SOCK_STREAM && sk->protocol == IPPROTO_TCP)
		return dir == OCB_EGRESS || sk->state != BPF_TCP_LISTEN ? FLOW_DECIDED : FLOW_NEW;
	if (sk->type != SOCK_DGRAM || sk->protocol != IPPROTO_UDP)
		return FLOW_NEW;
	if (dir == OCB_EGRESS)
		return FLOW_DECIDED;
	/* A connected UDP socket only receives from its peer. */
	*peer_port = sk->dst_port;
	return sk->dst_port ? FLOW_UDP_PEER : FLOW_NEW;
}

static __always_inline int filter_skb(struct __sk_buff *skb, __u8 dir)
{
	struct decision d = { .rule = OCB_RULE_DEFAULT, .verdict = OCB_ALLOW, .enforce = 1 };
	struct packet p = {};
	struct ocb_stats *s;
	__be16 peer_port = 0;
	enum flow flow = classify_flow(skb, dir, &peer_port);
	int parsed = 0;

	if (flow != FLOW_DECIDED) {
		parsed = !parse_packet(skb, dir, &p);
		if (parsed && !(flow == FLOW_UDP_PEER && bpf_ntohs(peer_port) == p.remote_port)) {
			d = decide(dir, p.proto, p.port, p.remote);
			trace_drop(skb, dir, &p, d);
		}
	}
	trace_packet(skb, dir, &p, d, parsed);
	s = cpu_stats();
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

static __always_inline void trace_sock_addr(struct bpf_sock_addr *ctx, enum sock_hook hook,
					    int family, __u16 port, const __u8 remote[16],
					    struct decision d)
{
	struct ocb_event *e;
	__u8 flag =
		d.verdict == OCB_DENY ? OCB_TRACE_CONNECTS | OCB_TRACE_DROPS : OCB_TRACE_CONNECTS;

	if (!(d.trace & flag))
		return;
	e = event_start(hook == HOOK_CONNECT ? OCB_EV_CONNECT : OCB_EV_SEND, d, OCB_EGRESS);
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

/* @family is a constant: connect4/sendmsg4 may not read user_ip6. */
static __always_inline int filter_sock_addr(struct bpf_sock_addr *ctx, enum sock_hook hook,
					    int family)
{
	struct ocb_stats *s;
	struct decision d;
	__u8 remote[16];
	__u16 port = bpf_ntohs((__u16)ctx->user_port);

	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;

		/* Keep the context read a plain load at a constant offset. */
		barrier_var(ip4);
		map_ipv4(remote, ip4);
	} else {
		__u32 *w = (__u32 *)remote;

		w[0] = ctx->user_ip6[0];
		w[1] = ctx->user_ip6[1];
		w[2] = ctx->user_ip6[2];
		w[3] = ctx->user_ip6[3];
	}
	d = decide(OCB_EGRESS, ctx->protocol, port, remote);
	trace_sock_addr(ctx, hook, family, port, remote, d);
	s = cpu_stats();
	if (s) {
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
	__u32 gen;
	int deny = 0;

	c = live_conf(&gen);
	if (!c)
		return 1;
	if (family == AF_PACKET || family == AF_XDP)
		deny = c->sockets & OCB_SOCK_DENY_PACKET;
	else if ((family == AF_INET || family == AF_INET6) && (type & 0xf) == SOCK_RAW)
		deny = c->sockets & OCB_SOCK_DENY_RAW;
	if (!deny)
		return 1;
	s = cpu_stats();
	if (s)
		s->sockets_denied++;
	d.enforce = !(c->mode & OCB_MODE_AUDIT);
	e = c->trace & OCB_TRACE_DROPS ? event_start(OCB_EV_SOCKET, d, OCB_EGRESS) : NULL;
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
 * Packet sockets never reach the IP layer, so no cgroup_skb program sees
 * their traffic, and sock_create does not run for them: only the BPF LSM
 * can deny creating them. Loaded only where the kernel lets it load.
 */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(ocb_sock_create, int family, int type, int protocol, int kern)
{
	if (kern)
		return 1;
	return refuse_socket(family, type, protocol);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
