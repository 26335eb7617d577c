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
#include "kfacts.h"
#include "log.h"
#include "ocb.skel.h"
#include "ocb_maps.h"
#include "pin.h"
#include "policy.h"

/* What gets pinned: links by attach point, maps by name. */
typedef struct bpf_program *(*prog_getter)(struct ocb *skel);

#define PROG_GETTER(name)                                        \
	static struct bpf_program *prog_##name(struct ocb *skel) \
	{                                                        \
		return skel->progs.ocb_##name;                   \
	}
PROG_GETTER(ingress)
PROG_GETTER(egress)
PROG_GETTER(connect4)
PROG_GETTER(connect6)
PROG_GETTER(sendmsg4)
PROG_GETTER(sendmsg6)
PROG_GETTER(sockopt)
PROG_GETTER(sock_raw)
PROG_GETTER(sock_create)

/* The one table of link pins (inspect.c and apply.c read it too). */
const char *const ocb_link_pins[OCB_N_LINKS] = {
	[OCB_LINK_INGRESS] = "ingress",	  [OCB_LINK_EGRESS] = "egress",
	[OCB_LINK_CONNECT4] = "connect4", [OCB_LINK_CONNECT6] = "connect6",
	[OCB_LINK_SENDMSG4] = "sendmsg4", [OCB_LINK_SENDMSG6] = "sendmsg6",
	[OCB_LINK_SOCKOPT] = "sockopt",	  [OCB_LINK_SOCK_RAW] = "sock_raw",
	[OCB_LINK_SOCKETS] = "sockets",
};

static const prog_getter link_progs[OCB_N_LINKS] = {
	[OCB_LINK_INGRESS] = prog_ingress,     [OCB_LINK_EGRESS] = prog_egress,
	[OCB_LINK_CONNECT4] = prog_connect4,   [OCB_LINK_CONNECT6] = prog_connect6,
	[OCB_LINK_SENDMSG4] = prog_sendmsg4,   [OCB_LINK_SENDMSG6] = prog_sendmsg6,
	[OCB_LINK_SOCKOPT] = prog_sockopt,     [OCB_LINK_SOCK_RAW] = prog_sock_raw,
	[OCB_LINK_SOCKETS] = prog_sock_create,
};
#define N_LINKS OCB_N_LINKS

struct attach_run {
	const struct attach_opts *opts;
	struct ocb *skel;
	struct bpf_link *links[N_LINKS];
	char *cgroup_dir;
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

static bool shared_maps_pinned(const struct pin_tree *t)
{
	static const char *const names[] = { "events", "trace_ctl", "trace_lost" };
	char path[PATH_MAX + 16];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t->events, names[i]);
		if (stat(path, &st))
			return false;
	}
	return true;
}

/* libbpf reuses the shared maps if pinned, else creates and pins them:
 * the first containers to start serialise on a lock while it does. */
static int load_object(struct attach_run *run)
{
	struct pin_lock shared = { .fd = -1 };
	int err = 0;

	if (!shared_maps_pinned(&run->tree))
		err = pin_lock_shared(&shared);
	if (!err)
		err = ocb__load(run->skel);
	pin_unlock_id(&shared, false);
	return err;
}

static int load_programs(struct attach_run *run)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = run->tree.events);
	const struct ocb_policy *policy = run->opts->policy;
	struct kfacts kf;
	struct stat st;
	int err;

	run->skel = ocb__open_opts(&open_opts);
	if (!run->skel)
		return ocb_err(ocb_errno(), "cannot open the BPF object: %s", strerror(errno));
	/* On cgroup2, a cgroup's inode number is its id. */
	if (!fstat(run->cgroup_fd, &st))
		run->skel->rodata->container_cgid = st.st_ino;
	kfacts_inet_flags(&kf, true);
	run->skel->rodata->inet_flags_off = kf.inet_flags_off;
	run->skel->rodata->spoof_mask = kf.spoof_mask;
	err = policy_size_maps(policy, run->skel->maps.rules, run->skel->maps.ports);
	if (err)
		return ocb_err(err, "cannot size the policy maps: %s", strerror(-err));
	/* Each program costs verification at every container start: the
	 * socket programs load only for profiles that use them. Raw sockets
	 * need no LSM; packet sockets need the lsm_cgroup program. */
	bpf_program__set_autoload(run->skel->progs.ocb_sock_raw,
				  policy && (policy->sockets & OCB_SOCK_DENY_RAW));
	bpf_program__set_autoload(run->skel->progs.ocb_sock_create,
				  policy && (policy->sockets & OCB_SOCK_DENY_PACKET));
	err = load_object(run);
	/* Which program failed, libbpf does not say: the probe does. */
	if (err && policy && (policy->sockets & OCB_SOCK_DENY_PACKET) && host_probe_lsm_cgroup())
		return ocb_err(err,
			       "the profile denies packet sockets, but this kernel does not load lsm_cgroup programs (BPF LSM) for the hook: %s; remove \"packet\" from the profile's \"sockets\" (\"raw\": \"deny\" works without the LSM), or run 'oci-cgroup-bpf-hook check'",
			       strerror(-err));
	if (err)
		return ocb_err(err,
			       "the kernel refused our BPF programs: %s; run 'oci-cgroup-bpf-hook check' to see what this host lacks",
			       strerror(-err));
	return 0;
}

static int write_info(struct attach_run *run)
{
	struct ocb_info info = {};
	struct timespec now;
	struct stat st;
	__u32 zero = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	info.attach_time = (__u64)now.tv_sec * 1000000000ull + (__u64)now.tv_nsec;
	if (!fstat(run->cgroup_fd, &st))
		info.cgroup_id = st.st_ino;
	snprintf(info.profile, sizeof(info.profile), "%s",
		 run->opts->profile ? run->opts->profile : "");
	snprintf(info.cgroup, sizeof(info.cgroup), "%s", run->cgroup_dir);
	/* What a detach compares its state with (detach_owns()). */
	snprintf(info.bundle, sizeof(info.bundle), "%s",
		 run->opts->bundle ? run->opts->bundle : "");
	info.flags = run->opts->info_flags;
	if (bpf_map_update_elem(bpf_map__fd(run->skel->maps.info), &zero, &info, BPF_ANY))
		return ocb_err(ocb_errno(), "cannot write the info map: %s", strerror(errno));
	return 0;
}

/* A pin's path: the staging directory and a short name. */
#define PIN_PATH_MAX (PATH_MAX + 32)

static int pin_map(struct attach_run *run, struct bpf_map *map)
{
	char path[PIN_PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", run->staging, bpf_map__name(map));
	err = bpf_map__pin(map, path);
	if (err)
		return ocb_err(err, "cannot pin map %s: %s", path, strerror(-err));
	return 0;
}

static int attach_and_pin(struct attach_run *run)
{
	struct bpf_map *maps[] = { run->skel->maps.stats, run->skel->maps.active,
				   run->skel->maps.conf,  run->skel->maps.rules,
				   run->skel->maps.ports, run->skel->maps.info };
	char path[PIN_PATH_MAX];
	size_t i;
	int err;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		err = pin_map(run, maps[i]);
		if (err)
			return err;
	}
	for (i = 0; i < N_LINKS; i++) {
		struct bpf_program *prog = link_progs[i](run->skel);

		if (!bpf_program__autoload(prog))
			continue;
		run->links[i] = bpf_program__attach_cgroup(prog, run->cgroup_fd);
		if (!run->links[i]) {
			err = ocb_errno();
			return ocb_err(err, "cannot attach %s to cgroup %s: %s", ocb_link_pins[i],
				       run->cgroup_dir, strerror(-err));
		}
		snprintf(path, sizeof(path), "%s/%s", run->staging, ocb_link_pins[i]);
		err = bpf_link__pin(run->links[i], path);
		if (err)
			return ocb_err(err, "cannot pin link %s: %s", path, strerror(-err));
	}
	return 0;
}

static void attach_run_cleanup(struct attach_run *run, bool failed)
{
	size_t i;

	/* On failure the staging pins go first, so destroying the links
	 * below detaches them from the cgroup. */
	if (failed && run->staging[0])
		pin_remove_tree(run->staging);
	for (i = 0; i < N_LINKS; i++)
		bpf_link__destroy(run->links[i]);
	ocb__destroy(run->skel);
	/* Done with the work directories: the guard lets go of the lock. */
	guard_release(&run->guard);
	pin_unlock_id(&run->lock, failed && !pin_exists(&run->tree, run->opts->id));
	if (run->cgroup_fd >= 0)
		close(run->cgroup_fd);
	if (run->pidfd >= 0)
		close(run->pidfd);
	free(run->cgroup_dir);
}

static int attach_locked(struct attach_run *run)
{
	bool stale = false;
	int err;

	err = check_existing(run, &stale);
	if (!err)
		err = load_programs(run);
	if (!err)
		err = policy_write_maps(run->opts->policy,
					&(struct policy_maps){
						.active = bpf_map__fd(run->skel->maps.active),
						.conf = bpf_map__fd(run->skel->maps.conf),
						.rules = bpf_map__fd(run->skel->maps.rules),
						.ports = bpf_map__fd(run->skel->maps.ports),
					});
	if (!err)
		err = write_info(run);
	if (!err)
		err = pin_staging_create(&run->tree, run->staging, sizeof(run->staging));
	if (!err)
		err = attach_and_pin(run);
	if (!err && stale)
		err = pin_retire(&run->tree, run->opts->id);
	if (!err)
		err = pin_publish(&run->tree, run->staging, run->opts->id);
	return err;
}

int ocb_attach(const struct attach_opts *opts)
{
	struct attach_run run = { .opts = opts,
				  .cgroup_fd = -1,
				  .pidfd = -1,
				  .lock = { .fd = -1 },
				  .guard = GUARD_INIT };
	int err;

	err = open_container_cgroup(&run);
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

int ocb_detach(const char *bpffs, const char *id, const char *bundle)
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
		if (ours)
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
