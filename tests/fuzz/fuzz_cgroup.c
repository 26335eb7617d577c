// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/cgroup and /proc/self/mountinfo: the parsers on their own
 * (through fmemopen), and the whole resolution from three files. The
 * input is split at NUL bytes: mountinfo, the container's cgroup file,
 * the hook's own.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cgroup.h"
#include "fuzz.h"
#include "log.h"

static void parse_alone(const uint8_t *data, size_t size)
{
	char *path = NULL, *mnt = NULL, *root = NULL;
	FILE *f;

	f = size ? fmemopen((void *)data, size, "r") : NULL;
	if (f) {
		if (!cg_parse_proc_cgroup(f, &path))
			FUZZ_ASSERT(path && path[0] == '/');
		free(path);
		fclose(f);
	}
	f = size ? fmemopen((void *)data, size, "r") : NULL;
	if (f) {
		if (!cg_parse_mountinfo(f, &mnt, &root))
			FUZZ_ASSERT(mnt && root);
		free(mnt);
		free(root);
		fclose(f);
	}
}

/* A memfd holding @len bytes, named by its /proc/self/fd path. */
static int memfile(const char *buf, size_t len, char *path, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (len && write(fd, buf, len) != (ssize_t)len)
		abort();
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return fd;
}

/* mountinfo is the kernel's (a mount point may be anything); what the
 * container's cgroup file adds below it must not lead up the tree. */
static void check_dir(const char *mountinfo, size_t len, const char *dir)
{
	char *mnt = NULL, *root = NULL;
	const char *rest;
	size_t n;
	FILE *f = len ? fmemopen((void *)mountinfo, len, "r") : NULL;

	FUZZ_ASSERT(f && !cg_parse_mountinfo(f, &mnt, &root));
	fclose(f);
	n = strlen(mnt);
	FUZZ_ASSERT(!strncmp(dir, mnt, n));
	rest = dir + n;
	/* Never the v2 root itself (the mount's root may be a cgroup below
	 * it, in a cgroup namespace), never a ".." component. */
	if (!strcmp(root, "/"))
		FUZZ_ASSERT(rest[0] == '/' && rest[1]);
	else
		FUZZ_ASSERT(!rest[0] || rest[0] == '/');
	FUZZ_ASSERT(!strstr(rest, "/../"));
	FUZZ_ASSERT(strlen(rest) < 3 || strcmp(rest + strlen(rest) - 3, "/.."));
	free(mnt);
	free(root);
}

static void resolve(const uint8_t *data, size_t size)
{
	const char *part[3] = { "", "", "" };
	size_t len[3] = { 0, 0, 0 }, i, start = 0, n = 0;
	char paths[3][64], *dir = NULL;
	struct cg_sources src;
	int fds[3];

	for (i = 0; i <= size && n < 3; i++) {
		if (i == size || data[i] == '\0') {
			part[n] = (const char *)data + start;
			len[n++] = i - start;
			start = i + 1;
		}
	}
	for (i = 0; i < 3; i++)
		fds[i] = memfile(part[i], len[i], paths[i], sizeof(paths[i]));
	src = (struct cg_sources){ .mountinfo = paths[0], .proc_cgroup = paths[1],
				   .self_cgroup = paths[2] };
	if (!cg_resolve_from(&src, &dir))
		check_dir(part[0], len[0], dir);
	free(dir);
	for (i = 0; i < 3; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_alone(data, size);
	resolve(data, size);
	ocb_err_clear();
	return 0;
}
