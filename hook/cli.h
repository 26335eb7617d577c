/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_CLI_H
#define OCB_CLI_H

#include <stdbool.h>

/* What every command gets from the global options. */
struct cli_ctx {
	const char *bpffs;
	const char *config_dir;
	bool json;
};

/*
 * Each verb parses its own arguments (argv[0] is the verb) and returns 0,
 * a negative errno with the message recorded by ocb_err(), or
 * CLI_USAGE for a usage error it has already printed.
 */
#define CLI_USAGE 2

int cmd_apply(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_trace(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_stats(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_list(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_show(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_gc(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_check(const struct cli_ctx *ctx, int argc, char **argv);

#endif
