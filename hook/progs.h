/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_PROGS_H
#define OCB_PROGS_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>

#include "attach.h"

struct pin_tree;
struct ocb_policy;

/*
 * The programs, loaded and verified once per host and build of the BPF
 * object, pinned under <bpffs>/oci-cgroup-bpf-hook-progs/<build id>/ with
 * the maps they share: `cgslot` (each attached cgroup's slot), the outer
 * maps c_<name> through which a slot reaches a container's maps, and
 * `meta` (the BTF the hook gives those maps). A container's prestart
 * attaches links to them and never loads a program.
 */
#define OCB_PROGS_SUBDIR "oci-cgroup-bpf-hook-progs"

struct ocb_meta {
	__u32 btf_id; /* the object's BTF in the kernel */
	__u32 key_type[OCB_N_MAPS];
	__u32 value_type[OCB_N_MAPS];
};

struct ocb_shared {
	char dir[PATH_MAX];
	int prog[OCB_N_LINKS]; /* -1: this kernel did not load it */
	int outer[OCB_N_MAPS];
	int cgslot;
	int profiles; /* compiled profiles by content: their tries' ids */
	int btf;
	struct ocb_meta meta;
};

/* Every fd -1: progs_close() then closes nothing. */
void progs_init(struct ocb_shared *s);

/* This hook's build of the BPF object (a hash of it). */
const char *progs_build_id(void);
/* <bpffs>/oci-cgroup-bpf-hook-progs/<build> */
int progs_dir(const struct pin_tree *t, const char *build, char *dir, size_t size);
/*
 * Opens this build's shared programs and maps; the first caller of a
 * boot loads and pins them (under the shared lock: exactly one wins).
 */
int progs_open(const struct pin_tree *t, struct ocb_shared *s);
/* Opens the maps (not the programs) of the version @build, for detach. */
int progs_open_maps(const struct pin_tree *t, const char *build, struct ocb_shared *s);
/* And its BTF, to create maps (apply). */
int progs_open_btf(struct ocb_shared *s);
void progs_close(struct ocb_shared *s);

/* The tries of @p: those of another container with the same compiled
 * profile if there is one, else new ones, filled and frozen. */
int progs_profile_tries(const struct ocb_shared *s, const struct ocb_policy *p, int *rules,
			int *ports);
/* Creates a container's maps (BTF from the shared object) and finds or
 * makes its profile's tries (progs_profile_tries()); fds[] by enum
 * ocb_map. */
int progs_create_maps(const struct ocb_shared *s, const struct ocb_policy *p, int fds[OCB_N_MAPS]);

/*
 * Gives the container whose maps are @fds a free slot: its info map
 * claims it (c_info[slot], under a lock), the others follow, and the
 * slot is recorded in its info map. Returns it in @slot.
 */
int progs_slot_claim(const struct ocb_shared *s, __u64 cgid, const int fds[OCB_N_MAPS],
		     __u32 *slot);
/* Points @cgid's attachment at @slot (after its links are attached). */
int progs_slot_point(const struct ocb_shared *s, __u64 cgid, __u32 slot);
/* Points @cgid's attachment at no slot (its programs pass nothing). */
void progs_slot_unpoint(const struct ocb_shared *s, __u64 cgid);
/* Empties @slot if its info entry is still the map @info_fd. */
int progs_slot_release(const struct ocb_shared *s, __u32 slot, int info_fd);

/* Forgets the compiled profiles whose tries are gone (their last
 * container stopped). */
int progs_sweep_registry(const struct ocb_shared *s, unsigned int *pruned);
/* The map id of @fd, 0 if it cannot be read. */
__u32 progs_map_id(int fd);
/* Whether any link (any cgroup's) runs one of the programs in @dir. */
bool progs_version_in_use(const char *dir);
/* Empties the slots whose info map is none of @live (map ids): left by
 * a container whose pins went without its detach. Call it under
 * pin_lock_slots(), with @live read under that lock. */
int progs_sweep_slots(const struct ocb_shared *s, const __u32 *live, size_t n_live, bool dry,
		      unsigned int *freed);

#endif
