// SPDX-License-Identifier: GPL-2.0
/*
 * The pin tree: <bpffs>/oci-cgroup-bpf-hook/<id>/ is published whole with
 * one rename of a staging directory, and retired whole with one rename
 * before its pins are removed, so a reader never sees half a container.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "pin.h"

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return ocb_errno();
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return ocb_errno();
	return 0;
}

static int ensure_bpffs(const char *bpffs)
{
	struct statfs sfs;
	int err;

	if (!statfs(bpffs, &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	err = mkdir_p(bpffs, 0700);
	if (err)
		return ocb_err(err, "cannot create bpffs mount point %s: %s", bpffs,
			       strerror(-err));
	if (mount("bpffs", bpffs, "bpf", 0, "mode=0700")) {
		err = ocb_errno();
		return ocb_err(err,
			       "cannot mount bpffs at %s: %s; mount it (mount -t bpf bpffs %s) and retry",
			       bpffs, strerror(-err), bpffs);
	}
	ocb_log_info("mounted bpffs at %s", bpffs);
	return 0;
}

int pin_tree_init(struct pin_tree *t, const char *bpffs)
{
	if (bpffs[0] != '/')
		return ocb_err(-EINVAL, "--bpffs %s is not an absolute path", bpffs);
	if (snprintf(t->base, sizeof(t->base), "%s/" OCB_PIN_SUBDIR, bpffs) >=
		    (int)sizeof(t->base) ||
	    snprintf(t->work, sizeof(t->work), "%s/" OCB_WORK_SUBDIR, bpffs) >=
		    (int)sizeof(t->work) ||
	    snprintf(t->events, sizeof(t->events), "%s/" OCB_EVENTS_SUBDIR "/" OCB_EVENTS_LAYOUT,
		     bpffs) >= (int)sizeof(t->events))
		return ocb_err(-ENAMETOOLONG, "--bpffs %s is too long", bpffs);
	return 0;
}

int pin_tree_prepare(struct pin_tree *t, const char *bpffs)
{
	int err = pin_tree_init(t, bpffs);

	if (!err)
		err = ensure_bpffs(bpffs);
	if (err)
		return err;
	if ((mkdir(t->base, 0700) && errno != EEXIST) ||
	    (mkdir(t->work, 0700) && errno != EEXIST)) {
		err = ocb_errno();
		return ocb_err(err, "cannot create the pin tree under %s: %s", bpffs,
			       strerror(-err));
	}
	err = mkdir_p(t->events, 0700);
	if (err)
		return ocb_err(err, "cannot create %s: %s", t->events, strerror(-err));
	return 0;
}

int pin_name_encode(const char *id, char *name, size_t size)
{
	size_t n = 0;

	if (!size)
		return -ENAMETOOLONG;
	for (; *id; id++) {
		const char *s = *id == '.' ? "%2e" : *id == '%' ? "%25" : NULL;
		size_t len = s ? 3 : 1;

		if (n + len >= size)
			return -ENAMETOOLONG;
		memcpy(name + n, s ? s : id, len);
		n += len;
	}
	name[n] = '\0';
	return n > NAME_MAX ? -ENAMETOOLONG : 0;
}

int pin_name_decode(const char *name, char *id, size_t size)
{
	size_t n = 0;

	if (!size)
		return -ENAMETOOLONG;
	for (; *name; n++) {
		if (n + 1 >= size)
			return -ENAMETOOLONG;
		if (!strncmp(name, "%2e", 3) || !strncmp(name, "%25", 3)) {
			id[n] = name[2] == 'e' ? '.' : '%';
			name += 3;
		} else if (*name == '%') {
			return -EINVAL;
		} else {
			id[n] = *name++;
		}
	}
	id[n] = '\0';
	return 0;
}

int pin_container_dir(const struct pin_tree *t, const char *id, char *dir, size_t size)
{
	char name[NAME_MAX + 1];
	int err = pin_name_encode(id, name, sizeof(name));

	if (err)
		return ocb_err(err,
			       "container id '%s' is too long once its dots are escaped for bpffs; use a shorter id",
			       id);
	if (snprintf(dir, size, "%s/%s", t->base, name) >= (int)size)
		return ocb_err(-ENAMETOOLONG, "pin path for container %s is too long", id);
	return 0;
}

static int lock_file(const char *name, struct pin_lock *lock)
{
	struct stat a, b;
	int err;

	lock->fd = -1;
	err = mkdir_p(OCB_LOCK_DIR, 0700);
	if (err)
		return ocb_err(err, "cannot create %s: %s", OCB_LOCK_DIR, strerror(-err));
	snprintf(lock->path, sizeof(lock->path), OCB_LOCK_DIR "/%s", name);
	/* Detach unlinks the lock file: retry until we hold the live one. */
	for (;;) {
		lock->fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lock->fd < 0) {
			err = ocb_errno();
			return ocb_err(err, "cannot open lock %s: %s", lock->path, strerror(-err));
		}
		if (flock(lock->fd, LOCK_EX)) {
			err = ocb_errno();
			close(lock->fd);
			lock->fd = -1;
			return ocb_err(err, "cannot lock %s: %s", lock->path, strerror(-err));
		}
		if (!fstat(lock->fd, &a) && !stat(lock->path, &b) && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			return 0;
		close(lock->fd);
	}
}

int pin_lock_id(const char *id, struct pin_lock *lock)
{
	/* The id is a valid file name (ocb_id_check) and names its lock. */
	return lock_file(id, lock);
}

int pin_lock_shared(struct pin_lock *lock)
{
	/* Ids never start with '.' (ocb_id_check). */
	return lock_file(".shared", lock);
}

int pin_lock_slots(struct pin_lock *lock)
{
	return lock_file(".slots", lock);
}

void pin_unlock_id(struct pin_lock *lock, bool forget)
{
	if (lock->fd < 0)
		return;
	if (forget)
		unlink(lock->path);
	close(lock->fd);
	lock->fd = -1;
}

const char *pin_run_token(void)
{
	static char token[17];
	unsigned long long r = 0;

	if (!token[0]) {
		/* Without entropy, time still tells runs of one pid apart. */
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
		snprintf(token, sizeof(token), "%016llx", r);
	}
	return token;
}

/*
 * Work directories are named "<kind>-<pid>-<token>-<n>": the pid says
 * whether the owner still runs (gc); the token tells this run from an
 * earlier one of a reused pid, or one in another pid namespace, so that
 * a guard sweeps its own hook's directories and never another's.
 */
static int work_dir_create(const struct pin_tree *t, const char *kind, char *dir, size_t size)
{
	unsigned int n;

	for (n = 0; n < 1000; n++) {
		snprintf(dir, size, "%s/%s-%d-%s-%u", t->work, kind, (int)getpid(), pin_run_token(),
			 n);
		if (!mkdir(dir, 0700))
			return 0;
		if (errno != EEXIST)
			return ocb_err(ocb_errno(), "cannot create %s: %s", dir, strerror(errno));
	}
	return ocb_err(-EEXIST, "cannot create a %s directory under %s", kind, t->work);
}

int pin_staging_create(const struct pin_tree *t, char *dir, size_t size)
{
	return work_dir_create(t, "staging", dir, size);
}

int pin_work_create(const struct pin_tree *t, const char *kind, char *dir, size_t size)
{
	return work_dir_create(t, kind, dir, size);
}

int pin_publish(const struct pin_tree *t, const char *staging, const char *id)
{
	char target[PATH_MAX];
	int err = pin_container_dir(t, id, target, sizeof(target));

	if (err)
		return err;
	if (rename(staging, target))
		return ocb_err(ocb_errno(), "cannot publish pins at %s: %s", target,
			       strerror(errno));
	return 0;
}

int pin_remove_tree(const char *dir)
{
	struct dirent *de;
	int err = 0;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : ocb_errno();
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT && !err)
			err = ocb_errno();
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && !err)
		err = ocb_errno();
	return err;
}

int pin_retire(const struct pin_tree *t, const char *id)
{
	char from[PATH_MAX], to[PATH_MAX];
	int err = pin_container_dir(t, id, from, sizeof(from));

	if (err)
		return err;
	if (!pin_exists(t, id))
		return 0;
	/* The work directory may be missing if the tree predates it. */
	if (mkdir(t->work, 0700) && errno != EEXIST)
		return ocb_err(ocb_errno(), "cannot create %s: %s", t->work, strerror(errno));
	err = work_dir_create(t, "trash", to, sizeof(to));
	if (err)
		return err;
	/* rename() onto an empty directory replaces it. */
	if (rename(from, to)) {
		err = ocb_errno();
		rmdir(to);
		if (err == -ENOENT)
			return 0;
		return ocb_err(err, "cannot remove %s: %s", from, strerror(-err));
	}
	err = pin_remove_tree(to);
	if (err)
		return ocb_err(err, "cannot remove the pins of %s (now in %s): %s", id, to,
			       strerror(-err));
	return 0;
}

bool pin_exists(const struct pin_tree *t, const char *id)
{
	char path[PATH_MAX];
	struct stat st;

	if (pin_container_dir(t, id, path, sizeof(path)))
		return false;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* The pid in a work directory's name "<kind>-<pid>-<n>", or 0. */
static pid_t work_dir_pid(const char *name)
{
	const char *dash = strchr(name, '-');
	long pid;

	if (!dash)
		return 0;
	pid = strtol(dash + 1, NULL, 10);
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

bool pin_work_abandoned(const char *name)
{
	pid_t pid = work_dir_pid(name);

	return pid > 0 && kill(pid, 0) && errno == ESRCH;
}

/* "<kind>-<pid>-<token>-...": does @name belong to that run? */
static bool work_dir_of_run(const char *name, pid_t pid, const char *token)
{
	char prefix[64];
	const char *dash = strchr(name, '-');

	snprintf(prefix, sizeof(prefix), "-%d-%s-", (int)pid, token);
	return dash && !strncmp(dash, prefix, strlen(prefix));
}

/* Removes the work directories of the run (@pid, @token), or without
 * @token those of every dead process; returns how many failed. */
static int sweep_work(const struct pin_tree *t, pid_t pid, const char *token, unsigned int *removed)
{
	char path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	int failed = 0;
	DIR *d = opendir(t->work);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (token ? !work_dir_of_run(de->d_name, pid, token)
			  : !pin_work_abandoned(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->work, de->d_name);
		if (pin_remove_tree(path))
			failed++;
		else if (removed)
			(*removed)++;
	}
	closedir(d);
	return failed;
}

int pin_sweep_abandoned(const struct pin_tree *t)
{
	return sweep_work(t, 0, NULL, NULL);
}

int pin_sweep_run(const struct pin_tree *t, pid_t pid, const char *token, unsigned int *removed)
{
	*removed = 0;
	return sweep_work(t, pid, token, removed);
}
