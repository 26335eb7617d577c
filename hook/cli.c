// SPDX-License-Identifier: GPL-2.0
/* Option parsing shared by every command. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#define MAX_FLAGS 8

static int usage_error(const struct cli_spec *spec, const char *what)
{
	fprintf(stderr, OCB_NAME " %s: %s; see '%s --help'\n", spec->verb, what, spec->verb);
	return CLI_USAGE;
}

/* After getopt_long() returned '?' (opterr 0): the option it refused. */
const char *cli_bad_option(char **argv)
{
	static char short_opt[3] = "-?";

	if (optopt) {
		short_opt[1] = (char)optopt;
		return short_opt;
	}
	return argv[optind - 1];
}

static int check_operands(const struct cli_spec *spec, int n)
{
	if (n < spec->min_args || (spec->max_args >= 0 && n > spec->max_args)) {
		if (spec->max_args == 0)
			return usage_error(spec, "takes no arguments");
		return usage_error(spec, spec->args_hint);
	}
	return 0;
}

int cli_parse(const struct cli_ctx *ctx, const struct cli_spec *spec, int argc, char **argv,
	      bool *json, int *first)
{
	struct option opts[MAX_FLAGS + 3] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
	};
	/* Options anywhere among the operands, as --help shows them. */
	char shorts[2 * MAX_FLAGS + 8] = "jh";
	size_t i, n = 0;
	int c;

	for (i = 0; spec->flags && spec->flags[i].name && n < MAX_FLAGS; i++, n++) {
		opts[2 + n] =
			(struct option){ spec->flags[i].name, no_argument, NULL, (int)(0x100 + n) };
		if (spec->flags[i].short_name) {
			size_t len = strlen(shorts);

			shorts[len] = spec->flags[i].short_name;
			shorts[len + 1] = '\0';
		}
	}
	*json = ctx->json;
	/* 0, not 1: glibc then forgets main()'s stop-at-the-verb ordering
	 * and permutes (options after the operands too). */
	optind = 0;
	opterr = 0; /* one line, ours */
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 'h') {
			spec->usage(stdout);
			return CLI_HELP_SHOWN;
		} else if (c >= 0x100 && c < 0x100 + (int)n) {
			*spec->flags[c - 0x100].value = true;
		} else {
			for (i = 0; i < n && spec->flags[i].short_name != c; i++)
				;
			if (i == n) {
				fprintf(stderr,
					OCB_NAME " %s: unknown option '%s'; see '%s --help'\n",
					spec->verb, cli_bad_option(argv), spec->verb);
				return CLI_USAGE;
			}
			*spec->flags[i].value = true;
		}
	}
	*first = optind;
	return check_operands(spec, argc - optind);
}
