// SPDX-License-Identifier: GPL-2.0
/* `show ID`: everything about one container, read back from the kernel. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"

struct show_data {
	const struct ocb_entry *e;
	struct ocb_info info;
	struct ocb_stats stats;
	struct policy_view pv;
	struct pin_desc *pins;
	size_t n_pins;
	enum ocb_liveness live;
	unsigned long long link_cgroup_id;
	bool have_info, have_stats, have_policy;
};

static void show_usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " show [--json] ID\n"
		     "\n"
		     "Everything about one attached container, read from the kernel: its pins,\n"
		     "links and programs, cgroup, profile, the policy in effect (mode, defaults,\n"
		     "rules and port classes of the active generation) and its counters.\n"
		     "ID may be any unique prefix of a container id.\n"
		     "\n"
		     "  -j, --json  JSON output\n"
		     "  -h, --help  show this help\n");
}

static int parse_opts(const struct cli_ctx *ctx, int argc, char **argv, bool *json, const char **id)
{
	static const struct cli_spec spec = {
		"show", show_usage, NULL, 1, 1, "takes exactly one container ID"
	};
	int first, err = cli_parse(ctx, &spec, argc, argv, json, &first);

	if (!err)
		*id = argv[first];
	return err;
}

static int read_data(struct show_data *d)
{
	int err = inspect_pins(d->e->dir, &d->pins, &d->n_pins);

	if (err) {
		ocb_err_clear();
		return ocb_err(-ENOENT, "container %s was detached while it was read", d->e->id);
	}
	d->live = inspect_liveness(d->e->dir, &d->link_cgroup_id);
	d->have_info = !inspect_read_info(d->e->dir, &d->info);
	inspect_tolerate();
	d->have_stats = !inspect_read_stats(d->e->dir, &d->stats);
	inspect_tolerate();
	d->have_policy = !inspect_read_policy(d->e->dir, &d->pv);
	inspect_tolerate();
	return 0;
}

static void range_text(const struct port_range *r, char *buf, size_t size)
{
	char pbuf[16];
	const char *proto = r->any_proto ? "any protocol" : fmt_proto(r->proto, pbuf, sizeof(pbuf));

	if (!r->any_proto && !inspect_proto_has_ports(r->proto))
		snprintf(buf, size, "%s", proto);
	else if (r->from == 0 && r->to == 65535)
		snprintf(buf, size, "%s all ports", proto);
	else if (r->from == r->to)
		snprintf(buf, size, "%s %u", proto, r->from);
	else
		snprintf(buf, size, "%s %u-%u", proto, r->from, r->to);
}

/* "tcp 80, udp 53": the port ranges of @class in direction @dir. */
static void class_ports_text(const struct policy_view *pv, unsigned int dir, unsigned int class,
			     char *buf, size_t size)
{
	size_t i, used = 0;
	char one[64];

	buf[0] = '\0';
	for (i = 0; i < pv->n_ranges && used < size; i++) {
		const struct port_range *r = &pv->ranges[i];

		if (r->class != class || (r->dir != dir && r->dir != PORT_DIR_ANY))
			continue;
		range_text(r, one, sizeof(one));
		used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", one);
	}
	if (!used)
		snprintf(buf, size, "no ports");
}

/* "packet, raw" or @none: the names of the bits set in @bits. */
static void flags_text(unsigned int bits, const char *const *names, char *buf, size_t size,
		       const char *none)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; names[i]; i++)
		if (bits & (1u << i) && used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
						 names[i]);
	if (!used)
		snprintf(buf, size, "%s", none);
}

/* By bit: OCB_SOCK_DENY_PACKET, OCB_SOCK_DENY_RAW; OCB_TRACE_*. */
static const char *const sock_names[] = { "packet", "raw", NULL };
static const char *const trace_names[] = { "connects", "drops", NULL };

static json_t *flags_json(unsigned int bits, const char *const *names)
{
	json_t *arr = json_array();
	unsigned int i;

	for (i = 0; arr && names[i]; i++)
		if (bits & (1u << i))
			json_array_append_new(arr, json_string(names[i]));
	return arr;
}

static void print_header(const struct show_data *d)
{
	char when[32], flags[64];

	fmt_time_iso(d->have_info ? d->info.attach_time : 0, when, sizeof(when));
	printf("Container:    %s\n", d->e->id);
	printf("Pins:         %s\n", d->e->dir);
	printf("State:        %s\n", inspect_liveness_name(d->live));
	if (d->have_info) {
		printf("Cgroup:       %s (id %llu)\n", d->info.cgroup,
		       (unsigned long long)d->info.cgroup_id);
		if (d->info.name[0])
			printf("Name:         %s\n", d->info.name);
		printf("Profile:      %s\n", d->info.profile[0] ? d->info.profile : "-");
		if (d->info.description[0])
			printf("Description:  %s\n", d->info.description);
		printf("Bundle:       %s\n", d->info.bundle[0] ? d->info.bundle : "-");
		printf("Attached:     %s\n", when);
		if (d->info.flags & OCB_INFO_BYPASSABLE)
			printf("Bypassable:   yes: it holds CAP_NET_RAW or CAP_NET_ADMIN and started because privileged_network is warn; its policy can be got around\n");
	}
	if (d->have_policy) {
		printf("Mode:         %s\n",
		       d->pv.conf.mode & OCB_MODE_AUDIT ? "audit" : "enforce");
		printf("Defaults:     ingress %s, egress %s\n",
		       fmt_verdict(d->pv.conf.default_verdict[OCB_INGRESS]),
		       fmt_verdict(d->pv.conf.default_verdict[OCB_EGRESS]));
		flags_text(d->pv.conf.sockets, sock_names, flags, sizeof(flags), "none");
		printf("Deny sockets: %s\n", flags);
		flags_text(d->pv.conf.trace, trace_names, flags, sizeof(flags), "nothing");
		printf("Traces:       %s\n", flags);
		printf("Generation:   %u\n", d->pv.gen);
	}
}

static const char *attach_type_name(unsigned int t)
{
	const char *s = libbpf_bpf_attach_type_str((enum bpf_attach_type)t);

	return s ? s : "?";
}

static int add_link_row(struct table *t, const struct pin_desc *p)
{
	char id[16], prog[16], cg[24];
	const char *row[6] = {
		p->name, id, prog, p->prog_name, attach_type_name(p->attach_type), cg
	};

	snprintf(id, sizeof(id), "%u", p->id);
	snprintf(prog, sizeof(prog), "%u", p->prog_id);
	snprintf(cg, sizeof(cg), "%llu", p->cgroup_id);
	return table_add(t, row);
}

static int add_map_row(struct table *t, const struct pin_desc *p)
{
	const char *type = libbpf_bpf_map_type_str((enum bpf_map_type)p->map_type);
	char id[16], max[16];
	const char *row[4] = { p->name, id, type ? type : "?", max };

	snprintf(id, sizeof(id), "%u", p->id);
	snprintf(max, sizeof(max), "%u", p->max_entries);
	return table_add(t, row);
}

/* Pins we did not make (or cannot read) are listed, not judged. */
static void print_other_pins(const struct show_data *d)
{
	size_t i;

	for (i = 0; i < d->n_pins; i++) {
		const struct pin_desc *p = &d->pins[i];

		if (p->err)
			printf("pin %s: %s\n", p->name, strerror(-p->err));
		else if (p->kind != PIN_LINK && p->kind != PIN_MAP)
			printf("pin %s: %s %u\n", p->name,
			       p->kind == PIN_PROG ? "program" : "object", p->id);
	}
}

static int print_pins(const struct show_data *d)
{
	static const char *const lh[] = { "LINK", "LINK-ID",	 "PROG-ID",
					  "PROG", "ATTACH-TYPE", "CGROUP-ID" };
	static const char *const mh[] = { "MAP", "MAP-ID", "TYPE", "MAX-ENTRIES" };
	struct table links, maps;
	size_t i;
	int err;

	table_init(&links, 6);
	table_init(&maps, 4);
	err = table_add(&links, lh);
	if (!err)
		err = table_add(&maps, mh);
	for (i = 0; !err && i < d->n_pins; i++) {
		const struct pin_desc *p = &d->pins[i];

		if (!p->err && p->kind == PIN_LINK)
			err = add_link_row(&links, p);
		else if (!p->err && p->kind == PIN_MAP)
			err = add_map_row(&maps, p);
	}
	if (!err) {
		printf("\n");
		table_print(&links, stdout);
		printf("\n");
		table_print(&maps, stdout);
		print_other_pins(d);
	}
	table_free(&links);
	table_free(&maps);
	return err;
}

static int add_rule_row(struct table *t, const struct policy_view *pv,
			const struct policy_rule_view *r)
{
	char idx[16], cidr[64], match[256];
	const char *row[5] = { idx, fmt_dir(r->key.dir), cidr, match, fmt_verdict(r->val.verdict) };

	snprintf(idx, sizeof(idx), "%u", r->val.rule);
	inspect_rule_cidr(&r->key, cidr, sizeof(cidr));
	if (r->key.kind == OCB_KIND_CLASS) {
		char ports[200];

		class_ports_text(pv, r->key.dir, r->key.class, ports, sizeof(ports));
		snprintf(match, sizeof(match), "class %u (%s)", r->key.class, ports);
	} else {
		snprintf(match, sizeof(match), "address");
	}
	return table_add(t, row);
}

static int add_range_row(struct table *t, const struct port_range *r)
{
	char class[16], pbuf[16], ports[16];
	const char *row[4] = { class, fmt_dir(r->dir),
			       r->any_proto ? "any" : fmt_proto(r->proto, pbuf, sizeof(pbuf)),
			       ports };

	snprintf(class, sizeof(class), "%u", r->class);
	if (!r->any_proto && !inspect_proto_has_ports(r->proto))
		snprintf(ports, sizeof(ports), "-");
	else if (r->from == r->to)
		snprintf(ports, sizeof(ports), "%u", r->from);
	else
		snprintf(ports, sizeof(ports), "%u-%u", r->from, r->to);
	return table_add(t, row);
}

static int print_policy(const struct policy_view *pv)
{
	static const char *const rh[] = { "RULE", "DIRECTION", "REMOTE", "MATCH", "VERDICT" };
	static const char *const ph[] = { "CLASS", "DIRECTION", "PROTO", "PORTS" };
	struct table rules, ranges;
	size_t i;
	int err;

	table_init(&rules, 5);
	table_init(&ranges, 4);
	err = table_add(&rules, rh);
	if (!err)
		err = table_add(&ranges, ph);
	for (i = 0; !err && i < pv->n_rules; i++)
		err = add_rule_row(&rules, pv, &pv->rules[i]);
	for (i = 0; !err && i < pv->n_ranges; i++)
		err = add_range_row(&ranges, &pv->ranges[i]);
	if (!err) {
		printf("\nRules in effect (generation %u): %zu\n", pv->gen, pv->n_rules);
		if (pv->n_rules)
			table_print(&rules, stdout);
		else
			printf("none: the defaults decide\n");
		if (pv->n_ranges) {
			printf("\nPort classes:\n");
			table_print(&ranges, stdout);
		}
	}
	table_free(&rules);
	table_free(&ranges);
	return err;
}

static int print_text(const struct show_data *d)
{
	int err;

	print_header(d);
	err = print_pins(d);
	if (!err && d->have_policy)
		err = print_policy(&d->pv);
	if (!err && d->have_stats) {
		printf("\nCounters:\n");
		fmt_stats_text(&d->stats, "  ", stdout);
	}
	return err;
}

static json_t *pin_json(const struct pin_desc *p)
{
	const char *s;

	if (p->err)
		return json_pack("{s:s,s:s,s:s}", "name", p->name, "kind", "unknown", "error",
				 strerror(-p->err));
	if (p->kind == PIN_LINK) {
		s = libbpf_bpf_attach_type_str((enum bpf_attach_type)p->attach_type);
		return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s?,s:I}", "name", p->name, "kind", "link",
				 "id", (json_int_t)p->id, "prog_id", (json_int_t)p->prog_id,
				 "prog_name", p->prog_name, "attach_type", s, "cgroup_id",
				 (json_int_t)p->cgroup_id);
	}
	if (p->kind == PIN_MAP) {
		s = libbpf_bpf_map_type_str((enum bpf_map_type)p->map_type);
		return json_pack("{s:s,s:s,s:I,s:s?,s:s,s:I}", "name", p->name, "kind", "map", "id",
				 (json_int_t)p->id, "type", s, "map_name", p->map_name,
				 "max_entries", (json_int_t)p->max_entries);
	}
	return json_pack("{s:s,s:s,s:I}", "name", p->name, "kind",
			 p->kind == PIN_PROG ? "prog" : "other", "id", (json_int_t)p->id);
}

static json_t *range_json(const struct port_range *r)
{
	char pbuf[16];

	return json_pack("{s:i,s:s,s:s,s:i,s:i}", "class", (int)r->class, "direction",
			 fmt_dir(r->dir), "proto",
			 r->any_proto ? "any" : fmt_proto(r->proto, pbuf, sizeof(pbuf)), "from",
			 r->from, "to", r->to);
}

static json_t *class_ports_json(const struct policy_view *pv, unsigned int dir, unsigned int class)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < pv->n_ranges; i++)
		if (pv->ranges[i].class == class &&
		    (pv->ranges[i].dir == dir || pv->ranges[i].dir == PORT_DIR_ANY))
			json_array_append_new(arr, range_json(&pv->ranges[i]));
	return arr;
}

static json_t *rule_json(const struct policy_view *pv, const struct policy_rule_view *r)
{
	char cidr[64];
	json_t *o;

	inspect_rule_cidr(&r->key, cidr, sizeof(cidr));
	o = json_pack("{s:i,s:s,s:s,s:s,s:s}", "rule", (int)r->val.rule, "direction",
		      fmt_dir(r->key.dir), "cidr", cidr, "kind",
		      r->key.kind == OCB_KIND_CLASS ? "class" : "addr", "verdict",
		      fmt_verdict(r->val.verdict));
	if (o && r->key.kind == OCB_KIND_CLASS) {
		json_object_set_new(o, "class", json_integer(r->key.class));
		json_object_set_new(o, "ports", class_ports_json(pv, r->key.dir, r->key.class));
	}
	return o;
}

static json_t *policy_json(const struct policy_view *pv)
{
	json_t *rules = json_array(), *ranges = json_array();
	size_t i;

	for (i = 0; rules && i < pv->n_rules; i++)
		json_array_append_new(rules, rule_json(pv, &pv->rules[i]));
	for (i = 0; ranges && i < pv->n_ranges; i++)
		json_array_append_new(ranges, range_json(&pv->ranges[i]));
	return json_pack("{s:i,s:s,s:{s:s,s:s},s:o,s:o,s:o,s:o}", "generation", (int)pv->gen,
			 "mode", pv->conf.mode & OCB_MODE_AUDIT ? "audit" : "enforce", "defaults",
			 "ingress", fmt_verdict(pv->conf.default_verdict[OCB_INGRESS]), "egress",
			 fmt_verdict(pv->conf.default_verdict[OCB_EGRESS]), "deny_sockets",
			 flags_json(pv->conf.sockets, sock_names), "trace",
			 flags_json(pv->conf.trace, trace_names), "rules", rules, "port_classes",
			 ranges);
}

static json_t *show_json(const struct show_data *d)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "id", d->e->id, "pin_dir", d->e->dir, "state",
			      inspect_liveness_name(d->live));
	json_t *pins = json_array();
	size_t i;

	for (i = 0; pins && i < d->n_pins; i++)
		json_array_append_new(pins, pin_json(&d->pins[i]));
	if (!o) {
		json_decref(pins);
		return NULL;
	}
	json_object_set_new(o, "link_cgroup_id", json_integer((json_int_t)d->link_cgroup_id));
	if (d->have_info)
		fmt_info_json(o, &d->info);
	json_object_set_new(o, "pins", pins);
	if (d->have_policy)
		json_object_set_new(o, "policy", policy_json(&d->pv));
	if (d->have_stats)
		json_object_set_new(o, "counters", fmt_stats_json(&d->stats));
	return o;
}

int cmd_show(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct show_data d = { 0 };
	struct ocb_entries ents = { 0 };
	struct pin_tree tree;
	const char *id = NULL;
	bool json;
	int err = parse_opts(ctx, argc, argv, &json, &id);

	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	err = inspect_scan_bpffs(ctx->bpffs, &tree, &ents);
	if (!err)
		err = inspect_resolve(&ents, id, &d.e);
	if (!err)
		err = read_data(&d);
	if (!err)
		err = json ? fmt_json_print(show_json(&d)) : print_text(&d);
	free(d.pins);
	inspect_policy_free(&d.pv);
	inspect_entries_free(&ents);
	return err;
}
