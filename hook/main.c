// SPDX-License-Identifier: GPL-2.0
/*
 * oci-cgroup-bpf-hook: an OCI hook that attaches per-container BPF packet
 * policy and accounting to a container's cgroup v2 directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "sandbox.h"
#include "stage.h"

#define DEFAULT_BPFFS "/sys/fs/bpf"
#define DEFAULT_CONFIG_DIR "/etc/oci-cgroup-bpf-hook"

struct options {
	const char *bpffs;
	const char *config_dir;
	bool json;
};

struct verb {
	const char *name;
	int (*run)(const struct cli_ctx *ctx, int argc, char **argv);
	const char *summary;
	enum ocb_sandbox sandbox; /* the seccomp profile it runs under */
};

static const struct verb verbs[] = {
	{ "apply", cmd_apply, "apply ID PROFILE  switch a running container to another profile",
	  OCB_SANDBOX_APPLY },
	{ "trace", cmd_trace, "trace [ID...]     stream connect and drop events as they happen",
	  OCB_SANDBOX_TRACE },
	{ "stats", cmd_stats, "stats [ID...]     counters per container (--prometheus)",
	  OCB_SANDBOX_STATS },
	{ "list", cmd_list, "list              attached containers", OCB_SANDBOX_LIST },
	{ "show", cmd_show,
	  "show ID           everything about one container, read from the kernel",
	  OCB_SANDBOX_SHOW },
	{ "gc", cmd_gc,
	  "gc                remove what stopped containers left, unused program builds",
	  OCB_SANDBOX_GC },
	{ "check", cmd_check, "check             preflight of this host", OCB_SANDBOX_CHECK },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " [OPTIONS] STAGE < STATE\n"
		     "\n"
		     "An OCI hook: attaches BPF packet policy and accounting to a container's\n"
		     "cgroup v2 directory and pins it under BPFFS/" OCB_NAME "/ID/.\n"
		     "The container's OCI state JSON is read from standard input.\n"
		     "\n"
		     "Stages:\n"
		     "  prestart, createRuntime  attach the programs (runtime namespace)\n"
		     "  poststop                 detach and unpin them\n"
		     "  (no stage)               detach if the state's status is \"stopped\"\n"
		     "\n"
		     "Usage: " OCB_NAME " [OPTIONS] COMMAND [ARGS]\n"
		     "\n"
		     "Commands (COMMAND --help for each):\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(out, "  %s\n", verbs[i].summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  --bpffs DIR       bpffs mount point (default " DEFAULT_BPFFS
		"; mounted if needed)\n"
		"  --config-dir DIR  configuration and profiles (default " DEFAULT_CONFIG_DIR ")\n"
		"  -j, --json        JSON output (commands)\n"
		"  -h, --help        show this help\n"
		"  -V, --version     show the version\n"
		"\n"
		"Exit status: 0 on success, 1 on error (one line on stderr and, for stages,\n"
		"in syslog), 2 on a usage error.\n"
		"See oci-cgroup-bpf-hook(1).\n");
}

static const struct verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

/* A word that is neither a command nor a stage: one line naming both. */
static int unknown_word(const char *word)
{
	size_t i;

	fprintf(stderr,
		OCB_NAME
		": unknown stage or command '%s'; stages: prestart, createRuntime, poststop; commands:",
		word);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(stderr, "%s %s", i ? "," : "", verbs[i].name);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "config-dir", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct options o = { .bpffs = DEFAULT_BPFFS, .config_dir = DEFAULT_CONFIG_DIR };
	int c, err;

	ocb_log_open();
	opterr = 0; /* one line, ours */
	while ((c = getopt_long(argc, argv, "+:jhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o.bpffs = optarg;
			break;
		case 'c':
			o.config_dir = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(OCB_NAME " %s\n", OCB_VERSION);
			return 0;
		case ':':
			fprintf(stderr, OCB_NAME ": option '%s' needs a value; see --help\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, OCB_NAME ": unknown option '%s'; see --help\n",
				cli_bad_option(argv));
			return 2;
		}
	}
	if (optind < argc) {
		const struct verb *v = find_verb(argv[optind]);

		if (v) {
			struct cli_ctx ctx = { o.bpffs, o.config_dir, o.json };

			optind++;
			/* The verb parses its own arguments; those need no calls. */
			err = ocb_sandbox_enter(v->sandbox, o.bpffs);
			if (!err)
				err = v->run(&ctx, argc - optind + 1, argv + optind - 1);
			if (err == CLI_USAGE)
				return 2;
			if (err) {
				ocb_report_error(err);
				return 1;
			}
			return 0;
		}
	}
	if (optind < argc && !stage_is_known(argv[optind]))
		return unknown_word(argv[optind]);
	if (optind + 1 < argc) {
		fprintf(stderr, OCB_NAME ": too many arguments; see --help\n");
		return 2;
	}
	err = stage_run(&(struct stage_opts){ o.bpffs, o.config_dir },
			optind < argc ? argv[optind] : NULL);
	if (err) {
		ocb_report_error(err);
		return 1;
	}
	return 0;
}
