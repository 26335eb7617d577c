// SPDX-License-Identifier: GPL-2.0
/* `list`: the attached containers, one line each. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"

/* Podman-style: full 64-hex ids are shown as their first 12 characters. */
#define SHORT_ID_LEN 12

struct list_opts {
	bool json, no_trunc, wide;
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
	fprintf(out, "Usage: " OCB_NAME " list [--json] [--no-trunc] [--wide]\n"
		     "\n"
		     "The containers attached on this host (pins under BPFFS/" OCB_NAME "/).\n"
		     "MODE is the live policy's: enforce, or audit (denials only counted);\n"
		     "\",bypassable\": the container holds CAP_NET_RAW or CAP_NET_ADMIN and\n"
		     "started only because privileged_network is warn: it can get around it.\n"
		     "STATE is live while the container's cgroup exists, stale once it is gone\n"
		     "(its pins only hold memory: '" OCB_NAME " gc' removes them).\n"
		     "NAME is the runtime's (Kubernetes: namespace/pod/container), where it\n"
		     "gives one. AGE is the time since attach. IN and OUT are the packets\n"
		     "allowed/denied since attach, summed over CPUs (--wide: PACKETS/BYTES\n"
		     "allowed and denied each way); CALLS-DENIED counts the connects and UDP\n"
		     "sends denied. In audit mode, denied counts what would have been denied.\n"
		     "\n"
		     "  -j, --json      JSON output\n"
		     "      --no-trunc  show full 64-character ids\n"
		     "  -w, --wide      the attach time, bytes, CGROUP and DESCRIPTION (the\n"
		     "                  profile's); names uncut\n"
		     "  -h, --help      show this help\n");
}

static int parse_opts(const struct cli_ctx *ctx, int argc, char **argv, struct list_opts *o)
{
	const struct cli_flag flags[] = { { "no-trunc", 0, &o->no_trunc },
					  { "wide", 'w', &o->wide },
					  { 0 } };
	const struct cli_spec spec = { "list", list_usage, flags, 0, 0, NULL };
	int first;

	o->no_trunc = o->wide = false;
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

/* The columns. By default: NAME where a row has one, the age and the
 * packets allowed/denied each way (it fits in 120 columns); --wide: the
 * attach time, packets/bytes, CGROUP and DESCRIPTION. */
enum list_col {
	COL_ID,
	COL_NAME,
	COL_STATE,
	COL_PROFILE,
	COL_MODE,
	COL_AGE,
	COL_ATTACHED,
	COL_IN,
	COL_OUT,
	COL_IN_ALLOWED,
	COL_IN_DENIED,
	COL_OUT_ALLOWED,
	COL_OUT_DENIED,
	COL_CALLS_DENIED,
	COL_CGROUP,
	COL_DESCRIPTION,
	N_COLS
};

enum { NARROW = 1, WIDE = 2 };

static const struct {
	const char *name;
	unsigned int in; /* NARROW, WIDE or both */
} columns[N_COLS] = {
	[COL_ID] = { "ID", NARROW | WIDE },
	[COL_NAME] = { "NAME", NARROW | WIDE },
	[COL_STATE] = { "STATE", NARROW | WIDE },
	[COL_PROFILE] = { "PROFILE", NARROW | WIDE },
	[COL_MODE] = { "MODE", NARROW | WIDE },
	[COL_AGE] = { "AGE", NARROW },
	[COL_ATTACHED] = { "ATTACHED", WIDE },
	[COL_IN] = { "IN", NARROW },
	[COL_OUT] = { "OUT", NARROW },
	[COL_IN_ALLOWED] = { "IN-ALLOWED", WIDE },
	[COL_IN_DENIED] = { "IN-DENIED", WIDE },
	[COL_OUT_ALLOWED] = { "OUT-ALLOWED", WIDE },
	[COL_OUT_DENIED] = { "OUT-DENIED", WIDE },
	[COL_CALLS_DENIED] = { "CALLS-DENIED", NARROW | WIDE },
	[COL_CGROUP] = { "CGROUP", WIDE },
	[COL_DESCRIPTION] = { "DESCRIPTION", WIDE },
};

/* A NAME longer than this is cut (with --wide, never). */
#define NAME_COLS 32

static size_t pick_cols(const struct list_row *rows, size_t n, const struct list_opts *o,
			enum list_col *cols)
{
	unsigned int want = o->wide ? WIDE : NARROW;
	bool named = o->wide;
	size_t i, k = 0;
	int c;

	for (i = 0; i < n && !named; i++)
		named = rows[i].have_info && rows[i].info.name[0];
	for (c = 0; c < N_COLS; c++)
		if ((columns[c].in & want) && (c != COL_NAME || named))
			cols[k++] = (enum list_col)c;
	return k;
}

/* "45s", "12m", "3h", "5d": since @ns (CLOCK_REALTIME). */
static void age_text(__u64 ns, char *buf, size_t size)
{
	struct timespec now;
	long long s;

	clock_gettime(CLOCK_REALTIME, &now);
	s = (long long)now.tv_sec - (long long)(ns / 1000000000ull);
	if (!ns || s < 0)
		snprintf(buf, size, "-");
	else if (s < 120)
		snprintf(buf, size, "%llds", s);
	else if (s < 7200)
		snprintf(buf, size, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(buf, size, "%lldh", s / 3600);
	else
		snprintf(buf, size, "%lldd", s / 86400);
}

/* Packets allowed/denied (IN, OUT). */
static void packets_cell(const struct list_row *r, const struct ocb_traffic *t, char *buf,
			 size_t size)
{
	if (!r->have_stats)
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%llu/%llu", (unsigned long long)t->packets_allowed,
			 (unsigned long long)t->packets_denied);
}

static int add_text_row(struct table *t, const struct list_row *r, const struct list_opts *o,
			const enum list_col *cols, size_t n_cols)
{
	char id[OCB_ID_MAX + 1], when[32], age[24], cells[7][48], mode[32], name[OCB_TEXT_MAX];
	const char *cell[N_COLS] = { 0 }, *row[N_COLS];
	const struct ocb_info *in = r->have_info ? &r->info : NULL;
	size_t i;

	snprintf(id, sizeof(id), "%s", r->e->id);
	if (!o->no_trunc && long_hex_id(id))
		id[SHORT_ID_LEN] = '\0';
	snprintf(name, sizeof(name), "%s", in ? in->name : "");
	if (!o->wide && strlen(name) > NAME_COLS)
		memcpy(name + NAME_COLS - 3, "...", 4);
	fmt_time_iso(in ? in->attach_time : 0, when, sizeof(when));
	age_text(in ? in->attach_time : 0, age, sizeof(age));
	traffic_cell(r, &r->stats.ingress, false, cells[0], sizeof(cells[0]));
	traffic_cell(r, &r->stats.ingress, true, cells[1], sizeof(cells[1]));
	traffic_cell(r, &r->stats.egress, false, cells[2], sizeof(cells[2]));
	traffic_cell(r, &r->stats.egress, true, cells[3], sizeof(cells[3]));
	packets_cell(r, &r->stats.ingress, cells[5], sizeof(cells[5]));
	packets_cell(r, &r->stats.egress, cells[6], sizeof(cells[6]));
	if (r->have_stats)
		snprintf(cells[4], sizeof(cells[4]), "%llu",
			 (unsigned long long)(r->stats.connects_denied + r->stats.sends_denied));
	else
		snprintf(cells[4], sizeof(cells[4]), "?");
	cell[COL_ID] = id;
	cell[COL_NAME] = name[0] ? name : NULL;
	cell[COL_STATE] = inspect_liveness_name(r->live);
	cell[COL_PROFILE] = in && in->profile[0] ? in->profile : NULL;
	cell[COL_MODE] = mode_cell(r, mode, sizeof(mode));
	cell[COL_AGE] = age;
	cell[COL_ATTACHED] = when;
	cell[COL_IN] = cells[5];
	cell[COL_OUT] = cells[6];
	cell[COL_IN_ALLOWED] = cells[0];
	cell[COL_IN_DENIED] = cells[1];
	cell[COL_OUT_ALLOWED] = cells[2];
	cell[COL_OUT_DENIED] = cells[3];
	cell[COL_CALLS_DENIED] = cells[4];
	cell[COL_CGROUP] = in && in->cgroup[0] ? in->cgroup : NULL;
	cell[COL_DESCRIPTION] = in && in->description[0] ? in->description : NULL;
	for (i = 0; i < n_cols; i++)
		row[i] = cell[cols[i]];
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

static int print_text(const struct list_row *rows, size_t n, const struct list_opts *o)
{
	enum list_col cols[N_COLS];
	const char *header[N_COLS];
	size_t n_cols = pick_cols(rows, n, o, cols), i;
	struct table t;
	int err;

	for (i = 0; i < n_cols; i++)
		header[i] = columns[cols[i]].name;
	table_init(&t, n_cols);
	err = table_add(&t, header);
	for (i = 0; !err && i < n; i++)
		err = add_text_row(&t, &rows[i], o, cols, n_cols);
	if (!err)
		table_print(&t, stdout);
	table_free(&t);
	return err;
}

static int print_json(const struct list_row *rows, size_t n)
{
	json_t *arr = json_array();
	size_t i;
	int err = arr ? 0 : -ENOMEM;

	for (i = 0; !err && i < n; i++)
		err = json_array_append_new(arr, row_json(&rows[i])) ? -ENOMEM : 0;
	if (!err)
		err = fmt_json_print(json_incref(arr));
	json_decref(arr);
	return err;
}

static int print_rows(const struct ocb_entries *ents, const struct list_opts *o)
{
	struct list_row *rows = calloc(ents->n ? ents->n : 1, sizeof(*rows));
	size_t i, n = 0;
	int err;

	if (!rows)
		return ocb_err(-ENOMEM, "out of memory listing containers");
	for (i = 0; i < ents->n; i++) {
		rows[n].e = &ents->v[i];
		if (read_row(&rows[n]))
			n++;
	}
	err = o->json ? print_json(rows, n) : print_text(rows, n, o);
	free(rows);
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
