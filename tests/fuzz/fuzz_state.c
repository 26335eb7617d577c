// SPDX-License-Identifier: GPL-2.0
/* The OCI state on stdin: written by the runtime, with the container
 * author's id and annotations in it. */
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "pin.h"
#include "profile.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NAME_MAX + 1], back[OCB_ID_MAX + 1];
	struct oci_state st;
	const char *a;

	if (oci_state_parse((const char *)data, size, &st)) {
		FUZZ_ASSERT(!st.root && !st.id);
		ocb_err_clear();
		return 0;
	}
	/* What the hook relies on once a state is accepted. */
	FUZZ_ASSERT(st.id && st.id[0] && st.id[0] != '.');
	FUZZ_ASSERT(strlen(st.id) <= OCB_ID_MAX && !strchr(st.id, '/'));
	FUZZ_ASSERT(ocb_id_check(st.id) == 0);
	FUZZ_ASSERT(st.pid >= 0);
	if (!pin_name_encode(st.id, name, sizeof(name))) {
		FUZZ_ASSERT(!strchr(name, '.') && !strchr(name, '/'));
		FUZZ_ASSERT(!pin_name_decode(name, back, sizeof(back)) && !strcmp(back, st.id));
	}
	a = oci_state_annotation(&st, OCB_ANNOTATION_PROFILE);
	if (a)
		(void)profile_name_valid(a);
	oci_state_free(&st);
	ocb_err_clear();
	return 0;
}
