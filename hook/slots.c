// SPDX-License-Identifier: GPL-2.0
/*
 * The pool of container slots (slots.h). The records live in the shared
 * `slots` array, memory-mapped; every change to them is made under the
 * slots lock (pin_lock_slots()), so a record is never half written for
 * another hook process.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "inspect.h"
#include "log.h"
#include "ocb_maps.h"
#include "pin.h"
#include "policy.h"
#include "slots.h"

/* Slots given maps at once when none is free: the writes to each outer
 * map are one batch, so growing by many costs what growing by one does. */
#define SLOTS_GROW 16

#define REC_BYTES ((size_t)OCB_MAX_SLOTS * sizeof(struct ocb_slot_rec))

/* The ids of a profile's tries: what a slot's bank 0 is compared with. */
struct tries_ids {
	__u32 rules, ports;
};

/* The maps a slot keeps between containers (the tries are the profile's). */
static const enum ocb_map own_maps[] = { OCB_MAP_STATS, OCB_MAP_ACTIVE, OCB_MAP_CONF,
					 OCB_MAP_INFO };
#define N_OWN (sizeof(own_maps) / sizeof(own_maps[0]))

int slots_make(int btf_fd, __u32 key, __u32 value, const char *path)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE, .btf_fd = btf_fd,
		    .btf_key_type_id = key, .btf_value_type_id = value);
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ocb_slots", sizeof(__u32),
			    sizeof(struct ocb_slot_rec), OCB_MAX_SLOTS, &opts);
	if (fd < 0)
		return ocb_err(ocb_errno(), "cannot create the slots map: %s", strerror(errno));
	if (bpf_obj_pin(fd, path))
		err = ocb_err(ocb_errno(), "cannot pin %s: %s", path, strerror(errno));
	close(fd);
	return err;
}

int slots_open(struct ocb_shared *s)
{
	void *p;
	int err = inspect_open_pin(s->dir, "slots", &s->slots);

	if (err)
		return err;
	p = mmap(NULL, REC_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, s->slots, 0);
	if (p == MAP_FAILED)
		return ocb_err(ocb_errno(), "cannot map %s/slots: %s", s->dir, strerror(errno));
	s->rec = p;
	return 0;
}

void slots_close(struct ocb_shared *s)
{
	if (s->rec)
		munmap(s->rec, REC_BYTES);
	s->rec = NULL;
	if (s->slots >= 0)
		close(s->slots);
	s->slots = -1;
}

/* The header: element 0, never a container's. */
#define HDR(s) (&(s)->rec[0])
/* Past the highest slot ever given. */
static __u32 slots_end(const struct ocb_shared *s)
{
	__u32 hi = HDR(s)->pid;

	return hi < OCB_MAX_SLOTS ? hi + 1 : OCB_MAX_SLOTS;
}

/* FREEING slots released before the last grace period are READY. */
static void promote(const struct ocb_shared *s)
{
	__u32 i, end = slots_end(s);

	for (i = 1; i < end; i++) {
		struct ocb_slot_rec *r = &s->rec[i];

		if (r->state == OCB_SLOT_FREEING && r->seq <= HDR(s)->token)
			r->state = OCB_SLOT_READY;
	}
}

/* What the pool has for a container of the tries @want. */
struct pool_look {
	__u32 match;	    /* a READY slot with those tries in bank 0, the longest free */
	__u32 other;	    /* a READY slot with other tries, the longest free */
	bool freeing_match; /* a FREEING slot with those tries */
	bool freeing;	    /* any FREEING slot */
	__u32 ready;	    /* READY slots */
};

static void look(const struct ocb_shared *s, const struct tries_ids *want, struct pool_look *l)
{
	__u32 i, end = slots_end(s);

	memset(l, 0, sizeof(*l));
	for (i = 1; i < end; i++) {
		const struct ocb_slot_rec *r = &s->rec[i];
		bool match = r->rules_id == want->rules && r->ports_id == want->ports;
		__u32 *best = match ? &l->match : &l->other;

		if (r->state == OCB_SLOT_FREEING) {
			l->freeing = true;
			l->freeing_match |= match;
		}
		if (r->state != OCB_SLOT_READY)
			continue;
		l->ready++;
		if (!*best || r->seq < s->rec[*best].seq)
			*best = i;
	}
}

/*
 * Waits for a grace period, the lock let go meanwhile: the slots released
 * before it are then READY. The wait is the kernel's for a map-in-map
 * write, which concurrent callers share.
 */
static int wait_grace(const struct ocb_shared *s, struct pin_lock *lock)
{
	__u64 seq = HDR(s)->seq;
	int err;

	pin_unlock_id(lock, false);
	err = policy_wait_programs();
	if (err)
		return ocb_err(err, "cannot wait for running programs: %s", strerror(-err));
	err = pin_lock_slots(lock);
	if (err)
		return err;
	if (HDR(s)->token < seq)
		HDR(s)->token = seq;
	promote(s);
	return 0;
}

/* @slot has maps now: the scans reach it. */
static void mark_given(const struct ocb_shared *s, __u32 slot)
{
	if (slot > HDR(s)->pid)
		HDR(s)->pid = slot;
}

static void take_rec(const struct ocb_shared *s, __u32 slot, __u64 cgid, __u64 token)
{
	struct ocb_slot_rec *r = &s->rec[slot];

	r->owner = cgid;
	r->token = token;
	r->pid = (__u32)getpid();
	r->state = OCB_SLOT_TAKEN;
	mark_given(s, slot);
}

/* Up to SLOTS_GROW slots without maps, probing from one @cgid picks. */
static size_t new_slots(const struct ocb_shared *s, __u64 cgid, __u32 *keys)
{
	size_t n = 0;
	__u32 i, k;

	for (i = 0; i < OCB_MAX_SLOTS - 1 && n < SLOTS_GROW; i++) {
		k = 1 + (__u32)((cgid + i) % (OCB_MAX_SLOTS - 1));
		if (s->rec[k].state == OCB_SLOT_NONE)
			keys[n++] = k;
	}
	return n;
}

/* Writes @fd (or fds[i], if @fds) into @outer at @keys: one batch, one
 * grace period. */
static int write_outer(int outer, const __u32 *keys, size_t n, const int *fds, int fd,
		       const char *what)
{
	__u32 count = (__u32)n;
	int *vals;
	size_t i;
	int err = 0;

	if (!n)
		return 0;
	vals = calloc(n, sizeof(*vals));
	if (!vals)
		return ocb_err(-ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		vals[i] = fds ? fds[i] : fd;
	if (bpf_map_update_batch(outer, keys, vals, &count, NULL))
		err = ocb_err(ocb_errno(), "cannot write the %s maps of %zu slots: %s", what, n,
			      strerror(errno));
	free(vals);
	return err;
}

/* Gives @n new slots (@keys) their maps and the tries @fds holds (@ids);
 * they become READY, with those tries in bank 0. */
static int grow(const struct ocb_shared *s, const __u32 *keys, size_t n, const int fds[OCB_N_MAPS],
		const struct tries_ids *ids)
{
	int made[N_OWN][SLOTS_GROW];
	__u32 banks[SLOTS_GROW];
	size_t i, j;
	int err = 0;

	memset(made, -1, sizeof(made));
	for (j = 0; !err && j < N_OWN; j++)
		for (i = 0; !err && i < n; i++)
			err = progs_create_map(s, own_maps[j], &made[j][i]);
	for (i = 0; i < n; i++)
		banks[i] = OCB_BANK(keys[i], 0);
	for (j = 0; !err && j < N_OWN; j++)
		err = write_outer(s->outer[own_maps[j]], keys, n, made[j], -1,
				  ocb_map_pins[own_maps[j]]);
	if (!err)
		err = write_outer(s->outer[OCB_MAP_RULES], banks, n, NULL, fds[OCB_MAP_RULES],
				  "rules");
	if (!err)
		err = write_outer(s->outer[OCB_MAP_PORTS], banks, n, NULL, fds[OCB_MAP_PORTS],
				  "ports");
	for (i = 0; !err && i < n; i++) {
		s->rec[keys[i]].state = OCB_SLOT_READY;
		s->rec[keys[i]].seq = 0;
		s->rec[keys[i]].rules_id = ids->rules;
		s->rec[keys[i]].ports_id = ids->ports;
		s->rec[keys[i]].rules1_id = s->rec[keys[i]].ports1_id = 0;
		mark_given(s, keys[i]);
	}
	for (j = 0; j < N_OWN; j++)
		for (i = 0; i < n; i++)
			if (made[j][i] >= 0)
				close(made[j][i]);
	return err;
}

/*
 * Under the lock: a READY slot for the tries in @fds, marked taken. Best
 * one that holds them already (no map-in-map write); else one that will
 * once a grace period has passed (one wait); else new slots given them
 * (a wait per outer map, for SLOTS_GROW slots), while the pool is small;
 * else a slot with other tries, given these (two waits).
 */
static int claim(const struct ocb_shared *s, __u64 cgid, __u64 token, const int fds[OCB_N_MAPS],
		 const struct tries_ids *ids, __u32 *slot)
{
	struct pin_lock lock = { .fd = -1 };
	__u32 keys[SLOTS_GROW];
	struct pool_look l;
	bool waited = false;
	int err = pin_lock_slots(&lock);
	size_t n;

	while (!err) {
		promote(s);
		look(s, ids, &l);
		*slot = l.match;
		if (*slot)
			break;
		if (!waited && (l.freeing_match || (!l.other && l.freeing))) {
			waited = true;
			err = wait_grace(s, &lock);
			continue;
		}
		n = l.ready < 2 * SLOTS_GROW || !l.other ? new_slots(s, cgid, keys) : 0;
		*slot = l.other;
		if (n)
			err = grow(s, keys, n, fds, ids);
		else if (!*slot)
			err = ocb_err(-ENOSPC,
				      "all %u container slots are taken; run 'oci-cgroup-bpf-hook gc'",
				      OCB_MAX_SLOTS - 1);
		else
			break;
	}
	if (!err)
		take_rec(s, *slot, cgid, token);
	pin_unlock_id(&lock, false);
	return err;
}

/* The slot's own map @m, opened by the id its outer map holds. */
static int open_inner(const struct ocb_shared *s, enum ocb_map m, __u32 slot, int *fd)
{
	__u32 id = 0;

	if (bpf_map_lookup_elem(s->outer[m], &slot, &id))
		return ocb_err(ocb_errno(), "slot %u has no %s map: %s", slot, ocb_map_pins[m],
			       strerror(errno));
	*fd = bpf_map_get_fd_by_id(id);
	if (*fd < 0)
		return ocb_err(ocb_errno(), "cannot open slot %u's %s map (id %u): %s", slot,
			       ocb_map_pins[m], id, strerror(errno));
	return 0;
}

/* Bank 0 of @slot holds the tries @fds holds (@ids; a map-in-map write,
 * and its wait, only where it held others). */
static int give_tries(const struct ocb_shared *s, __u32 slot, const int fds[OCB_N_MAPS],
		      const struct tries_ids *ids)
{
	static const enum ocb_map tries[] = { OCB_MAP_RULES, OCB_MAP_PORTS };
	const __u32 want[] = { ids->rules, ids->ports };
	__u32 bank = OCB_BANK(slot, 0), id;
	size_t i;

	for (i = 0; i < 2; i++) {
		enum ocb_map m = tries[i];

		if (!bpf_map_lookup_elem(s->outer[m], &bank, &id) && id == want[i])
			continue;
		if (bpf_map_update_elem(s->outer[m], &bank, &fds[m], BPF_ANY))
			return ocb_err(ocb_errno(), "cannot give slot %u the profile's %s: %s",
				       slot, ocb_map_pins[m], strerror(errno));
	}
	s->rec[slot].rules_id = ids->rules;
	s->rec[slot].ports_id = ids->ports;
	return 0;
}

/* Counters from zero: the last container's are not this one's. */
static int reset_stats(int fd)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t size = (sizeof(struct ocb_stats) + 7) / 8 * 8;
	__u32 zero = 0;
	void *v;
	int err = 0;

	if (ncpu <= 0)
		return ocb_err(ncpu ?: -EINVAL, "cannot count the possible CPUs");
	v = calloc((size_t)ncpu, size);
	if (!v)
		return ocb_err(-ENOMEM, "out of memory");
	if (bpf_map_update_elem(fd, &zero, v, BPF_ANY))
		err = ocb_err(ocb_errno(), "cannot reset the counters: %s", strerror(errno));
	free(v);
	return err;
}

int slots_take(const struct ocb_shared *s, __u64 cgid, __u64 token, int fds[OCB_N_MAPS],
	       __u32 *slot)
{
	const struct tries_ids ids = { progs_map_id(fds[OCB_MAP_RULES]),
				       progs_map_id(fds[OCB_MAP_PORTS]) };
	size_t i;
	int err;

	*slot = 0;
	err = claim(s, cgid, token, fds, &ids, slot);
	for (i = 0; !err && i < N_OWN; i++)
		err = open_inner(s, own_maps[i], *slot, &fds[own_maps[i]]);
	if (!err)
		err = give_tries(s, *slot, fds, &ids);
	if (!err)
		err = reset_stats(fds[OCB_MAP_STATS]);
	if (err && *slot)
		slots_release(s, *slot, cgid, token);
	return err;
}

void slots_published(const struct ocb_shared *s, __u32 slot)
{
	struct pin_lock lock = { .fd = -1 };

	if (!pin_lock_slots(&lock))
		s->rec[slot].pid = 0;
	else
		ocb_err_clear();
	pin_unlock_id(&lock, false);
}

int slots_point(const struct ocb_shared *s, const struct ocb_policy *p, __u64 cgid, __u32 slot)
{
	return policy_cache(p, s->cgslot, cgid, slot, 0);
}

void slots_unpoint(const struct ocb_shared *s, __u64 cgid)
{
	struct ocb_cgslot v = { .cgid = cgid };

	/* ENOENT: no program of ours is attached to it any more. */
	bpf_map_update_elem(s->cgslot, &cgid, &v, BPF_EXIST);
}

/* Under the lock: FREEING, numbered; READY after the next grace period. */
static void free_rec(const struct ocb_shared *s, __u32 slot)
{
	struct ocb_slot_rec *r = &s->rec[slot];

	r->owner = 0;
	r->token = 0;
	r->pid = 0;
	r->seq = ++HDR(s)->seq;
	r->state = OCB_SLOT_FREEING;
}

int slots_release(const struct ocb_shared *s, __u32 slot, __u64 cgid, __u64 token)
{
	struct pin_lock lock = { .fd = -1 };
	struct ocb_slot_rec *r;
	int err;

	if (!slot || slot >= OCB_MAX_SLOTS)
		return 0;
	err = pin_lock_slots(&lock);
	if (err)
		return err;
	r = &s->rec[slot];
	/* Someone else's since (ours was released before a crash): not
	 * ours to give back. */
	if (r->state == OCB_SLOT_TAKEN && r->owner == cgid && r->token == token)
		free_rec(s, slot);
	pin_unlock_id(&lock, false);
	return 0;
}

int slots_release_abandoned(const struct pin_tree *t, pid_t pid, unsigned int *freed)
{
	struct pin_lock lock = { .fd = -1 };
	struct ocb_shared s;
	__u32 slot, end;
	int err;

	*freed = 0;
	err = progs_open_maps(t, progs_build_id(), &s);
	if (!err)
		err = pin_lock_slots(&lock);
	for (slot = 1, end = err ? 0 : slots_end(&s); slot < end; slot++) {
		if (s.rec[slot].state == OCB_SLOT_TAKEN && s.rec[slot].pid == (__u32)pid) {
			free_rec(&s, slot);
			(*freed)++;
		}
	}
	pin_unlock_id(&lock, false);
	progs_close(&s);
	/* No programs loaded yet: no slot to give back. */
	return err == -ENOENT ? 0 : err;
}

/* Whether the prestart that took @r is still running. */
static bool taking(const struct ocb_slot_rec *r)
{
	return r->pid && (kill((pid_t)r->pid, 0) == 0 || errno == EPERM);
}

int slots_sweep(const struct ocb_shared *s, const __u32 *live, size_t n_live, bool dry,
		unsigned int *freed)
{
	__u32 slot, id, end = slots_end(s);
	size_t i;

	*freed = 0;
	for (slot = 1; slot < end; slot++) {
		if (s->rec[slot].state != OCB_SLOT_TAKEN || taking(&s->rec[slot]))
			continue;
		if (bpf_map_lookup_elem(s->outer[OCB_MAP_INFO], &slot, &id))
			id = 0;
		for (i = 0; i < n_live && live[i] != id; i++)
			;
		if (id && i < n_live)
			continue;
		(*freed)++;
		if (!dry)
			free_rec(s, slot);
	}
	return 0;
}

void slots_count(const struct ocb_shared *s, unsigned int *taken, unsigned int *pooled)
{
	__u32 slot, end = slots_end(s);

	*taken = *pooled = 0;
	for (slot = 1; slot < end; slot++) {
		*taken += s->rec[slot].state == OCB_SLOT_TAKEN;
		*pooled += s->rec[slot].state == OCB_SLOT_FREEING ||
			   s->rec[slot].state == OCB_SLOT_READY;
	}
}

/* ---- gc: the pool back to its reserve ---- */

int slots_settle(const struct ocb_shared *s)
{
	__u32 slot, end = slots_end(s);
	__u64 seq = HDR(s)->seq;
	int err;

	for (slot = 1; slot < end && s->rec[slot].state != OCB_SLOT_FREEING; slot++)
		;
	if (slot == end)
		return 0;
	err = policy_wait_programs();
	if (err)
		return ocb_err(err, "cannot wait for running programs: %s", strerror(-err));
	if (HDR(s)->token < seq)
		HDR(s)->token = seq;
	promote(s);
	return 0;
}

/* Where a slot's record keeps the id of the tries in @bank (0, 1) of
 * outer map @m. */
static __u32 *bank_id(const struct ocb_shared *s, __u32 slot, int bank, enum ocb_map m)
{
	struct ocb_slot_rec *r = &s->rec[slot];

	if (m == OCB_MAP_RULES)
		return bank ? &r->rules1_id : &r->rules_id;
	return bank ? &r->ports1_id : &r->ports_id;
}

/* Records what the banks of @slot hold, read from the outer maps. */
static void note_banks(const struct ocb_shared *s, __u32 slot)
{
	int bank, m;

	for (bank = 0; bank < 2; bank++)
		for (m = OCB_MAP_RULES; m <= OCB_MAP_PORTS; m++)
			*bank_id(s, slot, bank, m) =
				progs_tries_at(s->outer[m], OCB_BANK(slot, bank));
}

void slots_note(const struct ocb_shared *s, __u32 slot)
{
	struct pin_lock lock = { .fd = -1 };

	if (!slot || slot >= OCB_MAX_SLOTS)
		return;
	if (!pin_lock_slots(&lock))
		note_banks(s, slot);
	else
		ocb_err_clear();
	pin_unlock_id(&lock, false);
}

static int cmp_id(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* The ids of the tries the taken slots hold (both banks), sorted. */
static __u32 *tries_in_use(const struct ocb_shared *s, __u32 end, size_t *n)
{
	__u32 slot, *used = calloc(4 * (size_t)end, sizeof(*used));
	int bank, m;

	*n = 0;
	if (!used) {
		ocb_err(-ENOMEM, "out of memory");
		return NULL;
	}
	for (slot = 1; slot < end; slot++) {
		if (s->rec[slot].state != OCB_SLOT_TAKEN)
			continue;
		for (bank = 0; bank < 2; bank++)
			for (m = OCB_MAP_RULES; m <= OCB_MAP_PORTS; m++)
				if (*bank_id(s, slot, bank, m))
					used[(*n)++] = *bank_id(s, slot, bank, m);
	}
	qsort(used, *n, sizeof(*used), cmp_id);
	return used;
}

/*
 * Whether free @slot should let go of its tries: one of them no taken
 * slot holds (a profile no container uses any more), or its bank 1 holds
 * any (a free slot keeps one profile's, in bank 0, for the next container
 * of it; bank 1 is what an `apply` of its last container left).
 */
static bool holds_unused(const struct ocb_shared *s, __u32 slot, const __u32 *used, size_t n)
{
	int bank, m;

	for (bank = 0; bank < 2; bank++)
		for (m = OCB_MAP_RULES; m <= OCB_MAP_PORTS; m++) {
			__u32 id = *bank_id(s, slot, bank, m);

			if (id && (bank || !bsearch(&id, used, n, sizeof(*used), cmp_id)))
				return true;
		}
	return false;
}

/* Points the outer maps' entries of @keys (slots; @banks: their banks)
 * at empty stand-ins: what they held goes with its last reference. */
static int stand_in(const struct ocb_shared *s, const __u32 *keys, size_t n_keys,
		    const __u32 *banks, size_t n_banks)
{
	int fd[OCB_N_MAPS], m, err = 0;

	for (m = 0; m < OCB_N_MAPS; m++)
		fd[m] = -1;
	for (m = 0; !err && m < OCB_N_MAPS; m++) {
		bool tries = m == OCB_MAP_RULES || m == OCB_MAP_PORTS;

		if (!(tries ? n_banks : n_keys))
			continue;
		err = progs_create_standin(s, m, &fd[m]);
		if (!err)
			err = write_outer(s->outer[m], tries ? banks : keys,
					  tries ? n_banks : n_keys, NULL, fd[m], ocb_map_pins[m]);
	}
	for (m = 0; m < OCB_N_MAPS; m++)
		if (fd[m] >= 0)
			close(fd[m]);
	return err;
}

/* What free slots give back: all their maps (@keys, beyond the
 * reserve, if @trim) or their banks of tries (@banks: those too, and
 * those of slots that hold tries no container uses). */
struct give_back {
	__u32 *keys, *banks;
	size_t n_keys, n_banks;
	unsigned int dropped;
};

static int pick(const struct ocb_shared *s, bool trim, struct give_back *g)
{
	__u32 slot, end = slots_end(s), *used;
	size_t kept = 0, n_used;

	memset(g, 0, sizeof(*g));
	g->keys = calloc(end, sizeof(*g->keys));
	g->banks = calloc(2 * (size_t)end, sizeof(*g->banks));
	if (!g->keys || !g->banks)
		return ocb_err(-ENOMEM, "out of memory");
	used = tries_in_use(s, end, &n_used);
	if (!used)
		return -ENOMEM;
	for (slot = 1; slot < end; slot++) {
		const struct ocb_slot_rec *r = &s->rec[slot];

		if (r->state != OCB_SLOT_READY && r->state != OCB_SLOT_FREEING)
			continue;
		if (trim && kept++ >= SLOTS_RESERVE)
			g->keys[g->n_keys++] = slot;
		else if (holds_unused(s, slot, used, n_used))
			g->dropped++;
		else
			continue;
		g->banks[g->n_banks++] = OCB_BANK(slot, 0);
		g->banks[g->n_banks++] = OCB_BANK(slot, 1);
	}
	free(used);
	return 0;
}

/* Under the lock: the maps picked go with their last reference. */
static int give_back(const struct ocb_shared *s, const struct give_back *g)
{
	size_t i;
	int err;

	if (!g->n_banks)
		return 0;
	err = stand_in(s, g->keys, g->n_keys, g->banks, g->n_banks);
	for (i = 0; !err && i < g->n_banks; i += 2) {
		struct ocb_slot_rec *r = &s->rec[g->banks[i] / 2];

		r->rules_id = r->ports_id = r->rules1_id = r->ports1_id = 0;
	}
	for (i = 0; !err && i < g->n_keys; i++)
		s->rec[g->keys[i]].state = OCB_SLOT_NONE;
	return err;
}

static void give_back_free(struct give_back *g)
{
	free(g->keys);
	free(g->banks);
}

int slots_trim(const struct ocb_shared *s, bool dry, unsigned int *trimmed, unsigned int *dropped)
{
	__u32 slot, end = slots_end(s);
	struct give_back g;
	int err;

	/* The records as the kernel has them: a hook killed between its
	 * write and its record, or an apply's record lost, is not trusted. */
	for (slot = 1; slot < end; slot++)
		if (s->rec[slot].state != OCB_SLOT_NONE)
			note_banks(s, slot);
	err = pick(s, true, &g);

	*trimmed = (unsigned int)g.n_keys;
	*dropped = g.dropped;
	if (!err && !dry)
		err = give_back(s, &g);
	give_back_free(&g);
	return err;
}

int slots_let_go(const struct ocb_shared *s, unsigned int *dropped)
{
	struct pin_lock lock = { .fd = -1 };
	struct give_back g = { 0 };
	int err = pin_lock_slots(&lock);

	if (!err)
		err = pick(s, false, &g);
	if (!err)
		err = give_back(s, &g);
	*dropped = g.dropped;
	give_back_free(&g);
	pin_unlock_id(&lock, false);
	return err;
}
