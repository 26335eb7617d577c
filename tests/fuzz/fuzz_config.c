// SPDX-License-Identifier: GPL-2.0
/* config.json, and the profile an annotation then selects. The input's
 * first line is the annotation ("-" for none), the rest config.json. */
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "profile.h"

static void check_selection(const struct ocb_config *cfg, const char *annotation)
{
	const char *name;
	size_t i;

	if (config_select_profile(cfg, annotation, &name)) {
		ocb_err_clear();
		return;
	}
	if (!annotation) {
		FUZZ_ASSERT(name == cfg->default_profile);
		return;
	}
	/* An annotation only ever names a valid, allowed profile. */
	FUZZ_ASSERT(name && profile_name_valid(name));
	if (!cfg->allowed)
		return;
	for (i = 0; i < cfg->n_allowed && strcmp(cfg->allowed[i], name); i++)
		;
	FUZZ_ASSERT(i < cfg->n_allowed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t alen = nl ? (size_t)(nl - data) : 0;
	char *annotation = fuzz_string(data, alen);
	const char *rest = nl ? (const char *)nl + 1 : (const char *)data;
	size_t rlen = nl ? size - alen - 1 : size;
	struct ocb_config cfg;
	size_t i;

	if (!config_parse(rest, rlen, "fuzz/config.json", &cfg)) {
		if (cfg.default_profile)
			FUZZ_ASSERT(profile_name_valid(cfg.default_profile));
		for (i = 0; i < cfg.n_allowed; i++)
			FUZZ_ASSERT(profile_name_valid(cfg.allowed[i]));
		check_selection(&cfg, strcmp(annotation, "-") ? annotation : NULL);
		check_selection(&cfg, NULL);
		config_free(&cfg);
	}
	ocb_err_clear();
	free(annotation);
	return 0;
}
