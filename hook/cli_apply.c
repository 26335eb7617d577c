// SPDX-License-Identifier: GPL-2.0
/* `apply ID PROFILE`: incident response on a running container. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "config.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"
#include "pin.h"
#include "policy.h"
#include "profile.h"

static void apply_usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " apply [--json] ID PROFILE\n"
		     "\n"
		     "Switches a running container to another installed profile, atomically:\n"
		     "the new rules are loaded beside the live ones and take over with one\n"
		     "write. The profile may be any installed one (allowed_profiles limits\n"
		     "what an annotation picks, not what root applies); the checks of file\n"
		     "ownership and modes and privileged_network (on the capabilities\n"
		     "recorded at start) apply. The profile holds until the container stops:\n"
		     "a restart starts it with the profile its annotation (or default_profile)\n"
		     "picks. ID may be a unique prefix.\n"
		     "\n"
		     "  -j, --json  JSON output\n"
		     "  -h, --help  show this help\n");
}

/* What was applied, and for how long. */
static int report(const char *id, const char *profile, bool json)
{
	if (!json) {
		printf("%s: profile %s applied until the container stops (a restart starts it with the profile its annotation or default_profile picks)\n",
		       id, profile);
		return 0;
	}
	return fmt_json_print(json_pack("{s:s,s:s,s:b,s:s}", "id", id, "profile", profile,
					"applied", 1, "until", "stop"));
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
	/* Root's choice: allowed_profiles is for annotations. */
	name = argv[first + 1];
	if (!profile_name_valid(name))
		err = ocb_err(-EINVAL,
			      "'%s' is not a profile name ([a-z0-9][a-z0-9._-]{0,62}); 'ls %s/profiles' lists the installed ones",
			      name, ctx->config_dir);
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
						      .privileged_warn = cfg.privileged_warn,
						      .keep_unused = cfg.keep_unused });
	if (!err)
		err = report(entry->id, name, json);
	inspect_entries_free(&entries);
	policy_free(pol);
	config_free(&cfg);
	return err;
}
