/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_FMT_H
#define OCB_FMT_H

/* How the commands print what inspect.h reads: text, tables and JSON. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "ocb_maps.h"

const char *fmt_dir(unsigned int dir);
const char *fmt_verdict(unsigned int verdict);
const char *fmt_proto(unsigned int proto, char *buf, size_t size);
/* ISO 8601 in UTC, to the second: 2024-05-01T12:00:00Z. */
void fmt_time_iso(unsigned long long ns, char *buf, size_t size);
json_t *fmt_stats_json(const struct ocb_stats *s);
/* Adds the info map's fields (cgroup, profile, bundle, attach time) to @o. */
void fmt_info_json(json_t *o, const struct ocb_info *info);
/* The counters as indented lines of text. */
void fmt_stats_text(const struct ocb_stats *s, const char *indent, FILE *out);
/* Prints @v to stdout, indented, and frees it. */
int fmt_json_print(json_t *v);

/* A text table whose columns are as wide as their widest cell. */
struct table {
	size_t cols, rows, cap;
	char **cells; /* rows * cols, owned */
};

void table_init(struct table *t, size_t cols);
/* Appends a row of @t->cols strings (copied; NULL prints as "-"). */
int table_add(struct table *t, const char *const *row);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

#endif
