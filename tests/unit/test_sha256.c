// SPDX-License-Identifier: GPL-2.0
/* hook/sha256.c against the FIPS 180-4 examples and sha256sum's answers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sha256.h"

static void hex(const unsigned char *d, char *out)
{
	int i;

	for (i = 0; i < SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* @s fed in pieces of @step bytes, @times over. */
static void digest(const char *s, size_t step, unsigned int times, char *out)
{
	unsigned char d[SHA256_LEN];
	struct sha256 c;
	size_t n = strlen(s), i;
	unsigned int t;

	sha256_init(&c);
	for (t = 0; t < times; t++)
		for (i = 0; i < n; i += step)
			sha256_update(&c, s + i, n - i < step ? n - i : step);
	sha256_final(&c, d);
	hex(d, out);
}

static void test_vectors(void **state)
{
	char out[2 * SHA256_LEN + 1];

	(void)state;
	digest("", 1, 1, out);
	assert_string_equal(out,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	digest("abc", 1, 1, out);
	assert_string_equal(out,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 7, 1, out);
	assert_string_equal(out,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a's, across block boundaries in odd pieces. */
	digest("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 13, 20000, out);
	assert_string_equal(out,
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_vectors) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
