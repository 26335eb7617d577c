/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_CLI_H
#define OCB_CLI_H

#include <stdbool.h>
#include <stdio.h>

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
/* What cli_parse() returns once it has printed --help: the verb exits 0. */
#define CLI_HELP_SHOWN 1

/* A boolean option of a command, besides --json/-j and --help/-h. */
struct cli_flag {
	const char *name; /* long name, e.g. "dry-run" */
	char short_name;  /* 0 for none */
	bool *value;	  /* set to true when given */
};

struct cli_spec {
	const char *verb;
	void (*usage)(FILE *out);
	const struct cli_flag *flags; /* ends with a NULL name; may be NULL */
	int min_args, max_args;	      /* operands; max_args -1: any number */
	const char *args_hint;	      /* said when the operand count is wrong */
};

/*
 * Parses a command's options. *json starts from the global --json;
 * *first is the index of the first operand. Returns 0, CLI_HELP_SHOWN or
 * CLI_USAGE (after printing what was wrong).
 */
/* After getopt_long() returned '?' with opterr 0: the option it refused,
 * as written. */
const char *cli_bad_option(char **argv);
int cli_parse(const struct cli_ctx *ctx, const struct cli_spec *spec, int argc, char **argv,
	      bool *json, int *first);

int cmd_apply(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_trace(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_stats(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_list(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_show(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_gc(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_check(const struct cli_ctx *ctx, int argc, char **argv);

#endif
