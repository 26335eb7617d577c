// SPDX-License-Identifier: GPL-2.0
/*
 * The hook's stages, as a runtime runs them: read the OCI state, then
 * attach (choose the profile, on_error, privileged_network, ocb_attach())
 * or detach. The attach path reads top to bottom here; main.c only
 * parses the command line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "config.h"
#include "host.h"
#include "log.h"
#include "policy.h"
#include "privnet.h"
#include "sandbox.h"
#include "stage.h"
#include "state.h"

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
static int select_policy(const struct stage_opts *o, const struct ocb_config *cfg,
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
static int fall_back(const struct stage_opts *o, const struct ocb_config *cfg,
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

/*
 * The runtime's name for the container, for list and show: the pod's
 * namespace and name and the container's name that CRI-O or containerd's
 * CRI put in its annotations, or nerdctl's name. Display only (a bundle's
 * author can write any of them): text_copy() makes it printable.
 */
static const char *container_name(const struct oci_state *st, char *buf, size_t size)
{
	static const char *const k8s[][3] = {
		{ "io.kubernetes.pod.namespace", "io.kubernetes.pod.name",
		  "io.kubernetes.container.name" },
		{ "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name",
		  "io.kubernetes.cri.container-name" },
	};
	const char *ns, *pod, *ctr;
	size_t i;

	for (i = 0; i < sizeof(k8s) / sizeof(k8s[0]); i++) {
		ns = oci_state_annotation(st, k8s[i][0]);
		pod = oci_state_annotation(st, k8s[i][1]);
		ctr = oci_state_annotation(st, k8s[i][2]);
		if (pod && ctr) {
			snprintf(buf, size, "%s%s%s/%s", ns ? ns : "", ns ? "/" : "", pod, ctr);
			return buf;
		}
	}
	return oci_state_annotation(st, "nerdctl/name");
}

static int stage_attach(const struct stage_opts *o, const struct oci_state *st)
{
	char name[OCB_TEXT_MAX * 3];
	struct attach_opts ao = {
		.bpffs = o->bpffs,
		.id = st->id,
		.pid = st->pid,
		.bundle = st->bundle,
		.name = container_name(st, name, sizeof(name)),
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
static int stage_detach(const struct stage_opts *o, const struct oci_state *st)
{
	struct ocb_config cfg;
	bool keep = false;
	int err = check_host_root();

	/* A configuration that does not load costs only the pool's
	 * setting: the container's pins still go. */
	if (!err && config_load(o->config_dir, &cfg)) {
		ocb_log_warn("container %s: %s; unused_profiles is \"free\"", st->id,
			     ocb_err_msg());
		ocb_err_clear();
	} else if (!err) {
		keep = cfg.keep_unused;
		config_free(&cfg);
	}
	if (!err)
		err = ocb_detach(o->bpffs, st->id, st->bundle, !keep);
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

bool stage_is_known(const char *word)
{
	return classify_stage(word) != STAGE_UNKNOWN;
}

int stage_run(const struct stage_opts *o, const char *stage)
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
