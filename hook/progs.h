/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_PROGS_H
#define OCB_PROGS_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>

#include "attach.h"

struct pin_tree;
struct ocb_policy;
struct ocb_slot_rec;

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
	int slots; /* the slots' records (slots.c), mapped at @rec */
	struct ocb_slot_rec *rec;
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
/* Creates a map like a container's map @m (its BTF from the object). */
int progs_create_map(const struct ocb_shared *s, enum ocb_map m, int *fd);
/*
 * check: loads the object (not pinned) and attaches each program it
 * loaded to @cgroup_fd, then lets go of all of it; @done lists those
 * attached. 0, or the first refusal's negative errno (its message set).
 */
int progs_try_attach(const struct pin_tree *t, int cgroup_fd, char *done, size_t size);
/* An empty stand-in for a slot's map @m, what a free slot's entries
 * point at once it let go of their maps: for the rules and ports, a trie
 * of one entry, which no profile's tries are (policy.c makes those of
 * 1024 or more). */
int progs_create_standin(const struct ocb_shared *s, enum ocb_map m, int *fd);
/* The id of the tries at @key of outer map @outer, 0 for none or a
 * stand-in. */
__u32 progs_tries_at(int outer, __u32 key);
/* Creates a container's maps (BTF from the shared object) and finds or
 * makes its profile's tries (progs_profile_tries()); fds[] by enum
 * ocb_map. */
int progs_create_maps(const struct ocb_shared *s, const struct ocb_policy *p, int fds[OCB_N_MAPS]);

/* Forgets the compiled profiles whose tries are gone (their last
 * container stopped). */
int progs_sweep_registry(const struct ocb_shared *s, unsigned int *pruned);
/* The map id of @fd, 0 if it cannot be read. */
__u32 progs_map_id(int fd);
/* Whether any link (any cgroup's) runs one of the programs in @dir. */
bool progs_version_in_use(const char *dir);

#endif
