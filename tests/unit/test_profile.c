// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for hook/profile.c, hook/compile.c and hook/config.c: every
 * rule form, ties and overlaps, bad input. What compiled profiles decide
 * is tested on the loaded programs themselves, in test_datapath.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "config.h"
#include "log.h"
#include "ocb_maps.h"
#include "policy.h"
#include "advice.h"
#include "profile.h"
#include "text.h"

static int parse(const char *json, struct profile *p)
{
	ocb_err_clear();
	return profile_parse(json, strlen(json), "test.json", p);
}

static void expect_error(const char *json, const char *needle)
{
	struct profile p;
	int err = parse(json, &p);

	if (!err)
		fail_msg("accepted: %s", json);
	if (!strstr(ocb_err_msg(), needle))
		fail_msg("message \"%s\" lacks \"%s\"", ocb_err_msg(), needle);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(profile_name_valid("no-lan"));
	assert_true(profile_name_valid("a"));
	assert_true(profile_name_valid("v1.2_x-y"));
	assert_false(profile_name_valid(""));
	assert_false(profile_name_valid("-x"));
	assert_false(profile_name_valid(".x"));
	assert_false(profile_name_valid("../etc/passwd"));
	assert_false(profile_name_valid("a/b"));
	assert_false(profile_name_valid("Upper"));
	assert_false(profile_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_true(profile_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_cidr_forms(void **state)
{
	__u8 a[16], bits;

	(void)state;
	assert_int_equal(parse_cidr("10.0.0.0/8", a, &bits), 0);
	assert_int_equal(bits, 104);
	assert_int_equal(a[10], 0xff);
	assert_int_equal(a[12], 10);
	assert_int_equal(parse_cidr("10.1.2.3", a, &bits), 0);
	assert_int_equal(bits, 128);
	assert_int_equal(parse_cidr("0.0.0.0/0", a, &bits), 0);
	assert_int_equal(bits, 96);
	assert_int_equal(parse_cidr("fc00::/7", a, &bits), 0);
	assert_int_equal(bits, 7);
	assert_int_equal(a[0], 0xfc);
	assert_int_equal(parse_cidr("::/0", a, &bits), 0);
	assert_int_equal(bits, 0);
	assert_int_equal(parse_cidr("::1", a, &bits), 0);
	assert_int_equal(bits, 128);
	/* refusals */
	assert_int_equal(parse_cidr("10.0.0.0/33", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("10.0.0/8", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("10.0.0.0/", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("10.0.0.0/8x", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("10.0.0.0/-1", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("fc00::/129", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("garbage", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("", a, &bits), -EINVAL);
	assert_int_equal(parse_cidr("10.1.0.0/8", a, &bits), -ERANGE);
	assert_int_equal(parse_cidr("fc01::/7", a, &bits), -ERANGE);
}

static void test_port_forms(void **state)
{
	struct port_span *r;
	size_t n;

	(void)state;
	assert_int_equal(parse_ports("25,465,587", &r, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].lo, 25);
	assert_int_equal(r[2].hi, 587);
	free(r);
	/* sorted and merged: overlapping and adjacent ranges join */
	assert_int_equal(parse_ports("2000-3000, 1000-2000,3001,10", &r, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].lo, 10);
	assert_int_equal(r[1].lo, 1000);
	assert_int_equal(r[1].hi, 3001);
	free(r);
	assert_int_equal(parse_ports("1-65535", &r, &n), 0);
	assert_int_equal(n, 1);
	free(r);
	assert_int_equal(parse_ports("0", &r, &n), -ERANGE);
	assert_int_equal(parse_ports("65536", &r, &n), -ERANGE);
	assert_int_equal(parse_ports("99999999999", &r, &n), -ERANGE);
	assert_int_equal(parse_ports("20-10", &r, &n), -ERANGE);
	assert_int_equal(parse_ports("", &r, &n), -EINVAL);
	assert_int_equal(parse_ports("25,", &r, &n), -EINVAL);
	assert_int_equal(parse_ports("a", &r, &n), -EINVAL);
	assert_int_equal(parse_ports("1-2-3", &r, &n), -EINVAL);
}

static void test_full_example(void **state)
{
	static const char json[] =
		"{\"description\": \"no LAN, no metadata service, no SMTP\","
		" \"egress\": {\"default\": \"allow\","
		"  \"deny\": [\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\", \"169.254.0.0/16\","
		"   \"fc00::/7\", {\"cidr\": \"0.0.0.0/0\", \"proto\": \"tcp\", \"ports\": \"25,465,587\"}],"
		"  \"allow\": [\"10.1.2.3\", {\"cidr\": \"192.168.1.0/24\", \"proto\": \"udp\", \"ports\": \"53\"}]},"
		" \"ingress\": {\"default\": \"deny\", \"deny\": [], \"allow\": [{\"cidr\": \"::/0\", \"proto\": \"icmp\"}]},"
		" \"mode\": \"audit\", \"sockets\": {\"packet\": \"deny\", \"raw\": \"allow\"},"
		" \"trace\": {\"connects\": true, \"drops\": false}}";
	struct ocb_policy *pol;
	struct profile p;

	(void)state;
	assert_int_equal(parse(json, &p), 0);
	assert_string_equal(p.description, "no LAN, no metadata service, no SMTP");
	assert_int_equal(p.n_rules, 9);
	assert_int_equal(p.mode, OCB_MODE_AUDIT);
	assert_int_equal(p.default_verdict[OCB_EGRESS], OCB_ALLOW);
	assert_int_equal(p.default_verdict[OCB_INGRESS], OCB_DENY);
	assert_int_equal(p.sockets, OCB_SOCK_DENY_PACKET);
	assert_int_equal(p.trace, OCB_TRACE_CONNECTS);
	assert_int_equal(p.packet_rate, OCB_PACKET_RATE_DEFAULT);
	assert_int_equal(p.rules[5].tier, TIER_PORTS);
	assert_int_equal(p.rules[5].proto, IPPROTO_TCP);
	assert_string_equal(p.rules[5].where, "egress.deny[5]");
	assert_int_equal(p.rules[8].tier, TIER_PROTO);
	assert_int_equal(policy_compile(&p, "example", &pol), 0);
	/* 6 address rules + tcp 0/0 (one class for 3 ports) + udp /24 + icmp on both families */
	assert_int_equal(pol->n_rules, 6 + 1 + 1 + 2);
	assert_int_equal(pol->mode, OCB_MODE_AUDIT);
	policy_free(pol);
	profile_free(&p);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_error("{\"egress\": {\"deny\": [\"10.0.0.0/8\",]}}", "test.json:1:");
	expect_error("[]", "must be a JSON object");
	expect_error("{\"egres\": {}}", "unknown key \"egres\"");
	expect_error("{\"egress\": {\"defualt\": \"deny\"}}", "unknown key \"defualt\" in egress");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"10.0.0.0/8\", \"port\": \"25\"}]}}",
		     "unknown key \"port\"");
	expect_error("{\"egress\": {\"default\": \"drop\"}}", "egress.default must be");
	expect_error("{\"egress\": {\"deny\": [\"10.0.0.0/33\"]}}", "egress.deny[0]");
	expect_error("{\"egress\": {\"deny\": [\"10.0.0.1/8\"]}}", "host bits");
	expect_error("{\"ingress\": {\"allow\": [42]}}", "ingress.allow[0]");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"proto\": \"gre\"}]}}", "\"proto\"");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"proto\": \"icmp\", \"ports\": \"1\"}]}}",
		     "icmp has no ports");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"proto\": \"tcp\", \"ports\": \"0-5\"}]}}",
		     "bad ports");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"ports\": [25]}]}}", "\"ports\"");
	/* one port as a number is "443"; one out of range is refused, as
	 * the string would be (1000443 was once taken modulo 1000000) */
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"ports\": 1000443}]}}",
		     "bad ports \"1000443\"");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"ports\": -1}]}}",
		     "bad ports \"-1\"");
	expect_error("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"ports\": 0}]}}",
		     "bad ports \"0\"");
	{
		struct profile p;

		assert_int_equal(parse("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"proto\": \"tcp\", \"ports\": 443}]}}",
				       &p),
				 0);
		assert_int_equal(p.rules[0].n_ranges, 1);
		assert_int_equal(p.rules[0].ranges[0].lo, 443);
		assert_int_equal(p.rules[0].ranges[0].hi, 443);
		profile_free(&p);
	}
	expect_error("{\"egress\": {\"deny\": \"10.0.0.0/8\"}}", "must be an array");
	expect_error("{\"mode\": \"permissive\"}", "\"mode\"");
	expect_error("{\"sockets\": {\"packet\": \"no\"}}", "sockets.packet");
	expect_error("{\"sockets\": {\"unix\": \"deny\"}}", "unknown key \"unix\"");
	expect_error("{\"trace\": {\"connects\": 1}}", "trace.connects");
	expect_error("{\"trace\": {\"packets_per_second\": 0}}", "packets_per_second");
	expect_error("{\"trace\": {\"packets_per_second\": 100001}}", "packets_per_second");
	expect_error("{\"trace\": {\"per_packet\": true}}", "unknown key \"per_packet\"");
	expect_error("{\"mode\": \"audit\", \"mode\": \"enforce\"}", "duplicate");
}

static int compile_json(const char *json, struct ocb_policy **pol)
{
	struct profile p;
	int err = parse(json, &p);

	assert_int_equal(err, 0);
	err = policy_compile(&p, "t", pol);
	profile_free(&p);
	return err;
}

/* What list and show print of a description or a name (text.c). */
static void test_text_copy(void **state)
{
	char out[8];

	(void)state;
	text_copy(out, sizeof(out), "abc");
	assert_string_equal(out, "abc");
	text_copy(out, sizeof(out), "a\x1b[2Jb\x7f");
	assert_string_equal(out, "a?[2Jb?");
	text_copy(out, 4, "ab\xc3\xa9");
	assert_string_equal(out, "ab"); /* \xc3\xa9 and the NUL need 3 more */
	text_copy(out, sizeof(out), "ab\xc3\xa9");
	assert_string_equal(out, "ab\xc3\xa9");
	text_copy(out, sizeof(out), "a\xe0\x80\x80z"); /* overlong */
	assert_string_equal(out, "a");
	text_copy(out, sizeof(out), "a\xed\xa0\x80z"); /* a surrogate */
	assert_string_equal(out, "a");
	text_copy(out, sizeof(out), "a\xc3z"); /* cut short */
	assert_string_equal(out, "a");
	text_copy(out, sizeof(out), NULL);
	assert_string_equal(out, "");
}

/* check's warnings: what a valid profile probably does not mean. */
static void test_advice(void **state)
{
	char out[8][ADVICE_LEN];
	struct profile p;
	size_t n;

	(void)state;
	assert_int_equal(parse("{\"egress\": {\"default\": \"allow\", \"deny\": [\"10.0.0.0/8\", \"192.168.0.0/16\", \"10.0.0.0/8\"]},"
			       " \"ingress\": {\"default\": \"deny\", \"allow\": [\"10.1.0.0/16\"]}}",
			       &p),
			 0);
	n = profile_advise(&p, out, 8);
	profile_free(&p);
	assert_int_equal(n, 2);
	assert_non_null(strstr(out[0], "egress.deny[2] repeats egress.deny[0]"));
	assert_non_null(strstr(out[1], "egress denies IPv4 addresses only"));

	/* default deny without loopback; with it, and an IPv6 deny: nothing */
	assert_int_equal(parse("{\"egress\": {\"default\": \"deny\", \"allow\": [\"192.0.2.0/24\"]}}", &p), 0);
	n = profile_advise(&p, out, 8);
	profile_free(&p);
	assert_int_equal(n, 1);
	assert_non_null(strstr(out[0], "egress.default is deny and no egress.allow covers loopback"));
	assert_int_equal(parse("{\"egress\": {\"default\": \"deny\", \"allow\": [\"127.0.0.0/8\"]},"
			       " \"ingress\": {\"deny\": [\"10.0.0.0/8\", \"fd00::/8\"]}}",
			       &p),
			 0);
	assert_int_equal(profile_advise(&p, out, 8), 0);
	profile_free(&p);
	/* deny-all (no allow at all) means it */
	assert_int_equal(parse("{\"egress\": {\"default\": \"deny\"}, \"ingress\": {\"default\": \"deny\"}}", &p), 0);
	assert_int_equal(profile_advise(&p, out, 8), 0);
	profile_free(&p);
	/* the same prefix, other ports: no repeat */
	assert_int_equal(parse("{\"egress\": {\"deny\": [{\"cidr\": \"::/0\", \"proto\": \"tcp\", \"ports\": 25},"
			       " {\"cidr\": \"::/0\", \"proto\": \"tcp\", \"ports\": 26}]}}",
			       &p),
			 0);
	assert_int_equal(profile_advise(&p, out, 8), 0);
	profile_free(&p);
}

static void test_ties(void **state)
{
	struct ocb_policy *pol;

	(void)state;
	/* the same CIDR allowed and denied */
	assert_int_equal(compile_json("{\"egress\": {\"deny\": [\"10.0.0.0/8\"], \"allow\": [\"10.0.0.0/8\"]}}",
				      &pol), -EINVAL);
	assert_non_null(strstr(ocb_err_msg(), "egress.deny[0] and egress.allow[0] tie"));
	/* overlapping ports at the same prefix and specificity */
	assert_int_equal(compile_json("{\"egress\": {\"deny\": [{\"cidr\": \"10.0.0.0/8\", \"proto\": \"tcp\", \"ports\": \"20-30\"}],"
				      " \"allow\": [{\"cidr\": \"10.0.0.0/8\", \"proto\": \"tcp\", \"ports\": \"25\"}]}}",
				      &pol), -EINVAL);
	/* same verdict twice is no conflict */
	assert_int_equal(compile_json("{\"egress\": {\"deny\": [\"10.0.0.0/8\", \"10.0.0.0/8\"]}}", &pol), 0);
	assert_int_equal(pol->n_rules, 1);
	policy_free(pol);
	/* different specificity at one prefix: not a tie */
	assert_int_equal(compile_json("{\"egress\": {\"deny\": [\"10.0.0.0/8\"], \"allow\": [{\"cidr\": \"10.0.0.0/8\", \"proto\": \"tcp\"}]}}",
				      &pol), 0);
	policy_free(pol);
	/* disjoint ports at one prefix: not a tie */
	assert_int_equal(compile_json("{\"egress\": {\"deny\": [{\"cidr\": \"10.0.0.0/8\", \"proto\": \"tcp\", \"ports\": \"25\"}],"
				      " \"allow\": [{\"cidr\": \"10.0.0.0/8\", \"proto\": \"tcp\", \"ports\": \"26\"}]}}",
				      &pol), 0);
	policy_free(pol);
	/* the same prefix in the two directions is no tie either */
	assert_int_equal(compile_json("{\"egress\": {\"deny\": [\"10.0.0.0/8\"]}, \"ingress\": {\"allow\": [\"10.0.0.0/8\"]}}",
				      &pol), 0);
	policy_free(pol);
}

static void test_hundred_thousand_rules(void **state)
{
	size_t cap = 100000 * 24 + 64, off = 0;
	char *json = malloc(cap);
	struct ocb_policy *pol;
	struct profile p;
	int i;

	(void)state;
	assert_non_null(json);
	off += snprintf(json + off, cap - off, "{\"egress\": {\"deny\": [");
	for (i = 0; i < 100000; i++)
		off += snprintf(json + off, cap - off, "%s\"10.%d.%d.%d\"", i ? "," : "", i >> 16,
				(i >> 8) & 255, i & 255);
	snprintf(json + off, cap - off, "]}}");
	assert_int_equal(profile_parse(json, strlen(json), "big.json", &p), 0);
	assert_int_equal(p.n_rules, 100000);
	assert_int_equal(policy_compile(&p, "big", &pol), 0);
	assert_int_equal(pol->n_rules, 100000);
	policy_free(pol);
	profile_free(&p);
	free(json);
}

/* ---- config.json and the profiles directory ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup_dir(void **state)
{
	char path[128];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ocb-test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	chmod(tmpdir, 0755);
	snprintf(path, sizeof(path), "%s/profiles", tmpdir);
	mkdir(path, 0755);
	write_file("profiles/ok.json", "{\"egress\": {\"deny\": [\"10.0.0.0/8\"]}}", 0644);
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) ? -1 : 0;
}

static void test_config_defaults_and_selection(void **state)
{
	struct ocb_config cfg;
	const char *name;

	(void)state;
	ocb_err_clear();
	/* no config.json: built-in defaults */
	assert_int_equal(config_load(tmpdir, &cfg), 0);
	assert_null(cfg.default_profile);
	assert_int_equal(config_select_profile(&cfg, NULL, &name), 0);
	assert_null(name);
	assert_int_equal(config_select_profile(&cfg, "ok", &name), 0);
	assert_string_equal(name, "ok");
	assert_int_equal(config_select_profile(&cfg, "../../etc/shadow", &name), -EINVAL);
	config_free(&cfg);
	/* a missing directory is the defaults too */
	assert_int_equal(config_load("/nonexistent/ocb", &cfg), 0);
	config_free(&cfg);

	write_file("config.json",
		   "{\"default_profile\": \"ok\", \"allowed_profiles\": [\"ok\"], \"on_error\": \"allow\"}", 0644);
	assert_int_equal(config_load(tmpdir, &cfg), 0);
	assert_string_equal(cfg.default_profile, "ok");
	assert_true(cfg.on_error_allow);
	assert_int_equal(config_select_profile(&cfg, NULL, &name), 0);
	assert_string_equal(name, "ok");
	ocb_err_clear();
	assert_int_equal(config_select_profile(&cfg, "other", &name), -EPERM);
	assert_non_null(strstr(ocb_err_msg(), "allowed_profiles"));
	config_free(&cfg);

	write_file("config.json", "{\"default_profil\": \"ok\"}", 0644);
	ocb_err_clear();
	assert_int_equal(config_load(tmpdir, &cfg), -EINVAL);
	assert_non_null(strstr(ocb_err_msg(), "unknown key"));
	write_file("config.json", "{\"on_error\": \"maybe\"}", 0644);
	assert_int_equal(config_load(tmpdir, &cfg), -EINVAL);
	/* unused_profiles: "free" (the default) or "keep" */
	assert_int_equal(config_load("/nonexistent/ocb", &cfg), 0);
	assert_false(cfg.keep_unused);
	config_free(&cfg);
	write_file("config.json", "{\"unused_profiles\": \"keep\"}", 0644);
	assert_int_equal(config_load(tmpdir, &cfg), 0);
	assert_true(cfg.keep_unused);
	config_free(&cfg);
	write_file("config.json", "{\"unused_profiles\": \"free\"}", 0644);
	assert_int_equal(config_load(tmpdir, &cfg), 0);
	assert_false(cfg.keep_unused);
	config_free(&cfg);
	write_file("config.json", "{\"unused_profiles\": \"forever\"}", 0644);
	ocb_err_clear();
	assert_int_equal(config_load(tmpdir, &cfg), -EINVAL);
	assert_non_null(strstr(ocb_err_msg(), "\"unused_profiles\" must be \"free\" or \"keep\""));
	write_file("config.json", "{\n  \"default_profile\": \"ok\",\n}", 0644);
	ocb_err_clear();
	assert_int_equal(config_load(tmpdir, &cfg), -EINVAL);
	assert_non_null(strstr(ocb_err_msg(), "config.json:3:"));
	unlink(strcat(strcpy((char[128]){ 0 }, tmpdir), "/config.json"));
}

static void test_profile_files(void **state)
{
	char link[128], target[128];
	struct ocb_policy *pol;
	struct profile p;

	(void)state;
	ocb_err_clear();
	assert_int_equal(config_load_profile(tmpdir, "ok", &p), 0);
	assert_int_equal(p.n_rules, 1);
	profile_free(&p);
	ocb_err_clear();
	assert_int_equal(config_load_profile(tmpdir, "missing", &p), -ENOENT);
	assert_non_null(strstr(ocb_err_msg(), "unknown profile 'missing'"));

	/* writable by others */
	write_file("profiles/loose.json", "{}", 0666);
	ocb_err_clear();
	assert_int_equal(config_load_profile(tmpdir, "loose", &p), -EPERM);
	assert_non_null(strstr(ocb_err_msg(), "writable by group or others"));
	/* not owned by root */
	write_file("profiles/owned.json", "{}", 0644);
	snprintf(link, sizeof(link), "%s/profiles/owned.json", tmpdir);
	assert_int_equal(chown(link, 65534, 65534), 0);
	ocb_err_clear();
	assert_int_equal(config_load_profile(tmpdir, "owned", &p), -EPERM);
	assert_non_null(strstr(ocb_err_msg(), "not root"));
	/* a symlink out of the directory */
	write_file("outside.json", "{}", 0644);
	snprintf(link, sizeof(link), "%s/profiles/escape.json", tmpdir);
	snprintf(target, sizeof(target), "%s/outside.json", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	ocb_err_clear();
	assert_int_equal(config_load_profile(tmpdir, "escape", &p), -EPERM);
	assert_non_null(strstr(ocb_err_msg(), "outside"));
	/* a symlink inside the directory is fine */
	snprintf(link, sizeof(link), "%s/profiles/alias.json", tmpdir);
	assert_int_equal(symlink("ok.json", link), 0);
	ocb_err_clear();
	assert_int_equal(config_load_policy(tmpdir, "alias", &pol), 0);
	policy_free(pol);
	/* a parse error names file, line and column */
	write_file("profiles/broken.json", "{\n  \"egress\": {\n    \"deny\": [\"10.0.0.0/8\" \"x\"]\n  }\n}\n", 0644);
	ocb_err_clear();
	assert_int_equal(config_load_profile(tmpdir, "broken", &p), -EINVAL);
	assert_non_null(strstr(ocb_err_msg(), "profiles/broken.json:3:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cidr_forms),
		cmocka_unit_test(test_port_forms),
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_advice),
		cmocka_unit_test(test_text_copy),
		cmocka_unit_test(test_hundred_thousand_rules),
		cmocka_unit_test_setup_teardown(test_config_defaults_and_selection, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_profile_files, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
