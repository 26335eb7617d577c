// SPDX-License-Identifier: GPL-2.0
/* Finding a container's cgroup v2 directory from /proc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

int cg_parse_proc_cgroup(FILE *f, char **path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = -ENOENT;

	*path = NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (line[3] != '/') {
			err = -EINVAL;
			break;
		}
		*path = strdup(line + 3);
		err = *path ? 0 : -ENOMEM;
		break;
	}
	free(line);
	return err;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * A mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
 */
static bool parse_mountinfo_line(char *line, int *id, char **root, char **mnt)
{
	char *save = NULL, *tok, *fields[5];
	int i;

	for (i = 0, tok = strtok_r(line, " ", &save); tok && i < 5;
	     tok = strtok_r(NULL, " ", &save))
		fields[i++] = tok;
	if (i < 5)
		return false;
	while (tok && strcmp(tok, "-") != 0)
		tok = strtok_r(NULL, " ", &save);
	if (!tok)
		return false;
	tok = strtok_r(NULL, " ", &save);
	if (!tok || strcmp(tok, "cgroup2") != 0)
		return false;
	*id = atoi(fields[0]);
	*root = fields[3];
	*mnt = fields[4];
	return true;
}

int cg_parse_mountinfo(FILE *f, char **mount_point, char **mount_root)
{
	return cg_parse_mountinfo_usable(f, NULL, mount_point, mount_root);
}

int cg_parse_mountinfo_usable(FILE *f, cg_mount_usable usable, char **mount_point,
			      char **mount_root)
{
	char *line = NULL, *root, *mnt;
	size_t cap = 0;
	ssize_t n;
	int id, err = -ENOENT;

	*mount_point = *mount_root = NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!parse_mountinfo_line(line, &id, &root, &mnt))
			continue;
		unescape_octal(root);
		unescape_octal(mnt);
		if (usable && !usable(id, mnt))
			continue;
		*mount_point = strdup(mnt);
		*mount_root = strdup(root);
		err = *mount_point && *mount_root ? 0 : -ENOMEM;
		if (err) {
			free(*mount_point);
			free(*mount_root);
			*mount_point = *mount_root = NULL;
		}
		break;
	}
	free(line);
	return err;
}

/* True if @a equals @b or is an ancestor of it, as cgroup paths. */
static bool path_is_ancestor_or_self(const char *a, const char *b)
{
	size_t la = strlen(a);

	if (la == 1 && a[0] == '/')
		return true;
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

static bool path_is_safe(const char *p)
{
	const char *s;

	for (s = p; *s; s++)
		if ((unsigned char)*s < 0x20)
			return false;
	for (s = p; (s = strstr(s, "/..")); s += 3)
		if (s[3] == '/' || s[3] == '\0')
			return false;
	return true;
}

static int read_cgroup_file(const char *file, const char *what, char **path)
{
	FILE *f = fopen(file, "re");
	int err;

	if (!f) {
		err = ocb_errno();
		if (err == -ENOENT)
			return ocb_err(-ESRCH, "%s: %s does not exist; has the process exited?",
				       what, file);
		return ocb_err(err, "%s: cannot read %s: %s", what, file, strerror(-err));
	}
	err = cg_parse_proc_cgroup(f, path);
	fclose(f);
	if (err == -ENOENT)
		return ocb_err(-ENOENT,
			       "%s: %s has no cgroup v2 (\"0::\") line; this host needs cgroup v2 (unified or hybrid)",
			       what, file);
	if (err == -EINVAL)
		return ocb_err(-EINVAL, "%s: malformed \"0::\" line in %s", what, file);
	return err;
}

/*
 * A cgroup2 mount can be hidden under a later mount (cgroup2 mounted over
 * a hybrid /sys/fs/cgroup): use one only if its mount point still leads
 * to it.
 */
static bool mount_reachable(int mount_id, const char *mount_point)
{
	struct statx stx;

	if (statx(AT_FDCWD, mount_point, AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx))
		return false;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return true; /* a kernel before 5.8: cannot tell, trust the first */
	return stx.stx_mnt_id == (__u64)mount_id;
}

static int read_mount(const char *file, bool live, char **mnt, char **root)
{
	FILE *f = fopen(file, "re");
	int err;

	if (!f) {
		err = ocb_errno();
		return ocb_err(err, "cannot read %s: %s", file, strerror(-err));
	}
	err = cg_parse_mountinfo_usable(f, live ? mount_reachable : NULL, mnt, root);
	fclose(f);
	if (err == -ENOENT)
		return ocb_err(-ENOENT,
			       "no cgroup2 file system is mounted: cgroup BPF needs cgroup v2; mount it (unified or hybrid mode) and retry");
	return err;
}

static int join_cgroup_dir(const char *mnt, const char *root, const char *cg, char **dir)
{
	const char *rel = cg;
	size_t lr = strlen(root);

	/* In a cgroup namespace the mount root is not "/": strip it. */
	if (strcmp(root, "/") != 0) {
		if (strncmp(cg, root, lr) != 0 || (cg[lr] != '\0' && cg[lr] != '/'))
			return ocb_err(-EINVAL,
				       "cgroup %s lies outside the cgroup2 mount's root %s; run the hook in the host's cgroup namespace",
				       cg, root);
		rel = cg + lr;
	}
	if (asprintf(dir, "%s%s", mnt, rel) < 0)
		return -ENOMEM;
	return 0;
}

int cg_resolve_from(const struct cg_sources *src, char **dir)
{
	char *cg = NULL, *self = NULL, *mnt = NULL, *root = NULL;
	int err;

	*dir = NULL;
	err = read_mount(src->mountinfo, src->live_mounts, &mnt, &root);
	if (err)
		goto out;
	err = read_cgroup_file(src->proc_cgroup, "container process", &cg);
	if (err)
		goto out;
	err = read_cgroup_file(src->self_cgroup, "hook process", &self);
	if (err)
		goto out;
	if (!path_is_safe(cg)) {
		err = ocb_err(-EINVAL, "container cgroup path '%s' is malformed", cg);
		goto out;
	}
	if (strcmp(cg, "/") == 0) {
		err = ocb_err(-EPERM,
			      "the container process is in the cgroup v2 root; attaching there would police the whole host; give the container its own cgroup");
		goto out;
	}
	if (path_is_ancestor_or_self(cg, self)) {
		err = ocb_err(-EPERM,
			      "the container shares the hook's cgroup %s (or an ancestor of it): attaching there would police the runtime; run the container with its own cgroup (not --cgroups=disabled)",
			      cg);
		goto out;
	}
	err = join_cgroup_dir(mnt, root, cg, dir);
out:
	free(cg);
	free(self);
	free(mnt);
	free(root);
	return err;
}

int cg_resolve_pid(pid_t pid, char **dir)
{
	char proc_cgroup[64];
	struct cg_sources src = {
		.proc_cgroup = proc_cgroup,
		.mountinfo = "/proc/self/mountinfo",
		.self_cgroup = "/proc/self/cgroup",
		.live_mounts = true,
	};
	struct stat st;
	int err;

	snprintf(proc_cgroup, sizeof(proc_cgroup), "/proc/%d/cgroup", (int)pid);
	err = cg_resolve_from(&src, dir);
	if (err)
		return err;
	if (stat(*dir, &st) || !S_ISDIR(st.st_mode)) {
		err = ocb_err(-ENOENT, "cgroup directory %s of process %d does not exist", *dir,
			      (int)pid);
		free(*dir);
		*dir = NULL;
	}
	return err;
}

int cg_mount_point(char **mount_point)
{
	char *root = NULL;
	int err = read_mount("/proc/self/mountinfo", true, mount_point, &root);

	free(root);
	return err;
}
