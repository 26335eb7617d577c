// SPDX-License-Identifier: GPL-2.0
/* `stats [ID...]`: each container's counters, as text, JSON or Prometheus. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"

enum stats_format { FMT_TEXT, FMT_JSON, FMT_PROMETHEUS };

struct stats_row {
	const struct ocb_entry *e;
	struct ocb_stats s;
	struct ocb_info info;
	enum ocb_liveness live;
	bool have_info;
};

struct stats_rows {
	struct stats_row *v;
	size_t n;
};

static void stats_usage(FILE *out)
{
	fprintf(out,
		"Usage: " OCB_NAME " stats [--json | --prometheus] [ID...]\n"
		"\n"
		"Counters of the given containers (unique id prefixes), or of every attached\n"
		"one, summed over CPUs: packets and bytes allowed and denied per direction,\n"
		"connects and UDP sends allowed and denied, sockets and socket options refused.\n"
		"In audit mode the denied counters count what would have been denied.\n"
		"\n"
		"  -j, --json        JSON output\n"
		"      --prometheus  Prometheus text format (for node_exporter's textfile\n"
		"                    collector: write to a temporary file, then rename it)\n"
		"  -h, --help        show this help\n");
}

static int parse_opts(const struct cli_ctx *ctx, int argc, char **argv, enum stats_format *fmt,
		      int *first)
{
	bool json, prom = false;
	const struct cli_flag flags[] = { { "prometheus", 0, &prom }, { 0 } };
	const struct cli_spec spec = { "stats", stats_usage, flags, 0, -1, NULL };
	int err = cli_parse(ctx, &spec, argc, argv, &json, first);

	if (err)
		return err;
	/* The global -j is a default; an explicit --prometheus wins over it. */
	if (prom && json && !ctx->json) {
		fprintf(stderr, OCB_NAME " stats: --json and --prometheus exclude each other\n");
		return CLI_USAGE;
	}
	*fmt = prom ? FMT_PROMETHEUS : json ? FMT_JSON : FMT_TEXT;
	return 0;
}

/* The containers named on the command line (all if none), in id order. */
static int select_entries(const struct ocb_entries *ents, int argc, char **argv, bool *want)
{
	const struct ocb_entry *e;
	int i, err;

	for (i = 0; i < argc; i++) {
		err = inspect_resolve(ents, argv[i], &e);
		if (err)
			return err;
		want[e - ents->v] = true;
	}
	for (i = 0; !argc && (size_t)i < ents->n; i++)
		want[i] = true;
	return 0;
}

/* A container detached meanwhile is left out: it has no counters now. */
static void read_rows(const struct ocb_entries *ents, const bool *want, struct stats_rows *rows)
{
	unsigned long long cgid;
	size_t i;

	for (i = 0; i < ents->n; i++) {
		struct stats_row *r = &rows->v[rows->n];

		if (!want[i])
			continue;
		r->e = &ents->v[i];
		if (inspect_read_stats(r->e->dir, &r->s)) {
			inspect_tolerate();
			continue;
		}
		r->have_info = !inspect_read_info(r->e->dir, &r->info);
		ocb_err_clear();
		r->live = inspect_liveness(r->e->dir, &cgid);
		rows->n++;
	}
}

static void print_text(const struct stats_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++) {
		printf("%s%s\n", i ? "\n" : "", rows->v[i].e->id);
		fmt_stats_text(&rows->v[i].s, "  ", stdout);
	}
}

static int print_json(const struct stats_rows *rows)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < rows->n; i++)
		if (json_array_append_new(arr,
					  json_pack("{s:s,s:o}", "id", rows->v[i].e->id, "counters",
						    fmt_stats_json(&rows->v[i].s)))) {
			json_decref(arr);
			arr = NULL;
		}
	return fmt_json_print(arr);
}

/* A label value: backslash, double quote and newline are escaped. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

static void prom_family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_sample(const char *name, const char *id, const char *dir, const char *verdict,
			unsigned long long v)
{
	printf("%s{container=\"", name);
	prom_label(id);
	if (dir)
		printf("\",direction=\"%s", dir);
	printf("\",verdict=\"%s\"} %llu\n", verdict, v);
}

static void prom_traffic(const char *name, const struct stats_rows *rows, bool bytes)
{
	size_t i;

	for (i = 0; i < rows->n; i++) {
		const struct ocb_stats *s = &rows->v[i].s;
		const char *id = rows->v[i].e->id;

		prom_sample(name, id, "ingress", "allowed",
			    bytes ? s->ingress.bytes_allowed : s->ingress.packets_allowed);
		prom_sample(name, id, "ingress", "denied",
			    bytes ? s->ingress.bytes_denied : s->ingress.packets_denied);
		prom_sample(name, id, "egress", "allowed",
			    bytes ? s->egress.bytes_allowed : s->egress.packets_allowed);
		prom_sample(name, id, "egress", "denied",
			    bytes ? s->egress.bytes_denied : s->egress.packets_denied);
	}
}

static void prom_info(const struct stats_rows *rows)
{
	size_t i;

	prom_family("ocb_container_info", "gauge",
		    "An attached container: its profile, cgroup and state (live or stale).");
	for (i = 0; i < rows->n; i++) {
		const struct stats_row *r = &rows->v[i];

		printf("ocb_container_info{container=\"");
		prom_label(r->e->id);
		printf("\",profile=\"");
		prom_label(r->have_info ? r->info.profile : "");
		printf("\",cgroup=\"");
		prom_label(r->have_info ? r->info.cgroup : "");
		printf("\",state=\"%s\"} 1\n", inspect_liveness_name(r->live));
	}
}

static void print_prometheus(const struct stats_rows *rows)
{
	size_t i;

	prom_family("ocb_packets_total", "counter",
		    "Packets through a container's cgroup, by direction and verdict (denied in audit mode: would have been denied).");
	prom_traffic("ocb_packets_total", rows, false);
	prom_family("ocb_bytes_total", "counter",
		    "Bytes of IP packets through a container's cgroup, by direction and verdict.");
	prom_traffic("ocb_bytes_total", rows, true);
	prom_family("ocb_connects_total", "counter",
		    "connect() calls of a container's sockets, by verdict.");
	for (i = 0; i < rows->n; i++) {
		prom_sample("ocb_connects_total", rows->v[i].e->id, NULL, "allowed",
			    rows->v[i].s.connects_allowed);
		prom_sample("ocb_connects_total", rows->v[i].e->id, NULL, "denied",
			    rows->v[i].s.connects_denied);
	}
	prom_family("ocb_sends_total", "counter",
		    "Unconnected UDP sends of a container's sockets, by verdict.");
	for (i = 0; i < rows->n; i++) {
		prom_sample("ocb_sends_total", rows->v[i].e->id, NULL, "allowed",
			    rows->v[i].s.sends_allowed);
		prom_sample("ocb_sends_total", rows->v[i].e->id, NULL, "denied",
			    rows->v[i].s.sends_denied);
	}
	prom_family("ocb_sockets_denied_total", "counter",
		    "Sockets (packet, raw) and socket options (freebind, transparent) a container's profile refused.");
	for (i = 0; i < rows->n; i++) {
		printf("ocb_sockets_denied_total{container=\"");
		prom_label(rows->v[i].e->id);
		printf("\"} %llu\n", (unsigned long long)rows->v[i].s.sockets_denied);
	}
	prom_info(rows);
}

static int print_rows(const struct ocb_entries *ents, const bool *want, enum stats_format fmt)
{
	struct stats_rows rows = { .v = calloc(ents->n + 1, sizeof(*rows.v)) };
	int err = 0;

	if (!rows.v)
		return ocb_err(-ENOMEM, "out of memory reading counters");
	read_rows(ents, want, &rows);
	if (fmt == FMT_JSON)
		err = print_json(&rows);
	else if (fmt == FMT_PROMETHEUS)
		print_prometheus(&rows);
	else
		print_text(&rows);
	if (!err && fflush(stdout))
		err = ocb_err(ocb_errno(), "cannot write the counters: %s", strerror(errno));
	free(rows.v);
	return err;
}

int cmd_stats(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct ocb_entries ents = { 0 };
	enum stats_format fmt;
	struct pin_tree tree;
	bool *want = NULL;
	int first = 1, err = parse_opts(ctx, argc, argv, &fmt, &first);

	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	err = inspect_scan_bpffs(ctx->bpffs, &tree, &ents);
	if (!err) {
		want = calloc(ents.n + 1, sizeof(*want));
		err = want ? 0 : ocb_err(-ENOMEM, "out of memory reading counters");
	}
	if (!err)
		err = select_entries(&ents, argc - first, argv + first, want);
	if (!err)
		err = print_rows(&ents, want, fmt);
	free(want);
	inspect_entries_free(&ents);
	return err;
}
