// SPDX-License-Identifier: GPL-2.0
/* A profile: parsed, then compiled to map entries, as an attach does. */
#include "compile.h"
#include "fuzz.h"
#include "log.h"
#include "policy.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocb_policy *pol = NULL;
	struct profile prof;
	size_t i;

	if (profile_parse((const char *)data, size, "fuzz.json", &prof)) {
		ocb_err_clear();
		return 0;
	}
	for (i = 0; i < prof.n_rules; i++)
		FUZZ_ASSERT(prof.rules[i].addr_bits <= 128);
	if (!policy_compile(&prof, "fuzz", &pol)) {
		FUZZ_ASSERT(pol);
		FUZZ_ASSERT(pol->n_rules <= OCB_MAX_ENTRIES && pol->n_ports <= OCB_MAX_ENTRIES);
		/* The prefix never reaches into the key's padding. */
		for (i = 0; i < pol->n_rules; i++)
			FUZZ_ASSERT(pol->rules[i].key.prefixlen <=
				    (sizeof(pol->rules[i].key) - 4 - sizeof(pol->rules[i].key.pad)) * 8);
	}
	policy_free(pol);
	profile_free(&prof);
	ocb_err_clear();
	return 0;
}
