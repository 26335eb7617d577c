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

/* Room for two generations side by side, so `apply` can grow a profile;
 * LPM tries allocate per entry, so unused capacity costs nothing. */
#define MIN_CAPACITY (1u << 20)

static __u32 capacity(size_t n)
{
	size_t want = 4 * n;

	return want > MIN_CAPACITY ? (__u32)want : MIN_CAPACITY;
}

int policy_size_maps(const struct ocb_policy *p, struct bpf_map *rules, struct bpf_map *ports)
{
	int err = bpf_map__set_max_entries(rules, capacity(p ? p->n_rules : 0));

	return err ? err : bpf_map__set_max_entries(ports, capacity(p ? p->n_ports : 0));
}

void policy_capacity(const struct ocb_policy *p, __u32 *rules, __u32 *ports)
{
	*rules = capacity(p ? p->n_rules : 0);
	*ports = capacity(p ? p->n_ports : 0);
}

static int write_generation(const struct ocb_policy *p, const struct policy_maps *m, __u8 gen)
{
	struct ocb_conf conf = { .default_verdict = { OCB_ALLOW, OCB_ALLOW } };
	__u32 key = gen;
	size_t i;

	if (p) {
		conf.default_verdict[OCB_INGRESS] = p->default_verdict[OCB_INGRESS];
		conf.default_verdict[OCB_EGRESS] = p->default_verdict[OCB_EGRESS];
		conf.mode = p->mode;
		conf.sockets = p->sockets;
		conf.trace = p->trace;
		conf.has_classes = p->n_ports > 0;
		conf.may_deny = p->may_deny;
		conf.packet_rate = p->packet_rate;
		for (i = 0; i < p->n_rules; i++) {
			struct ocb_rule_key k = p->rules[i].key;

			k.gen = gen;
			if (bpf_map_update_elem(m->rules, &k, &p->rules[i].val, BPF_ANY))
				return ocb_err(ocb_errno(), "cannot write policy rule %zu: %s", i,
					       strerror(errno));
		}
		for (i = 0; i < p->n_ports; i++) {
			struct ocb_port_key k = p->ports[i].key;

			k.gen = gen;
			if (bpf_map_update_elem(m->ports, &k, &p->ports[i].val, BPF_ANY))
				return ocb_err(ocb_errno(),
					       "cannot write policy port class %zu: %s", i,
					       strerror(errno));
		}
	}
	if (bpf_map_update_elem(m->conf, &key, &conf, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot write policy settings: %s", strerror(errno));
	return 0;
}

/*
 * The live generation is a counter: its low bit picks the map entries,
 * the whole value tells the programs that decisions they cached for a
 * socket were made under another policy.
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
	int err = write_generation(p, m, 0);

	return err ? err : set_active(m, 0);
}

/* Deletes every entry of generation @gen from an LPM trie. Keys are
 * collected first: deleting while iterating would skip entries. */
static int delete_generation(int fd, size_t key_size, __u8 gen)
{
	size_t n = 0, cap = 1024;
	unsigned char *keys = malloc(cap * key_size), *prev = NULL;
	unsigned char cur[64];
	size_t i;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, cur)) {
		if (n == cap) {
			unsigned char *bigger = realloc(keys, 2 * cap * key_size);

			if (!bigger) {
				err = -ENOMEM;
				goto out;
			}
			keys = bigger;
			cap *= 2;
		}
		memcpy(keys + n * key_size, cur, key_size);
		prev = keys + n * key_size;
		n++;
	}
	/* gen follows the 4-byte prefixlen in both key layouts. */
	for (i = 0; i < n; i++)
		if (keys[i * key_size + 4] == gen && bpf_map_delete_elem(fd, keys + i * key_size) &&
		    errno != ENOENT && !err)
			err = ocb_errno();
out:
	free(keys);
	return err;
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
static int wait_for_programs(void)
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

int policy_switch(const struct ocb_policy *p, const struct policy_maps *m)
{
	__u32 counter = 0;
	__u8 live, next;
	int err;

	err = read_active(m, &counter);
	if (err)
		return err;
	live = counter & 1;
	next = !live;
	/* Leftovers of an earlier switch that failed half-way. */
	err = delete_generation(m->rules, sizeof(struct ocb_rule_key), next);
	if (!err)
		err = delete_generation(m->ports, sizeof(struct ocb_port_key), next);
	if (err)
		return ocb_err(err, "cannot clear the inactive policy: %s", strerror(-err));
	err = write_generation(p, m, next);
	if (err)
		return err;
	err = set_active(m, counter + 1);
	if (err)
		return err;
	err = wait_for_programs();
	if (err) {
		/* The next switch clears it before it writes. */
		ocb_log_warn("the new policy is live; the old one stays until the next apply (cannot wait for running programs: %s)",
			     strerror(-err));
		return 0;
	}
	err = delete_generation(m->rules, sizeof(struct ocb_rule_key), live);
	if (!err)
		err = delete_generation(m->ports, sizeof(struct ocb_port_key), live);
	if (err)
		ocb_log_warn("the new policy is live, but the old one could not be removed: %s",
			     strerror(-err));
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
