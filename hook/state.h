/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_STATE_H
#define OCB_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* The OCI state of a container is small; annotations are capped at
 * 256 KiB by Kubernetes. Anything above this is refused. */
#define OCB_STATE_MAX (1024 * 1024)
#define OCB_ID_MAX 255

/* The OCI runtime state (runtime-spec "state"), as the hook reads it. */
struct oci_state {
	json_t *root;		 /* owns every string below */
	const char *oci_version; /* NULL if absent */
	const char *id;
	const char *status;  /* NULL if absent */
	const char *bundle;  /* NULL if absent */
	json_t *annotations; /* an object, or NULL */
	pid_t pid;	     /* 0 when absent or 0 (poststop) */
};

int ocb_id_check(const char *id);
int oci_state_parse(const char *buf, size_t len, struct oci_state *st);
int oci_state_read_fd(int fd, struct oci_state *st);
void oci_state_free(struct oci_state *st);
/* An annotation's value if it is present and a string, else NULL. */
const char *oci_state_annotation(const struct oci_state *st, const char *key);

#endif
