/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_PIN_H
#define OCB_PIN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OCB_PIN_SUBDIR "oci-cgroup-bpf-hook"
/* Staging and trash directories live beside the tree, never in it. */
#define OCB_WORK_SUBDIR "oci-cgroup-bpf-hook-work"
/*
 * Maps shared by all containers (the trace ring buffer), pinned by name.
 * The layout version is part of the path: libbpf refuses to reuse a
 * pinned map whose definition changed, so a new layout gets a new
 * directory instead of failing every attach after an upgrade.
 */
#define OCB_EVENTS_SUBDIR "oci-cgroup-bpf-hook-events"
#define OCB_EVENTS_LAYOUT "v1"
#define OCB_LOCK_DIR "/run/oci-cgroup-bpf-hook"

/* The pin tree on one bpffs. */
struct pin_tree {
	char base[PATH_MAX];   /* <bpffs>/oci-cgroup-bpf-hook */
	char work[PATH_MAX];   /* <bpffs>/oci-cgroup-bpf-hook-work */
	char events[PATH_MAX]; /* <bpffs>/oci-cgroup-bpf-hook-events/v1 */
};

/* A per-container lock: attach and detach of one id serialise on it. */
struct pin_lock {
	int fd;
	char path[PATH_MAX];
};

/* Fills @t for @bpffs without touching the file system. */
int pin_tree_init(struct pin_tree *t, const char *bpffs);
/* pin_tree_init(), then mounts bpffs if needed and creates the tree. */
int pin_tree_prepare(struct pin_tree *t, const char *bpffs);

/*
 * bpffs refuses '.' in names, and container ids may hold dots: a
 * container's directory name is its id with '%' and '.' written as
 * "%25" and "%2e". Returns -ENAMETOOLONG if the result does not fit.
 */
int pin_name_encode(const char *id, char *name, size_t size);
int pin_name_decode(const char *name, char *id, size_t size);
/* <base>/<encoded id> */
int pin_container_dir(const struct pin_tree *t, const char *id, char *dir, size_t size);

int pin_lock_id(const char *id, struct pin_lock *lock);
/* The lock for creating the shared maps (names never clash with ids). */
int pin_lock_shared(struct pin_lock *lock);
/* The lock for taking a slot in the shared programs' maps (progs.c). */
int pin_lock_slots(struct pin_lock *lock);
/* Drops the lock; with @forget, also removes its file (the id is gone). */
void pin_unlock_id(struct pin_lock *lock, bool forget);

/* Creates a private staging directory (named after our pid and run). */
int pin_staging_create(const struct pin_tree *t, char *dir, size_t size);
/* A private work directory of another @kind (progs.c: "progs"). */
int pin_work_create(const struct pin_tree *t, const char *kind, char *dir, size_t size);
/* Moves a staging directory into place as @id, in one rename. */
int pin_publish(const struct pin_tree *t, const char *staging, const char *id);
/* Takes @id out of view with one rename, then removes its pins. */
int pin_retire(const struct pin_tree *t, const char *id);
/* Unlinks every pin in @dir, then @dir itself. */
int pin_remove_tree(const char *dir);
bool pin_exists(const struct pin_tree *t, const char *id);
/* True for a work directory whose hook process no longer runs. */
bool pin_work_abandoned(const char *name);
/* Removes the work directories of hook processes that died (a killed
 * attach's staging, a killed detach's trash); returns how many failed. */
int pin_sweep_abandoned(const struct pin_tree *t);
/* Removes the work directories of one run of the hook: process @pid
 * (dead or not: a zombie still passes kill(pid, 0)) with its @token.
 * Returns how many failed; @removed counts the others. */
int pin_sweep_run(const struct pin_tree *t, pid_t pid, const char *token, unsigned int *removed);
/* This process's random token, part of its work directories' names. */
const char *pin_run_token(void);

#endif
