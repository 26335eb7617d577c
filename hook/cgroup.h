/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_CGROUP_H
#define OCB_CGROUP_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* The unified (v2) path of a process: the "0::" line of /proc/PID/cgroup. */
int cg_parse_proc_cgroup(FILE *f, char **path);
/* Mount point and mount root of the first cgroup2 mount in a mountinfo file. */
int cg_parse_mountinfo(FILE *f, char **mount_point, char **mount_root);
/* Whether the mount with this id at this mount point can be used. */
typedef bool (*cg_mount_usable)(int mount_id, const char *mount_point);
/* The first cgroup2 mount that @usable accepts (all if NULL). */
int cg_parse_mountinfo_usable(FILE *f, cg_mount_usable usable, char **mount_point,
			      char **mount_root);

/* Where cgroup resolution reads from: /proc in production, fixtures in tests. */
struct cg_sources {
	const char *proc_cgroup; /* /proc/<pid>/cgroup */
	const char *mountinfo;	 /* /proc/self/mountinfo */
	const char *self_cgroup; /* /proc/self/cgroup */
	bool live_mounts;	 /* skip cgroup2 mounts hidden by later mounts */
};

/*
 * The cgroup v2 directory of a container, refusing the v2 root and the
 * hook's own cgroup or its ancestors. Existence is not checked here.
 */
int cg_resolve_from(const struct cg_sources *src, char **dir);
/* cg_resolve_from() on /proc for @pid, then checks the directory exists. */
int cg_resolve_pid(pid_t pid, char **dir);
/* Mount point of cgroup2 on this host (for the CLI and checks). */
int cg_mount_point(char **mount_point);

#endif
