// SPDX-License-Identifier: GPL-2.0
/* Reading and validating the OCI state JSON that runtimes pass on stdin. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

/*
 * The id names a directory under bpffs: refuse anything that could
 * escape it or confuse a reader (control characters in logs, hidden
 * names that are our staging directories).
 */
int ocb_id_check(const char *id)
{
	size_t len = strlen(id);
	size_t i;

	if (len == 0)
		return ocb_err(-EINVAL,
			       "container id is empty: the runtime must pass a non-empty \"id\"");
	if (len > OCB_ID_MAX)
		return ocb_err(-EINVAL, "container id is %zu bytes long; at most %d are allowed",
			       len, OCB_ID_MAX);
	if (id[0] == '.')
		return ocb_err(-EINVAL,
			       "container id '%s' starts with '.'; use an id without a leading dot",
			       id);
	for (i = 0; i < len; i++) {
		unsigned char c = id[i];

		if (c == '/')
			return ocb_err(-EINVAL,
				       "container id '%s' contains '/'; ids must be plain names",
				       id);
		if (c < 0x20 || c == 0x7f)
			return ocb_err(-EINVAL,
				       "container id contains control character 0x%02x at byte %zu; ids must be printable",
				       c, i);
	}
	return 0;
}

static int optional_string(json_t *root, const char *key, const char **out)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ocb_err(-EINVAL, "state field \"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

static int parse_pid(json_t *root, pid_t *pid)
{
	json_t *v = json_object_get(root, "pid");
	json_int_t n;

	*pid = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return ocb_err(-EINVAL, "state field \"pid\" must be an integer");
	n = json_integer_value(v);
	if (n < 0 || n > 0x3fffffff)
		return ocb_err(-EINVAL,
			       "state field \"pid\" is %lld, which is not a valid process id",
			       (long long)n);
	*pid = (pid_t)n;
	return 0;
}

int oci_state_parse(const char *buf, size_t len, struct oci_state *st)
{
	json_error_t jerr;
	json_t *v;
	int err;

	memset(st, 0, sizeof(*st));
	if (len > OCB_STATE_MAX)
		return ocb_err(-EFBIG, "state on stdin is over %d bytes; is this an OCI state?",
			       OCB_STATE_MAX);
	st->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!st->root)
		return ocb_err(-EINVAL, "state on stdin is not valid JSON (line %d, column %d: %s)",
			       jerr.line, jerr.column, jerr.text);
	if (!json_is_object(st->root)) {
		err = ocb_err(-EINVAL, "state on stdin must be a JSON object");
		goto fail;
	}
	err = optional_string(st->root, "ociVersion", &st->oci_version);
	if (!err)
		err = optional_string(st->root, "status", &st->status);
	if (!err)
		err = optional_string(st->root, "bundle", &st->bundle);
	if (!err)
		err = parse_pid(st->root, &st->pid);
	if (err)
		goto fail;

	v = json_object_get(st->root, "id");
	if (!v || !json_is_string(v)) {
		err = ocb_err(-EINVAL,
			      "state has no string \"id\"; the runtime must pass the container id");
		goto fail;
	}
	st->id = json_string_value(v);
	if (strlen(st->id) != json_string_length(v)) {
		err = ocb_err(-EINVAL, "container id contains a NUL byte; ids must be printable");
		goto fail;
	}
	err = ocb_id_check(st->id);
	if (err)
		goto fail;

	v = json_object_get(st->root, "annotations");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v)) {
			err = ocb_err(-EINVAL, "state field \"annotations\" must be an object");
			goto fail;
		}
		st->annotations = v;
	}
	return 0;
fail:
	oci_state_free(st);
	return err;
}

int oci_state_read_fd(int fd, struct oci_state *st)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf;
	int err;

	/* Every failure leaves *st empty, as oci_state_parse() does. */
	memset(st, 0, sizeof(*st));
	buf = malloc(cap);
	if (!buf)
		return ocb_err(-ENOMEM, "out of memory reading the state");
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *bigger;

			if (cap > OCB_STATE_MAX) {
				free(buf);
				return ocb_err(-EFBIG,
					       "state on stdin is over %d bytes; is this an OCI state?",
					       OCB_STATE_MAX);
			}
			cap *= 2;
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				return ocb_err(-ENOMEM, "out of memory reading the state");
			}
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = ocb_errno();
			free(buf);
			return ocb_err(err, "cannot read the state from stdin: %s", strerror(-err));
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len == 0) {
		free(buf);
		return ocb_err(-EINVAL,
			       "no state on stdin: a runtime passes the container's OCI state as JSON on stdin");
	}
	err = oci_state_parse(buf, len, st);
	free(buf);
	return err;
}

void oci_state_free(struct oci_state *st)
{
	json_decref(st->root);
	memset(st, 0, sizeof(*st));
}

const char *oci_state_annotation(const struct oci_state *st, const char *key)
{
	json_t *v = st->annotations ? json_object_get(st->annotations, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}
