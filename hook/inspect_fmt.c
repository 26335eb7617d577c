// SPDX-License-Identifier: GPL-2.0
/* Output shared by the commands: names, times, counters, tables, JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "inspect.h"
#include "log.h"

const char *fmt_dir(unsigned int dir)
{
	return dir == OCB_INGRESS ? "ingress" : dir == OCB_EGRESS ? "egress" : "any";
}

const char *fmt_verdict(unsigned int verdict)
{
	return verdict == OCB_ALLOW ? "allow" : verdict == OCB_DENY ? "deny" : "unset";
}

const char *fmt_proto(unsigned int proto, char *buf, size_t size)
{
	static const struct {
		unsigned int nr;
		const char *name;
	} names[] = { { 1, "icmp" },	{ 6, "tcp" },	 { 17, "udp" },	    { 33, "dccp" },
		      { 58, "icmpv6" }, { 132, "sctp" }, { 136, "udplite" } };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == proto)
			return names[i].name;
	snprintf(buf, size, "proto-%u", proto);
	return buf;
}

void fmt_time_iso(unsigned long long ns, char *buf, size_t size)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns || !gmtime_r(&secs, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "-");
}

static json_t *traffic_json(const struct ocb_traffic *t)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "packets_allowed", (json_int_t)t->packets_allowed,
			 "bytes_allowed", (json_int_t)t->bytes_allowed, "packets_denied",
			 (json_int_t)t->packets_denied, "bytes_denied",
			 (json_int_t)t->bytes_denied);
}

void fmt_info_json(json_t *o, const struct ocb_info *info)
{
	char when[40];

	fmt_time_iso(info->attach_time, when, sizeof(when));
	json_object_set_new(o, "cgroup", json_string(info->cgroup));
	json_object_set_new(o, "cgroup_id", json_integer((json_int_t)info->cgroup_id));
	json_object_set_new(o, "profile",
			    info->profile[0] ? json_string(info->profile) : json_null());
	json_object_set_new(o, "bundle", info->bundle[0] ? json_string(info->bundle) : json_null());
	json_object_set_new(o, "description",
			    info->description[0] ? json_string(info->description) : json_null());
	json_object_set_new(o, "name", info->name[0] ? json_string(info->name) : json_null());
	json_object_set_new(o, "attach_time", json_string(when));
	json_object_set_new(o, "attach_time_ns", json_integer((json_int_t)info->attach_time));
	/* privileged_network "warn" let it start holding CAP_NET_RAW or
	 * CAP_NET_ADMIN: its profile can be bypassed. */
	json_object_set_new(o, "bypassable", json_boolean(info->flags & OCB_INFO_BYPASSABLE));
}

json_t *fmt_stats_json(const struct ocb_stats *s)
{
	return json_pack("{s:o,s:o,s:{s:I,s:I},s:{s:I,s:I},s:{s:I}}", "ingress",
			 traffic_json(&s->ingress), "egress", traffic_json(&s->egress), "connects",
			 "allowed", (json_int_t)s->connects_allowed, "denied",
			 (json_int_t)s->connects_denied, "sends", "allowed",
			 (json_int_t)s->sends_allowed, "denied", (json_int_t)s->sends_denied,
			 "sockets", "denied", (json_int_t)s->sockets_denied);
}

static void traffic_text(const char *dir, const struct ocb_traffic *t, const char *indent,
			 FILE *out)
{
	fprintf(out, "%s%-8s  packets %llu allowed, %llu denied; bytes %llu allowed, %llu denied\n",
		indent, dir, (unsigned long long)t->packets_allowed,
		(unsigned long long)t->packets_denied, (unsigned long long)t->bytes_allowed,
		(unsigned long long)t->bytes_denied);
}

void fmt_stats_text(const struct ocb_stats *s, const char *indent, FILE *out)
{
	traffic_text("ingress", &s->ingress, indent, out);
	traffic_text("egress", &s->egress, indent, out);
	fprintf(out, "%s%-8s  %llu allowed, %llu denied\n", indent, "connects",
		(unsigned long long)s->connects_allowed, (unsigned long long)s->connects_denied);
	fprintf(out, "%s%-8s  %llu allowed, %llu denied\n", indent, "sends",
		(unsigned long long)s->sends_allowed, (unsigned long long)s->sends_denied);
	fprintf(out, "%s%-8s  %llu denied\n", indent, "sockets",
		(unsigned long long)s->sockets_denied);
}

int fmt_json_print(json_t *v)
{
	int err = 0;

	if (!v)
		return ocb_err(-ENOMEM, "cannot build the JSON output");
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ||
	    fputc('\n', stdout) == EOF)
		err = ocb_err(-EIO, "cannot write the JSON output");
	json_decref(v);
	return err;
}

void table_init(struct table *t, size_t cols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
}

int table_add(struct table *t, const char *const *row)
{
	size_t i;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **cells = realloc(t->cells, cap * t->cols * sizeof(*cells));

		if (!cells)
			return ocb_err(-ENOMEM, "out of memory building a table");
		t->cells = cells;
		t->cap = cap;
	}
	for (i = 0; i < t->cols; i++) {
		char **cell = &t->cells[t->rows * t->cols + i];

		*cell = strdup(row[i] ? row[i] : "-");
		if (!*cell) {
			while (i--)
				free(t->cells[t->rows * t->cols + i]);
			return ocb_err(-ENOMEM, "out of memory building a table");
		}
	}
	t->rows++;
	return 0;
}

void table_print(const struct table *t, FILE *out)
{
	size_t r, c, *width = calloc(t->cols, sizeof(*width));

	if (!width)
		return;
	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->cols; c++) {
			size_t len = strlen(t->cells[r * t->cols + c]);

			if (len > width[c])
				width[c] = len;
		}
	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->cols; c++) {
			const char *cell = t->cells[r * t->cols + c];

			/* The last column is not padded: no trailing blanks. */
			if (c + 1 == t->cols)
				fprintf(out, "%s\n", cell);
			else
				fprintf(out, "%-*s  ", (int)width[c], cell);
		}
	free(width);
}

void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->rows * t->cols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
