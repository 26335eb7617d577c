// SPDX-License-Identifier: GPL-2.0
/* Advice on a valid profile (advice.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "advice.h"
#include "ocb_maps.h"
#include "profile.h"

static const char *const dir_names[2] = { [OCB_INGRESS] = "ingress", [OCB_EGRESS] = "egress" };

/* An IPv4 rule: its address is IPv4-mapped (::ffff:a.b.c.d/96+n). */
static bool is_ipv4(const struct rule *r)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	return r->addr_bits >= 96 && !memcmp(r->addr, mapped, sizeof(mapped));
}

/* Whether @r's prefix holds the address @a (mapped form). */
static bool covers(const struct rule *r, const __u8 a[16])
{
	unsigned int full = r->addr_bits / 8, rest = r->addr_bits % 8;

	if (memcmp(r->addr, a, full))
		return false;
	return !rest || !((r->addr[full] ^ a[full]) & (__u8)(0xff << (8 - rest)));
}

static bool same_rule(const struct rule *a, const struct rule *b)
{
	return a->dir == b->dir && a->verdict == b->verdict && a->addr_bits == b->addr_bits &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr)) && a->proto == b->proto &&
	       a->n_ranges == b->n_ranges &&
	       (!a->n_ranges || !memcmp(a->ranges, b->ranges, a->n_ranges * sizeof(*a->ranges)));
}

struct advice {
	char (*out)[ADVICE_LEN];
	size_t n, max;
};

#define SAY(a, ...)                                                          \
	do {                                                                 \
		if ((a)->n < (a)->max)                                       \
			snprintf((a)->out[(a)->n], ADVICE_LEN, __VA_ARGS__); \
		(a)->n++;                                                    \
	} while (0)

static void duplicates(const struct profile *p, struct advice *a)
{
	size_t i, j;

	for (i = 1; i < p->n_rules; i++)
		for (j = 0; j < i; j++)
			if (same_rule(&p->rules[i], &p->rules[j])) {
				SAY(a, "%s repeats %s: remove one", p->rules[i].where,
				    p->rules[j].where);
				break;
			}
}

/* Denies of IPv4 addresses only, under a default that allows IPv6. */
static void ipv4_only(const struct profile *p, struct advice *a, int dir)
{
	size_t i, v4 = 0, v6 = 0;

	if (p->default_verdict[dir] != OCB_ALLOW)
		return;
	for (i = 0; i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];

		if (r->dir != dir || r->verdict != OCB_DENY)
			continue;
		if (is_ipv4(r))
			v4++;
		else
			v6++;
	}
	if (v4 && !v6)
		SAY(a,
		    "%s denies IPv4 addresses only and allows the rest: IPv6 stays open; deny the IPv6 ranges too (or ::/0)",
		    dir_names[dir]);
}

/* Egress denied by default, some of it allowed, but not loopback (a
 * profile that allows no egress at all means it: deny-all). */
static void no_loopback(const struct profile *p, struct advice *a)
{
	static const __u8 lo4[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
	static const __u8 lo6[16] = { [15] = 1 };
	size_t i, allows = 0;

	if (p->default_verdict[OCB_EGRESS] != OCB_DENY)
		return;
	for (i = 0; i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];

		if (r->dir != OCB_EGRESS || r->verdict != OCB_ALLOW)
			continue;
		if (covers(r, lo4) || covers(r, lo6))
			return;
		allows++;
	}
	if (!allows)
		return;
	SAY(a,
	    "egress.default is deny and no egress.allow covers loopback: the container cannot reach its own services on 127.0.0.1 or ::1; allow 127.0.0.0/8 and ::1 if it should");
}

size_t profile_advise(const struct profile *p, char (*out)[ADVICE_LEN], size_t max)
{
	struct advice a = { .out = out, .max = max };

	duplicates(p, &a);
	ipv4_only(p, &a, OCB_EGRESS);
	ipv4_only(p, &a, OCB_INGRESS);
	no_loopback(p, &a);
	return a.n;
}
