// SPDX-License-Identifier: GPL-2.0
/*
 * The names a container author controls: the id (via the runtime) and
 * the profile annotation. Each check is compared with an independent
 * reading of its rule, and the pin directory name must round-trip.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "pin.h"
#include "profile.h"
#include "state.h"

/* [a-z0-9][a-z0-9._-]{0,62} */
static bool name_rule(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (i == 0 || !strchr("._-", s[i])))
			return false;
	}
	return true;
}

/* 1..255 bytes, no '/', no control character, no leading '.'. */
static bool id_rule(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > OCB_ID_MAX || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void check_pin_names(const char *s)
{
	char enc[NAME_MAX + 1], dec[OCB_ID_MAX * 3 + 1], again[NAME_MAX + 1];

	if (!pin_name_encode(s, enc, sizeof(enc))) {
		FUZZ_ASSERT(strlen(enc) <= NAME_MAX && !strchr(enc, '.'));
		FUZZ_ASSERT(!pin_name_decode(enc, dec, sizeof(dec)) && !strcmp(dec, s));
	}
	/* Decoding anything is safe; where no '.' is involved, encoding
	 * the result gives the name back. */
	if (!pin_name_decode(s, dec, sizeof(dec)) && !strchr(s, '.') &&
	    !pin_name_encode(dec, again, sizeof(again)))
		FUZZ_ASSERT(!strcmp(again, s));
}

static void check_selection(const char *s)
{
	static char a[] = "web", b[] = "db-1.x";
	static char *allowed[] = { a, b };
	struct ocb_config open = { .default_profile = a };
	struct ocb_config listed = { .allowed = allowed, .n_allowed = 2 };
	const char *name;

	if (!config_select_profile(&open, s, &name))
		FUZZ_ASSERT(name == s && name_rule(s));
	else
		FUZZ_ASSERT(!name_rule(s));
	ocb_err_clear();
	if (!config_select_profile(&listed, s, &name))
		FUZZ_ASSERT(!strcmp(s, a) || !strcmp(s, b));
	ocb_err_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);

	FUZZ_ASSERT(profile_name_valid(s) == name_rule(s));
	FUZZ_ASSERT((ocb_id_check(s) == 0) == id_rule(s));
	ocb_err_clear();
	check_pin_names(s);
	check_selection(s);
	free(s);
	return 0;
}
