// SPDX-License-Identifier: GPL-2.0
/* Writing a compiled policy into a container's maps, and switching it. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "sha256.h"

/* LPM tries allocate per entry, so unused capacity costs nothing; a
 * profile's tries are made for it and never grow. */
#define MIN_CAPACITY (1u << 10)

static __u32 capacity(size_t n)
{
	size_t want = n + 1; /* and the name entry */

	return want > MIN_CAPACITY ? (__u32)want : MIN_CAPACITY;
}

void policy_capacity(const struct ocb_policy *p, __u32 *rules, __u32 *ports)
{
	*rules = capacity(p ? p->n_rules : 0);
	*ports = capacity(p ? p->n_ports : 0);
}

void policy_hash(const struct ocb_policy *p, unsigned char out[SHA256_LEN])
{
	static const char tag[] = "ocb tries v1";
	struct sha256 c;
	__u64 n[2] = { p ? p->n_rules : 0, p ? p->n_ports : 0 };

	sha256_init(&c);
	sha256_update(&c, tag, sizeof(tag));
	sha256_update(&c, n, sizeof(n));
	if (p && p->n_rules)
		sha256_update(&c, p->rules, p->n_rules * sizeof(*p->rules));
	if (p && p->n_ports)
		sha256_update(&c, p->ports, p->n_ports * sizeof(*p->ports));
	sha256_final(&c, out);
}

/* The entry that names a rules trie's content (OCB_TRIE_NAME_GEN). */
static struct ocb_rule_key name_key(const unsigned char hash[SHA256_LEN])
{
	struct ocb_rule_key k = { .prefixlen = OCB_RULE_KEY_HDR_BITS + 128,
				  .gen = OCB_TRIE_NAME_GEN };

	memcpy(k.addr, hash, sizeof(k.addr));
	return k;
}

bool policy_tries_named(int rules, const unsigned char hash[SHA256_LEN])
{
	struct ocb_rule_key k = name_key(hash);
	struct ocb_rule v;

	/* A longest-prefix lookup: only the name entry has its `gen`, and
	 * its prefix is the whole key, so a match is that entry. */
	return !bpf_map_lookup_elem(rules, &k, &v) && v.rule == OCB_RULE_FAILSAFE;
}

int policy_fill_tries(const struct ocb_policy *p, const unsigned char hash[SHA256_LEN], int rules,
		      int ports)
{
	struct ocb_rule_key nk = name_key(hash);
	struct ocb_rule nv = { .rule = OCB_RULE_FAILSAFE, .addr_bits = 128 };
	size_t i;

	for (i = 0; p && i < p->n_rules; i++)
		if (bpf_map_update_elem(rules, &p->rules[i].key, &p->rules[i].val, BPF_NOEXIST))
			return ocb_err(ocb_errno(), "cannot write policy rule %zu: %s", i,
				       strerror(errno));
	for (i = 0; p && i < p->n_ports; i++)
		if (bpf_map_update_elem(ports, &p->ports[i].key, &p->ports[i].val, BPF_NOEXIST))
			return ocb_err(ocb_errno(), "cannot write policy port class %zu: %s", i,
				       strerror(errno));
	if (bpf_map_update_elem(rules, &nk, &nv, BPF_NOEXIST))
		return ocb_err(ocb_errno(), "cannot name the policy's tries: %s", strerror(errno));
	/* Shared by every container of this profile: nobody writes them
	 * again (the programs only read). */
	if (bpf_map_freeze(rules) || bpf_map_freeze(ports))
		return ocb_err(ocb_errno(), "cannot freeze the policy's tries: %s",
			       strerror(errno));
	return 0;
}

/* The settings the programs read for @p (none: allow all). */
static void make_conf(const struct ocb_policy *p, struct ocb_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->default_verdict[OCB_INGRESS] = OCB_ALLOW;
	conf->default_verdict[OCB_EGRESS] = OCB_ALLOW;
	if (!p)
		return;
	conf->default_verdict[OCB_INGRESS] = p->default_verdict[OCB_INGRESS];
	conf->default_verdict[OCB_EGRESS] = p->default_verdict[OCB_EGRESS];
	conf->mode = p->mode;
	conf->sockets = p->sockets;
	conf->trace = p->trace;
	conf->has_classes = p->n_ports > 0;
	conf->may_deny = p->may_deny;
	conf->packet_rate = p->packet_rate;
}

static int write_conf(const struct ocb_policy *p, int fd, __u32 bank)
{
	struct ocb_conf conf;

	make_conf(p, &conf);
	if (bpf_map_update_elem(fd, &bank, &conf, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot write policy settings: %s", strerror(errno));
	return 0;
}

int policy_cache(const struct ocb_policy *p, int cgslot, __u64 cgid, __u32 slot, __u32 gen)
{
	struct ocb_cgslot v = { .cgid = cgid, .slot = slot, .gen = gen, .cached = 1 };

	make_conf(p, &v.conf);
	if (bpf_map_update_elem(cgslot, &cgid, &v, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot point cgroup %llu at slot %u: %s",
			       (unsigned long long)cgid, slot, strerror(errno));
	return 0;
}

/*
 * The live generation is a counter: its low bit picks the settings and
 * the tries (OCB_BANK), the whole value tells the programs that
 * decisions they cached for a socket were made under another policy.
 */
static int set_active(const struct policy_maps *m, __u32 gen)
{
	struct ocb_active act = { .gen = gen };
	__u32 zero = 0;

	if (bpf_map_update_elem(m->active, &zero, &act, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot switch policy generation: %s", strerror(errno));
	return 0;
}

int policy_write_maps(const struct ocb_policy *p, const struct policy_maps *m)
{
	int err = write_conf(p, m->conf, 0);

	return err ? err : set_active(m, 0);
}

static int read_active(const struct policy_maps *m, __u32 *gen)
{
	struct ocb_active act;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->active, &zero, &act))
		return ocb_err(ocb_errno(), "cannot read the live policy generation: %s",
			       strerror(errno));
	*gen = act.gen;
	return 0;
}

/*
 * A program that read the old generation before the switch may still be
 * looking it up. Updating a map-in-map from user space waits for an RCU
 * grace period (the kernel's maybe_wait_bpf_programs()), after which no
 * program run that began before it is left.
 */
int policy_wait_programs(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int inner, outer, err = 0;
	__u32 zero = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ocb_sync_in", 4, 4, 1, NULL);
	if (inner < 0)
		return ocb_errno();
	opts.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "ocb_sync", 4, 4, 1, &opts);
	if (outer < 0)
		err = ocb_errno();
	else if (bpf_map_update_elem(outer, &zero, &inner, BPF_ANY))
		err = ocb_errno();
	if (outer >= 0)
		close(outer);
	close(inner);
	return err;
}

static int set_tries(const struct policy_maps *m, __u32 bank, int rules, int ports)
{
	if (bpf_map_update_elem(m->rules_outer, &bank, &rules, BPF_ANY) ||
	    bpf_map_update_elem(m->ports_outer, &bank, &ports, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot give the container the profile's tries: %s",
			       strerror(errno));
	return 0;
}

int policy_switch(const struct ocb_policy *p, const struct policy_maps *m, int rules, int ports)
{
	__u32 counter = 0, live, next;
	int err;

	err = read_active(m, &counter);
	if (err)
		return err;
	live = OCB_BANK(m->slot, counter);
	next = OCB_BANK(m->slot, counter + 1);
	err = write_conf(p, m->conf, (counter + 1) & 1);
	if (!err)
		err = set_tries(m, next, rules, ports);
	if (!err)
		err = set_active(m, counter + 1);
	/* What the programs read: the cgroup's cached copy. */
	if (!err && m->cgslot > 0) {
		err = policy_cache(p, m->cgslot, m->cgid, m->slot, counter + 1);
		if (err)
			set_active(m, counter);
	}
	if (err)
		return err;
	err = policy_wait_programs();
	if (err) {
		/* The next switch replaces it. */
		ocb_log_warn("the new policy is live; the old one's tries stay referenced until the next apply (cannot wait for running programs: %s)",
			     strerror(-err));
		return 0;
	}
	/* The old tries go with their last user. */
	if ((bpf_map_delete_elem(m->rules_outer, &live) && errno != ENOENT) ||
	    (bpf_map_delete_elem(m->ports_outer, &live) && errno != ENOENT))
		ocb_log_warn("the new policy is live, but the old one's tries are still referenced: %s",
			     strerror(errno));
	return 0;
}

void policy_free(struct ocb_policy *p)
{
	if (!p)
		return;
	free(p->rules);
	free(p->ports);
	free(p);
}
