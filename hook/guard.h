/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_GUARD_H
#define OCB_GUARD_H

#include <sys/types.h>

#include "pin.h"

/*
 * A child process that cleans up after a hook killed half-way: see
 * guard.c. Start it after taking the container's lock and before the
 * first work directory; release it once the work directories are gone
 * (published, retired or removed).
 */
struct guard {
	pid_t pid;
	int fd;
};

#define GUARD_INIT                  \
	{                           \
		.pid = -1, .fd = -1 \
	}

/* Forks the guard of @id's work under @t; it inherits @lock. If it
 * cannot, warns and leaves @g unguarded (guard_release() then does
 * nothing). */
void guard_start(struct guard *g, const struct pin_tree *t, struct pin_lock *lock, const char *id);
/* Tells the guard that the hook is done, and reaps it. */
void guard_release(struct guard *g);

#endif
