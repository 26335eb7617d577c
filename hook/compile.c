// SPDX-License-Identifier: GPL-2.0
/* From a parsed profile to the entries of the rules and ports tries. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "log.h"
#include "policy.h"
#include "profile.h"
#include "text.h"

/* One rule placed at one (kind, class) before ties are resolved. */
struct candidate {
	struct ocb_rule_key key;
	const struct rule *rule;
};

struct compiler {
	const struct profile *prof;
	const char *name;
	struct candidate *cands;
	size_t n_cands, cap_cands;
	struct policy_port_entry *ports;
	size_t n_ports, cap_ports;
	unsigned int next_class;
};

/* A port interval [lo, hi] and the ports rules that cover it. */
struct interval {
	unsigned int lo, hi;
	size_t n, cap;
	const struct rule **rules;
	unsigned int class;
};

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *bigger;
	size_t want;

	if (n < *cap)
		return 0;
	if (n >= OCB_MAX_ENTRIES)
		return -E2BIG;
	want = *cap ? 2 * *cap : 256;
	bigger = realloc(*arr, want * size);
	if (!bigger)
		return -ENOMEM;
	*arr = bigger;
	*cap = want;
	return 0;
}

static int add_candidate(struct compiler *c, const struct rule *r, __u8 kind, unsigned int class)
{
	struct candidate *cand;
	int err = grow((void **)&c->cands, &c->cap_cands, c->n_cands, sizeof(*c->cands));

	if (err)
		return err;
	cand = &c->cands[c->n_cands++];
	memset(cand, 0, sizeof(*cand));
	cand->key.prefixlen = OCB_RULE_KEY_HDR_BITS + r->addr_bits;
	cand->key.dir = r->dir;
	cand->key.kind = kind;
	cand->key.class = (__u16) class;
	memcpy(cand->key.addr, r->addr, 16);
	cand->rule = r;
	return 0;
}

/* Splits [lo, hi] into aligned power-of-two blocks: LPM trie prefixes. */
static int add_port_interval(struct compiler *c, __u8 dir, __u8 proto, unsigned int lo,
			     unsigned int hi, unsigned int class)
{
	while (lo <= hi) {
		unsigned int bits = 0;
		struct policy_port_entry *e;
		int err;

		while (bits < 16 && !(lo & (1u << bits)) && lo + (2u << bits) - 1 <= hi)
			bits++;
		err = grow((void **)&c->ports, &c->cap_ports, c->n_ports, sizeof(*c->ports));
		if (err)
			return err;
		e = &c->ports[c->n_ports++];
		memset(e, 0, sizeof(*e));
		e->key.prefixlen = OCB_PORT_KEY_HDR_BITS + 16 - bits;
		e->key.dir = dir;
		e->key.proto = proto;
		e->key.port = htons((__u16)lo);
		e->val.class = class;
		lo += 1u << bits;
	}
	return 0;
}

static bool is_ipv4_only(const struct rule *r)
{
	return r->addr_bits >= 96 && ocb_v4_mapped(r->addr);
}

/* Does rule @r, a protocol or ports rule, apply to packets of @proto? */
static bool rule_applies(const struct rule *r, __u8 dir, __u8 proto)
{
	if (r->dir != dir || r->tier == TIER_ADDR)
		return false;
	if (r->proto == 0)
		return ocb_has_ports(proto);
	if (r->proto == IPPROTO_ICMP)
		return proto == IPPROTO_ICMP || (proto == IPPROTO_ICMPV6 && !is_ipv4_only(r));
	return r->proto == proto;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* The cut points of @proto's port space: 0 and every range start and end+1. */
static int collect_cuts(const struct compiler *c, __u8 dir, __u8 proto, unsigned int **cuts,
			size_t *n)
{
	size_t i, j, cnt = 1, cap = 1, out;
	unsigned int *v;

	for (i = 0; i < c->prof->n_rules; i++)
		if (rule_applies(&c->prof->rules[i], dir, proto))
			cap += 2 * c->prof->rules[i].n_ranges;
	v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[0] = 0;
	for (i = 0; i < c->prof->n_rules; i++) {
		const struct rule *r = &c->prof->rules[i];

		if (!rule_applies(r, dir, proto))
			continue;
		for (j = 0; j < r->n_ranges; j++) {
			v[cnt++] = r->ranges[j].lo;
			v[cnt++] = r->ranges[j].hi + 1u;
		}
	}
	qsort(v, cnt, sizeof(*v), cmp_uint);
	for (i = 1, out = 0; i < cnt; i++)
		if (v[i] != v[out] && v[i] <= 65535)
			v[++out] = v[i];
	*cuts = v;
	*n = out + 1;
	return 0;
}

static size_t find_interval(const unsigned int *cuts, size_t n, unsigned int port)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (cuts[mid] <= port)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int interval_add(struct interval *iv, const struct rule *r)
{
	/* An array of pointers: each element is a pointer. */
	int err = grow((void **)&iv->rules, &iv->cap, iv->n,
		       sizeof(*iv->rules)); /* NOLINT(bugprone-sizeof-expression) */

	if (!err)
		iv->rules[iv->n++] = r;
	return err;
}

static int cover_intervals(const struct compiler *c, __u8 dir, __u8 proto, struct interval *ivs,
			   const unsigned int *cuts, size_t n_ivs)
{
	size_t i, j, k;
	int err;

	for (i = 0; i < c->prof->n_rules; i++) {
		const struct rule *r = &c->prof->rules[i];

		if (!rule_applies(r, dir, proto))
			continue;
		if (!r->n_ranges) {
			for (k = 0; k < n_ivs; k++)
				if ((err = interval_add(&ivs[k], r)))
					return err;
			continue;
		}
		for (j = 0; j < r->n_ranges; j++) {
			size_t first = find_interval(cuts, n_ivs, r->ranges[j].lo);
			size_t last = find_interval(cuts, n_ivs, r->ranges[j].hi);

			for (k = first; k <= last; k++)
				if ((err = interval_add(&ivs[k], r)))
					return err;
		}
	}
	return 0;
}

static bool same_rules(const struct interval *a, const struct interval *b)
{
	return a->n == b->n &&
	       !memcmp(a->rules, b->rules,
		       a->n * sizeof(*a->rules)); /* NOLINT(bugprone-sizeof-expression) */
}

/* Gives each interval a class; intervals with the same rules share one,
 * so "25,465,587" costs one class, not three. */
static int assign_classes(struct compiler *c, __u8 dir, __u8 proto, struct interval *ivs,
			  size_t n_ivs)
{
	size_t i, j, k;
	int err;

	for (i = 0; i < n_ivs; i++) {
		if (!ivs[i].n)
			continue;
		for (j = 0; j < i && !(ivs[j].n && same_rules(&ivs[j], &ivs[i])); j++)
			;
		if (j < i) {
			ivs[i].class = ivs[j].class;
		} else {
			if (c->next_class > 0xffff)
				return ocb_err(-E2BIG, "profile %s: more than 65535 port classes",
					       c->name);
			ivs[i].class = c->next_class++;
			for (k = 0; k < ivs[i].n; k++)
				if ((err = add_candidate(c, ivs[i].rules[k], OCB_KIND_CLASS,
							 ivs[i].class)))
					return err;
		}
		err = add_port_interval(c, dir, proto, ivs[i].lo, ivs[i].hi, ivs[i].class);
		if (err)
			return err;
	}
	return 0;
}

static int compile_proto(struct compiler *c, __u8 dir, __u8 proto)
{
	struct interval *ivs = NULL;
	unsigned int *cuts = NULL;
	size_t n = 0, i;
	int err;

	err = collect_cuts(c, dir, proto, &cuts, &n);
	if (err)
		return err;
	ivs = calloc(n, sizeof(*ivs));
	if (!ivs) {
		free(cuts);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		ivs[i].lo = cuts[i];
		ivs[i].hi = i + 1 < n ? cuts[i + 1] - 1 : 65535;
	}
	err = cover_intervals(c, dir, proto, ivs, cuts, n);
	if (!err)
		err = assign_classes(c, dir, proto, ivs, n);
	for (i = 0; i < n; i++)
		free(ivs[i].rules);
	free(ivs);
	free(cuts);
	return err;
}

static int cmp_candidate(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	int d = memcmp(&x->key, &y->key, sizeof(x->key));

	if (d)
		return d;
	/* Within one key: the most specific tier first, then file order. */
	if (x->rule->tier != y->rule->tier)
		return x->rule->tier > y->rule->tier ? -1 : 1;
	return x->rule->index < y->rule->index ? -1 : 1;
}

/* Keeps one entry per key: the most specific tier wins; an allow and a
 * deny of the same tier at the same key are an error. */
static int resolve_ties(struct compiler *c, struct ocb_policy *pol)
{
	size_t i, j;

	if (c->n_cands)
		qsort(c->cands, c->n_cands, sizeof(*c->cands), cmp_candidate);
	pol->rules = calloc(c->n_cands ? c->n_cands : 1, sizeof(*pol->rules));
	if (!pol->rules)
		return -ENOMEM;
	for (i = 0; i < c->n_cands; i = j) {
		const struct rule *win = c->cands[i].rule;
		struct policy_rule_entry *e;

		for (j = i + 1; j < c->n_cands && !memcmp(&c->cands[j].key, &c->cands[i].key,
							  sizeof(c->cands[i].key));
		     j++) {
			const struct rule *r = c->cands[j].rule;

			if (r->tier == win->tier && r->verdict != win->verdict)
				return ocb_err(-EINVAL,
					       "profile %s: %s and %s tie (same prefix, same specificity) but one allows and one denies; make one more specific or remove one",
					       c->name, win->where, r->where);
		}
		e = &pol->rules[pol->n_rules++];
		e->key = c->cands[i].key;
		e->val.rule = win->index;
		e->val.addr_bits = win->addr_bits;
		e->val.verdict = win->verdict;
	}
	return 0;
}

static int compile_rules(struct compiler *c)
{
	static const __u8 protos[] = { IPPROTO_TCP,  IPPROTO_UDP,  IPPROTO_UDPLITE, IPPROTO_SCTP,
				       IPPROTO_DCCP, IPPROTO_ICMP, IPPROTO_ICMPV6 };
	size_t i;
	unsigned int dir;
	int err;

	c->next_class = 1;
	for (i = 0; i < c->prof->n_rules; i++) {
		if (c->prof->rules[i].tier != TIER_ADDR)
			continue;
		err = add_candidate(c, &c->prof->rules[i], OCB_KIND_ADDR, 0);
		if (err)
			return err;
	}
	for (dir = OCB_INGRESS; dir <= OCB_EGRESS; dir++)
		for (i = 0; i < sizeof(protos); i++)
			if ((err = compile_proto(c, (__u8)dir, protos[i])))
				return err;
	return 0;
}

/* Which directions can deny a packet: where a packet the programs cannot
 * read fully (see bpf/ocb.bpf.c) is denied rather than let through. */
static __u8 may_deny(const struct profile *prof)
{
	__u8 bits = 0;
	unsigned int dir;
	size_t i;

	for (dir = OCB_INGRESS; dir <= OCB_EGRESS; dir++)
		if (prof->default_verdict[dir] == OCB_DENY)
			bits |= 1u << dir;
	for (i = 0; i < prof->n_rules; i++)
		if (prof->rules[i].verdict == OCB_DENY)
			bits |= 1u << prof->rules[i].dir;
	return bits;
}

int policy_compile(const struct profile *prof, const char *name, struct ocb_policy **out)
{
	struct compiler c = { .prof = prof, .name = name };
	struct ocb_policy *pol = calloc(1, sizeof(*pol));
	int err;

	*out = NULL;
	if (!pol)
		return -ENOMEM;
	pol->default_verdict[OCB_INGRESS] = prof->default_verdict[OCB_INGRESS];
	pol->default_verdict[OCB_EGRESS] = prof->default_verdict[OCB_EGRESS];
	pol->mode = prof->mode;
	pol->sockets = prof->sockets;
	pol->trace = prof->trace;
	pol->packet_rate = prof->packet_rate;
	pol->may_deny = may_deny(prof);
	text_copy(pol->description, sizeof(pol->description), prof->description);
	err = compile_rules(&c);
	if (!err)
		err = resolve_ties(&c, pol);
	if (err == -E2BIG)
		ocb_err(err,
			"profile %s expands to more than %d map entries; merge rules or ranges",
			name, OCB_MAX_ENTRIES);
	free(c.cands);
	if (err) {
		free(c.ports);
		policy_free(pol);
		return err;
	}
	pol->ports = c.ports;
	pol->n_ports = c.n_ports;
	*out = pol;
	return 0;
}
