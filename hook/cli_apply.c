// SPDX-License-Identifier: GPL-2.0
/* `apply ID PROFILE`: incident response on a running container. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "config.h"
#include "inspect.h"
#include "log.h"
#include "pin.h"
#include "policy.h"

static void apply_usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " apply ID PROFILE\n"
		     "\n"
		     "Switches a running container to another installed profile, atomically:\n"
		     "the new rules are loaded beside the live ones and take over with one\n"
		     "write. The checks of container start apply (allowed_profiles, file\n"
		     "ownership and modes, privileged_network on the capabilities recorded\n"
		     "at start). ID may be a unique prefix.\n");
}

int cmd_apply(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_spec spec = { "apply", apply_usage,
					      NULL,    2,
					      2,       "takes a container ID and a profile name" };
	const struct ocb_entry *entry = NULL;
	struct ocb_entries entries = { 0 };
	struct ocb_policy *pol = NULL;
	struct ocb_config cfg;
	struct pin_tree tree;
	const char *name;
	bool json;
	int first, err;

	err = cli_parse(ctx, &spec, argc, argv, &json, &first);
	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	err = config_load(ctx->config_dir, &cfg);
	if (err)
		return err;
	err = config_select_profile(&cfg, argv[first + 1], &name);
	if (!err)
		err = config_load_policy(ctx->config_dir, name, &pol);
	if (!err)
		err = inspect_scan_bpffs(ctx->bpffs, &tree, &entries);
	if (!err)
		err = inspect_resolve(&entries, argv[first], &entry);
	if (!err)
		err = ocb_apply(&(struct apply_opts){ .bpffs = ctx->bpffs,
						      .id = entry->id,
						      .policy = pol,
						      .profile = name,
						      .config_dir = ctx->config_dir,
						      .privileged_warn = cfg.privileged_warn });
	if (!err)
		printf("%s: profile %s applied\n", entry->id, name);
	inspect_entries_free(&entries);
	policy_free(pol);
	config_free(&cfg);
	return err;
}
