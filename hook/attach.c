// SPDX-License-Identifier: GPL-2.0
/* Loading, attaching and pinning a container's programs; unpinning them. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "cgroup.h"
#include "guard.h"
#include "host.h"
#include "inspect.h"
#include "log.h"
#include "ocb_maps.h"
#include "pin.h"
#include "policy.h"
#include "progs.h"
#include "slots.h"
#include "text.h"

/* The one table of link pins (inspect.c and apply.c read it too). */
const char *const ocb_link_pins[OCB_N_LINKS] = {
	[OCB_LINK_INGRESS] = "ingress",	  [OCB_LINK_EGRESS] = "egress",
	[OCB_LINK_CONNECT4] = "connect4", [OCB_LINK_CONNECT6] = "connect6",
	[OCB_LINK_SENDMSG4] = "sendmsg4", [OCB_LINK_SENDMSG6] = "sendmsg6",
	[OCB_LINK_SOCKOPT] = "sockopt",	  [OCB_LINK_SOCK_RAW] = "sock_raw",
	[OCB_LINK_SOCKETS] = "sockets",
};

const enum bpf_attach_type ocb_link_types[OCB_N_LINKS] = {
	[OCB_LINK_INGRESS] = BPF_CGROUP_INET_INGRESS,
	[OCB_LINK_EGRESS] = BPF_CGROUP_INET_EGRESS,
	[OCB_LINK_CONNECT4] = BPF_CGROUP_INET4_CONNECT,
	[OCB_LINK_CONNECT6] = BPF_CGROUP_INET6_CONNECT,
	[OCB_LINK_SENDMSG4] = BPF_CGROUP_UDP4_SENDMSG,
	[OCB_LINK_SENDMSG6] = BPF_CGROUP_UDP6_SENDMSG,
	[OCB_LINK_SOCKOPT] = BPF_CGROUP_SETSOCKOPT,
	[OCB_LINK_SOCK_RAW] = BPF_CGROUP_INET_SOCK_CREATE,
	[OCB_LINK_SOCKETS] = BPF_LSM_CGROUP,
};
#define N_LINKS OCB_N_LINKS

struct attach_run {
	const struct attach_opts *opts;
	struct ocb_shared shared;
	int maps[OCB_N_MAPS];
	int links[N_LINKS];
	bool want[N_LINKS];
	char *cgroup_dir;
	__u64 cgid;
	__u64 token; /* its attach time: which attach of the cgroup has the slot */
	__u32 slot;  /* taken, and not yet given back on a failure */
	bool published;
	struct pin_tree tree;
	char staging[PATH_MAX];
	int cgroup_fd;
	int pidfd;
	struct pin_lock lock;
	struct guard guard;
};

static int pidfd_open_checked(pid_t pid, int *pidfd)
{
	if (pid <= 0)
		return ocb_err(-EINVAL,
			       "state has no positive \"pid\"; attach needs the container's process id");
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (*pidfd < 0) {
		if (errno == ESRCH)
			return ocb_err(-ESRCH, "process %d does not exist; did the container exit?",
				       (int)pid);
		return ocb_err(ocb_errno(), "cannot open process %d: %s", (int)pid,
			       strerror(errno));
	}
	return 0;
}

/* Resolves the cgroup and opens it, making sure the pid was not reused. */
static int open_container_cgroup(struct attach_run *run)
{
	int err = pidfd_open_checked(run->opts->pid, &run->pidfd);

	if (err)
		return err;
	err = cg_resolve_pid(run->opts->pid, &run->cgroup_dir);
	if (err)
		return err;
	run->cgroup_fd = open(run->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->cgroup_fd < 0)
		return ocb_err(ocb_errno(), "cannot open cgroup %s: %s", run->cgroup_dir,
			       strerror(errno));
	if (syscall(SYS_pidfd_send_signal, run->pidfd, 0, NULL, 0))
		return ocb_err(-ESRCH, "process %d exited while its cgroup was resolved",
			       (int)run->opts->pid);
	return 0;
}

/* Pins left by a container of the same id whose poststop never ran are
 * replaced; pins whose cgroup still exists belong to a live container. */
static int check_existing(struct attach_run *run, bool *stale)
{
	const char *id = run->opts->id;
	unsigned long long cgid = 0;
	char dir[PATH_MAX];
	int err;

	*stale = pin_exists(&run->tree, id);
	if (!*stale)
		return 0;
	err = pin_container_dir(&run->tree, id, dir, sizeof(dir));
	if (err)
		return err;
	if (inspect_liveness(dir, &cgid) == OCB_LIVE)
		return ocb_err(-EEXIST,
			       "container %s is already attached (%s, cgroup id %llu); run poststop for it first, or 'oci-cgroup-bpf-hook gc'",
			       id, dir, cgid);
	ocb_log_info("replacing stale pins of container %s", id);
	return 0;
}

/* The links a profile needs: the socket programs only where it denies
 * those sockets; packet sockets need the lsm_cgroup program. */
static int choose_links(struct attach_run *run)
{
	const struct ocb_policy *policy = run->opts->policy;
	int i;

	for (i = 0; i < N_LINKS; i++)
		run->want[i] = i < OCB_LINK_SOCK_RAW;
	run->want[OCB_LINK_SOCK_RAW] = policy && (policy->sockets & OCB_SOCK_DENY_RAW);
	run->want[OCB_LINK_SOCKETS] = policy && (policy->sockets & OCB_SOCK_DENY_PACKET);
	if (run->want[OCB_LINK_SOCKETS] && run->shared.prog[OCB_LINK_SOCKETS] < 0)
		return ocb_err(host_probe_lsm_cgroup() ?: -EOPNOTSUPP,
			       "the profile denies packet sockets, but this kernel does not load lsm_cgroup programs (BPF LSM) for the hook; remove \"packet\" from the profile's \"sockets\" (\"raw\": \"deny\" works without the LSM), or run 'oci-cgroup-bpf-hook check'");
	for (i = 0; i < N_LINKS; i++)
		if (run->want[i] && run->shared.prog[i] < 0)
			return ocb_err(-EOPNOTSUPP,
				       "this kernel did not load our %s program; run 'oci-cgroup-bpf-hook check'",
				       ocb_link_pins[i]);
	return 0;
}

static int write_info(struct attach_run *run)
{
	struct ocb_info info = {};
	__u32 zero = 0;

	info.attach_time = run->token;
	info.slot = run->slot;
	info.cgroup_id = run->cgid;
	snprintf(info.profile, sizeof(info.profile), "%s",
		 run->opts->profile ? run->opts->profile : "");
	snprintf(info.cgroup, sizeof(info.cgroup), "%s", run->cgroup_dir);
	/* What a detach compares its state with (detach_owns()). */
	snprintf(info.bundle, sizeof(info.bundle), "%s",
		 run->opts->bundle ? run->opts->bundle : "");
	/* Whose shared maps hold the slot (detach finds them by it). */
	snprintf(info.build, sizeof(info.build), "%s", progs_build_id());
	info.flags = run->opts->info_flags;
	if (run->opts->policy)
		memcpy(info.description, run->opts->policy->description, sizeof(info.description));
	text_copy(info.name, sizeof(info.name), run->opts->name);
	if (bpf_map_update_elem(run->maps[OCB_MAP_INFO], &zero, &info, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot write the info map: %s", strerror(errno));
	return 0;
}

/* A pin's path: the staging directory and a short name. */
#define PIN_PATH_MAX (PATH_MAX + 32)

static int pin_fd(const char *dir, const char *name, int fd, const char *what)
{
	char path[PIN_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (bpf_obj_pin(fd, path))
		return ocb_err(ocb_errno(), "cannot pin %s %s: %s", what, path, strerror(errno));
	return 0;
}

static int attach_and_pin(struct attach_run *run)
{
	size_t i;
	int err;

	for (i = 0; i < OCB_N_MAPS; i++) {
		err = pin_fd(run->staging, ocb_map_pins[i], run->maps[i], "map");
		if (err)
			return err;
	}
	for (i = 0; i < N_LINKS; i++) {
		if (!run->want[i])
			continue;
		run->links[i] = bpf_link_create(run->shared.prog[i], run->cgroup_fd,
						ocb_link_types[i], NULL);
		if (run->links[i] < 0) {
			err = ocb_errno();
			return ocb_err(err, "cannot attach %s to cgroup %s: %s", ocb_link_pins[i],
				       run->cgroup_dir, strerror(-err));
		}
		err = pin_fd(run->staging, ocb_link_pins[i], run->links[i], "link");
		if (err)
			return err;
	}
	return 0;
}

int ocb_release_slot(const struct pin_tree *t, const char *dir, bool let_go)
{
	unsigned int dropped = 0;
	struct ocb_shared shared;
	struct ocb_info info;
	int err;

	progs_init(&shared);
	if (inspect_read_info(dir, &info) || !info.slot) {
		ocb_err_clear();
		return 0;
	}
	info.build[sizeof(info.build) - 1] = '\0';
	err = progs_open_maps(t, info.build, &shared);
	/* Its build's directory is gone (removed by hand): no container can
	 * take a slot in those maps any more, and they go with the last of
	 * its links. */
	if (err == -ENOENT) {
		ocb_err_clear();
		ocb_log_info("the programs of build %s are no longer pinned; nothing to free",
			     info.build);
		progs_close(&shared);
		return 0;
	}
	/* Its cgroup first points nowhere: were the slot taken by another
	 * container before the links go, this one would run its policy. */
	if (!err)
		slots_unpoint(&shared, info.cgroup_id);
	if (!err)
		err = slots_release(&shared, info.slot, info.cgroup_id, info.attach_time);
	/* Freeing what no container uses is upkeep: a failure leaves it to
	 * gc, and never keeps this container's pins. */
	if (!err && let_go && (progs_open_btf(&shared) || slots_let_go(&shared, &dropped))) {
		ocb_log_warn("the compiled profiles no container uses are not freed (%s); run gc",
			     ocb_err_msg());
		ocb_err_clear();
	}
	if (dropped)
		ocb_log_info("profile %.*s: no container uses it any more; its compiled rules are freed",
			     (int)sizeof(info.profile), info.profile);
	progs_close(&shared);
	return err;
}

/* Points the container's cgroup at its slot; a failure takes the
 * published pins back: all or nothing. The slot is the published
 * container's first: were this hook killed after pointing the cgroup, its
 * guard must not give back a slot that the cgroup points at. */
static int give_slot(struct attach_run *run)
{
	char dir[PATH_MAX];
	int err;

	slots_published(&run->shared, run->slot);
	err = slots_point(&run->shared, run->opts->policy, run->cgid, run->slot);
	if (!err)
		return 0;
	if (!pin_container_dir(&run->tree, run->opts->id, dir, sizeof(dir))) {
		ocb_release_slot(&run->tree, dir, false);
		pin_retire(&run->tree, run->opts->id);
	}
	return err;
}

/* A slot of the pool, its arrays written for this container. */
static int take_slot(struct attach_run *run)
{
	struct timespec now;
	int err;

	clock_gettime(CLOCK_REALTIME, &now);
	run->token = (__u64)now.tv_sec * 1000000000ull + (__u64)now.tv_nsec;
	err = progs_profile_tries(&run->shared, run->opts->policy, &run->maps[OCB_MAP_RULES],
				  &run->maps[OCB_MAP_PORTS]);
	if (!err)
		err = slots_take(&run->shared, run->cgid, run->token, run->maps, &run->slot);
	if (!err)
		err = policy_write_maps(run->opts->policy,
					&(struct policy_maps){
						.active = run->maps[OCB_MAP_ACTIVE],
						.conf = run->maps[OCB_MAP_CONF],
					});
	if (!err)
		err = write_info(run);
	return err;
}

static void attach_run_cleanup(struct attach_run *run, bool failed)
{
	size_t i;

	/* On failure the staging pins go first, so closing the links
	 * below detaches them from the cgroup. */
	if (failed && run->staging[0])
		pin_remove_tree(run->staging);
	for (i = 0; i < N_LINKS; i++)
		if (run->links[i] >= 0)
			close(run->links[i]);
	for (i = 0; i < OCB_N_MAPS; i++)
		if (run->maps[i] >= 0)
			close(run->maps[i]);
	/* Taken, never published: back to the pool. */
	if (failed && run->slot && !run->published)
		slots_release(&run->shared, run->slot, run->cgid, run->token);
	progs_close(&run->shared);
	/* Done with the work directories: the guard lets go of the lock. */
	guard_release(&run->guard);
	pin_unlock_id(&run->lock, failed && !pin_exists(&run->tree, run->opts->id));
	if (run->cgroup_fd >= 0)
		close(run->cgroup_fd);
	if (run->pidfd >= 0)
		close(run->pidfd);
	free(run->cgroup_dir);
}

/*
 * The programs are the host's (loaded once, progs.c); the container gets
 * a slot from the pool (slots.c), whose maps it pins with its links to
 * the programs. Published first, its cgroup pointed at the slot last:
 * until then its programs pass nothing (the container does not run yet).
 */
static int attach_locked(struct attach_run *run)
{
	char dir[PATH_MAX];
	bool stale = false;
	int err;

	err = check_existing(run, &stale);
	if (!err)
		err = progs_open(&run->tree, &run->shared);
	if (!err)
		err = choose_links(run);
	if (!err)
		err = take_slot(run);
	if (!err)
		err = pin_staging_create(&run->tree, run->staging, sizeof(run->staging));
	if (!err)
		err = attach_and_pin(run);
	if (!err && stale) {
		err = pin_container_dir(&run->tree, run->opts->id, dir, sizeof(dir));
		if (!err)
			err = ocb_release_slot(&run->tree, dir, false);
		if (!err)
			err = pin_retire(&run->tree, run->opts->id);
	}
	if (!err)
		err = pin_publish(&run->tree, run->staging, run->opts->id);
	if (!err) {
		run->staging[0] = '\0';
		run->published = true;
		err = give_slot(run);
	}
	return err;
}

int ocb_attach(const struct attach_opts *opts)
{
	struct attach_run run = { .opts = opts,
				  .cgroup_fd = -1,
				  .pidfd = -1,
				  .lock = { .fd = -1 },
				  .guard = GUARD_INIT };
	struct stat st;
	size_t i;
	int err;

	for (i = 0; i < N_LINKS; i++)
		run.links[i] = -1;
	for (i = 0; i < OCB_N_MAPS; i++)
		run.maps[i] = -1;
	progs_init(&run.shared);
	err = open_container_cgroup(&run);
	/* On cgroup2, a cgroup's inode number is its id. */
	if (!err && fstat(run.cgroup_fd, &st))
		err = ocb_err(ocb_errno(), "cannot stat cgroup %s: %s", run.cgroup_dir,
			      strerror(errno));
	if (!err)
		run.cgid = st.st_ino;
	if (!err)
		err = pin_tree_prepare(&run.tree, opts->bpffs);
	if (!err)
		err = pin_lock_id(opts->id, &run.lock);
	if (!err) {
		guard_start(&run.guard, &run.tree, &run.lock, opts->id);
		err = attach_locked(&run);
	}
	if (!err)
		ocb_log_info("attached container %s (cgroup %s, profile %s)", opts->id,
			     run.cgroup_dir, opts->profile ? opts->profile : "(none)");
	attach_run_cleanup(&run, err != 0);
	return err;
}

enum cg_state { CG_GONE, CG_EMPTY, CG_POPULATED, CG_UNKNOWN };

static const char *const cg_state_names[] = { "gone", "empty", "populated", "unknown" };

/* "populated 0|1" of a cgroup v2 directory's cgroup.events. */
static enum cg_state cgroup_events_state(const char *cgroup)
{
	char path[PATH_MAX + 32], buf[256];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.events", cgroup);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		/* Removed since the stat(): gone. */
		return errno == ENOENT || errno == ENODEV ? CG_GONE : CG_UNKNOWN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return errno == ENODEV ? CG_GONE : CG_UNKNOWN;
	buf[n] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "populated 0\n", 12))
			return CG_EMPTY;
		if (!strncmp(p, "populated 1\n", 12))
			return CG_POPULATED;
	}
	return CG_UNKNOWN;
}

/*
 * The recorded cgroup as a detach finds it: gone (or replaced by a new
 * cgroup of the same name, another inode), empty, or still populated.
 */
static enum cg_state recorded_cgroup_state(const char *dir, const struct ocb_info *info)
{
	unsigned long long cgid;
	struct stat st;

	/* A truncated path cannot be looked at: only the links can tell
	 * that the cgroup is gone (the kernel clears theirs once it is
	 * released). */
	if (!info->cgroup[0] || strlen(info->cgroup) == sizeof(info->cgroup) - 1)
		return inspect_liveness(dir, &cgid) == OCB_STALE ? CG_GONE : CG_UNKNOWN;
	if (stat(info->cgroup, &st))
		return errno == ENOENT ? CG_GONE : CG_UNKNOWN;
	if (info->cgroup_id && (unsigned long long)st.st_ino != info->cgroup_id)
		return CG_GONE;
	return cgroup_events_state(info->cgroup);
}

/*
 * Whether the pins of @id in @dir are the detaching container's. An id
 * is unique only within one runtime's state directory (runc --root, a
 * podman store, CRI-O beside podman): a second container of the same id
 * has its prestart refused as "already attached", but its runtime still
 * runs its poststop. So the pins are ours only if they record our
 * bundle (when both sides have one) and their cgroup is gone or empty:
 * runc, crun, podman and CRI-O remove or empty a container's cgroup
 * before its poststop, while a twin's poststop runs as the owner runs.
 * When not, says why, once.
 */
static bool detach_owns(const char *dir, const char *id, const char *bundle)
{
	char want[sizeof(((struct ocb_info *)0)->bundle)];
	unsigned long long cgid;
	struct ocb_info info;
	enum cg_state cg;

	if (inspect_read_info(dir, &info)) {
		/* Without the record, only links on a released cgroup prove
		 * that no running container owns the pins. */
		ocb_err_clear();
		if (inspect_liveness(dir, &cgid) == OCB_STALE)
			return true;
		ocb_log_warn("container %s: pins left in place: their info map cannot be read and their links are on a live cgroup (id %llu); run 'oci-cgroup-bpf-hook gc' once that container is gone",
			     id, cgid);
		return false;
	}
	info.bundle[sizeof(info.bundle) - 1] = '\0';
	if (bundle && info.bundle[0]) {
		snprintf(want, sizeof(want), "%s", bundle);
		if (strcmp(want, info.bundle)) {
			ocb_log_warn("container %s: pins left in place: they belong to another container of that id (bundle %s, cgroup %s), not to bundle %s",
				     id, info.bundle, info.cgroup, bundle);
			return false;
		}
	}
	cg = recorded_cgroup_state(dir, &info);
	if (cg == CG_GONE || cg == CG_EMPTY)
		return true;
	ocb_log_warn("container %s: pins left in place: their cgroup is %s, so a container of that id still runs (bundle %s, cgroup %s)",
		     id, cg_state_names[cg], info.bundle[0] ? info.bundle : "-", info.cgroup);
	return false;
}

int ocb_detach(const char *bpffs, const char *id, const char *bundle, bool let_go)
{
	struct pin_lock lock = { .fd = -1 };
	struct guard guard = GUARD_INIT;
	bool ours = true;
	struct pin_tree tree;
	char dir[PATH_MAX];
	int err;

	err = pin_tree_init(&tree, bpffs);
	if (!err)
		err = pin_container_dir(&tree, id, dir, sizeof(dir));
	if (!err)
		err = pin_lock_id(id, &lock);
	if (!err) {
		bool had = pin_exists(&tree, id);

		/* Under the lock: an attach or detach of the id cannot
		 * change the pins between this look and pin_retire(). */
		if (had)
			ours = detach_owns(dir, id, bundle);
		/* Killed between its rename and its last unlink, pin_retire()
		 * would leave part of the links attached: guard it. */
		if (had && ours)
			guard_start(&guard, &tree, &lock, id);
		/* The slot first: killed between the two, a second poststop
		 * finds the pins and frees nothing that is not its own. */
		if (ours && had)
			err = ocb_release_slot(&tree, dir, let_go);
		if (ours && !err)
			err = pin_retire(&tree, id);
		if (!err && had && ours)
			ocb_log_info("detached container %s", id);
		/* A prestart killed mid-way (a runtime's hook timeout) leaves
		 * a staging directory whose links keep programs attached. */
		if (!err && pin_sweep_abandoned(&tree))
			ocb_log_info("some work directories of dead hook processes remain; run gc");
	}
	guard_release(&guard);
	/* The owner's pins stay, and with them its lock file. */
	pin_unlock_id(&lock, !err && ours);
	return err;
}
