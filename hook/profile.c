// SPDX-License-Identifier: GPL-2.0
/* Parsing a profile (JSON) into rules; see oci-cgroup-bpf-hook-profile(5). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ocb_maps.h"
#include "profile.h"

struct parse_ctx {
	const char *origin;
	struct profile *p;
	size_t cap;
};

bool profile_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > OCB_PROFILE_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

static int check_keys(const struct parse_ctx *ctx, json_t *obj, const char *where,
		      const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		const char *const *a;

		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a)
			return ocb_err(-EINVAL, "%s: unknown key \"%s\" in %s", ctx->origin, key,
				       where);
	}
	return 0;
}

int parse_cidr(const char *s, __u8 addr[16], __u8 *bits)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long plen;
	bool v4;
	int i;

	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(addr, 0, 16);
	v4 = !strchr(buf, ':');
	if (v4) {
		addr[10] = addr[11] = 0xff;
		if (inet_pton(AF_INET, buf, addr + 12) != 1)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, addr) != 1) {
		return -EINVAL;
	}
	plen = v4 ? 32 : 128;
	if (slash) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		plen = strtoul(slash + 1, &end, 10);
		if (*end || plen > (v4 ? 32u : 128u) || end - slash > 4)
			return -EINVAL;
	}
	*bits = (__u8)(v4 ? 96 + plen : plen);
	/* Host bits set are most likely a typo: refuse rather than guess. */
	for (i = *bits; i < 128; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return -ERANGE;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct port_span *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

static int parse_port_number(const char **s, __u16 *port)
{
	unsigned long v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9' && v <= 65535)
		v = v * 10 + (unsigned long)(*p++ - '0');
	if (v == 0 || v > 65535)
		return -ERANGE;
	*port = (__u16)v;
	*s = p;
	return 0;
}

int parse_ports(const char *s, struct port_span **ranges, size_t *n)
{
	struct port_span *r = NULL;
	size_t cnt = 0, cap = 0, i, out;
	int err = 0;

	*ranges = NULL;
	*n = 0;
	while (!err) {
		struct port_span pr = { 0 };

		while (*s == ' ')
			s++;
		err = parse_port_number(&s, &pr.lo);
		pr.hi = pr.lo;
		if (!err && *s == '-') {
			s++;
			err = parse_port_number(&s, &pr.hi);
			if (!err && pr.hi < pr.lo)
				err = -ERANGE;
		}
		while (!err && *s == ' ')
			s++;
		if (err || (*s != ',' && *s != '\0')) {
			err = err ? err : -EINVAL;
			break;
		}
		if (cnt == cap) {
			struct port_span *bigger;

			cap = cap ? 2 * cap : 8;
			bigger = realloc(r, cap * sizeof(*r));
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			r = bigger;
		}
		r[cnt++] = pr;
		if (*s++ == '\0')
			break;
	}
	if (err) {
		free(r);
		return err;
	}
	qsort(r, cnt, sizeof(*r), cmp_range);
	for (i = 1, out = 0; i < cnt; i++) {
		if ((unsigned int)r[i].lo <= (unsigned int)r[out].hi + 1) {
			if (r[i].hi > r[out].hi)
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	*ranges = r;
	*n = cnt ? out + 1 : 0;
	return 0;
}

static int parse_proto(const char *s, __u8 *proto)
{
	if (!strcmp(s, "any"))
		*proto = 0;
	else if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "udplite"))
		*proto = IPPROTO_UDPLITE;
	else if (!strcmp(s, "sctp"))
		*proto = IPPROTO_SCTP;
	else if (!strcmp(s, "dccp"))
		*proto = IPPROTO_DCCP;
	else if (!strcmp(s, "icmp"))
		*proto = IPPROTO_ICMP; /* ICMPv6 for IPv6 rules, see compile.c */
	else
		return -EINVAL;
	return 0;
}

static struct rule *new_rule(struct parse_ctx *ctx)
{
	struct profile *p = ctx->p;

	if (p->n_rules == ctx->cap) {
		size_t cap = ctx->cap ? 2 * ctx->cap : 64;
		struct rule *bigger = realloc(p->rules, cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		p->rules = bigger;
		ctx->cap = cap;
	}
	memset(&p->rules[p->n_rules], 0, sizeof(struct rule));
	p->rules[p->n_rules].index = (unsigned int)p->n_rules;
	return &p->rules[p->n_rules++];
}

static int parse_rule_ports(struct parse_ctx *ctx, json_t *v, const char *where, struct rule *r)
{
	char num[24];
	const char *s = num;
	int err;

	/* One port may be a number: 443 is "443" (and 70000 or -1 are as
	 * wrong as "70000"). */
	if (json_is_integer(v))
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		s = json_string_value(v);
	else
		return ocb_err(-EINVAL,
			       "%s: %s: \"ports\" must be a port number or a string such as \"25,465,1000-2000\"",
			       ctx->origin, where);
	err = parse_ports(s, &r->ranges, &r->n_ranges);
	if (err == -ENOMEM)
		return err;
	if (err)
		return ocb_err(-EINVAL,
			       "%s: %s: bad ports \"%s\": use ports 1-65535 and ranges LOW-HIGH, separated by commas",
			       ctx->origin, where, s);
	return 0;
}

static int parse_rule(struct parse_ctx *ctx, json_t *v, __u8 dir, __u8 verdict, const char *where)
{
	static const char *const keys[] = { "cidr", "proto", "ports", NULL };
	json_t *cidr = v, *proto = NULL, *ports = NULL;
	struct rule *r = new_rule(ctx);
	int err;

	if (!r)
		return -ENOMEM;
	snprintf(r->where, sizeof(r->where), "%s", where);
	r->dir = dir;
	r->verdict = verdict;
	if (json_is_object(v)) {
		err = check_keys(ctx, v, where, keys);
		if (err)
			return err;
		cidr = json_object_get(v, "cidr");
		proto = json_object_get(v, "proto");
		ports = json_object_get(v, "ports");
	}
	if (!json_is_string(cidr))
		return ocb_err(-EINVAL,
			       "%s: %s: a rule is a CIDR string or an object with \"cidr\"",
			       ctx->origin, where);
	err = parse_cidr(json_string_value(cidr), r->addr, &r->addr_bits);
	if (err == -ERANGE)
		return ocb_err(-EINVAL, "%s: %s: \"%s\" has host bits set beyond its prefix length",
			       ctx->origin, where, json_string_value(cidr));
	if (err)
		return ocb_err(-EINVAL, "%s: %s: \"%s\" is not an IPv4 or IPv6 address or CIDR",
			       ctx->origin, where, json_string_value(cidr));
	if (proto) {
		if (!json_is_string(proto) || parse_proto(json_string_value(proto), &r->proto))
			return ocb_err(-EINVAL,
				       "%s: %s: \"proto\" must be tcp, udp, udplite, sctp, dccp, icmp or any",
				       ctx->origin, where);
		r->tier = r->proto ? TIER_PROTO : TIER_ADDR;
	}
	if (ports) {
		if (r->proto == IPPROTO_ICMP)
			return ocb_err(-EINVAL, "%s: %s: icmp has no ports; drop \"ports\"",
				       ctx->origin, where);
		err = parse_rule_ports(ctx, ports, where, r);
		if (err)
			return err;
		r->tier = TIER_PORTS;
	}
	return 0;
}

static int parse_verdict(struct parse_ctx *ctx, json_t *v, const char *where, __u8 *verdict)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (!strcmp(s, "allow"))
		*verdict = OCB_ALLOW;
	else if (!strcmp(s, "deny"))
		*verdict = OCB_DENY;
	else
		return ocb_err(-EINVAL, "%s: %s must be \"allow\" or \"deny\"", ctx->origin, where);
	return 0;
}

static int parse_rule_list(struct parse_ctx *ctx, json_t *list, __u8 dir, __u8 verdict,
			   const char *where)
{
	char item[64];
	size_t i;
	json_t *v;
	int err;

	if (!list)
		return 0;
	if (!json_is_array(list))
		return ocb_err(-EINVAL, "%s: %s must be an array of rules", ctx->origin, where);
	json_array_foreach (list, i, v) {
		snprintf(item, sizeof(item), "%s[%zu]", where, i);
		err = parse_rule(ctx, v, dir, verdict, item);
		if (err)
			return err;
	}
	return 0;
}

static int parse_direction(struct parse_ctx *ctx, json_t *root, const char *name, __u8 dir)
{
	static const char *const keys[] = { "default", "deny", "allow", NULL };
	json_t *d = json_object_get(root, name), *def;
	char where[32];
	int err;

	ctx->p->default_verdict[dir] = OCB_ALLOW;
	if (!d)
		return 0;
	if (!json_is_object(d))
		return ocb_err(-EINVAL, "%s: \"%s\" must be an object", ctx->origin, name);
	err = check_keys(ctx, d, name, keys);
	if (err)
		return err;
	def = json_object_get(d, "default");
	if (def) {
		snprintf(where, sizeof(where), "%s.default", name);
		err = parse_verdict(ctx, def, where, &ctx->p->default_verdict[dir]);
		if (err)
			return err;
	}
	snprintf(where, sizeof(where), "%s.deny", name);
	err = parse_rule_list(ctx, json_object_get(d, "deny"), dir, OCB_DENY, where);
	if (err)
		return err;
	snprintf(where, sizeof(where), "%s.allow", name);
	return parse_rule_list(ctx, json_object_get(d, "allow"), dir, OCB_ALLOW, where);
}

static int parse_sockets(struct parse_ctx *ctx, json_t *root)
{
	static const char *const keys[] = { "packet", "raw", NULL };
	json_t *s = json_object_get(root, "sockets");
	__u8 verdict;
	int err;

	if (!s)
		return 0;
	if (!json_is_object(s))
		return ocb_err(-EINVAL, "%s: \"sockets\" must be an object", ctx->origin);
	err = check_keys(ctx, s, "sockets", keys);
	if (!err && json_object_get(s, "packet")) {
		err = parse_verdict(ctx, json_object_get(s, "packet"), "sockets.packet", &verdict);
		if (!err && verdict == OCB_DENY)
			ctx->p->sockets |= OCB_SOCK_DENY_PACKET;
	}
	if (!err && json_object_get(s, "raw")) {
		err = parse_verdict(ctx, json_object_get(s, "raw"), "sockets.raw", &verdict);
		if (!err && verdict == OCB_DENY)
			ctx->p->sockets |= OCB_SOCK_DENY_RAW;
	}
	return err;
}

static int parse_trace(struct parse_ctx *ctx, json_t *root)
{
	static const char *const keys[] = { "connects", "drops", "packets", "packets_per_second",
					    NULL };
	static const struct {
		const char *key;
		__u8 flag;
	} flags[] = { { "connects", OCB_TRACE_CONNECTS },
		      { "drops", OCB_TRACE_DROPS },
		      { "packets", OCB_TRACE_PACKETS } };
	json_t *t = json_object_get(root, "trace"), *rate;
	size_t i;
	int err;

	ctx->p->trace = OCB_TRACE_CONNECTS | OCB_TRACE_DROPS;
	ctx->p->packet_rate = OCB_PACKET_RATE_DEFAULT;
	if (!t)
		return 0;
	if (!json_is_object(t))
		return ocb_err(-EINVAL, "%s: \"trace\" must be an object", ctx->origin);
	err = check_keys(ctx, t, "trace", keys);
	for (i = 0; !err && i < sizeof(flags) / sizeof(flags[0]); i++) {
		json_t *v = json_object_get(t, flags[i].key);

		if (!v)
			continue;
		if (!json_is_boolean(v))
			return ocb_err(-EINVAL, "%s: trace.%s must be true or false", ctx->origin,
				       flags[i].key);
		if (json_is_false(v))
			ctx->p->trace &= (__u8)~flags[i].flag;
		else
			ctx->p->trace |= flags[i].flag;
	}
	rate = json_object_get(t, "packets_per_second");
	if (!err && rate) {
		if (!json_is_integer(rate) || json_integer_value(rate) < 1 ||
		    json_integer_value(rate) > OCB_PACKET_RATE_MAX)
			return ocb_err(-EINVAL, "%s: trace.packets_per_second must be 1 to %d",
				       ctx->origin, OCB_PACKET_RATE_MAX);
		ctx->p->packet_rate = (__u32)json_integer_value(rate);
	}
	return err;
}

static int parse_root(struct parse_ctx *ctx, json_t *root)
{
	static const char *const keys[] = { "description", "mode",  "egress", "ingress",
					    "sockets",	   "trace", NULL };
	json_t *v;
	int err;

	if (!json_is_object(root))
		return ocb_err(-EINVAL, "%s: a profile must be a JSON object", ctx->origin);
	err = check_keys(ctx, root, "the profile", keys);
	if (err)
		return err;
	v = json_object_get(root, "description");
	if (v) {
		if (!json_is_string(v))
			return ocb_err(-EINVAL, "%s: \"description\" must be a string",
				       ctx->origin);
		ctx->p->description = strdup(json_string_value(v));
		if (!ctx->p->description)
			return -ENOMEM;
	}
	v = json_object_get(root, "mode");
	if (v) {
		const char *m = json_is_string(v) ? json_string_value(v) : "";

		if (!strcmp(m, "audit"))
			ctx->p->mode = OCB_MODE_AUDIT;
		else if (strcmp(m, "enforce"))
			return ocb_err(-EINVAL, "%s: \"mode\" must be \"enforce\" or \"audit\"",
				       ctx->origin);
	}
	err = parse_direction(ctx, root, "egress", OCB_EGRESS);
	if (!err)
		err = parse_direction(ctx, root, "ingress", OCB_INGRESS);
	if (!err)
		err = parse_sockets(ctx, root);
	if (!err)
		err = parse_trace(ctx, root);
	return err;
}

int profile_parse(const char *json, size_t len, const char *origin, struct profile *p)
{
	struct parse_ctx ctx = { .origin = origin, .p = p };
	json_error_t jerr;
	json_t *root;
	int err;

	memset(p, 0, sizeof(*p));
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ocb_err(-EINVAL, "%s:%d:%d: %s", origin, jerr.line, jerr.column, jerr.text);
	err = parse_root(&ctx, root);
	json_decref(root);
	if (err)
		profile_free(p);
	return err;
}

void profile_free(struct profile *p)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		free(p->rules[i].ranges);
	free(p->rules);
	free(p->description);
	memset(p, 0, sizeof(*p));
}
