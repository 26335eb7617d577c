// SPDX-License-Identifier: GPL-2.0
/* Unit tests for hook/pin.c: container ids as bpffs directory names, and
 * the sweep of a dead hook's work directories. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pin.h"
#include "state.h"

/* Encodes @id, checks the name, decodes it back and checks the id. */
static void round_trip(const char *id, const char *want_name)
{
	char name[NAME_MAX + 1], back[OCB_ID_MAX + 1];
	int err;

	memset(name, 0x5a, sizeof(name));
	err = pin_name_encode(id, name, sizeof(name));
	if (err)
		fail_msg("encode '%s': %d", id, err);
	if (want_name)
		assert_string_equal(name, want_name);
	/* bpffs refuses '.' in names; '/' would leave the directory. */
	assert_null(strchr(name, '.'));
	assert_null(strchr(name, '/'));
	assert_true(strlen(name) <= NAME_MAX);

	memset(back, 0x5a, sizeof(back));
	err = pin_name_decode(name, back, sizeof(back));
	if (err)
		fail_msg("decode '%s' (from '%s'): %d", name, id, err);
	assert_string_equal(back, id);
}

static void test_encode_plain(void **state)
{
	(void)state;
	round_trip("abc", "abc");
	round_trip("4f3c2e1d0b9a8f7e6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a39281706",
		   "4f3c2e1d0b9a8f7e6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a39281706");
	round_trip("web_1-x:y@z+", "web_1-x:y@z+");
	round_trip("caf\xc3\xa9", "caf\xc3\xa9");
	round_trip("", "");
}

static void test_encode_dots(void **state)
{
	(void)state;
	round_trip("a.b", "a%2eb");
	round_trip("web-1.example.com", "web-1%2eexample%2ecom");
	round_trip("a..b.", "a%2e%2eb%2e");
	/* Not valid container ids, but the encoding must still hold. */
	round_trip(".", "%2e");
	round_trip("..", "%2e%2e");
}

static void test_encode_percent(void **state)
{
	(void)state;
	round_trip("%", "%25");
	round_trip("100%", "100%25");
	/* An id that looks encoded must not collide with the id it encodes. */
	round_trip("a%2eb", "a%252eb");
	round_trip("%25", "%2525");
	round_trip("%.%", "%25%2e%25");
}

static void test_encode_is_injective(void **state)
{
	static const char *ids[] = { "a.b", "a%2eb", "a%252eb", "a%b", "a%25b", "ab", "a.%b" };
	char names[7][NAME_MAX + 1];
	size_t i, j;

	(void)state;
	for (i = 0; i < 7; i++)
		assert_int_equal(pin_name_encode(ids[i], names[i], sizeof(names[i])), 0);
	for (i = 0; i < 7; i++)
		for (j = i + 1; j < 7; j++)
			if (!strcmp(names[i], names[j]))
				fail_msg("'%s' and '%s' both encode to '%s'", ids[i], ids[j], names[i]);
}

/* Every printable byte but '/', in random ids with a fixed seed. */
static void test_round_trip_random(void **state)
{
	static const char alphabet[] = "..%%abcXYZ019-_:@+~!#$&'()*,;=[]{}^`|\\\"<> ";
	char id[OCB_ID_MAX + 1];
	unsigned int seed = 12345, n, i, len;

	(void)state;
	for (n = 0; n < 5000; n++) {
		seed = seed * 1103515245 + 12345;
		len = 1 + (seed >> 16) % 85;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			id[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		id[len] = '\0';
		/* At most 85 bytes, each at most 3 once encoded: always fits. */
		round_trip(id, NULL);
	}
}

static void test_encode_near_name_max(void **state)
{
	char id[PATH_MAX], name[PATH_MAX];

	(void)state;
	/* 255 plain bytes: exactly NAME_MAX. */
	memset(id, 'a', NAME_MAX);
	id[NAME_MAX] = '\0';
	round_trip(id, id);

	/* 85 dots encode to exactly 255 bytes. */
	memset(id, '.', 85);
	id[85] = '\0';
	round_trip(id, NULL);

	/* 86 dots: 258 bytes, too long for a name, whatever the buffer. */
	memset(id, '.', 86);
	id[86] = '\0';
	assert_int_equal(pin_name_encode(id, name, NAME_MAX + 1), -ENAMETOOLONG);
	assert_int_equal(pin_name_encode(id, name, sizeof(name)), -ENAMETOOLONG);

	/* 253 bytes and one '%' at the end: 256 bytes. */
	memset(id, 'b', 253);
	strcpy(id + 253, "%");
	assert_int_equal(pin_name_encode(id, name, NAME_MAX + 1), -ENAMETOOLONG);
	assert_int_equal(pin_name_encode(id, name, sizeof(name)), -ENAMETOOLONG);
	/* 252 and a '%': 255, fits. */
	memset(id, 'b', 252);
	strcpy(id + 252, "%");
	round_trip(id, NULL);

	/* 256 plain bytes (one over OCB_ID_MAX) do not fit a name either. */
	memset(id, 'a', NAME_MAX + 1);
	id[NAME_MAX + 1] = '\0';
	assert_int_equal(pin_name_encode(id, name, sizeof(name)), -ENAMETOOLONG);
}

static void test_encode_small_buffer(void **state)
{
	char name[8];

	(void)state;
	/* "abcdefg" needs 8 bytes with its NUL. */
	assert_int_equal(pin_name_encode("abcdefg", name, sizeof(name)), 0);
	assert_string_equal(name, "abcdefg");
	assert_int_equal(pin_name_encode("abcdefgh", name, sizeof(name)), -ENAMETOOLONG);
	/* "abcd." needs 4 + 3 + 1 = 8. */
	assert_int_equal(pin_name_encode("abcd.", name, sizeof(name)), 0);
	assert_string_equal(name, "abcd%2e");
	assert_int_equal(pin_name_encode("abcde.", name, sizeof(name)), -ENAMETOOLONG);
	/* An escape is never cut in half. */
	assert_int_equal(pin_name_encode("abcdef%", name, sizeof(name)), -ENAMETOOLONG);
	assert_int_equal(pin_name_encode("a", name, 1), -ENAMETOOLONG);
}

static void test_decode_small_buffer(void **state)
{
	char id[4];

	(void)state;
	assert_int_equal(pin_name_decode("abc", id, sizeof(id)), 0);
	assert_string_equal(id, "abc");
	assert_int_equal(pin_name_decode("abcd", id, sizeof(id)), -ENAMETOOLONG);
	/* Three escapes are three bytes. */
	assert_int_equal(pin_name_decode("%2e%25%2e", id, sizeof(id)), 0);
	assert_string_equal(id, ".%.");
	assert_int_equal(pin_name_decode("%2e%25%2ex", id, sizeof(id)), -ENAMETOOLONG);
}

static void test_zero_size_buffer(void **state)
{
	char buf[4] = "XYZ";

	(void)state;
	/* Even "" needs a byte for its NUL: nothing may be written. */
	assert_int_equal(pin_name_encode("", buf, 0), -ENAMETOOLONG);
	assert_int_equal(pin_name_decode("", buf, 0), -ENAMETOOLONG);
	assert_int_equal(pin_name_encode("a", buf, 0), -ENAMETOOLONG);
	assert_int_equal(pin_name_decode("a", buf, 0), -ENAMETOOLONG);
	assert_memory_equal(buf, "XYZ", 4);
	/* One byte holds exactly "". */
	assert_int_equal(pin_name_encode("", buf, 1), 0);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(pin_name_decode("", buf + 1, 1), 0);
	assert_int_equal(buf[1], '\0');
	assert_int_equal(buf[2], 'Z');
}

static void test_decode_refuses_bad_escapes(void **state)
{
	static const char *bad[] = { "%", "a%", "%2", "a%2", "%2E", "%41", "%%", "%2f", "%00", "x%25%" };
	char id[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pin_name_decode(bad[i], id, sizeof(id)) != -EINVAL)
			fail_msg("decode accepted '%s'", bad[i]);
	/* "%252e" is "%" then "2e", not "%" then "." or "%2e". */
	assert_int_equal(pin_name_decode("x%252e", id, sizeof(id)), 0);
	assert_string_equal(id, "x%2e");
}

static void test_container_dir(void **state)
{
	struct pin_tree t;
	char dir[PATH_MAX], id[128];

	(void)state;
	ocb_err_clear();
	assert_int_equal(pin_tree_init(&t, "/sys/fs/bpf"), 0);
	assert_string_equal(t.base, "/sys/fs/bpf/" OCB_PIN_SUBDIR);
	assert_string_equal(t.work, "/sys/fs/bpf/" OCB_WORK_SUBDIR);
	assert_int_equal(pin_container_dir(&t, "web-1.example.com", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/bpf/oci-cgroup-bpf-hook/web-1%2eexample%2ecom");

	/* 100 dots are a valid id but too long once escaped. */
	memset(id, '.', 100);
	id[0] = 'x';
	id[100] = '\0';
	assert_int_equal(ocb_id_check(id), 0);
	assert_int_equal(pin_container_dir(&t, id, dir, sizeof(dir)), -ENAMETOOLONG);
	if (!strstr(ocb_err_msg(), "too long"))
		fail_msg("message '%s' does not say the id is too long", ocb_err_msg());
	ocb_err_clear();

	/* The directory path itself does not fit the caller's buffer. */
	assert_int_equal(pin_container_dir(&t, "abc", dir, 20), -ENAMETOOLONG);
	ocb_err_clear();
	assert_int_equal(pin_tree_init(&t, "sys/fs/bpf"), -EINVAL);
	ocb_err_clear();
}

static bool exists(const char *dir, const char *name)
{
	char path[2 * PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !stat(path, &st);
}

static void make_dir(const char *work, const char *name, bool with_pin)
{
	char path[2 * PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", work, name);
	assert_int_equal(mkdir(path, 0700), 0);
	if (!with_pin)
		return;
	strcat(path, "/ingress");
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/* What a guard removes for its dead hook: the work directories of that
 * run, files in them included; not those of another pid, even with the
 * same digits in front, nor of another run of the same pid number (pid
 * reuse, another pid namespace). */
static void test_sweep_run(void **state)
{
	const char *tok = pin_run_token();
	char root[] = "/tmp/ocb-test-pin-XXXXXX", mine[3][96], others[5][96];
	struct pin_tree t;
	unsigned int removed;
	size_t i;

	(void)state;
	assert_int_equal(strlen(tok), 16);
	assert_string_equal(tok, pin_run_token()); /* one per process */
	snprintf(mine[0], sizeof(mine[0]), "staging-4242-%s-0", tok);
	snprintf(mine[1], sizeof(mine[1]), "staging-4242-%s-1", tok);
	snprintf(mine[2], sizeof(mine[2]), "trash-4242-%s-0", tok);
	snprintf(others[0], sizeof(others[0]), "staging-42420-%s-0", tok);
	snprintf(others[1], sizeof(others[1]), "staging-424-%s-0", tok);
	snprintf(others[2], sizeof(others[2]), "staging-4242-0123456789abcdef-0");
	snprintf(others[3], sizeof(others[3]), "trash-4242-0");
	snprintf(others[4], sizeof(others[4]), "nodash");
	assert_non_null(mkdtemp(root));
	assert_int_equal(pin_tree_init(&t, root), 0);
	assert_int_equal(mkdir(t.work, 0700), 0);
	for (i = 0; i < 3; i++)
		make_dir(t.work, mine[i], true);
	for (i = 0; i < 5; i++)
		make_dir(t.work, others[i], false);
	assert_int_equal(pin_sweep_run(&t, 4242, tok, &removed), 0);
	assert_int_equal(removed, 3);
	for (i = 0; i < 3; i++)
		if (exists(t.work, mine[i]))
			fail_msg("%s was not removed", mine[i]);
	for (i = 0; i < 5; i++) {
		char path[2 * PATH_MAX];

		if (!exists(t.work, others[i]))
			fail_msg("%s was removed", others[i]);
		snprintf(path, sizeof(path), "%s/%s", t.work, others[i]);
		rmdir(path);
	}
	assert_int_equal(pin_sweep_run(&t, 4242, tok, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(rmdir(t.work), 0);
	assert_int_equal(rmdir(root), 0);
}

/* The staging directory is named after the pid and the run's token. */
static void test_staging_name(void **state)
{
	char root[] = "/tmp/ocb-test-pin-XXXXXX", dir[PATH_MAX], want[PATH_MAX + 64];
	struct pin_tree t;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(pin_tree_init(&t, root), 0);
	assert_int_equal(mkdir(t.work, 0700), 0);
	assert_int_equal(pin_staging_create(&t, dir, sizeof(dir)), 0);
	snprintf(want, sizeof(want), "%s/staging-%d-%s-0", t.work, (int)getpid(), pin_run_token());
	assert_string_equal(dir, want);
	assert_false(pin_work_abandoned(strrchr(dir, '/') + 1)); /* we are alive */
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rmdir(t.work), 0);
	assert_int_equal(rmdir(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_plain),
		cmocka_unit_test(test_encode_dots),
		cmocka_unit_test(test_encode_percent),
		cmocka_unit_test(test_encode_is_injective),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_encode_near_name_max),
		cmocka_unit_test(test_encode_small_buffer),
		cmocka_unit_test(test_decode_small_buffer),
		cmocka_unit_test(test_zero_size_buffer),
		cmocka_unit_test(test_decode_refuses_bad_escapes),
		cmocka_unit_test(test_container_dir),
		cmocka_unit_test(test_sweep_run),
		cmocka_unit_test(test_staging_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
