// SPDX-License-Identifier: GPL-2.0
/*
 * The programs that run, not a copy of them: the real BPF object
 * (build/ocb.skel.h) is loaded, given random profiles compiled by the hook
 * (profile.c, compile.c, policy.c), and asked for verdicts:
 *  - ocb_ingress/ocb_egress by BPF_PROG_TEST_RUN on crafted packets
 *    (IPv4 with options and fragments, IPv6 behind extension header chains,
 *    every protocol with ports and some without, truncated packets);
 *  - ocb_connect4/6 and ocb_sendmsg4/6, which this kernel cannot test-run,
 *    by real connect() and sendto() from a child process in a cgroup and a
 *    network namespace of its own.
 * Each verdict, and the stats counters, are checked against a naive oracle
 * written from oci-cgroup-bpf-hook-profile(5) and the fail-closed rules of
 * issue 13, never from the BPF or compiler code.
 *
 * OCB_DP_SEED=N repeats a run; OCB_DP_PROFILES and OCB_DP_PACKETS size it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "compile.h"
#include "log.h"
#include "ocb.skel.h"
#include "ocb_maps.h"
#include "policy.h"
#include "profile.h"
#include "progs.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Protocol numbers, spelt out: the oracle does not borrow the hook's. */
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_DCCP 33
#define P_ICMPV6 58
#define P_SCTP 132
#define P_UDPLITE 136

/* IPv6 extension header numbers. */
#define X6_HBH 0
#define X6_ROUTING 43
#define X6_FRAGMENT 44
#define X6_AH 51
#define X6_DSTOPTS 60

#define ETH_LEN 14

/*
 * Issue 13: a chain of up to MUST_WALK extension headers must be walked;
 * past the walk's bound the packet fails closed. The bound is the
 * program's choice, so chains up to LENIENT_MAX may get either verdict,
 * and OVERLONG headers are past any bound a BPF walk would use.
 */
#define MUST_WALK 8
#define LENIENT_MAX 16
#define OVERLONG 64

static unsigned int seed, n_profiles = 400, n_packets = 512;

/* ---- randomness: splitmix64, so a seed repeats a run anywhere ---- */

static uint64_t rng;

static uint32_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static unsigned int below(unsigned int n)
{
	return rnd() % n;
}

static bool chance(unsigned int percent)
{
	return below(100) < percent;
}

/* ---- findings: every disagreement, grouped, the first of each shown ---- */

struct finding {
	char label[96];
	unsigned int count;
	char *example;
};

static struct finding findings[512];
static unsigned int n_findings, n_disagreements;

__attribute__((format(printf, 2, 3))) static void disagree(const char *label, const char *fmt, ...)
{
	struct finding *f = NULL;
	unsigned int i;
	va_list ap;

	n_disagreements++;
	for (i = 0; i < n_findings && !f; i++)
		if (!strcmp(findings[i].label, label))
			f = &findings[i];
	if (!f && n_findings == ARRAY_SIZE(findings))
		return;
	if (!f) {
		f = &findings[n_findings++];
		snprintf(f->label, sizeof(f->label), "%s", label);
		va_start(ap, fmt);
		if (vasprintf(&f->example, fmt, ap) < 0)
			f->example = NULL;
		va_end(ap);
	}
	f->count++;
}

/* Prints what was found (lines start with '#' for TAP) and fails if any. */
static void report_findings(const char *part)
{
	unsigned int i, total = n_disagreements;

	for (i = 0; i < n_findings; i++) {
		fprintf(stderr, "# %s: %u x %s\n#   first: %s\n", part, findings[i].count,
			findings[i].label, findings[i].example ? findings[i].example : "?");
		free(findings[i].example);
	}
	memset(findings, 0, sizeof(findings));
	n_findings = n_disagreements = 0;
	if (total)
		fail_msg("%s: %u disagreements with the oracle (seed %u: OCB_DP_SEED=%u repeats)",
			 part, total, seed, seed);
}

/* What was exercised, by packet shape: printed, so a run shows its reach. */
struct coverage {
	const char *shape;
	unsigned long packets, denied, closed, either;
};

static struct coverage coverage[32];

static void cover(const char *shape, __u8 want, bool closed, bool either)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(coverage) && coverage[i].shape; i++)
		if (!strcmp(coverage[i].shape, shape))
			break;
	if (i == ARRAY_SIZE(coverage))
		return;
	coverage[i].shape = shape;
	coverage[i].packets++;
	coverage[i].denied += want == OCB_DENY;
	coverage[i].closed += closed;
	coverage[i].either += either;
}

static void print_coverage(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(coverage) && coverage[i].shape; i++)
		fprintf(stderr,
			"#   %-40s %7lu packets, %6lu to deny, %6lu failing closed, %5lu either\n",
			coverage[i].shape, coverage[i].packets, coverage[i].denied,
			coverage[i].closed, coverage[i].either);
}

/* ---- the oracle: oci-cgroup-bpf-hook-profile(5), read naively ---- */

struct span {
	unsigned int lo, hi;
};

struct o_rule {
	__u8 dir, verdict;
	const char *cidr; /* as written */
	__u8 addr[16];	  /* IPv4 as ::ffff:a.b.c.d, as the man page matches it */
	unsigned int bits;
	bool v4;	   /* written as an IPv4 CIDR */
	bool object;	   /* {"cidr": ...} rather than a bare string */
	const char *proto; /* as written, NULL when absent */
	unsigned int n_spans;
	struct span spans[3];
};

#define MAX_RULES 24

struct o_profile {
	bool audit;
	__u8 def[2]; /* by enum ocb_dir */
	unsigned int n;
	struct o_rule r[MAX_RULES];
	char json[8192];
};

/* "any" with ports covers these (man page, issue 13). */
static bool carries_ports(__u8 proto)
{
	return proto == P_TCP || proto == P_UDP || proto == P_UDPLITE || proto == P_SCTP ||
	       proto == P_DCCP;
}

static __u8 proto_number(const char *name)
{
	static const struct {
		const char *name;
		__u8 num;
	} names[] = { { "tcp", P_TCP },	  { "udp", P_UDP },   { "udplite", P_UDPLITE },
		      { "sctp", P_SCTP }, { "dccp", P_DCCP }, { "icmp", P_ICMP } };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(names[i].name, name))
			return names[i].num;
	return 0;
}

/* "proto": "any" without ports is what an absent "proto" means. */
static bool names_proto(const struct o_rule *r)
{
	return r->proto && strcmp(r->proto, "any");
}

/* At equal prefix: ports beat a protocol, which beats an address only. */
static int tier(const struct o_rule *r)
{
	return r->n_spans ? 2 : names_proto(r) ? 1 : 0;
}

static bool o_prefix_match(const __u8 *a, const __u8 *b, unsigned int bits)
{
	unsigned int i;

	for (i = 0; i < bits; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* Does the rule's "proto" cover @proto? "icmp" is ICMPv6 for IPv6 CIDRs. */
static bool proto_covers(const struct o_rule *r, __u8 proto)
{
	if (!names_proto(r))
		return r->n_spans ? carries_ports(proto) : true;
	if (!strcmp(r->proto, "icmp"))
		return proto == P_ICMP || (proto == P_ICMPV6 && !r->v4);
	return proto == proto_number(r->proto);
}

static bool port_in(const struct o_rule *r, unsigned int port)
{
	unsigned int i;

	if (!r->n_spans)
		return true;
	for (i = 0; i < r->n_spans; i++)
		if (port >= r->spans[i].lo && port <= r->spans[i].hi)
			return true;
	return false;
}

static bool o_matches(const struct o_rule *r, __u8 dir, __u8 proto, __u16 port, const __u8 *remote)
{
	return r->dir == dir && o_prefix_match(r->addr, remote, r->bits) &&
	       proto_covers(r, proto) && port_in(r, port);
}

/* The most specific matching rule, else the direction's default. */
static __u8 o_decide(const struct o_profile *p, __u8 dir, __u8 proto, __u16 port,
		     const __u8 *remote)
{
	const struct o_rule *best = NULL;
	unsigned int i;

	for (i = 0; i < p->n; i++) {
		const struct o_rule *r = &p->r[i];

		if (!o_matches(r, dir, proto, port, remote))
			continue;
		if (!best || r->bits > best->bits ||
		    (r->bits == best->bits && tier(r) > tier(best)))
			best = r;
	}
	return best ? best->verdict : p->def[dir];
}

/* Could the profile deny anything in @dir? Then unreadable packets drop. */
static bool o_could_deny(const struct o_profile *p, __u8 dir)
{
	unsigned int i;

	if (p->def[dir] == OCB_DENY)
		return true;
	for (i = 0; i < p->n; i++)
		if (p->r[i].dir == dir && p->r[i].verdict == OCB_DENY)
			return true;
	return false;
}

static bool spans_meet(const struct o_rule *a, const struct o_rule *b)
{
	unsigned int i, j;

	if (!a->n_spans || !b->n_spans)
		return true;
	for (i = 0; i < a->n_spans; i++)
		for (j = 0; j < b->n_spans; j++)
			if (a->spans[i].lo <= b->spans[j].hi && b->spans[j].lo <= a->spans[i].hi)
				return true;
	return false;
}

/* Is there a packet both rules match? */
static bool o_overlap(const struct o_rule *a, const struct o_rule *b)
{
	static const __u8 protos[] = {
		P_ICMP, P_TCP, P_UDP, P_DCCP, P_ICMPV6, P_SCTP, P_UDPLITE, 47
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++)
		if (proto_covers(a, protos[i]) && proto_covers(b, protos[i]) && spans_meet(a, b))
			return true;
	return false;
}

/* The man page's error: allow and deny at one prefix and specificity that overlap. */
static bool o_tie(const struct o_profile *p)
{
	unsigned int i, j;

	for (i = 0; i < p->n; i++)
		for (j = i + 1; j < p->n; j++) {
			const struct o_rule *a = &p->r[i], *b = &p->r[j];

			if (a->dir == b->dir && a->verdict != b->verdict && a->bits == b->bits &&
			    !memcmp(a->addr, b->addr, 16) && tier(a) == tier(b) && o_overlap(a, b))
				return true;
		}
	return false;
}

/* ---- random profiles ---- */

static const char *const pool_v4[] = { "0.0.0.0/0",   "10.0.0.0/8",	"10.1.0.0/16",
				       "10.1.2.0/24", "10.1.2.3",	"10.1.2.128/25",
				       "127.0.0.0/8", "127.0.0.0/16",	"127.0.1.0/24",
				       "127.0.0.1",   "192.168.0.0/16", "192.168.1.1" };
static const char *const pool_v6[] = { "::/0",		"fc00::/7",
				       "fd00::/8",	"fd00::1",
				       "2001:db8::/32", "2001:db8:1::/48",
				       "2001:db8:1::5", "::1" };
static const struct {
	unsigned int n;
	struct span s[3];
} pool_ports[] = {
	{ 1, { { 25, 25 } } },	     { 1, { { 20, 30 } } },
	{ 1, { { 53, 53 } } },	     { 1, { { 1, 1024 } } },
	{ 1, { { 1000, 2000 } } },   { 2, { { 443, 443 }, { 8443, 8443 } } },
	{ 1, { { 65535, 65535 } } }, { 3, { { 25, 25 }, { 5000, 5100 }, { 6000, 6000 } } },
};
static const char *const pool_protos[] = { "tcp", "udp", "icmp", "any", "udplite", "sctp", "dccp" };
/* Protocol names the parser accepts: the new ones are probed at start. */
static bool proto_ok[ARRAY_SIZE(pool_protos)];

static void o_parse_cidr(struct o_rule *r, const char *cidr)
{
	const char *slash = strchr(cidr, '/');
	char text[64];
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);

	memcpy(text, cidr, n);
	text[n] = '\0';
	memset(r->addr, 0, 16);
	r->cidr = cidr;
	r->v4 = inet_pton(AF_INET, text, r->addr + 12) == 1;
	if (r->v4) {
		r->addr[10] = r->addr[11] = 0xff;
		r->bits = 96 + (slash ? (unsigned int)atoi(slash + 1) : 32);
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, text, r->addr), 1);
	r->bits = slash ? (unsigned int)atoi(slash + 1) : 128;
}

static const char *random_proto(void)
{
	unsigned int i;

	do
		i = below(ARRAY_SIZE(pool_protos));
	while (!proto_ok[i]);
	return pool_protos[i];
}

static void random_rule(struct o_rule *r, __u8 dir, __u8 verdict)
{
	unsigned int form = below(3), k;

	memset(r, 0, sizeof(*r));
	r->dir = dir;
	r->verdict = verdict;
	o_parse_cidr(r, chance(60) ? pool_v4[below(ARRAY_SIZE(pool_v4))]
				   : pool_v6[below(ARRAY_SIZE(pool_v6))]);
	r->object = form > 0 || chance(20);
	if (form == 0)
		return;
	r->proto = random_proto();
	if (form == 1 || !strcmp(r->proto, "icmp"))
		return;
	k = below(ARRAY_SIZE(pool_ports));
	r->n_spans = pool_ports[k].n;
	memcpy(r->spans, pool_ports[k].s, sizeof(r->spans));
}

static size_t rule_json(const struct o_rule *r, char *out, size_t size)
{
	char ports[96] = "";
	size_t off = 0;
	unsigned int i;

	if (!r->object)
		return (size_t)snprintf(out, size, "\"%s\"", r->cidr);
	for (i = 0; i < r->n_spans; i++)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off,
					r->spans[i].lo == r->spans[i].hi ? "%s%u" : "%s%u-%u",
					i ? "," : "", r->spans[i].lo, r->spans[i].hi);
	off = (size_t)snprintf(out, size, "{\"cidr\": \"%s\"", r->cidr);
	if (r->proto)
		off += (size_t)snprintf(out + off, size - off, ", \"proto\": \"%s\"", r->proto);
	if (r->n_spans)
		off += (size_t)snprintf(out + off, size - off, ", \"ports\": \"%s\"", ports);
	return off + (size_t)snprintf(out + off, size - off, "}");
}

static size_t dir_json(const struct o_profile *p, __u8 dir, char *out, size_t size)
{
	static const char *const verdicts[] = { "deny", "allow" };
	size_t off;
	unsigned int v, i;
	bool first;

	off = (size_t)snprintf(out, size, "\"%s\": {\"default\": \"%s\"",
			       dir == OCB_EGRESS ? "egress" : "ingress",
			       p->def[dir] == OCB_DENY ? "deny" : "allow");
	for (v = 0; v < 2; v++) {
		off += (size_t)snprintf(out + off, size - off, ", \"%s\": [", verdicts[v]);
		for (i = 0, first = true; i < p->n; i++) {
			if (p->r[i].dir != dir || p->r[i].verdict != (v ? OCB_ALLOW : OCB_DENY))
				continue;
			off += (size_t)snprintf(out + off, size - off, first ? "" : ", ");
			off += rule_json(&p->r[i], out + off, size - off);
			first = false;
		}
		off += (size_t)snprintf(out + off, size - off, "]");
	}
	return off + (size_t)snprintf(out + off, size - off, "}");
}

static void random_profile(struct o_profile *p)
{
	size_t off;
	__u8 dir;
	unsigned int k, n;

	memset(p, 0, sizeof(*p));
	p->audit = chance(20);
	for (dir = OCB_INGRESS; dir <= OCB_EGRESS; dir++) {
		p->def[dir] = chance(50) ? OCB_ALLOW : OCB_DENY;
		/* Often no deny rule: unreadable packets then pass. */
		n = chance(35) ? 0 : 1 + below(5);
		for (k = 0; k < n; k++)
			random_rule(&p->r[p->n++], dir, OCB_DENY);
		for (k = below(6); k > 0; k--)
			random_rule(&p->r[p->n++], dir, OCB_ALLOW);
	}
	off = (size_t)snprintf(p->json, sizeof(p->json), "{\"mode\": \"%s\", ",
			       p->audit ? "audit" : "enforce");
	off += dir_json(p, OCB_EGRESS, p->json + off, sizeof(p->json) - off);
	off += (size_t)snprintf(p->json + off, sizeof(p->json) - off, ", ");
	off += dir_json(p, OCB_INGRESS, p->json + off, sizeof(p->json) - off);
	snprintf(p->json + off, sizeof(p->json) - off, "}");
}

/* ---- the loaded object ---- */

static struct ocb *skel;
static struct policy_maps maps;
static int cmaps[OCB_N_MAPS];

static bool wanted_prog(const char *name)
{
	static const char *const names[] = { "ocb_ingress",  "ocb_egress",   "ocb_connect4",
					     "ocb_connect6", "ocb_sendmsg4", "ocb_sendmsg6" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/*
 * A container's maps as the hook creates them (progs.c, without BTF),
 * in slot 0: BPF_PROG_TEST_RUN runs a program with fresh zeroed cgroup
 * storage, which names slot 0, as does the storage of the test cgroup
 * the socket tests attach to.
 */
static int setup_slot0(void)
{
	struct ocb_shared none;
	struct bpf_map *outer[OCB_N_MAPS] = {
		[OCB_MAP_STATS] = skel->maps.c_stats, [OCB_MAP_ACTIVE] = skel->maps.c_active,
		[OCB_MAP_CONF] = skel->maps.c_conf,   [OCB_MAP_RULES] = skel->maps.c_rules,
		[OCB_MAP_PORTS] = skel->maps.c_ports, [OCB_MAP_INFO] = skel->maps.c_info,
	};
	__u32 zero = 0;
	int i;

	progs_init(&none);
	if (progs_create_maps(&none, NULL, cmaps)) {
		fprintf(stderr, "# %s\n", ocb_err_msg());
		return -1;
	}
	for (i = 0; i < OCB_N_MAPS; i++) {
		if (bpf_map_update_elem(bpf_map__fd(outer[i]), &zero, &cmaps[i], BPF_ANY)) {
			fprintf(stderr, "# slot 0's %s: %s\n", ocb_map_pins[i], strerror(errno));
			return -1;
		}
	}
	maps.active = cmaps[OCB_MAP_ACTIVE];
	maps.conf = cmaps[OCB_MAP_CONF];
	maps.rules_outer = bpf_map__fd(skel->maps.c_rules);
	maps.ports_outer = bpf_map__fd(skel->maps.c_ports);
	maps.slot = 0;
	return policy_write_maps(NULL, &maps);
}

/* What `apply` does: @pol's tries (made: no registry here) in the
 * inactive generation of slot 0, then the switch. */
static int switch_to(const struct ocb_policy *pol)
{
	struct ocb_shared none;
	int rules, ports, err;

	progs_init(&none);
	err = progs_profile_tries(&none, pol, &rules, &ports);
	if (!err)
		err = policy_switch(pol, &maps, rules, ports);
	if (rules >= 0)
		close(rules);
	if (ports >= 0)
		close(ports);
	return err;
}

/*
 * The object as hook/progs.c loads it, but with nothing pinned (the
 * shared maps would otherwise be pinned in, or reused from, the host's
 * bpffs) and only the programs under test loaded.
 */
static int setup_object(void **state)
{
	struct bpf_program *prog;
	struct bpf_map *map;

	(void)state;
	skel = ocb__open();
	if (!skel)
		return -1;
	bpf_object__for_each_map (map, skel->obj)
		bpf_map__set_pin_path(map, NULL);
	bpf_object__for_each_program (prog, skel->obj)
		bpf_program__set_autoload(prog, wanted_prog(bpf_program__name(prog)));
	if (ocb__load(skel)) {
		fprintf(stderr, "# cannot load the BPF object: %s\n", strerror(errno));
		return -1;
	}
	return setup_slot0();
}

static int teardown_object(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < OCB_N_MAPS; i++)
		if (cmaps[i] > 0)
			close(cmaps[i]);
	ocb__destroy(skel);
	skel = NULL;
	return 0;
}

/* The new protocol names: a parser that refuses them is a finding. */
static void probe_protos(void)
{
	char json[160];
	struct profile p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pool_protos); i++) {
		snprintf(json, sizeof(json),
			 "{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"proto\": \"%s\", \"ports\": \"9\"}]}}",
			 pool_protos[i]);
		if (!strcmp(pool_protos[i], "icmp")) {
			proto_ok[i] = true;
			continue;
		}
		ocb_err_clear();
		proto_ok[i] = !profile_parse(json, strlen(json), "probe.json", &p);
		if (proto_ok[i])
			profile_free(&p);
		else
			disagree("parser refuses a protocol", "\"proto\": \"%s\": %s",
				 pool_protos[i], ocb_err_msg());
	}
}

/*
 * Parses, compiles and switches to @op. Returns false for a profile the
 * compiler refused; that must be exactly when the oracle sees a tie.
 */
static bool load_profile(const struct o_profile *op)
{
	struct ocb_policy *pol;
	struct profile prof;
	bool tie = o_tie(op);
	int err;

	ocb_err_clear();
	err = profile_parse(op->json, strlen(op->json), "random.json", &prof);
	if (err) {
		disagree("parser refuses a valid profile", "%s: %s", op->json, ocb_err_msg());
		return false;
	}
	err = policy_compile(&prof, "random", &pol);
	profile_free(&prof);
	if (err != (tie ? -EINVAL : 0))
		disagree(tie ? "compiler accepts a tie" : "compiler refuses a profile without tie",
			 "%s: %s", op->json, err ? ocb_err_msg() : "compiled");
	if (err)
		return false;
	err = switch_to(pol);
	policy_free(pol);
	if (err)
		fail_msg("policy_switch: %s", ocb_err_msg());
	return !tie;
}

static void read_stats(struct ocb_stats *sum)
{
	int i, ncpu = libbpf_num_possible_cpus();
	struct ocb_stats *v = calloc((size_t)ncpu, sizeof(*v));
	__u64 *out = (__u64 *)sum;
	size_t k;
	__u32 zero = 0;

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(cmaps[OCB_MAP_STATS], &zero, v), 0);
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < ncpu; i++)
		for (k = 0; k < sizeof(*sum) / sizeof(__u64); k++)
			out[k] += ((__u64 *)&v[i])[k];
	free(v);
}

/* ---- crafted packets ---- */

enum ext { X_HBH, X_RT, X_RT_SEG, X_DST, X_FRAG0, X_AH };

struct probe {
	__u8 dir, proto;
	bool v6;
	__u16 sport, dport;
	__u8 remote[16], local[16]; /* IPv4 as ::ffff:a.b.c.d */
	bool hidden;		    /* no transport header to read: a later fragment, truncated */
	bool lost;		    /* the chain cannot be followed to its end */
	bool routed;		    /* carries its own route */
	bool lenient;		    /* failing closed is right too: a chain longer than MUST_WALK,
				     * or a last header cut short that still names the protocol */
	size_t last_hdr;	    /* where the chain's last header starts, from the chain's */
	const char *shape;
	char hdrs[512]; /* what lies between the IP and transport headers */
	unsigned char buf[2048];
	size_t len; /* with the Ethernet header */
};

static void put16(unsigned char *b, unsigned int v)
{
	b[0] = (unsigned char)(v >> 8);
	b[1] = (unsigned char)v;
}

static void fill_random(unsigned char *b, size_t n)
{
	while (n--)
		*b++ = (unsigned char)rnd();
}

__attribute__((format(printf, 2, 3))) static void describe(struct probe *p, const char *fmt, ...)
{
	size_t off = strlen(p->hdrs);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->hdrs + off, sizeof(p->hdrs) - off, fmt, ap);
	va_end(ap);
}

static size_t l4_header_len(__u8 proto)
{
	switch (proto) {
	case P_TCP:
		return 20;
	case P_UDP:
	case P_UDPLITE:
	case P_ICMP:
	case P_ICMPV6:
		return 8;
	case P_SCTP:
		return 12;
	case P_DCCP:
		return 16;
	default:
		return 0;
	}
}

/* The transport header (ports in the first four bytes) and a payload. */
static size_t put_l4(unsigned char *b, const struct probe *p)
{
	size_t hl = l4_header_len(p->proto), pay = below(49);

	memset(b, 0, hl);
	fill_random(b + hl, pay);
	if (carries_ports(p->proto)) {
		put16(b, p->sport);
		put16(b + 2, p->dport);
	}
	if (p->proto == P_TCP) {
		b[12] = 5 << 4;
		b[13] = 0x02; /* SYN */
	} else if (p->proto == P_UDP || p->proto == P_UDPLITE) {
		put16(b + 4, p->proto == P_UDP ? (unsigned int)(hl + pay) : 8);
	} else if (p->proto == P_DCCP) {
		b[4] = 4;    /* data offset: 16 bytes */
		b[8] = 0x01; /* extended sequence numbers */
	} else if (p->proto == P_ICMP || p->proto == P_ICMPV6) {
		b[0] = p->proto == P_ICMP ? 8 : 128; /* echo request */
	}
	return hl + pay;
}

/* A transport header cut to 0-3 bytes: no room for the ports. */
static size_t cut_short(size_t l4)
{
	size_t k = below(4);

	return k < l4 ? k : l4;
}

static __u8 pick_proto(bool v6)
{
	static const __u8 ported[] = { P_TCP, P_UDP, P_UDPLITE, P_SCTP, P_DCCP };
	/* IPv4 60 and 43 are no extension headers: nothing to walk. */
	static const __u8 other4[] = { 47, 50, 89, 2, 60, 43 };
	static const __u8 other6[] = { 47, 50, 59, 103, 89 };
	unsigned int k = below(100);

	if (k < 65)
		return ported[below(ARRAY_SIZE(ported))];
	if (k < 82)
		return v6 ? P_ICMPV6 : P_ICMP;
	return v6 ? other6[below(ARRAY_SIZE(other6))] : other4[below(ARRAY_SIZE(other4))];
}

static __u16 pick_port(void)
{
	static const __u16 edges[] = { 0,    1,	   19,	 20,   24,   25,    26,	  30,	31,
				       53,   443,  999,	 1000, 1024, 1025,  2000, 2001, 4999,
				       5000, 5100, 5101, 6000, 8443, 65534, 65535 };

	return chance(85) ? edges[below(ARRAY_SIZE(edges))] : (__u16)rnd();
}

static void pick_addr(__u8 out[16], bool v6)
{
	static const char *const v4s[] = { "10.1.2.3",	  "10.1.2.200", "10.1.3.1",  "10.9.9.9",
					   "127.0.0.1",	  "127.0.1.7",	"127.5.5.5", "192.168.1.1",
					   "192.168.2.2", "8.8.8.8" };
	static const char *const v6s[] = { "fd00::1",	  "fd00::2",	   "fc80::1",
					   "2001:db8::5", "2001:db8:1::5", "2001:db8:1::6",
					   "2001:db9::1", "::1",	   "::ffff:10.1.2.3" };

	memset(out, 0, 16);
	if (v6) {
		assert_int_equal(inet_pton(AF_INET6, v6s[below(ARRAY_SIZE(v6s))], out), 1);
		return;
	}
	out[10] = out[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, v4s[below(ARRAY_SIZE(v4s))], out + 12), 1);
}

/* ---- IPv4: options and fragments ---- */

enum v4opt { O_NOP, O_RA, O_RR, O_TS, O_LSRR, O_SSRR };

/* One option; a routing option's addresses may hold 0x83 or 0x89 bytes
 * that are data, not option types. */
static size_t put_v4opt(unsigned char *b, enum v4opt o, struct probe *p)
{
	static const unsigned char type[] = { 1, 0x94, 7, 0x44, 0x83, 0x89 };
	static const char *const name[] = { "nop", "ra", "rr", "ts", "lsrr", "ssrr" };
	size_t n = 1 + below(2), len, i;

	len = o == O_NOP ? 1 : o == O_RA ? 4 : o == O_TS ? 8 : 3 + 4 * n;
	memset(b, 0, len);
	b[0] = type[o];
	if (len > 1)
		b[1] = (unsigned char)len;
	if (o == O_TS)
		b[2] = 5; /* pointer: no stamp yet */
	if (o >= O_RR && o != O_TS) {
		b[2] = 4;
		for (i = 3; i < len; i += 4)
			b[i] = chance(30) ? (chance(50) ? 0x83 : 0x89) : 10;
	}
	describe(p, "%s%zu ", name[o], len);
	return len;
}

/* Options (at most 34 bytes, padded to 4); with @route an LSRR or SSRR. */
static size_t put_ipv4_opts(unsigned char *b, struct probe *p, bool route)
{
	unsigned int n = 1 + below(route ? 2 : 3), at = route ? below(n + 1) : n + 1, i;
	size_t off = 0;

	for (i = 0; i <= n; i++) {
		if (i == at)
			off += put_v4opt(b + off, chance(50) ? O_LSRR : O_SSRR, p);
		if (i < n)
			off += put_v4opt(b + off, (enum v4opt)below(4), p);
	}
	b[off++] = 0; /* end of options */
	while (off % 4)
		b[off++] = 0;
	describe(p, "eol ");
	return off;
}

static unsigned int ip_csum(const unsigned char *b, size_t len)
{
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (unsigned long)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned int)(~sum & 0xffff);
}

static void build_ipv4(struct probe *p)
{
	unsigned char *ip = p->buf + ETH_LEN;
	bool opts = chance(35), route = opts && chance(40), frag = chance(30);
	bool later = frag && chance(55), trunc = !later && chance(12);
	size_t hl = 20, l4;
	unsigned int frag_off = 0;

	p->shape = later   ? "v4 later fragment"
		   : route ? "v4 source route"
		   : trunc ? "v4 truncated transport"
		   : frag  ? "v4 first fragment"
		   : opts  ? "v4 options"
			   : "v4";
	memset(ip, 0, 20);
	if (opts)
		hl += put_ipv4_opts(ip + 20, p, route);
	if (frag)
		frag_off = later ? (1 + below(180)) | (chance(50) ? 0x2000 : 0) : 0x2000;
	else if (chance(50))
		frag_off = 0x4000; /* don't fragment */
	if (frag)
		describe(p, "frag(offset %u%s) ", (frag_off & 0x1fff) * 8,
			 frag_off & 0x2000 ? ", more" : "");
	l4 = later ? 8 + below(64) : put_l4(ip + hl, p);
	if (later)
		fill_random(ip + hl, l4);
	if (trunc)
		l4 = cut_short(l4);
	p->routed = route;
	p->hidden = later || trunc;
	ip[0] = (unsigned char)(0x40 | hl / 4);
	put16(ip + 2, (unsigned int)(hl + l4));
	put16(ip + 4, rnd() & 0xffff);
	put16(ip + 6, frag_off);
	ip[8] = 64;
	ip[9] = p->proto;
	memcpy(ip + 12, (p->dir == OCB_INGRESS ? p->remote : p->local) + 12, 4);
	memcpy(ip + 16, (p->dir == OCB_INGRESS ? p->local : p->remote) + 12, 4);
	put16(ip + 10, ip_csum(ip, hl));
	p->len = ETH_LEN + hl + l4;
}

/* ---- IPv6: extension header chains ---- */

static __u8 ext_number(enum ext x)
{
	static const __u8 num[] = { X6_HBH, X6_ROUTING, X6_ROUTING, X6_DSTOPTS, X6_FRAGMENT, X6_AH };

	return num[x];
}

/* Hop-by-hop or destination options of 8 to 32 bytes, PadN filled. */
static size_t put_opts_hdr(unsigned char *b, bool small)
{
	size_t len = 8 * (small ? 1 : 1 + below(4));

	memset(b, 0, len);
	b[1] = (unsigned char)(len / 8 - 1);
	b[2] = 1; /* PadN */
	b[3] = (unsigned char)(len - 4);
	return len;
}

/* A routing header (type 0, 2 or 4) of one or two addresses. */
static size_t put_routing(unsigned char *b, bool segments)
{
	static const unsigned char types[] = { 0, 2, 4 };
	unsigned int n = 1 + below(2);
	size_t len = 8 + 16 * n;

	memset(b, 0, len);
	fill_random(b + 8, len - 8);
	b[1] = (unsigned char)(2 * n);
	b[2] = types[below(3)];
	b[3] = segments ? (unsigned char)(1 + below(n)) : 0;
	return len;
}

/* AH: (hdrlen + 2) * 4 bytes; hdrlen even keeps it a multiple of 8. */
static size_t put_ah(unsigned char *b)
{
	unsigned int hdrlen = 2 * (1 + below(3));
	size_t len = (hdrlen + 2) * 4;

	fill_random(b, len);
	b[1] = (unsigned char)hdrlen;
	b[2] = b[3] = 0;
	return len;
}

static size_t put_frag(unsigned char *b, unsigned int offset, bool more)
{
	memset(b, 0, 8);
	put16(b + 2, offset << 3 | more);
	fill_random(b + 4, 4);
	return 8;
}

static size_t put_ext(unsigned char *b, enum ext x, __u8 next, bool small, struct probe *p)
{
	static const char *const name[] = { "hbh", "rt", "rt", "dst", "frag0", "ah" };
	size_t len;

	switch (x) {
	case X_HBH:
	case X_DST:
		len = put_opts_hdr(b, small);
		break;
	case X_RT:
	case X_RT_SEG:
		len = put_routing(b, x == X_RT_SEG);
		break;
	case X_FRAG0:
		len = put_frag(b, 0, chance(80));
		break;
	default:
		len = put_ah(b);
	}
	b[0] = next;
	if (x == X_RT_SEG)
		describe(p, "rt%zu(segs %u) ", len, b[3]);
	else
		describe(p, "%s%zu ", name[x], len);
	return len;
}

/* A chain of @n walkable headers; hop-by-hop only first, as the kernel wants. */
static void pick_chain(enum ext *xs, unsigned int n, bool small)
{
	static const enum ext later[] = { X_RT, X_RT_SEG, X_DST, X_FRAG0, X_AH };
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (i == 0 && chance(50))
			xs[i] = X_HBH;
		else if (small)
			xs[i] = chance(50) ? X_DST : X_FRAG0;
		else
			xs[i] = later[below(ARRAY_SIZE(later))];
		if (xs[i] == X_RT_SEG && !chance(30))
			xs[i] = X_RT;
	}
}

static unsigned int pick_chain_len(struct probe *p)
{
	unsigned int k = below(100);

	if (k < 35)
		return 0;
	if (k < 87)
		return 1 + below(MUST_WALK);
	if (k < 95) {
		p->lenient = true;
		return MUST_WALK + 1 + below(LENIENT_MAX - MUST_WALK);
	}
	p->lost = true;
	return OVERLONG;
}

/* Writes @n headers after the fixed header @ip; returns their length. */
static size_t put_chain(unsigned char *ip, struct probe *p, unsigned int n, __u8 last)
{
	enum ext xs[OVERLONG];
	size_t off = 0;
	unsigned int i;
	bool small = n > LENIENT_MAX;

	pick_chain(xs, n, small);
	ip[6] = n ? ext_number(xs[0]) : last;
	for (i = 0; i < n; i++) {
		p->last_hdr = off;
		off += put_ext(ip + 40 + off, xs[i], i + 1 < n ? ext_number(xs[i + 1]) : last,
			       small, p);
		p->routed |= xs[i] == X_RT_SEG;
	}
	return off;
}

/*
 * Cuts the chain short. Cut before the last header's first byte (its next
 * header), the protocol is unknown: fail closed. Cut later, the protocol
 * is known and only the transport header is missing: closed for a
 * protocol with ports, either verdict for one without.
 */
static size_t cut_chain(struct probe *p, size_t chain)
{
	size_t cut = below((unsigned int)chain);

	describe(p, "(cut after %zu bytes) ", cut);
	if (cut <= p->last_hdr) {
		p->lost = true;
		return cut;
	}
	p->hidden = true;
	p->lenient = true;
	return cut;
}

static void build_ipv6(struct probe *p)
{
	unsigned char *ip = p->buf + ETH_LEN;
	unsigned int n = pick_chain_len(p);
	bool later = chance(12), trunc_chain = n && !later && chance(8);
	bool trunc = !later && !trunc_chain && chance(10);
	size_t chain, l4;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[7] = 64;
	memcpy(ip + 8, p->dir == OCB_INGRESS ? p->remote : p->local, 16);
	memcpy(ip + 24, p->dir == OCB_INGRESS ? p->local : p->remote, 16);
	chain = put_chain(ip, p, n, later ? X6_FRAGMENT : p->proto);
	/* The later fragment's header is one more in the chain. */
	if (later && n == MUST_WALK)
		p->lenient = true;
	if (later) {
		chain += put_frag(ip + 40 + chain, 1 + below(180), chance(50));
		ip[40 + chain - 8] = p->proto;
		describe(p, "frag(later) ");
		l4 = 8 + below(64);
		fill_random(ip + 40 + chain, l4);
	} else {
		l4 = put_l4(ip + 40 + chain, p);
	}
	if (trunc)
		l4 = cut_short(l4);
	if (trunc_chain)
		chain = cut_chain(p, chain);
	if (trunc_chain)
		l4 = 0;
	p->hidden |= later || trunc;
	p->shape = trunc_chain	? "v6 chain cut short"
		   : later	? "v6 later fragment"
		   : trunc	? "v6 truncated transport"
		   : p->lost	? "v6 chain past any bound"
		   : p->lenient ? "v6 chain of 9-16"
		   : p->routed	? "v6 routing header with segments left"
		   : n		? "v6 chain of 1-8"
				: "v6";
	put16(ip + 4, (unsigned int)(chain + l4));
	p->len = ETH_LEN + 40 + chain + l4;
}

static void make_probe(struct probe *p)
{
	memset(p, 0, offsetof(struct probe, buf));
	memset(p->buf, 0, ETH_LEN);
	p->dir = chance(50) ? OCB_EGRESS : OCB_INGRESS;
	p->v6 = chance(50);
	p->proto = pick_proto(p->v6);
	p->sport = pick_port();
	p->dport = pick_port();
	pick_addr(p->remote, p->v6);
	pick_addr(p->local, p->v6);
	p->buf[12] = p->v6 ? 0x86 : 0x08;
	p->buf[13] = p->v6 ? 0xdd : 0x00;
	if (p->v6)
		build_ipv6(p);
	else
		build_ipv4(p);
}

/* ---- running packets and judging them ---- */

static const char *verdict_name(__u8 v)
{
	return v == OCB_DENY ? "deny" : v == OCB_ALLOW ? "allow" : "?";
}

static void format_probe(const struct probe *p, char *out, size_t size)
{
	char r[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN];
	size_t off, i;

	inet_ntop(p->v6 ? AF_INET6 : AF_INET, p->v6 ? p->remote : p->remote + 12, r, sizeof(r));
	inet_ntop(p->v6 ? AF_INET6 : AF_INET, p->v6 ? p->local : p->local + 12, l, sizeof(l));
	off = (size_t)snprintf(out, size,
			       "%s %s proto %u remote %s local %s dport %u [%s] %zu bytes:",
			       p->dir == OCB_EGRESS ? "egress" : "ingress", p->shape, p->proto, r,
			       l, p->dport, p->hdrs, p->len - ETH_LEN);
	for (i = ETH_LEN; i < p->len && i < ETH_LEN + 96 && off + 3 < size; i++)
		off += (size_t)snprintf(out + off, size - off, " %02x", p->buf[i]);
}

/* The verdicts the oracle accepts: @want, or @alt for chains past MUST_WALK. */
static void expect(const struct o_profile *op, const struct probe *p, __u8 *want, __u8 *alt)
{
	__u8 normal = o_decide(op, p->dir, p->proto, p->dport, p->remote);
	__u8 closed = o_could_deny(op, p->dir) ? OCB_DENY : OCB_ALLOW;
	bool fail = p->lost || (p->hidden && carries_ports(p->proto)) ||
		    (p->routed && p->dir == OCB_EGRESS);

	*want = fail ? closed : normal;
	*alt = !fail && p->lenient ? closed : *want;
	cover(p->shape, *want, fail, *alt != *want);
}

static __u32 test_run(const struct probe *p)
{
	int fd = bpf_program__fd(p->dir == OCB_EGRESS ? skel->progs.ocb_egress
						      : skel->progs.ocb_ingress);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf, .data_size_in = (__u32)p->len,
		    .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o))
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(errno));
	return o.retval;
}

static struct ocb_traffic *traffic(struct ocb_stats *s, __u8 dir)
{
	return dir == OCB_EGRESS ? &s->egress : &s->ingress;
}

static void tally(struct ocb_stats *t, __u8 dir, __u8 verdict, size_t len)
{
	struct ocb_traffic *x = traffic(t, dir);

	if (verdict == OCB_DENY) {
		x->packets_denied++;
		x->bytes_denied += len;
	} else {
		x->packets_allowed++;
		x->bytes_allowed += len;
	}
}

/*
 * The verdict the program reached: its return value when enforcing. In
 * audit mode every packet passes: the counter it moved tells.
 */
static __u8 run_and_observe(const struct o_profile *op, const struct probe *p, __u32 *ret)
{
	struct ocb_stats before, after;

	if (!op->audit) {
		*ret = test_run(p);
		return *ret == 1 ? OCB_ALLOW : OCB_DENY;
	}
	read_stats(&before);
	*ret = test_run(p);
	read_stats(&after);
	return traffic(&after, p->dir)->packets_denied > traffic(&before, p->dir)->packets_denied
		       ? OCB_DENY
		       : OCB_ALLOW;
}

static void check_probe(const struct o_profile *op, const struct probe *p, struct ocb_stats *t)
{
	char desc[1024], label[128];
	__u8 want, alt, got;
	__u32 ret;

	expect(op, p, &want, &alt);
	got = run_and_observe(op, p, &ret);
	if (op->audit && ret != 1) {
		format_probe(p, desc, sizeof(desc));
		disagree("audit mode dropped a packet", "%s; %s", op->json, desc);
	} else if (got != want && got != alt) {
		format_probe(p, desc, sizeof(desc));
		snprintf(label, sizeof(label), "%s %s, proto %u: oracle %s, program %s",
			 p->dir == OCB_EGRESS ? "egress" : "ingress", p->shape, p->proto,
			 verdict_name(want), verdict_name(got));
		disagree(label, "%s%s; %s", op->json, op->audit ? " (audit: by counters)" : "",
			 desc);
	}
	tally(t, p->dir, got, p->len - ETH_LEN);
}

/* Did four counters move by exactly @want? */
static void compare_counters(const char *label, const char *json, const char *const names[4],
			     const __u64 want[4], const __u64 before[4], const __u64 after[4])
{
	char text[512];
	size_t off = 0;
	bool same = true;
	int i;

	for (i = 0; i < 4; i++) {
		same &= after[i] - before[i] == want[i];
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"%s%s: want %llu, moved %llu", i ? "; " : "", names[i],
					(unsigned long long)want[i],
					(unsigned long long)(after[i] - before[i]));
	}
	if (!same)
		disagree(label, "%s: %s", json, text);
}

static void traffic_vec(const struct ocb_stats *s, __u8 dir, __u64 v[4])
{
	const struct ocb_traffic *t = dir == OCB_EGRESS ? &s->egress : &s->ingress;

	v[0] = t->packets_allowed;
	v[1] = t->bytes_allowed;
	v[2] = t->packets_denied;
	v[3] = t->bytes_denied;
}

static void compare_traffic(const struct o_profile *op, __u8 dir, const struct ocb_stats *want,
			    const struct ocb_stats *before, const struct ocb_stats *after)
{
	static const char *const names[4] = { "packets allowed", "bytes allowed", "packets denied",
					      "bytes denied" };
	__u64 w[4], b[4], a[4];

	traffic_vec(want, dir, w);
	traffic_vec(before, dir, b);
	traffic_vec(after, dir, a);
	compare_counters(dir == OCB_EGRESS ? "egress counters" : "ingress counters", op->json,
			 names, w, b, a);
}

static unsigned long skb_batch(const struct o_profile *op)
{
	struct ocb_stats before, after, want = { 0 };
	struct probe p;
	unsigned int i;

	read_stats(&before);
	for (i = 0; i < n_packets; i++) {
		make_probe(&p);
		check_probe(op, &p, &want);
	}
	read_stats(&after);
	compare_traffic(op, OCB_INGRESS, &want, &before, &after);
	compare_traffic(op, OCB_EGRESS, &want, &before, &after);
	return n_packets;
}

static void test_skb_programs(void **state)
{
	struct o_profile *op = calloc(1, sizeof(*op));
	unsigned int i, loaded = 0;
	unsigned long packets = 0;

	(void)state;
	assert_non_null(op);
	probe_protos();
	for (i = 0; i < n_profiles; i++) {
		random_profile(op);
		if (!load_profile(op))
			continue;
		loaded++;
		packets += skb_batch(op);
	}
	free(op);
	fprintf(stderr, "# skb: %u of %u random profiles loaded, %lu packets\n", loaded, n_profiles,
		packets);
	print_coverage();
	report_findings("skb");
	/* Ties are refused; most random profiles must still get through. */
	assert_true(loaded > n_profiles / 3);
}

/*
 * A cgroup the hook has not given a slot yet (or whose slot poststop has
 * freed) finds no maps: every packet is dropped, whatever it is, even
 * where the container's profile would allow everything.
 */
static void test_slot_without_maps(void **state)
{
	int conf = bpf_map__fd(skel->maps.c_conf);
	unsigned int i, allowed = 0, dropped = 0;
	__u32 zero = 0;
	struct probe p;

	(void)state;
	assert_int_equal(switch_to(NULL), 0);
	for (i = 0; i < 200; i++) {
		make_probe(&p);
		allowed += test_run(&p) == 1;
	}
	assert_int_equal(allowed, 200);
	assert_int_equal(bpf_map_delete_elem(conf, &zero), 0);
	for (i = 0; i < 200; i++) {
		make_probe(&p);
		dropped += test_run(&p) == 0;
	}
	assert_int_equal(bpf_map_update_elem(conf, &zero, &cmaps[OCB_MAP_CONF], BPF_ANY), 0);
	assert_int_equal(dropped, 200);
}

/* ---- sock_addr programs: real calls from a cgroup of our own ---- */

#define SA_PROFILES 30
#define SA_CALLS 64

struct sa_call {
	int family, type;
	bool send; /* sendto() on an unconnected UDP socket, else connect() */
	__u8 remote[16];
	__u16 port;
	struct sockaddr_storage sa;
	socklen_t salen;
	const char *text;
};

static char cg_dir[512];
static int cg_fd = -1;
static struct bpf_link *links[4];

static void sa_cleanup(void)
{
	size_t i;
	int tries;

	for (i = 0; i < ARRAY_SIZE(links); i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
	if (cg_fd >= 0)
		close(cg_fd);
	cg_fd = -1;
	/* The cgroup empties when the child is reaped; allow it a moment. */
	for (tries = 0; cg_dir[0] && tries < 100; tries++) {
		if (!rmdir(cg_dir) || errno == ENOENT)
			cg_dir[0] = '\0';
		else
			usleep(10000);
	}
}

static int sa_setup(void **state)
{
	struct bpf_program *progs[4];
	char *mnt = NULL;
	size_t i;

	if (setup_object(state))
		return -1;
	if (cg_mount_point(&mnt))
		return 0; /* no cgroup v2: the test skips */
	snprintf(cg_dir, sizeof(cg_dir), "%s/ocb-test-datapath-%d", mnt, (int)getpid());
	free(mnt);
	atexit(sa_cleanup);
	if (mkdir(cg_dir, 0755) && errno != EEXIST)
		return -1;
	cg_fd = open(cg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return -1;
	progs[0] = skel->progs.ocb_connect4;
	progs[1] = skel->progs.ocb_connect6;
	progs[2] = skel->progs.ocb_sendmsg4;
	progs[3] = skel->progs.ocb_sendmsg6;
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		links[i] = bpf_program__attach_cgroup(progs[i], cg_fd);
		if (!links[i]) {
			links[i] = NULL;
			fprintf(stderr, "# cannot attach %s: %s\n", bpf_program__name(progs[i]),
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int sa_teardown(void **state)
{
	sa_cleanup();
	return teardown_object(state);
}

/* Loopback destinations (the child's own lo) and some without a route. */
static void random_call(struct sa_call *c)
{
	static const char *const dests[] = {
		"127.0.0.1", "127.0.1.7",	 "127.5.5.5",	     "127.0.0.200",
		"10.1.2.3",  "10.1.2.200",	 "192.168.1.1",	     "8.8.8.8",
		"::1",	     "2001:db8::5",	 "2001:db8:1::5",    "fd00::1",
		"fc80::1",   "::ffff:127.0.0.1", "::ffff:127.0.1.7", "::ffff:10.1.2.3"
	};
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&c->sa;

	memset(c, 0, sizeof(*c));
	c->text = dests[below(ARRAY_SIZE(dests))];
	do
		c->port = pick_port();
	while (!c->port);
	c->send = chance(33);
	c->type = (c->send || chance(50)) ? SOCK_DGRAM : SOCK_STREAM;
	if (inet_pton(AF_INET, c->text, &s4->sin_addr) == 1) {
		c->family = s4->sin_family = AF_INET;
		s4->sin_port = htons(c->port);
		c->salen = sizeof(*s4);
		c->remote[10] = c->remote[11] = 0xff;
		memcpy(c->remote + 12, &s4->sin_addr, 4);
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, c->text, &s6->sin6_addr), 1);
	c->family = s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(c->port);
	c->salen = sizeof(*s6);
	memcpy(c->remote, &s6->sin6_addr, 16);
}

/* errno of the call, 0 if it worked; socket() failing is 1000 + errno. */
static int do_call(const struct sa_call *c)
{
	int fd = socket(c->family, c->type | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return 1000 + errno;
	if (c->send)
		r = (int)sendto(fd, "x", 1, 0, (const struct sockaddr *)&c->sa, c->salen);
	else
		r = connect(fd, (const struct sockaddr *)&c->sa, c->salen);
	r = r < 0 ? errno : 0;
	close(fd);
	return r;
}

static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		err = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return err;
}

static int join_cgroup(void)
{
	char path[600];
	int fd, err;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	err = write(fd, "0", 1) == 1 ? 0 : -1;
	close(fd);
	return err;
}

/* The child: its own network namespace (nothing leaves it), our cgroup. */
static void sa_child(const struct sa_call *calls, int n, int out)
{
	int results[SA_CALLS], i;

	if (unshare(CLONE_NEWNET) || lo_up() || join_cgroup())
		_exit(10);
	for (i = 0; i < n; i++)
		results[i] = do_call(&calls[i]);
	_exit(write(out, results, sizeof(int) * (size_t)n) == (ssize_t)(sizeof(int) * (size_t)n)
		      ? 0
		      : 11);
}

static void run_calls(const struct sa_call *calls, int n, int *results)
{
	int pipefd[2], status;
	pid_t pid;
	size_t got = 0, want = sizeof(int) * (size_t)n;
	ssize_t r;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		sa_child(calls, n, pipefd[1]);
	}
	close(pipefd[1]);
	while (got < want && (r = read(pipefd[0], (char *)results + got, want - got)) > 0)
		got += (size_t)r;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || got != want)
		fail_msg("the test child failed (status %d): network namespace, lo or cgroup",
			 status);
}

static unsigned int n_eperm, n_other_err, n_success;

static void check_call(const struct o_profile *op, const struct sa_call *c, int result,
		       struct ocb_stats *t)
{
	__u8 want = o_decide(op, OCB_EGRESS, c->type == SOCK_STREAM ? P_TCP : P_UDP, c->port,
			     c->remote);
	bool eperm = want == OCB_DENY && !op->audit;
	char label[128];

	if (c->send && want == OCB_DENY)
		t->sends_denied++;
	else if (c->send)
		t->sends_allowed++;
	else if (want == OCB_DENY)
		t->connects_denied++;
	else
		t->connects_allowed++;
	n_eperm += result == EPERM;
	n_other_err += result && result != EPERM;
	n_success += !result;
	if ((result == EPERM) == eperm)
		return;
	snprintf(label, sizeof(label), "%s %s %s: oracle %s, call %s",
		 c->family == AF_INET ? "AF_INET" : "AF_INET6",
		 c->type == SOCK_STREAM ? "tcp" : "udp", c->send ? "sendto" : "connect",
		 verdict_name(want), result == EPERM ? "EPERM" : "not EPERM");
	disagree(label, "%s; %s port %u: %s", op->json, c->text, c->port,
		 result ? strerror(result % 1000) : "success");
}

static void sock_vec(const struct ocb_stats *s, __u64 v[4])
{
	v[0] = s->connects_allowed;
	v[1] = s->connects_denied;
	v[2] = s->sends_allowed;
	v[3] = s->sends_denied;
}

static void compare_sock_counters(const struct o_profile *op, const struct ocb_stats *want,
				  const struct ocb_stats *before, const struct ocb_stats *after)
{
	static const char *const names[4] = { "connects allowed", "connects denied",
					      "sends allowed", "sends denied" };
	__u64 w[4], b[4], a[4];

	sock_vec(want, w);
	sock_vec(before, b);
	sock_vec(after, a);
	compare_counters("connect/send counters", op->json, names, w, b, a);
}

static void sa_batch(const struct o_profile *op)
{
	struct sa_call calls[SA_CALLS];
	struct ocb_stats before, after, want = { 0 };
	int results[SA_CALLS], i;

	for (i = 0; i < SA_CALLS; i++)
		random_call(&calls[i]);
	read_stats(&before);
	run_calls(calls, SA_CALLS, results);
	read_stats(&after);
	for (i = 0; i < SA_CALLS; i++)
		check_call(op, &calls[i], results[i], &want);
	compare_sock_counters(op, &want, &before, &after);
}

static void test_sock_addr_programs(void **state)
{
	struct o_profile *op = calloc(1, sizeof(*op));
	unsigned int loaded = 0, tries;

	(void)state;
	assert_non_null(op);
	if (cg_fd < 0) {
		free(op);
		skip();
	}
	probe_protos();
	for (tries = 0; loaded < SA_PROFILES && tries < 10 * SA_PROFILES; tries++) {
		random_profile(op);
		if (!load_profile(op))
			continue;
		loaded++;
		sa_batch(op);
	}
	free(op);
	fprintf(stderr,
		"# sock_addr: %u profiles, %u calls: %u EPERM, %u other errors, %u worked\n",
		loaded, loaded * SA_CALLS, n_eperm, n_other_err, n_success);
	report_findings("sock_addr");
	assert_int_equal(loaded, SA_PROFILES);
}

/* ---- set-up ---- */

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned int)strtoul(v, NULL, 0) : def;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_skb_programs, setup_object, teardown_object),
		cmocka_unit_test_setup_teardown(test_slot_without_maps, setup_object,
						teardown_object),
		cmocka_unit_test_setup_teardown(test_sock_addr_programs, sa_setup, sa_teardown),
	};

	seed = env_uint("OCB_DP_SEED", (unsigned int)time(NULL) ^ (unsigned int)getpid() << 16);
	n_profiles = env_uint("OCB_DP_PROFILES", n_profiles);
	n_packets = env_uint("OCB_DP_PACKETS", n_packets);
	rng = seed;
	fprintf(stderr, "# test_datapath: seed %u (OCB_DP_SEED=%u repeats this run)\n", seed, seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
