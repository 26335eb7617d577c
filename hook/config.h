/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_CONFIG_H
#define OCB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define OCB_ANNOTATION_PROFILE "oci-cgroup-bpf-hook/profile"

/* config.json, or the built-in defaults where it is absent. */
struct ocb_config {
	char *default_profile; /* NULL: no policy unless annotated */
	char **allowed;	       /* NULL: any installed profile */
	size_t n_allowed;
	bool on_error_allow; /* "on_error": "allow" */
	/* "privileged_network": "warn": a container whose capabilities let
	 * it bypass its profile starts, flagged; default "refuse". */
	bool privileged_warn;
	/* "unused_profiles": "keep": the pool's free slots keep the
	 * compiled rules of a profile no container uses, for its next
	 * container, until gc; default "free": its last container's
	 * poststop frees them (two RCU grace periods, 10-24 ms each here). */
	bool keep_unused;
};

int config_load(const char *dir, struct ocb_config *cfg);
/* config.json's text; @origin names it in messages (also for the fuzzer). */
int config_parse(const char *buf, size_t len, const char *origin, struct ocb_config *cfg);
void config_free(struct ocb_config *cfg);

/*
 * The profile a container gets: the annotation's, checked against the
 * administrator's list, else the default. *name is NULL for none.
 */
int config_select_profile(const struct ocb_config *cfg, const char *annotation, const char **name);

/*
 * Reads <dir>/<rel> only if it is a regular file owned by root, not
 * writable by group or others, and (through any symlinks) inside
 * <dir>/<within>. -ENOENT, with no message, if it does not exist.
 */
int config_read_trusted(const char *dir, const char *within, const char *rel, size_t max,
			char **buf, size_t *len);

struct profile;
/* Loads and parses profiles/<name>.json from the config directory. */
int config_load_profile(const char *dir, const char *name, struct profile *prof);

struct ocb_policy;
/* config_load_profile(), then compiles it for the maps. */
int config_load_policy(const char *dir, const char *name, struct ocb_policy **pol);

#endif
