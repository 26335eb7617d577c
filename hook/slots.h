/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_SLOTS_H
#define OCB_SLOTS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "progs.h"

struct ocb_policy;

/*
 * A container's slot: where the shared programs find its maps (c_<map>[slot])
 * and its cgroup's `cgslot` element points. Slots keep their maps between
 * containers (struct ocb_slot_rec in ocb_maps.h): a prestart takes a free
 * slot and writes its arrays, a poststop gives it back; neither writes a
 * map-in-map, whose every update or delete from user space waits for an RCU
 * grace period (10-24 ms here). Only a pool that runs dry grows, by
 * SLOTS_GROW slots at once.
 */

/* Free slots gc leaves their maps: what a burst of starts takes first. */
#define SLOTS_RESERVE 16u

/* Creates the `slots` map at @path (BTF: @btf_fd, types @key, @value). */
int slots_make(int btf_fd, __u32 key, __u32 value, const char *path);
/* Opens <dir>/slots and maps it into @s->rec. */
int slots_open(struct ocb_shared *s);
void slots_close(struct ocb_shared *s);

/*
 * Takes a free slot for the container of cgroup @cgid attached at @token,
 * under the slots lock. @fds[OCB_MAP_RULES] and [OCB_MAP_PORTS] are its
 * profile's tries, given to the slot's first generation if it has others;
 * the other fds are set to the slot's maps, reset: counters zero. The slot
 * is the prestart's (its pid) until slots_published().
 */
int slots_take(const struct ocb_shared *s, __u64 cgid, __u64 token, int fds[OCB_N_MAPS],
	       __u32 *slot);
/* Its container's pins are published: gc now finds it by them. */
void slots_published(const struct ocb_shared *s, __u32 slot);
/* Points @cgid's attachment at @slot (after its links are attached),
 * with @p's settings cached for the programs (generation 0). */
int slots_point(const struct ocb_shared *s, const struct ocb_policy *p, __u64 cgid, __u32 slot);
/* Points @cgid's attachment at no slot (its programs pass nothing). */
void slots_unpoint(const struct ocb_shared *s, __u64 cgid);
/* Gives back @slot if the container of @cgid attached at @token has it. */
int slots_release(const struct ocb_shared *s, __u32 slot, __u64 cgid, __u64 token);
/* The guard of a prestart that died: gives back the slots of this build
 * that prestart (@pid) took and never published. */
int slots_release_abandoned(const struct pin_tree *t, pid_t pid, unsigned int *freed);
/*
 * Gives back the slots taken by a container whose pins are gone (its info
 * map none of @live, map ids) and whose prestart is no longer running.
 * Call it under pin_lock_slots(), with @live read under that lock.
 */
int slots_sweep(const struct ocb_shared *s, const __u32 *live, size_t n_live, bool dry,
		unsigned int *freed);
/* gc: waits for a grace period if a slot is FREEING: all are READY then.
 * Under pin_lock_slots(). */
int slots_settle(const struct ocb_shared *s);
/*
 * gc: the free slots beyond a reserve of SLOTS_RESERVE give their maps back,
 * and free slots let go of tries no taken slot holds (a profile no
 * container uses any more); their entries point at empty stand-ins, in
 * one batch per outer map. Under pin_lock_slots(), with @s's BTF open.
 */
int slots_trim(const struct ocb_shared *s, bool dry, unsigned int *trimmed, unsigned int *dropped);
/*
 * poststop: the last container of a profile frees its compiled tries.
 * Free slots let go of the tries no taken slot holds (the same as gc's
 * slots_trim() without the reserve): one batch, and one grace period, per
 * outer map, only when there are some. Takes the slots lock; @s's BTF
 * open.
 */
int slots_let_go(const struct ocb_shared *s, unsigned int *dropped);
/* Records what the banks of @slot hold (after an apply switched them),
 * under the slots lock. */
void slots_note(const struct ocb_shared *s, __u32 slot);
/* How many slots are taken, and how many wait, with their maps, for the
 * next containers (FREEING or READY). */
void slots_count(const struct ocb_shared *s, unsigned int *taken, unsigned int *pooled);

#endif
