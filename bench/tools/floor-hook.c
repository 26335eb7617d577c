// SPDX-License-Identifier: GPL-2.0
/*
 * floor-hook: the cheapest possible OCI hook, the floor the real hook is
 * measured against. Like any hook it must drain the state JSON the
 * runtime writes to its stdin (or the runtime may block or get EPIPE);
 * then it exits 0. Arguments (the stage) are ignored.
 */
#include <errno.h>
#include <unistd.h>

int main(void)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? 1 : 0;
	}
}
