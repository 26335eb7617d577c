// SPDX-License-Identifier: GPL-2.0
/*
 * The administrator's configuration: config.json and profiles/. Only
 * root-owned files that nobody else can write are trusted, and nothing a
 * container author controls can name a file outside profiles/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "config.h"
#include "log.h"
#include "profile.h"

#define CONFIG_FILE_MAX (1024 * 1024)

static int check_owner_mode(const char *path, const struct stat *st)
{
	if (st->st_uid != 0)
		return ocb_err(-EPERM, "%s is owned by uid %u, not root; chown root %s", path,
			       (unsigned int)st->st_uid, path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return ocb_err(-EPERM, "%s is writable by group or others; chmod go-w %s", path,
			       path);
	return 0;
}

static int trusted_dir(const char *path, char *real)
{
	struct stat st;

	if (!realpath(path, real)) {
		if (errno == ENOENT)
			return -ENOENT; /* silent: callers decide what absence means */
		return ocb_err(ocb_errno(), "cannot resolve %s: %s", path, strerror(errno));
	}
	if (stat(real, &st))
		return ocb_err(ocb_errno(), "cannot stat %s: %s", real, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ocb_err(-ENOTDIR, "%s is not a directory", path);
	return check_owner_mode(path, &st);
}

static int read_all(int fd, const char *path, size_t size, char **buf, size_t *len)
{
	size_t got = 0;

	*buf = malloc(size + 1);
	if (!*buf)
		return -ENOMEM;
	while (got < size) {
		ssize_t n = read(fd, *buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? ocb_errno() : -EIO;

			free(*buf);
			*buf = NULL;
			return ocb_err(err, "cannot read %s: %s", path, strerror(-err));
		}
		got += (size_t)n;
	}
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

int config_read_trusted(const char *dir, const char *within, const char *rel, size_t max,
			char **buf, size_t *len)
{
	char rdir[PATH_MAX], rwithin[PATH_MAX + 2], path[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t lw;
	int fd, err;

	err = trusted_dir(dir, rdir);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", dir, within);
	err = within[0] ? trusted_dir(path, rwithin) : 0;
	if (err)
		return err;
	if (!within[0])
		snprintf(rwithin, sizeof(rwithin), "%s", rdir);
	if (snprintf(path, sizeof(path), "%s/%s%s%s", dir, within, within[0] ? "/" : "", rel) >=
	    (int)sizeof(path))
		return ocb_err(-ENAMETOOLONG, "path of %s is too long", rel);
	if (!realpath(path, real))
		return errno == ENOENT ? -ENOENT
				       : ocb_err(ocb_errno(), "cannot resolve %s: %s", path,
						 strerror(errno));
	lw = strlen(rwithin);
	if (strncmp(real, rwithin, lw) != 0 || real[lw] != '/')
		return ocb_err(-EPERM, "%s leads to %s, outside %s; profiles must stay inside it",
			       path, real, rwithin);
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ocb_err(ocb_errno(), "cannot open %s: %s", path, strerror(errno));
	err = fstat(fd, &st) ? ocb_errno() : 0;
	if (!err && !S_ISREG(st.st_mode))
		err = ocb_err(-EINVAL, "%s is not a regular file", path);
	if (!err)
		err = check_owner_mode(path, &st);
	if (!err && (size_t)st.st_size > max)
		err = ocb_err(-EFBIG, "%s is larger than %zu bytes", path, max);
	if (!err)
		err = read_all(fd, path, (size_t)st.st_size, buf, len);
	close(fd);
	return err;
}

static int parse_allowed(json_t *v, const char *origin, struct ocb_config *cfg)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return ocb_err(-EINVAL, "%s: \"allowed_profiles\" must be an array of names",
			       origin);
	cfg->allowed = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!cfg->allowed)
		return -ENOMEM;
	json_array_foreach (v, i, e) {
		if (!json_is_string(e) || !profile_name_valid(json_string_value(e)))
			return ocb_err(-EINVAL,
				       "%s: allowed_profiles[%zu] is not a valid profile name",
				       origin, i);
		cfg->allowed[cfg->n_allowed] = strdup(json_string_value(e));
		if (!cfg->allowed[cfg->n_allowed++])
			return -ENOMEM;
	}
	return 0;
}

/* @dflt (the key's default) or @other: *out says whether @other. */
static int parse_one_of(json_t *v, const char *origin, const char *key, const char *dflt,
			const char *other, bool *out)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (strcmp(s, dflt) && strcmp(s, other))
		return ocb_err(-EINVAL, "%s: \"%s\" must be \"%s\" or \"%s\"", origin, key, dflt,
			       other);
	*out = !strcmp(s, other);
	return 0;
}

/* "refuse" (the default of every such key) or @other. */
static int parse_choice(json_t *v, const char *origin, const char *key, const char *other,
			bool *out)
{
	return parse_one_of(v, origin, key, "refuse", other, out);
}

static int parse_config(json_t *root, const char *origin, struct ocb_config *cfg)
{
	const char *key;
	json_t *v;
	int err = 0;

	if (!json_is_object(root))
		return ocb_err(-EINVAL, "%s: the configuration must be a JSON object", origin);
	json_object_foreach (root, key, v) {
		if (!strcmp(key, "default_profile")) {
			if (!json_is_string(v) || !profile_name_valid(json_string_value(v)))
				return ocb_err(-EINVAL,
					       "%s: \"default_profile\" is not a valid profile name",
					       origin);
			cfg->default_profile = strdup(json_string_value(v));
			if (!cfg->default_profile)
				return -ENOMEM;
		} else if (!strcmp(key, "allowed_profiles")) {
			err = parse_allowed(v, origin, cfg);
		} else if (!strcmp(key, "on_error")) {
			err = parse_choice(v, origin, key, "allow", &cfg->on_error_allow);
		} else if (!strcmp(key, "privileged_network")) {
			err = parse_choice(v, origin, key, "warn", &cfg->privileged_warn);
		} else if (!strcmp(key, "unused_profiles")) {
			err = parse_one_of(v, origin, key, "free", "keep", &cfg->keep_unused);
		} else {
			return ocb_err(-EINVAL,
				       "%s: unknown key \"%s\" (known: default_profile, allowed_profiles, on_error, privileged_network, unused_profiles)",
				       origin, key);
		}
		if (err)
			return err;
	}
	return 0;
}

int config_parse(const char *buf, size_t len, const char *origin, struct ocb_config *cfg)
{
	json_error_t jerr;
	json_t *root;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ocb_err(-EINVAL, "%s:%d:%d: %s", origin, jerr.line, jerr.column, jerr.text);
	err = parse_config(root, origin, cfg);
	json_decref(root);
	if (err)
		config_free(cfg);
	return err;
}

int config_load(const char *dir, struct ocb_config *cfg)
{
	char origin[PATH_MAX + 16];
	size_t len = 0;
	char *buf = NULL;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	err = config_read_trusted(dir, "", "config.json", CONFIG_FILE_MAX, &buf, &len);
	if (err == -ENOENT)
		return 0; /* built-in defaults */
	if (err)
		return err;
	snprintf(origin, sizeof(origin), "%s/config.json", dir);
	err = config_parse(buf, len, origin, cfg);
	free(buf);
	return err;
}

void config_free(struct ocb_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_allowed; i++)
		free(cfg->allowed[i]);
	free(cfg->allowed);
	free(cfg->default_profile);
	memset(cfg, 0, sizeof(*cfg));
}

/* The annotation names a profile outside allowed_profiles: the error
 * names those it may pick. */
static int not_allowed(const struct ocb_config *cfg, const char *annotation)
{
	static const char more[] = ", ...";
	char list[512] = "";
	size_t i, used = 0;

	for (i = 0; i < cfg->n_allowed; i++) {
		const char *sep = i ? ", " : "";

		if (used + strlen(sep) + strlen(cfg->allowed[i]) + sizeof(more) > sizeof(list)) {
			memcpy(list + used, more, sizeof(more));
			break;
		}
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", sep,
					 cfg->allowed[i]);
	}
	return ocb_err(-EPERM,
		       "profile '%s' is not in allowed_profiles of this host; pick one of: %s",
		       annotation, cfg->n_allowed ? list : "(none: the list is empty)");
}

int config_select_profile(const struct ocb_config *cfg, const char *annotation, const char **name)
{
	size_t i;

	*name = NULL;
	if (!annotation) {
		*name = cfg->default_profile;
		return 0;
	}
	if (!profile_name_valid(annotation))
		return ocb_err(-EINVAL,
			       "annotation " OCB_ANNOTATION_PROFILE
			       " must name an installed profile ([a-z0-9][a-z0-9._-]{0,62}); ask the administrator which exist");
	if (cfg->allowed) {
		for (i = 0; i < cfg->n_allowed && strcmp(cfg->allowed[i], annotation); i++)
			;
		if (i == cfg->n_allowed)
			return not_allowed(cfg, annotation);
	}
	*name = annotation;
	return 0;
}

/* The installed profile names, comma-separated, for an error message. */
static void list_profiles(const char *dir, char *out, size_t size)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t used = 0;
	DIR *d;

	snprintf(out, size, "none");
	snprintf(path, sizeof(path), "%s/profiles", dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && used + 4 < size) {
		size_t len = strlen(de->d_name);
		char name[NAME_MAX + 1];

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
		if (!profile_name_valid(name))
			continue;
		used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", name);
	}
	closedir(d);
	if (used >= size - 4)
		snprintf(out + size - 5, 5, "...");
}

int config_load_profile(const char *dir, const char *name, struct profile *prof)
{
	char rel[OCB_PROFILE_NAME_MAX + 8], origin[PATH_MAX + 96];
	size_t len;
	char *buf;
	int err;

	if (!profile_name_valid(name))
		return ocb_err(-EINVAL, "'%s' is not a valid profile name", name);
	snprintf(rel, sizeof(rel), "%s.json", name);
	err = config_read_trusted(dir, "profiles", rel, OCB_PROFILE_FILE_MAX, &buf, &len);
	if (err == -ENOENT) {
		char installed[256];

		list_profiles(dir, installed, sizeof(installed));
		return ocb_err(-ENOENT, "unknown profile '%s' (no %s/profiles/%s); installed: %s",
			       name, dir, rel, installed);
	}
	if (err)
		return err;
	snprintf(origin, sizeof(origin), "%s/profiles/%s", dir, rel);
	err = profile_parse(buf, len, origin, prof);
	free(buf);
	return err;
}

int config_load_policy(const char *dir, const char *name, struct ocb_policy **pol)
{
	struct profile prof;
	int err = config_load_profile(dir, name, &prof);

	if (err)
		return err;
	err = policy_compile(&prof, name, pol);
	profile_free(&prof);
	return err;
}
