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

#include "attach.h"
#include "cli.h"
#include "config.h"
#include "host.h"
#include "policy.h"
#include "privnet.h"
#include "log.h"
#include "sandbox.h"
#include "state.h"

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
	  "gc                remove pins of containers whose cgroup is gone (--dry-run)",
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

static int check_host_root(void)
{
	switch (host_root_status()) {
	case HOST_NOT_ROOT:
		return ocb_err(-EPERM,
			       "must run as root: cgroup BPF needs root on the host (rootless containers are not supported)");
	case HOST_IN_USERNS:
		return ocb_err(-EPERM,
			       "running in a user namespace: cgroup BPF needs root on the host (rootless containers are not supported)");
	default:
		return 0;
	}
}

/* The container's compiled policy (NULL: accounting only) and its name. */
static int select_policy(const struct options *o, const struct ocb_config *cfg,
			 const struct oci_state *st, struct ocb_policy **pol, const char **name)
{
	int err;

	*pol = NULL;
	err = config_select_profile(cfg, oci_state_annotation(st, OCB_ANNOTATION_PROFILE), name);
	if (err || !*name)
		return err;
	return config_load_policy(o->config_dir, *name, pol);
}

/*
 * With "on_error": "allow", a profile that cannot be applied must not
 * leave the container with less than it gets without an annotation, or
 * naming a broken profile would escape the default: fall back to
 * default_profile, and to accounting only if that fails too.
 */
static int fall_back(const struct options *o, const struct ocb_config *cfg,
		     const struct oci_state *st, struct ocb_policy **pol, const char **name)
{
	const char *failed = oci_state_annotation(st, OCB_ANNOTATION_PROFILE);

	if (!failed)
		failed = cfg->default_profile;
	ocb_log_warn("container %s: profile %s cannot be applied (on_error is allow): %s", st->id,
		     failed ? failed : "-", ocb_err_msg());
	ocb_err_clear();
	policy_free(*pol);
	*pol = NULL;
	*name = NULL;
	if (cfg->default_profile && (!failed || strcmp(failed, cfg->default_profile))) {
		if (!config_load_policy(o->config_dir, cfg->default_profile, pol)) {
			*name = cfg->default_profile;
			ocb_log_warn("container %s gets the default profile %s instead", st->id,
				     *name);
			return 0;
		}
		ocb_log_warn("container %s: the default profile %s cannot be applied either: %s",
			     st->id, cfg->default_profile, ocb_err_msg());
		ocb_err_clear();
	}
	ocb_log_warn("container %s gets no policy, accounting only", st->id);
	return 0;
}

static int stage_attach(const struct options *o, const struct oci_state *st)
{
	struct attach_opts ao = {
		.bpffs = o->bpffs,
		.id = st->id,
		.pid = st->pid,
		.bundle = st->bundle,
	};
	struct ocb_policy *pol = NULL;
	struct ocb_config cfg;
	int err, refused = 0;
	char why[256] = "";

	err = check_host_root();
	if (err)
		return err;
	if (st->pid <= 0)
		return ocb_err(-EINVAL,
			       "state has no positive \"pid\"; attach needs the container's process id");
	err = config_load(o->config_dir, &cfg);
	if (err)
		return err;
	err = select_policy(o, &cfg, st, &pol, &ao.profile);
	if (err && cfg.on_error_allow)
		err = fall_back(o, &cfg, st, &pol, &ao.profile);
	/*
	 * A container that could bypass its profile is the administrator's
	 * call (privileged_network), not an error that on_error excuses:
	 * "allow" starting it without programs would be the escape the
	 * refusal closes. It judges the profile the container gets, so a
	 * fallback to default_profile is refused for the same reason.
	 */
	if (!err) {
		/* Recorded whatever the profile: apply judges the next one. */
		ao.info_flags = privnet_read_caps(st->bundle, why, sizeof(why));
		err = refused = privnet_check(&(struct privnet_in){ .id = st->id,
								    .caps = ao.info_flags,
								    .why = why,
								    .policy = pol,
								    .profile = ao.profile,
								    .config_dir = o->config_dir,
								    .warn = cfg.privileged_warn,
								    .packet_program = -1 },
					      &ao.info_flags);
	}
	if (!err) {
		ao.policy = pol;
		err = ocb_attach(&ao);
	}
	/* "on_error": "allow" lets the container start; the error is logged. */
	if (err && cfg.on_error_allow && !refused) {
		ocb_log_warn("container %s starts without our programs (on_error is allow): %s",
			     st->id, ocb_err_msg()[0] ? ocb_err_msg() : strerror(-err));
		ocb_err_clear();
		err = 0;
	}
	policy_free(pol);
	config_free(&cfg);
	return err;
}

/* Poststop never fails a container's teardown over our state. */
static int stage_detach(const struct options *o, const struct oci_state *st)
{
	int err = check_host_root();

	if (!err)
		err = ocb_detach(o->bpffs, st->id, st->bundle);
	if (err) {
		ocb_report_error(err);
		ocb_err_clear();
	}
	return 0;
}

enum stage_kind { STAGE_ATTACH, STAGE_DETACH, STAGE_REFUSED, STAGE_UNKNOWN };

static enum stage_kind classify_stage(const char *s)
{
	static const char *const refused[] = { "createContainer", "startContainer", "poststart",
					       "prestop" };
	size_t i;

	if (!strcmp(s, "prestart") || !strcmp(s, "createRuntime"))
		return STAGE_ATTACH;
	if (!strcmp(s, "poststop"))
		return STAGE_DETACH;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!strcmp(s, refused[i]))
			return STAGE_REFUSED;
	return STAGE_UNKNOWN;
}

static int run_stage(const struct options *o, const char *stage)
{
	struct oci_state st;
	enum stage_kind kind = STAGE_UNKNOWN;
	int err;

	if (stage) {
		kind = classify_stage(stage);
		if (kind == STAGE_REFUSED)
			return ocb_err(-EINVAL,
				       "stage %s is not supported: it runs in the container's namespaces; use prestart or createRuntime to attach and poststop to detach",
				       stage);
		if (kind == STAGE_UNKNOWN)
			return ocb_err(-EINVAL,
				       "unknown stage or command '%s'; stages are prestart, createRuntime and poststop (see --help)",
				       stage);
	}
	err = oci_state_read_fd(STDIN_FILENO, &st);
	if (err)
		return err;
	if (!stage) {
		if (st.status && !strcmp(st.status, "stopped")) {
			kind = STAGE_DETACH;
		} else {
			oci_state_free(&st);
			return ocb_err(-EINVAL,
				       "no stage given and the state's status is not \"stopped\"; pass the stage (prestart, createRuntime or poststop) in the hook's args");
		}
	}
	/* The input is read: from here on, only the stage's system calls. */
	err = ocb_sandbox_enter(kind == STAGE_ATTACH ? OCB_SANDBOX_ATTACH : OCB_SANDBOX_DETACH,
				o->bpffs);
	if (!err)
		err = kind == STAGE_ATTACH ? stage_attach(o, &st) : stage_detach(o, &st);
	oci_state_free(&st);
	return err;
}

static const struct verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
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
	while ((c = getopt_long(argc, argv, "+jhV", long_opts, NULL)) != -1) {
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
		default:
			fprintf(stderr, OCB_NAME ": unknown option; see --help\n");
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
	if (optind + 1 < argc) {
		fprintf(stderr, OCB_NAME ": too many arguments; see --help\n");
		return 2;
	}
	err = run_stage(&o, optind < argc ? argv[optind] : NULL);
	if (err) {
		ocb_report_error(err);
		return 1;
	}
	return 0;
}
