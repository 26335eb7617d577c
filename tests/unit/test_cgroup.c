// SPDX-License-Identifier: GPL-2.0
/* Unit tests for hook/cgroup.c: finding a container's cgroup v2 directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

#define FIX "tests/fixtures/cgroup/"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static FILE *open_fixture(const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), FIX "%s", name);
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s (run from the repo root): %s", path, strerror(errno));
	return f;
}

/* A stream over a string, for shapes too small to deserve a fixture. */
static FILE *open_string(const char *s)
{
	FILE *f = fmemopen((void *)s, strlen(s), "r");

	assert_non_null(f);
	return f;
}

static void assert_err_msg(const char *want)
{
	const char *msg = ocb_err_msg();

	if (strlen(msg) < 10)
		fail_msg("error message too short: '%s'", msg);
	if (want && !strstr(msg, want))
		fail_msg("error message '%s' does not mention '%s'", msg, want);
}

static int resolve(const char *mountinfo, const char *proc, const char *self, char **dir)
{
	char mi[256], pc[256], sc[256];
	struct cg_sources src = {
		.proc_cgroup = pc,
		.mountinfo = mi,
		.self_cgroup = sc,
	};

	snprintf(mi, sizeof(mi), FIX "%s", mountinfo);
	snprintf(pc, sizeof(pc), FIX "%s", proc);
	snprintf(sc, sizeof(sc), FIX "%s", self);
	ocb_err_clear();
	*dir = (char *)"poison";
	return cg_resolve_from(&src, dir);
}

static void expect_dir(const char *mountinfo, const char *proc, const char *self, const char *want)
{
	char *dir;
	int err = resolve(mountinfo, proc, self, &dir);

	if (err)
		fail_msg("%s + %s (hook %s): got %d (%s), want %s", mountinfo, proc, self, err,
			 ocb_err_msg(), want);
	assert_non_null(dir);
	assert_string_equal(dir, want);
	assert_string_equal(ocb_err_msg(), "");
	free(dir);
}

static void expect_refused(const char *mountinfo, const char *proc, const char *self, int want_err,
			   const char *want_msg)
{
	char *dir;
	int err = resolve(mountinfo, proc, self, &dir);

	if (err != want_err)
		fail_msg("%s + %s (hook %s): got %d (dir %s, message '%s'), want %d", mountinfo,
			 proc, self, err, err ? "-" : dir, ocb_err_msg(), want_err);
	assert_null(dir);
	assert_err_msg(want_msg);
	ocb_err_clear();
}

/* ---- cg_parse_proc_cgroup ---- */

static void test_parse_proc_cgroup_hybrid(void **state)
{
	char *path;
	FILE *f;

	(void)state;
	f = open_fixture("cgroup-hybrid-container");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), 0);
	assert_string_equal(path, "/system.slice/docker-0a1b2c3d4e5f.scope");
	free(path);
	fclose(f);
}

static void test_parse_proc_cgroup_unified(void **state)
{
	char *path;
	FILE *f;

	(void)state;
	f = open_fixture("cgroup-libpod-container");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), 0);
	assert_string_equal(path, "/machine.slice/libpod-abc.scope/container");
	free(path);
	fclose(f);

	f = open_fixture("cgroup-root");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), 0);
	assert_string_equal(path, "/");
	free(path);
	fclose(f);

	/* No final newline. */
	f = open_string("0::/a/b");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), 0);
	assert_string_equal(path, "/a/b");
	free(path);
	fclose(f);

	/* Hierarchies 10 and 9 are not hierarchy 0. */
	f = open_string("10::/wrong\n9::/wrong\n10:pids:/wrong\n0::/right\n");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), 0);
	assert_string_equal(path, "/right");
	free(path);
	fclose(f);
}

static void test_parse_proc_cgroup_no_unified_line(void **state)
{
	char *path = (char *)"poison";
	FILE *f;

	(void)state;
	f = open_fixture("cgroup-legacy");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), -ENOENT);
	assert_null(path);
	fclose(f);

	path = (char *)"poison";
	f = open_string("");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), -ENOENT);
	assert_null(path);
	fclose(f);
}

static void test_parse_proc_cgroup_malformed(void **state)
{
	char *path = (char *)"poison";
	FILE *f;

	(void)state;
	f = open_fixture("cgroup-relative");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), -EINVAL);
	assert_null(path);
	fclose(f);

	path = (char *)"poison";
	f = open_string("0::\n");
	assert_int_equal(cg_parse_proc_cgroup(f, &path), -EINVAL);
	assert_null(path);
	fclose(f);
}

/* ---- cg_parse_mountinfo ---- */

static void expect_mount(const char *fixture, const char *want_mnt, const char *want_root)
{
	char *mnt, *root;
	FILE *f = open_fixture(fixture);
	int err = cg_parse_mountinfo(f, &mnt, &root);

	fclose(f);
	if (err)
		fail_msg("%s: cg_parse_mountinfo() = %d", fixture, err);
	assert_string_equal(mnt, want_mnt);
	assert_string_equal(root, want_root);
	free(mnt);
	free(root);
}

static void test_parse_mountinfo_hybrid(void **state)
{
	(void)state;
	/* Nine v1 "cgroup" mounts come first and must be skipped. */
	expect_mount("mountinfo-hybrid", "/sys/fs/cgroup/unified", "/");
}

static void test_parse_mountinfo_unified(void **state)
{
	(void)state;
	/* Optional fields ("shared:9") sit between options and "-". */
	expect_mount("mountinfo-unified", "/sys/fs/cgroup", "/");
}

static void test_parse_mountinfo_none(void **state)
{
	char *mnt = (char *)"poison", *root = (char *)"poison";
	FILE *f;

	(void)state;
	f = open_fixture("mountinfo-legacy");
	assert_int_equal(cg_parse_mountinfo(f, &mnt, &root), -ENOENT);
	assert_null(mnt);
	assert_null(root);
	fclose(f);

	/* Truncated or garbage lines are skipped, not misread. */
	f = open_string("\n"
			"garbage\n"
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - \n"
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime cgroup2 cgroup2 rw\n"
			"41 31 0:38 /\n"
			"41 31 0:38 / /x rw - cgroup cgroup2 rw\n");
	assert_int_equal(cg_parse_mountinfo(f, &mnt, &root), -ENOENT);
	assert_null(mnt);
	assert_null(root);
	fclose(f);
}

static void test_parse_mountinfo_escaped_space(void **state)
{
	(void)state;
	/* Decoys first: a tmpfs whose source is "cgroup2", a v1 mount below it. */
	expect_mount("mountinfo-escaped", "/run/cgroup v2", "/");
}

static void test_parse_mountinfo_escapes(void **state)
{
	char *mnt, *root;
	FILE *f;

	(void)state;
	/* Tab, newline, backslash; a lone backslash and \8 stay as they are. */
	f = open_string("50 26 0:27 /a\\134b /m\\011n\\012o\\\\p\\8 rw shared:1 master:2 - cgroup2 x rw\n");
	assert_int_equal(cg_parse_mountinfo(f, &mnt, &root), 0);
	assert_string_equal(root, "/a\\b");
	assert_string_equal(mnt, "/m\tn\no\\\\p\\8");
	free(mnt);
	free(root);
	fclose(f);
}

static void test_parse_mountinfo_cgns_root(void **state)
{
	(void)state;
	expect_mount("mountinfo-cgns", "/sys/fs/cgroup", "/kubepods.slice");
}

/* ---- cg_resolve_from ---- */

static void test_resolve_hybrid(void **state)
{
	(void)state;
	expect_dir("mountinfo-hybrid", "cgroup-hybrid-container", "cgroup-hybrid-hook",
		   "/sys/fs/cgroup/unified/system.slice/docker-0a1b2c3d4e5f.scope");
}

static void test_resolve_unified(void **state)
{
	(void)state;
	expect_dir("mountinfo-unified", "cgroup-kube-container", "cgroup-containerd",
		   "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/"
		   "kubepods-besteffort-pod1f2e.slice/cri-containerd-5d4c.scope");
}

static void test_resolve_systemd_slice(void **state)
{
	(void)state;
	/* podman: the hook runs from conmon's scope, next to the container. */
	expect_dir("mountinfo-unified", "cgroup-libpod-container", "cgroup-conmon",
		   "/sys/fs/cgroup/machine.slice/libpod-abc.scope/container");
}

static void test_refuse_container_in_root(void **state)
{
	(void)state;
	expect_refused("mountinfo-unified", "cgroup-root", "cgroup-crio", -EPERM, "root");
	expect_refused("mountinfo-hybrid", "cgroup-root", "cgroup-hybrid-hook", -EPERM, "root");
	/* Even when the hook is in the root too. */
	expect_refused("mountinfo-unified", "cgroup-root", "cgroup-root", -EPERM, "root");
}

static void test_refuse_container_shares_hook_cgroup(void **state)
{
	(void)state;
	/* --cgroups=disabled: the container stays in the hook's cgroup. */
	expect_refused("mountinfo-unified", "cgroup-session", "cgroup-session", -EPERM,
		       "/user.slice/user-1000.slice/session-2.scope");
	expect_refused("mountinfo-hybrid", "cgroup-hybrid-hook", "cgroup-hybrid-hook", -EPERM,
		       "hook's cgroup");
}

static void test_refuse_container_ancestor_of_hook(void **state)
{
	(void)state;
	expect_refused("mountinfo-unified", "cgroup-user-slice", "cgroup-session", -EPERM,
		       "ancestor");
	/* The hook running inside the container's own subtree. */
	expect_refused("mountinfo-unified", "cgroup-libpod-scope", "cgroup-libpod-container",
		       -EPERM, "hook's cgroup");
}

static void test_accept_name_prefix_is_not_ancestor(void **state)
{
	(void)state;
	/* ".../session-2" is a sibling of ".../session-2.scope", in both directions. */
	expect_dir("mountinfo-unified", "cgroup-session-prefix", "cgroup-session",
		   "/sys/fs/cgroup/user.slice/user-1000.slice/session-2");
	expect_dir("mountinfo-unified", "cgroup-session", "cgroup-session-prefix",
		   "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope");
}

static void test_accept_hook_in_root(void **state)
{
	(void)state;
	expect_dir("mountinfo-unified", "cgroup-libpod-container", "cgroup-root",
		   "/sys/fs/cgroup/machine.slice/libpod-abc.scope/container");
	expect_dir("mountinfo-hybrid", "cgroup-hybrid-container", "cgroup-root",
		   "/sys/fs/cgroup/unified/system.slice/docker-0a1b2c3d4e5f.scope");
}

static void test_accept_container_below_hook(void **state)
{
	(void)state;
	/* A child of the hook's cgroup does not police the hook. */
	expect_dir("mountinfo-unified", "cgroup-libpod-container", "cgroup-libpod-scope",
		   "/sys/fs/cgroup/machine.slice/libpod-abc.scope/container");
}

static void test_refuse_no_unified_line(void **state)
{
	(void)state;
	/* cgroup v1-only host: /proc/PID/cgroup has no "0::" line. */
	expect_refused("mountinfo-hybrid", "cgroup-legacy", "cgroup-hybrid-hook", -ENOENT,
		       "container process");
	expect_refused("mountinfo-hybrid", "cgroup-legacy", "cgroup-hybrid-hook", -ENOENT, "\"0::\"");
	expect_refused("mountinfo-hybrid", "cgroup-hybrid-container", "cgroup-legacy", -ENOENT,
		       "hook process");
}

static void test_refuse_no_cgroup2_mount(void **state)
{
	(void)state;
	expect_refused("mountinfo-legacy", "cgroup-legacy", "cgroup-legacy", -ENOENT,
		       "no cgroup2 file system");
	expect_refused("mountinfo-legacy", "cgroup-hybrid-container", "cgroup-hybrid-hook",
		       -ENOENT, "cgroup v2");
}

static void test_resolve_escaped_mount_point(void **state)
{
	(void)state;
	expect_dir("mountinfo-escaped", "cgroup-libpod-container", "cgroup-conmon",
		   "/run/cgroup v2/machine.slice/libpod-abc.scope/container");
}

static void test_resolve_cgns_root_stripped(void **state)
{
	(void)state;
	expect_dir("mountinfo-cgns", "cgroup-kube-container", "cgroup-containerd",
		   "/sys/fs/cgroup/kubepods-besteffort.slice/kubepods-besteffort-pod1f2e.slice/"
		   "cri-containerd-5d4c.scope");
	/* The cgroup at the mount's root is the mount point itself. */
	expect_dir("mountinfo-cgns", "cgroup-kube-root", "cgroup-containerd", "/sys/fs/cgroup");
}

static void test_refuse_cgns_outside_root(void **state)
{
	(void)state;
	expect_refused("mountinfo-cgns", "cgroup-kube-outside", "cgroup-containerd", -EINVAL,
		       "outside");
	/* A name that merely starts with the root's name is outside it too. */
	expect_refused("mountinfo-cgns", "cgroup-kube-prefix", "cgroup-containerd", -EINVAL,
		       "/kubepods.slice");
}

static void test_refuse_dotdot(void **state)
{
	(void)state;
	/* A process outside our cgroup namespace shows up as /../.. */
	expect_refused("mountinfo-unified", "cgroup-dotdot-lead", "cgroup-crio", -EINVAL,
		       "malformed");
	expect_refused("mountinfo-unified", "cgroup-dotdot-mid", "cgroup-crio", -EINVAL,
		       "malformed");
	expect_refused("mountinfo-unified", "cgroup-dotdot-trail", "cgroup-crio", -EINVAL,
		       "malformed");
	/* ".." inside a name is just a name. */
	expect_dir("mountinfo-unified", "cgroup-dots-in-names", "cgroup-crio",
		   "/sys/fs/cgroup/machine.slice/libpod-..abc.scope/..x");
}

static void test_refuse_control_char(void **state)
{
	(void)state;
	expect_refused("mountinfo-unified", "cgroup-control-char", "cgroup-crio", -EINVAL,
		       "malformed");
}

static void test_refuse_relative_path(void **state)
{
	(void)state;
	expect_refused("mountinfo-unified", "cgroup-relative", "cgroup-crio", -EINVAL, "malformed");
}

static void test_refuse_missing_sources(void **state)
{
	(void)state;
	/* The container's process is gone: its /proc entry does not exist. */
	expect_refused("mountinfo-unified", "no-such-process", "cgroup-crio", -ESRCH, "exited");
	expect_refused("no-such-mountinfo", "cgroup-libpod-container", "cgroup-crio", -ENOENT,
		       "cannot read");
}

/* ---- the same code on this machine's /proc ---- */

static void test_live_proc(void **state)
{
	struct statfs sfs;
	char *dir = NULL, *mnt = NULL;
	pid_t pid;
	int err;

	(void)state;
	ocb_err_clear();
	err = cg_mount_point(&mnt);
	if (err == -ENOENT) {
		ocb_err_clear();
		skip();
	}
	assert_int_equal(err, 0);
	assert_int_equal(statfs(mnt, &sfs), 0);
	assert_true(sfs.f_type == CGROUP2_SUPER_MAGIC);
	free(mnt);

	/* Our own process shares our own cgroup (or is in the root). */
	assert_int_equal(cg_resolve_pid(getpid(), &dir), -EPERM);
	assert_null(dir);
	assert_err_msg(NULL);
	ocb_err_clear();

	/* A reaped process. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(cg_resolve_pid(pid, &dir), -ESRCH);
	assert_null(dir);
	assert_err_msg("exited");
	ocb_err_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_proc_cgroup_hybrid),
		cmocka_unit_test(test_parse_proc_cgroup_unified),
		cmocka_unit_test(test_parse_proc_cgroup_no_unified_line),
		cmocka_unit_test(test_parse_proc_cgroup_malformed),
		cmocka_unit_test(test_parse_mountinfo_hybrid),
		cmocka_unit_test(test_parse_mountinfo_unified),
		cmocka_unit_test(test_parse_mountinfo_none),
		cmocka_unit_test(test_parse_mountinfo_escaped_space),
		cmocka_unit_test(test_parse_mountinfo_escapes),
		cmocka_unit_test(test_parse_mountinfo_cgns_root),
		cmocka_unit_test(test_resolve_hybrid),
		cmocka_unit_test(test_resolve_unified),
		cmocka_unit_test(test_resolve_systemd_slice),
		cmocka_unit_test(test_refuse_container_in_root),
		cmocka_unit_test(test_refuse_container_shares_hook_cgroup),
		cmocka_unit_test(test_refuse_container_ancestor_of_hook),
		cmocka_unit_test(test_accept_name_prefix_is_not_ancestor),
		cmocka_unit_test(test_accept_hook_in_root),
		cmocka_unit_test(test_accept_container_below_hook),
		cmocka_unit_test(test_refuse_no_unified_line),
		cmocka_unit_test(test_refuse_no_cgroup2_mount),
		cmocka_unit_test(test_resolve_escaped_mount_point),
		cmocka_unit_test(test_resolve_cgns_root_stripped),
		cmocka_unit_test(test_refuse_cgns_outside_root),
		cmocka_unit_test(test_refuse_dotdot),
		cmocka_unit_test(test_refuse_control_char),
		cmocka_unit_test(test_refuse_relative_path),
		cmocka_unit_test(test_refuse_missing_sources),
		cmocka_unit_test(test_live_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
