// SPDX-License-Identifier: GPL-2.0
/* Reading a container's pins: the tree, ids, info, counters and links. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "inspect.h"
#include "log.h"

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct ocb_entry *)a)->id, ((const struct ocb_entry *)b)->id);
}

static bool is_dir_at(int dfd, const char *name)
{
	struct stat st;

	return !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode);
}

static int add_entry(struct ocb_entries *out, size_t *cap, const char *base, const char *name)
{
	struct ocb_entry *e;

	if (out->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		struct ocb_entry *v = realloc(out->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		out->v = v;
		*cap = ncap;
	}
	e = &out->v[out->n];
	/* Names we did not write are someone else's: leave them be. */
	if (pin_name_decode(name, e->id, sizeof(e->id))) {
		ocb_log_warn("ignoring %s/%s: not a container directory name", base, name);
		return 0;
	}
	if (snprintf(e->dir, sizeof(e->dir), "%s/%s", base, name) >= (int)sizeof(e->dir))
		return 0;
	out->n++;
	return 0;
}

int inspect_scan_bpffs(const char *bpffs, struct pin_tree *t, struct ocb_entries *out)
{
	int err = pin_tree_init(t, bpffs);

	return err ? err : inspect_scan(t, out);
}

int inspect_scan(const struct pin_tree *t, struct ocb_entries *out)
{
	struct dirent *de;
	size_t cap = 0;
	int err = 0;
	DIR *d;

	out->v = NULL;
	out->n = 0;
	d = opendir(t->base);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return ocb_err(ocb_errno(), "cannot read %s: %s", t->base, strerror(errno));
	}
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !is_dir_at(dirfd(d), de->d_name))
			continue;
		err = add_entry(out, &cap, t->base, de->d_name);
	}
	closedir(d);
	if (err) {
		inspect_entries_free(out);
		return ocb_err(err, "cannot list %s: %s", t->base, strerror(-err));
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_entry);
	return 0;
}

void inspect_entries_free(struct ocb_entries *e)
{
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

/* "a, b, c" of the ids that start with @prefix, cut short if long. */
static void list_candidates(const struct ocb_entries *e, const char *prefix, char *buf, size_t size)
{
	size_t i, len = strlen(prefix), used = 0;

	buf[0] = '\0';
	for (i = 0; i < e->n; i++) {
		if (strncmp(e->v[i].id, prefix, len))
			continue;
		if (used + strlen(e->v[i].id) + 8 >= size) {
			snprintf(buf + used, size - used, ", ...");
			return;
		}
		used += snprintf(buf + used, size - used, "%s%s", used ? ", " : "", e->v[i].id);
	}
}

int inspect_resolve(const struct ocb_entries *e, const char *prefix, const struct ocb_entry **out)
{
	size_t i, len = strlen(prefix), hits = 0;
	char names[512];

	*out = NULL;
	if (!len)
		return ocb_err(-EINVAL, "empty container id; see 'oci-cgroup-bpf-hook list'");
	for (i = 0; i < e->n; i++) {
		if (!strcmp(e->v[i].id, prefix)) {
			*out = &e->v[i];
			return 0;
		}
		if (!strncmp(e->v[i].id, prefix, len)) {
			*out = &e->v[i];
			hits++;
		}
	}
	if (hits == 1)
		return 0;
	*out = NULL;
	if (!hits)
		return ocb_err(-ENOENT,
			       "no attached container matches '%s'; 'oci-cgroup-bpf-hook list' shows the attached ones",
			       prefix);
	list_candidates(e, prefix, names, sizeof(names));
	return ocb_err(-EINVAL,
		       "container id '%s' is ambiguous: it matches %s; give more of the id", prefix,
		       names);
}

void inspect_tolerate(void)
{
	if (ocb_err_msg()[0])
		ocb_log_warn("%s", ocb_err_msg());
	ocb_err_clear();
}

const char *inspect_liveness_name(enum ocb_liveness l)
{
	return l == OCB_LIVE ? "live" : l == OCB_STALE ? "stale" : "unknown";
}

/* A pinned link's info; ocb_errno() if it is missing or not a link. */
static int read_link_info(const char *path, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return ocb_errno();
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = ocb_errno();
	close(fd);
	return err;
}

/*
 * The kernel clears a link's cgroup only once the cgroup is released,
 * some time after rmdir: in between, the directory the hook recorded is
 * already gone (or is a new cgroup of the same name, another inode).
 */
static bool recorded_cgroup_gone(const char *dir, unsigned long long cgroup_id)
{
	struct ocb_info info;
	struct stat st;

	/* Tolerated: the links decide, and the message must not stand in
	 * for the error a caller reports next ("already attached"). */
	if (inspect_read_info(dir, &info)) {
		ocb_err_clear();
		return false;
	}
	info.cgroup[sizeof(info.cgroup) - 1] = '\0';
	/* A truncated path cannot be checked: trust the links. */
	if (!info.cgroup[0] || strlen(info.cgroup) == sizeof(info.cgroup) - 1)
		return false;
	if (stat(info.cgroup, &st))
		return errno == ENOENT;
	return (unsigned long long)st.st_ino != cgroup_id;
}

/*
 * The kernel clears a cgroup link's cgroup once the cgroup is released,
 * so a zero cgroup id on every link means the container is gone. A
 * directory with no link pins at all attaches nothing either.
 */
enum ocb_liveness inspect_liveness(const char *dir, unsigned long long *cgroup_id)
{
	bool read_one = false, failed = false;
	struct bpf_link_info info;
	char path[PATH_MAX + 16];
	size_t i;
	int err;

	*cgroup_id = 0;
	/* The link pins attach.c creates (the socket links only for some
	 * profiles): liveness is read from them. */
	for (i = 0; i < OCB_N_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ocb_link_pins[i]);
		err = read_link_info(path, &info);
		if (err) {
			failed |= err != -ENOENT;
			continue;
		}
		read_one = true;
		if (info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id) {
			*cgroup_id = info.cgroup.cgroup_id;
			return recorded_cgroup_gone(dir, *cgroup_id) ? OCB_STALE : OCB_LIVE;
		}
	}
	return read_one || !failed ? OCB_STALE : OCB_UNKNOWN;
}

int inspect_open_pin(const char *dir, const char *name, int *fd)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*fd = bpf_obj_get(path);
	if (*fd < 0)
		return ocb_err(ocb_errno(), "cannot open %s: %s", path, strerror(errno));
	return 0;
}

int inspect_open_policy(const char *dir, struct pinned_policy *m)
{
	int err;

	*m = (struct pinned_policy){ -1, -1, -1, -1 };
	err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_ACTIVE], &m->active);
	if (!err)
		err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_CONF], &m->conf);
	if (!err)
		err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_RULES], &m->rules);
	if (!err)
		err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_PORTS], &m->ports);
	return err;
}

void inspect_close_policy(struct pinned_policy *m)
{
	int *fds[] = { &m->active, &m->conf, &m->rules, &m->ports };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int inspect_map_value_size(int fd, size_t *size)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);

	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return ocb_errno();
	*size = mi.value_size;
	return 0;
}

int inspect_lookup(int fd, const void *key, void *val, size_t size)
{
	size_t vsize = 0;
	void *buf;
	int err = inspect_map_value_size(fd, &vsize);

	if (err)
		return err;
	buf = calloc(1, vsize > size ? vsize : size);
	if (!buf)
		return -ENOMEM;
	err = bpf_map_lookup_elem(fd, key, buf) ? ocb_errno() : 0;
	if (!err)
		memcpy(val, buf, size);
	free(buf);
	return err;
}

int inspect_read_info(const char *dir, struct ocb_info *info)
{
	__u32 zero = 0;
	int fd, err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_INFO], &fd);

	if (err)
		return err;
	err = inspect_lookup(fd, &zero, info, sizeof(*info));
	if (err)
		err = ocb_err(err, "cannot read %s/info: %s", dir, strerror(-err));
	close(fd);
	/* The kernel does not promise a terminated string. */
	info->profile[sizeof(info->profile) - 1] = '\0';
	info->cgroup[sizeof(info->cgroup) - 1] = '\0';
	info->bundle[sizeof(info->bundle) - 1] = '\0';
	return err;
}

static void add_traffic(struct ocb_traffic *sum, const struct ocb_traffic *t)
{
	sum->packets_allowed += t->packets_allowed;
	sum->bytes_allowed += t->bytes_allowed;
	sum->packets_denied += t->packets_denied;
	sum->bytes_denied += t->bytes_denied;
}

static void add_stats(struct ocb_stats *sum, const struct ocb_stats *s)
{
	add_traffic(&sum->ingress, &s->ingress);
	add_traffic(&sum->egress, &s->egress);
	sum->connects_allowed += s->connects_allowed;
	sum->connects_denied += s->connects_denied;
	sum->sends_allowed += s->sends_allowed;
	sum->sends_denied += s->sends_denied;
	sum->sockets_denied += s->sockets_denied;
}

int inspect_read_stats(const char *dir, struct ocb_stats *sum)
{
	int ncpus = libbpf_num_possible_cpus(), fd, err, i;
	unsigned char *buf = NULL;
	size_t vsize = 0, stride;
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0)
		return ocb_err(ncpus ? ncpus : -EINVAL, "cannot count the possible CPUs");
	err = inspect_open_pin(dir, ocb_map_pins[OCB_MAP_STATS], &fd);
	if (err)
		return err;
	/* Per-CPU values come one per possible CPU, each 8-byte aligned; a
	 * hook of another version may have pinned a shorter or longer one. */
	err = inspect_map_value_size(fd, &vsize);
	if (!err && !vsize)
		err = -EINVAL;
	stride = (vsize + 7) & ~(size_t)7;
	if (!err) {
		buf = calloc((size_t)ncpus, stride);
		err = buf ? 0 : -ENOMEM;
	}
	if (!err && bpf_map_lookup_elem(fd, &zero, buf))
		err = ocb_errno();
	if (err)
		err = ocb_err(err, "cannot read %s/stats: %s", dir, strerror(-err));
	for (i = 0; !err && i < ncpus; i++) {
		struct ocb_stats s = {};

		memcpy(&s, buf + (size_t)i * stride, vsize < sizeof(s) ? vsize : sizeof(s));
		add_stats(sum, &s);
	}
	free(buf);
	close(fd);
	return err;
}

/* bpffs keeps one kind of object per pin; /proc names it, as bpftool reads it. */
static enum pin_kind fd_kind(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return PIN_OTHER;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:bpf-link"))
		return PIN_LINK;
	if (!strcmp(target, "anon_inode:bpf-map"))
		return PIN_MAP;
	if (!strcmp(target, "anon_inode:bpf-prog"))
		return PIN_PROG;
	return PIN_OTHER;
}

static void describe_link(int fd, struct pin_desc *p)
{
	struct bpf_link_info li = {};
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(li);
	int prog_fd;

	if (bpf_obj_get_info_by_fd(fd, &li, &len)) {
		p->err = ocb_errno();
		return;
	}
	p->id = li.id;
	p->link_type = li.type;
	p->prog_id = li.prog_id;
	if (li.type == BPF_LINK_TYPE_CGROUP) {
		p->cgroup_id = li.cgroup.cgroup_id;
		p->attach_type = li.cgroup.attach_type;
	}
	prog_fd = bpf_prog_get_fd_by_id(li.prog_id);
	if (prog_fd < 0)
		return;
	len = sizeof(pi);
	if (!bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		memcpy(p->prog_name, pi.name, sizeof(p->prog_name) - 1);
	close(prog_fd);
}

static void describe_map(int fd, struct pin_desc *p)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);

	if (bpf_obj_get_info_by_fd(fd, &mi, &len)) {
		p->err = ocb_errno();
		return;
	}
	p->id = mi.id;
	p->map_type = mi.type;
	p->max_entries = mi.max_entries;
	memcpy(p->map_name, mi.name, sizeof(p->map_name) - 1);
}

static void describe_prog(int fd, struct pin_desc *p)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	if (bpf_obj_get_info_by_fd(fd, &pi, &len)) {
		p->err = ocb_errno();
		return;
	}
	p->id = pi.id;
	p->prog_id = pi.id;
	memcpy(p->prog_name, pi.name, sizeof(p->prog_name) - 1);
}

static void describe_pin(const char *dir, struct pin_desc *p)
{
	char path[PATH_MAX + NAME_MAX + 2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, p->name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		p->kind = PIN_OTHER;
		p->err = ocb_errno();
		return;
	}
	p->kind = fd_kind(fd);
	if (p->kind == PIN_LINK)
		describe_link(fd, p);
	else if (p->kind == PIN_MAP)
		describe_map(fd, p);
	else if (p->kind == PIN_PROG)
		describe_prog(fd, p);
	close(fd);
}

static int cmp_pin(const void *a, const void *b)
{
	return strcmp(((const struct pin_desc *)a)->name, ((const struct pin_desc *)b)->name);
}

int inspect_pins(const char *dir, struct pin_desc **pins, size_t *n)
{
	struct pin_desc *v = NULL, *bigger;
	struct dirent *de;
	size_t cap = 0;
	DIR *d = opendir(dir);

	*pins = NULL;
	*n = 0;
	if (!d)
		return ocb_err(ocb_errno(), "cannot read %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			bigger = realloc(v, cap * sizeof(*v));
			if (!bigger) {
				closedir(d);
				free(v);
				return ocb_err(-ENOMEM, "out of memory reading %s", dir);
			}
			v = bigger;
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", de->d_name);
		describe_pin(dir, &v[(*n)++]);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_pin);
	*pins = v;
	return 0;
}
