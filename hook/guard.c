// SPDX-License-Identifier: GPL-2.0
/*
 * The guard: a child that outlives a hook killed half-way.
 *
 * The kernel attaches a container's programs one link at a time, and a
 * link stays attached for as long as a pin holds it. A hook killed after
 * it pinned some links in its staging directory (SIGKILL from a runtime's
 * hook timeout, the OOM killer, a crash) would leave the cgroup with part
 * of the set until someone swept the directory. So before its first work
 * directory the hook forks a guard that blocks reading a socket. The hook
 * sends one byte when it is done, and the guard exits. If the socket
 * closes without that byte, the hook died: the guard removes the work
 * directories of the hook's run (its pid and random token, see pin.c), so
 * the kernel detaches the links they held, and the cgroup is back to none
 * of our programs (or, if the hook died after publishing, keeps the
 * complete published set).
 *
 * The guard shares the hook's lock on the container id (flock belongs to
 * the open file, which fork shares): the runtime's poststop, or a new
 * attach of the id, waits until the guard has cleaned up. Only if the
 * hook and its guard die together does a staging directory outlive
 * them; poststop and gc remove those. A guard that is stopped (SIGSTOP,
 * a frozen cgroup) holds the id's lock, as a stopped hook would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"
#include "slots.h"

#define GUARD_DONE 'd'

/* Out of the runtime's way: its own session (a signal to the hook's
 * process group spares it) and no hold on the runtime's stdio pipes. */
static void guard_detach(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	prctl(PR_SET_NAME, "ocb-guard", 0, 0, 0);
	setsid();
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

static bool hook_done(int fd)
{
	ssize_t n;
	char c;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 && c == GUARD_DONE;
}

static __attribute__((noreturn)) void guard_run(int fd, pid_t hook, const char *token,
						const struct pin_tree *t, struct pin_lock *lock,
						const char *id)
{
	unsigned int removed, slots = 0;
	int failed;

	guard_detach();
	if (hook_done(fd))
		_exit(0);
	failed = pin_sweep_run(t, hook, token, &removed);
	/* A slot it took and never published goes back to the pool. */
	if (slots_release_abandoned(t, hook, &slots)) {
		ocb_log_warn("the hook for container %s (pid %d) died; the slot it took could not be given back: run gc",
			     id, (int)hook);
		ocb_err_clear();
	} else if (slots) {
		ocb_log_info("the hook for container %s (pid %d) died; gave back the slot it took",
			     id, (int)hook);
	}
	if (failed)
		ocb_log_warn("the hook for container %s (pid %d) died; %d of its work directories under %s could not be removed: run gc",
			     id, (int)hook, failed, t->work);
	else if (removed)
		ocb_log_info("the hook for container %s (pid %d) died; removed %u work director%s and the links pinned there",
			     id, (int)hook, removed, removed == 1 ? "y" : "ies");
	else
		ocb_log_info("the hook for container %s (pid %d) died; it had nothing to undo", id,
			     (int)hook);
	pin_unlock_id(lock, !pin_exists(t, id));
	/* _exit: nothing of the hook's state is flushed or freed twice. */
	_exit(failed ? 1 : 0);
}

/*
 * Best effort: a host out of processes (pids.max, RLIMIT_NPROC) still
 * gets its containers attached and detached, unguarded, as before the
 * guard existed; a crash then leaves a work directory for poststop or gc.
 */
void guard_start(struct guard *g, const struct pin_tree *t, struct pin_lock *lock, const char *id)
{
	const char *token = pin_run_token();
	pid_t hook = getpid();
	int sv[2];

	g->pid = -1;
	g->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ocb_log_warn("container %s: cannot create the guard's socket (%s); going on unguarded",
			     id, strerror(errno));
		return;
	}
	g->pid = fork();
	if (g->pid < 0) {
		ocb_log_warn("container %s: cannot fork the guard process (%s); going on unguarded",
			     id, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (g->pid == 0) {
		close(sv[0]);
		guard_run(sv[1], hook, token, t, lock, id);
	}
	close(sv[1]);
	g->fd = sv[0];
}

void guard_release(struct guard *g)
{
	if (g->pid <= 0)
		return;
	/* MSG_NOSIGNAL: a guard that was killed must not take us along. */
	send(g->fd, &(char){ GUARD_DONE }, 1, MSG_NOSIGNAL);
	close(g->fd);
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
	g->pid = -1;
	g->fd = -1;
}
