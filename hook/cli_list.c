// SPDX-License-Identifier: GPL-2.0
/* `list`: the attached containers, one line each. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"

/* Podman-style: full 64-hex ids are shown as their first 12 characters. */
#define SHORT_ID_LEN 12

struct list_opts {
	bool json, no_trunc;
};

struct list_row {
	const struct ocb_entry *e;
	struct ocb_info info;
	struct ocb_stats stats;
	struct ocb_conf conf;
	enum ocb_liveness live;
	unsigned long long link_cgroup_id;
	bool have_info, have_stats, have_conf;
};

static void list_usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " list [--json] [--no-trunc]\n"
		     "\n"
		     "The containers attached on this host (pins under BPFFS/" OCB_NAME "/).\n"
		     "MODE is the live policy's: enforce, or audit (denials only counted);\n"
		     "\",bypassable\": the container holds CAP_NET_RAW or CAP_NET_ADMIN and\n"
		     "started only because privileged_network is warn: it can get around it.\n"
		     "STATE is live while the container's cgroup exists, stale once it is gone\n"
		     "(its pins only hold memory: '" OCB_NAME " gc' removes them).\n"
		     "Counters are PACKETS/BYTES since attach, summed over CPUs; in audit mode\n"
		     "DENIED counts what would have been denied.\n"
		     "\n"
		     "  -j, --json      JSON output\n"
		     "      --no-trunc  show full 64-character ids\n"
		     "  -h, --help      show this help\n");
}

static int parse_opts(const struct cli_ctx *ctx, int argc, char **argv, struct list_opts *o)
{
	const struct cli_flag flags[] = { { "no-trunc", 0, &o->no_trunc }, { 0 } };
	const struct cli_spec spec = { "list", list_usage, flags, 0, 0, NULL };
	int first;

	o->no_trunc = false;
	return cli_parse(ctx, &spec, argc, argv, &o->json, &first);
}

static bool gone(const char *dir)
{
	struct stat st;

	return stat(dir, &st) && errno == ENOENT;
}

/* Reads what the row shows; false if the container went away meanwhile. */
static bool read_row(struct list_row *r)
{
	r->live = inspect_liveness(r->e->dir, &r->link_cgroup_id);
	r->have_info = !inspect_read_info(r->e->dir, &r->info);
	if (!r->have_info && gone(r->e->dir)) {
		ocb_err_clear();
		return false;
	}
	r->have_stats = !inspect_read_stats(r->e->dir, &r->stats);
	inspect_tolerate();
	r->have_conf = !inspect_read_conf(r->e->dir, &r->conf);
	inspect_tolerate();
	return true;
}

static bool long_hex_id(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
			return false;
	return i == 64;
}

static void traffic_cell(const struct list_row *r, const struct ocb_traffic *t, bool denied,
			 char *buf, size_t size)
{
	if (!r->have_stats)
		snprintf(buf, size, "?");
	else if (denied)
		snprintf(buf, size, "%llu/%llu", (unsigned long long)t->packets_denied,
			 (unsigned long long)t->bytes_denied);
	else
		snprintf(buf, size, "%llu/%llu", (unsigned long long)t->packets_allowed,
			 (unsigned long long)t->bytes_allowed);
}

static const char *mode_name(const struct list_row *r)
{
	if (!r->have_conf)
		return NULL;
	return r->conf.mode & OCB_MODE_AUDIT ? "audit" : "enforce";
}

/* The MODE cell: a policy that can be bypassed says so where it is read. */
static const char *mode_cell(const struct list_row *r, char *buf, size_t size)
{
	const char *mode = mode_name(r);

	if (!r->have_info || !(r->info.flags & OCB_INFO_BYPASSABLE))
		return mode;
	snprintf(buf, size, "%s,bypassable", mode ? mode : "?");
	return buf;
}

static int add_text_row(struct table *t, const struct list_row *r, const struct list_opts *o)
{
	char id[OCB_ID_MAX + 1], when[32], cells[4][48], mode[32];
	const char *row[10];

	snprintf(id, sizeof(id), "%s", r->e->id);
	if (!o->no_trunc && long_hex_id(id))
		id[SHORT_ID_LEN] = '\0';
	fmt_time_iso(r->have_info ? r->info.attach_time : 0, when, sizeof(when));
	traffic_cell(r, &r->stats.ingress, false, cells[0], sizeof(cells[0]));
	traffic_cell(r, &r->stats.ingress, true, cells[1], sizeof(cells[1]));
	traffic_cell(r, &r->stats.egress, false, cells[2], sizeof(cells[2]));
	traffic_cell(r, &r->stats.egress, true, cells[3], sizeof(cells[3]));
	row[0] = id;
	row[1] = inspect_liveness_name(r->live);
	row[2] = r->have_info && r->info.profile[0] ? r->info.profile : NULL;
	row[3] = mode_cell(r, mode, sizeof(mode));
	row[4] = when;
	row[5] = r->have_info && r->info.cgroup[0] ? r->info.cgroup : NULL;
	row[6] = cells[0];
	row[7] = cells[1];
	row[8] = cells[2];
	row[9] = cells[3];
	return table_add(t, row);
}

static json_t *row_json(const struct list_row *r)
{
	json_t *o;

	o = json_pack("{s:s,s:s}", "id", r->e->id, "state", inspect_liveness_name(r->live));
	if (o && r->have_info)
		fmt_info_json(o, &r->info);
	if (o && r->have_conf)
		json_object_set_new(o, "mode", json_string(mode_name(r)));
	if (o && r->have_stats)
		json_object_set_new(o, "counters", fmt_stats_json(&r->stats));
	return o;
}

static int print_rows(const struct ocb_entries *ents, const struct list_opts *o)
{
	static const char *const header[] = { "ID",	     "STATE",	  "PROFILE",	"MODE",
					      "ATTACHED",    "CGROUP",	  "IN-ALLOWED", "IN-DENIED",
					      "OUT-ALLOWED", "OUT-DENIED" };
	json_t *arr = o->json ? json_array() : NULL;
	struct table t;
	size_t i;
	int err = 0;

	table_init(&t, 10);
	if (!o->json)
		err = table_add(&t, header);
	for (i = 0; !err && i < ents->n; i++) {
		struct list_row r = { .e = &ents->v[i] };

		if (!read_row(&r))
			continue;
		if (o->json)
			err = json_array_append_new(arr, row_json(&r)) ? -ENOMEM : 0;
		else
			err = add_text_row(&t, &r, o);
	}
	if (!err && o->json)
		err = fmt_json_print(json_incref(arr));
	else if (!err)
		table_print(&t, stdout);
	json_decref(arr);
	table_free(&t);
	return err == -ENOMEM ? ocb_err(err, "out of memory listing containers") : err;
}

int cmd_list(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct ocb_entries ents;
	struct pin_tree tree;
	struct list_opts o;
	int err = parse_opts(ctx, argc, argv, &o);

	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	err = inspect_scan_bpffs(ctx->bpffs, &tree, &ents);
	if (err)
		return err;
	err = print_rows(&ents, &o);
	inspect_entries_free(&ents);
	return err;
}
