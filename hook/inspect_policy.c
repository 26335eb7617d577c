// SPDX-License-Identifier: GPL-2.0
/*
 * Reading back the policy in effect from a container's maps: the active
 * generation's settings, its rules, and its port classes as ranges.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "inspect.h"
#include "log.h"

/* Far above any trie's capacity: get_next_key restarts from the first key
 * when the key it was given was deleted, so a busy trie could loop. */
#define MAX_KEYS (1u << 23)
#define N_PORTS 65536

static int read_gen(const struct pinned_policy *f, unsigned int *gen)
{
	struct ocb_active act;
	__u32 zero = 0;
	int err = inspect_lookup(f->active, &zero, &act, sizeof(act));

	if (err)
		return ocb_err(err, "cannot read the live policy generation: %s", strerror(-err));
	*gen = act.gen & 1;
	return 0;
}

/* Tries pinned by a hook whose key or value layout differs cannot be read. */
static int check_layout(int fd, size_t key_size, size_t val_size)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);

	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return ocb_err(ocb_errno(), "cannot read a policy map's info: %s", strerror(errno));
	if (mi.key_size != key_size || mi.value_size != val_size)
		return ocb_err(-EPROTO,
			       "policy map %s has %u-byte keys and %u-byte values, not %zu and %zu: it was pinned by another version of the hook; reattach the container to read its rules",
			       mi.name, mi.key_size, mi.value_size, key_size, val_size);
	return 0;
}

/* Appends every entry of generation @gen: keys then values, each packed. */
static int collect(int fd, size_t key_size, size_t val_size, unsigned int gen, void **out,
		   size_t *n)
{
	size_t entry = key_size + val_size, cap = 0, seen = 0;
	unsigned char cur[64], prev[64] = { 0 }, *v = NULL, *bigger;
	bool first = true;
	int err;

	*n = 0;
	err = check_layout(fd, key_size, val_size);
	if (err)
		return err;
	while (!bpf_map_get_next_key(fd, first ? NULL : prev, cur)) {
		first = false;
		memcpy(prev, cur, key_size);
		if (++seen > MAX_KEYS) {
			free(v);
			return ocb_err(-EAGAIN, "the policy changed while it was read; retry");
		}
		/* gen follows the 4-byte prefixlen in both key layouts. */
		if (cur[4] != gen)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			bigger = realloc(v, cap * entry);
			if (!bigger) {
				free(v);
				return -ENOMEM;
			}
			v = bigger;
		}
		memcpy(v + *n * entry, cur, key_size);
		/* An exact key finds its own entry: lookups stop at its prefix. */
		if (bpf_map_lookup_elem(fd, cur, v + *n * entry + key_size))
			continue; /* deleted meanwhile */
		(*n)++;
	}
	*out = v;
	return 0;
}

static int cmp_rule(const void *a, const void *b)
{
	const struct policy_rule_view *x = a, *y = b;

	if (x->val.rule != y->val.rule)
		return x->val.rule < y->val.rule ? -1 : 1;
	if (x->key.dir != y->key.dir)
		return x->key.dir - y->key.dir;
	return memcmp(x->key.addr, y->key.addr, sizeof(x->key.addr));
}

static int read_rules(const struct pinned_policy *f, struct policy_view *pv)
{
	void *v = NULL;
	int err;

	/* The pinned tries are the live generation's, all of `gen` 0. */
	err = collect(f->rules, sizeof(struct ocb_rule_key), sizeof(struct ocb_rule), 0, &v,
		      &pv->n_rules);
	if (err)
		return err;
	pv->rules = v;
	if (pv->n_rules)
		qsort(pv->rules, pv->n_rules, sizeof(*pv->rules), cmp_rule);
	return 0;
}

struct port_entry {
	struct ocb_port_key key;
	struct ocb_class val;
};

/* Entries that do not cover the protocol byte match every protocol. */
static bool names_proto(const struct ocb_port_key *k)
{
	return k->prefixlen >= 24;
}

static unsigned int entry_dir(const struct ocb_port_key *k)
{
	return k->prefixlen >= 16 ? k->dir : PORT_DIR_ANY;
}

/* Entries of one group (direction and protocol) sort together, and by
 * prefix length within it, so that longer prefixes are painted last. */
static int cmp_port_entry(const void *a, const void *b)
{
	const struct ocb_port_key *x = &((const struct port_entry *)a)->key;
	const struct ocb_port_key *y = &((const struct port_entry *)b)->key;
	int gx = (int)(entry_dir(x) << 9 | names_proto(x) << 8 | (names_proto(x) ? x->proto : 0));
	int gy = (int)(entry_dir(y) << 9 | names_proto(y) << 8 | (names_proto(y) ? y->proto : 0));

	if (gx != gy)
		return gx - gy;
	return (int)x->prefixlen - (int)y->prefixlen;
}

static bool same_group(const struct ocb_port_key *x, const struct ocb_port_key *y)
{
	return entry_dir(x) == entry_dir(y) && names_proto(x) == names_proto(y) &&
	       (!names_proto(x) || x->proto == y->proto);
}

static void entry_span(const struct ocb_port_key *k, unsigned int *from, unsigned int *to)
{
	int bits = (int)k->prefixlen - OCB_PORT_KEY_HDR_BITS;
	unsigned int mask;

	if (bits < 0)
		bits = 0;
	if (bits > 16)
		bits = 16;
	mask = bits ? (0xffffu << (16 - bits)) & 0xffff : 0;
	*from = ntohs(k->port) & mask;
	*to = *from | (~mask & 0xffff);
}

bool inspect_proto_has_ports(unsigned int proto)
{
	return proto <= 255 && ocb_has_ports((__u8)proto);
}

static int push_range(struct policy_view *pv, size_t *cap, const struct port_range *r)
{
	struct port_range *bigger;

	if (pv->n_ranges == *cap) {
		*cap = *cap ? 2 * *cap : 32;
		bigger = realloc(pv->ranges, *cap * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		pv->ranges = bigger;
	}
	pv->ranges[pv->n_ranges++] = *r;
	return 0;
}

/* Runs of equal class in @paint (class + 1; 0 for no class) as ranges. */
static int emit_ranges(struct policy_view *pv, size_t *cap, const __u32 *paint,
		       const struct ocb_port_key *k)
{
	struct port_range r = { .dir = (unsigned char)entry_dir(k), .any_proto = !names_proto(k) };
	unsigned int p = 0, start;
	int err;

	r.proto = r.any_proto ? 0 : k->proto;
	/* The programs look up port 0 for protocols without ports. */
	if (!r.any_proto && !inspect_proto_has_ports(r.proto)) {
		if (!paint[0])
			return 0;
		r.class = paint[0] - 1;
		return push_range(pv, cap, &r);
	}
	while (p < N_PORTS) {
		start = p;
		while (p + 1 < N_PORTS && paint[p + 1] == paint[start])
			p++;
		if (paint[start]) {
			r.class = paint[start] - 1;
			r.from = (unsigned short)start;
			r.to = (unsigned short)p;
			err = push_range(pv, cap, &r);
			if (err)
				return err;
		}
		p++;
	}
	return 0;
}

/* What a lookup resolves for each port: the longest prefix wins. */
static int resolve_ranges(struct policy_view *pv, struct port_entry *e, size_t n)
{
	__u32 *paint = malloc(N_PORTS * sizeof(*paint));
	size_t i = 0, j, cap = 0;
	unsigned int from, to, p;
	int err = 0;

	if (!paint)
		return -ENOMEM;
	qsort(e, n, sizeof(*e), cmp_port_entry);
	while (!err && i < n) {
		memset(paint, 0, N_PORTS * sizeof(*paint));
		for (j = i; j < n && same_group(&e[i].key, &e[j].key); j++) {
			entry_span(&e[j].key, &from, &to);
			for (p = from; p <= to; p++)
				paint[p] = e[j].val.class + 1;
		}
		err = emit_ranges(pv, &cap, paint, &e[i].key);
		i = j;
	}
	free(paint);
	return err;
}

static int read_ports(const struct pinned_policy *f, struct policy_view *pv)
{
	void *v = NULL;
	size_t n = 0;
	int err;

	err = collect(f->ports, sizeof(struct ocb_port_key), sizeof(struct ocb_class), 0, &v, &n);
	if (!err && n)
		err = resolve_ranges(pv, v, n);
	free(v);
	return err;
}

static int read_conf(const struct pinned_policy *f, struct policy_view *pv)
{
	__u32 key = pv->gen;
	int err = inspect_lookup(f->conf, &key, &pv->conf, sizeof(pv->conf));

	if (err)
		return ocb_err(err, "cannot read the policy settings: %s", strerror(-err));
	return 0;
}

static int read_once(const struct pinned_policy *f, struct policy_view *pv, bool *moved)
{
	unsigned int again = 0;
	int err;

	inspect_policy_free(pv);
	err = read_gen(f, &pv->gen);
	if (!err)
		err = read_conf(f, pv);
	if (!err)
		err = read_rules(f, pv);
	if (!err)
		err = read_ports(f, pv);
	if (!err)
		err = read_gen(f, &again);
	/* `apply` switched generations meanwhile: what we read is half old. */
	*moved = !err && again != pv->gen;
	return err;
}

int inspect_read_policy(const char *dir, struct policy_view *pv)
{
	struct pinned_policy f;
	bool moved = true;
	int err, tries;

	memset(pv, 0, sizeof(*pv));
	err = inspect_open_policy(dir, &f);
	for (tries = 0; !err && moved && tries < 3; tries++)
		err = read_once(&f, pv, &moved);
	inspect_close_policy(&f);
	if (!err && moved)
		err = ocb_err(-EAGAIN, "the policy kept changing while it was read; retry");
	if (err == -ENOMEM)
		err = ocb_err(err, "out of memory reading the policy of %s", dir);
	if (err)
		inspect_policy_free(pv);
	return err;
}

int inspect_read_conf(const char *dir, struct ocb_conf *conf)
{
	struct pinned_policy f = { -1, -1, -1, -1 };
	struct policy_view pv = { 0 };
	int err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_ACTIVE], &f.active);

	if (!err)
		err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_CONF], &f.conf);
	if (!err)
		err = read_gen(&f, &pv.gen);
	if (!err)
		err = read_conf(&f, &pv);
	inspect_close_policy(&f);
	*conf = pv.conf;
	return err;
}

void inspect_policy_free(struct policy_view *pv)
{
	free(pv->rules);
	free(pv->ranges);
	pv->rules = NULL;
	pv->ranges = NULL;
	pv->n_rules = pv->n_ranges = 0;
}

void inspect_rule_cidr(const struct ocb_rule_key *k, char *buf, size_t size)
{
	int bits = (int)k->prefixlen - OCB_RULE_KEY_HDR_BITS, i;
	char text[INET6_ADDRSTRLEN];
	__u8 a[16];

	if (bits < 0 || bits > 128) {
		snprintf(buf, size, "(prefix length %u)", k->prefixlen);
		return;
	}
	/* Bits past the prefix never match: show them as zero. */
	for (i = 0; i < 16; i++) {
		int keep = bits - 8 * i;

		a[i] = keep >= 8   ? k->addr[i]
		       : keep <= 0 ? 0
				   : (__u8)(k->addr[i] & (0xff00 >> keep));
	}
	if (bits >= 96 && ocb_v4_mapped(a)) {
		inet_ntop(AF_INET, a + 12, text, sizeof(text));
		snprintf(buf, size, "%s/%d", text, bits - 96);
	} else {
		inet_ntop(AF_INET6, a, text, sizeof(text));
		snprintf(buf, size, "%s/%d", text, bits);
	}
}
