// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for hook/guard.c, with real processes: a forked "hook" takes
 * an id's lock, starts its guard, stages a pin-like file and then dies,
 * publishes, or loses its guard. The test process is a child subreaper,
 * so it reaps the guards that outlive their hook and sees how they exit.
 * A temporary directory stands in for bpffs (the guard only renames and
 * unlinks); the lock is a real one under /run/oci-cgroup-bpf-hook (root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"
#include "pin.h"

enum hook_end {
	HOOK_DIES,		 /* SIGKILL with a staged pin */
	HOOK_DIES_AFTER_PUBLISH, /* SIGKILL once published, before the done byte */
	HOOK_PUBLISHES,		 /* the normal end */
	HOOK_LOSES_GUARD,	 /* the guard is killed; the hook goes on */
};

struct fixture {
	char root[32];
	char id[64];
	char lock[PATH_MAX];
	struct pin_tree tree;
};

static int setup(void **state)
{
	static struct fixture fx;

	if (geteuid())
		return -1; /* cmocka reports the group setup as failed */
	snprintf(fx.root, sizeof(fx.root), "/tmp/ocb-test-guard-XXXXXX");
	if (!mkdtemp(fx.root) || pin_tree_init(&fx.tree, fx.root) || mkdir(fx.tree.base, 0700) ||
	    mkdir(fx.tree.work, 0700))
		return -1;
	snprintf(fx.id, sizeof(fx.id), "ocb-unit-guard-%d", (int)getpid());
	snprintf(fx.lock, sizeof(fx.lock), OCB_LOCK_DIR "/%s", fx.id);
	/* Orphaned guards come to us, and we see their exit status. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char dir[PATH_MAX];

	if (!pin_container_dir(&fx->tree, fx->id, dir, sizeof(dir)))
		pin_remove_tree(dir);
	rmdir(fx->tree.work);
	rmdir(fx->tree.base);
	rmdir(fx->root);
	unlink(fx->lock);
	return 0;
}

static __attribute__((noreturn)) void hook(struct fixture *fx, enum hook_end end)
{
	struct pin_lock lock = { .fd = -1 };
	struct guard g = GUARD_INIT;
	char dir[PATH_MAX], pin[PATH_MAX + 16];
	int fd;

	if (pin_lock_id(fx->id, &lock))
		_exit(10);
	guard_start(&g, &fx->tree, &lock, fx->id);
	if (g.pid <= 0)
		_exit(11);
	if (pin_staging_create(&fx->tree, dir, sizeof(dir)))
		_exit(12);
	snprintf(pin, sizeof(pin), "%s/ingress", dir);
	fd = open(pin, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		_exit(13);
	close(fd);
	switch (end) {
	case HOOK_DIES:
		raise(SIGKILL);
		break;
	case HOOK_DIES_AFTER_PUBLISH:
		if (pin_publish(&fx->tree, dir, fx->id))
			_exit(14);
		raise(SIGKILL);
		break;
	case HOOK_PUBLISHES:
		if (pin_publish(&fx->tree, dir, fx->id))
			_exit(14);
		break;
	case HOOK_LOSES_GUARD:
		kill(g.pid, SIGKILL);
		pin_remove_tree(dir);
		break;
	}
	/* A dead guard must not take the hook along (no SIGPIPE). */
	guard_release(&g);
	pin_unlock_id(&lock, end == HOOK_LOSES_GUARD);
	_exit(0);
}

/* Runs a hook to @end; returns its wait status. */
static int run_hook(struct fixture *fx, enum hook_end end)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid)
		hook(fx, end);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* The orphaned guard: waits for it, returns its wait status. */
static int reap_guard(void)
{
	int status;

	assert_true(waitpid(-1, &status, 0) > 0);
	return status;
}

static int work_entries(const struct fixture *fx)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(fx->tree.work);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool published(const struct fixture *fx)
{
	char dir[PATH_MAX], pin[PATH_MAX + 16];
	struct stat st;

	assert_int_equal(pin_container_dir(&fx->tree, fx->id, dir, sizeof(dir)), 0);
	snprintf(pin, sizeof(pin), "%s/ingress", dir);
	return !stat(pin, &st);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* Checks that @fx's id is published, then removes its pins and lock. */
static void remove_published(const struct fixture *fx)
{
	char dir[PATH_MAX];

	assert_true(published(fx));
	assert_int_equal(pin_container_dir(&fx->tree, fx->id, dir, sizeof(dir)), 0);
	assert_int_equal(pin_remove_tree(dir), 0);
	unlink(fx->lock);
}

/* Killed with a staged pin: the guard removes it and the lock file. */
static void test_hook_dies(void **state)
{
	struct fixture *fx = *state;
	int status = run_hook(fx, HOOK_DIES);

	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	status = reap_guard();
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(work_entries(fx), 0);
	assert_false(published(fx));
	assert_false(exists(fx->lock));
}

/* Killed after publishing: the guard keeps the published pins. */
static void test_hook_dies_after_publish(void **state)
{
	struct fixture *fx = *state;
	int status = run_hook(fx, HOOK_DIES_AFTER_PUBLISH);

	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	status = reap_guard();
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(work_entries(fx), 0);
	assert_true(exists(fx->lock));
	remove_published(fx);
}

/* The normal end: the hook reaps its guard, which touched nothing. */
static void test_hook_publishes(void **state)
{
	struct fixture *fx = *state;
	int status = run_hook(fx, HOOK_PUBLISHES);

	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1); /* no child left */
	assert_int_equal(errno, ECHILD);
	assert_int_equal(work_entries(fx), 0);
	remove_published(fx);
}

/* A guard killed on its own: the hook does not notice, and ends well. */
static void test_guard_killed(void **state)
{
	struct fixture *fx = *state;
	int status = run_hook(fx, HOOK_LOSES_GUARD);

	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(work_entries(fx), 0);
	assert_false(exists(fx->lock));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_dies),
		cmocka_unit_test(test_hook_dies_after_publish),
		cmocka_unit_test(test_hook_publishes),
		cmocka_unit_test(test_guard_killed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
