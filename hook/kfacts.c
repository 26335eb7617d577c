// SPDX-License-Identifier: GPL-2.0
/*
 * Facts about the running kernel that the programs need and cannot find
 * themselves without parsing its BTF at every container start: where
 * struct inet_sock keeps inet_flags, and which bits of it let a socket
 * send from an address that is not its own (IP/IPV6_FREEBIND and
 * _TRANSPARENT). The answer is kept per boot under OCB_LOCK_DIR.
 */
#include <bpf/btf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kfacts.h"
#include "pin.h"

#define FACTS_FILE OCB_LOCK_DIR "/kernel-inet-flags"
#define BOOT_ID "/proc/sys/kernel/random/boot_id"
/* struct inet_sock is a few hundred bytes; anything beyond is not it. */
#define INET_SOCK_MAX 4096

static int read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int read_cache(const char *boot, struct kfacts *f)
{
	char line[128], id[64];
	unsigned long long mask;
	unsigned int off;

	if (read_line(FACTS_FILE, line, sizeof(line)) ||
	    sscanf(line, "%63s %u %llx", id, &off, &mask) != 3 || strcmp(id, boot) ||
	    off >= INET_SOCK_MAX)
		return -ENOENT;
	f->inet_flags_off = off;
	f->spoof_mask = mask;
	return 0;
}

/* Best effort: a cache that cannot be written is parsed again next time. */
static void write_cache(const char *boot, const struct kfacts *f)
{
	char tmp[sizeof(FACTS_FILE) + 16], line[128];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.%d", FACTS_FILE, (int)getpid());
	n = snprintf(line, sizeof(line), "%s %u %llx\n", boot, f->inet_flags_off,
		     (unsigned long long)f->spoof_mask);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n || close(fd) || rename(tmp, FACTS_FILE))
		unlink(tmp);
}

static void enum_bits(const struct btf *btf, const struct btf_type *t, __u64 *mask)
{
	const struct btf_enum *e = btf_enum(t);
	int i;

	for (i = 0; i < btf_vlen(t); i++) {
		const char *name = btf__name_by_offset(btf, e[i].name_off);

		if (e[i].val < 64 && (!strcmp(name, "INET_FLAGS_FREEBIND") ||
				      !strcmp(name, "INET_FLAGS_TRANSPARENT")))
			*mask |= 1ull << e[i].val;
	}
}

static int member_offset(const struct btf *btf, const struct btf_type *t, const char *member)
{
	const struct btf_member *m = btf_members(t);
	int i;

	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, m[i].name_off), member))
			return (int)(btf_member_bit_offset(t, i) / 8);
	return -1;
}

static void from_btf(struct kfacts *f)
{
	struct btf *btf = btf__load_vmlinux_btf();
	__u32 i, n;
	int off = -1;
	__u64 mask = 0;

	if (!btf)
		return;
	n = btf__type_cnt(btf);
	for (i = 1; i < n; i++) {
		const struct btf_type *t = btf__type_by_id(btf, i);

		if (btf_is_enum(t))
			enum_bits(btf, t, &mask);
		else if (btf_is_struct(t) &&
			 !strcmp(btf__name_by_offset(btf, t->name_off), "inet_sock"))
			off = member_offset(btf, t, "inet_flags");
	}
	btf__free(btf);
	/* Both bits, at a sane place, or nothing. */
	if (off < 0 || off >= INET_SOCK_MAX || __builtin_popcountll(mask) != 2)
		return;
	f->inet_flags_off = (__u32)off;
	f->spoof_mask = mask;
}

void kfacts_inet_flags(struct kfacts *f, bool cache)
{
	char boot[64];

	memset(f, 0, sizeof(*f));
	if (read_line(BOOT_ID, boot, sizeof(boot)))
		boot[0] = '\0';
	if (boot[0] && !read_cache(boot, f))
		return;
	from_btf(f);
	if (boot[0] && cache)
		write_cache(boot, f);
}
