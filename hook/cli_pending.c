// SPDX-License-Identifier: GPL-2.0
/* TEMPORARY: commands not written yet fail loudly. Each is removed from
 * this file as its real implementation lands in hook/cli_<verb>.c. */
#include <errno.h>

#include "cli.h"
#include "log.h"

#define PENDING(verb)                                                              \
	int cmd_##verb(const struct cli_ctx *ctx, int argc, char **argv)           \
	{                                                                          \
		(void)ctx;                                                         \
		(void)argc;                                                        \
		(void)argv;                                                        \
		return ocb_err(-ENOSYS, "the '" #verb "' command is not implemented yet"); \
	}

