/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_STAGE_H
#define OCB_STAGE_H

#include <stdbool.h>

struct stage_opts {
	const char *bpffs;
	const char *config_dir;
};

/*
 * Runs @stage (prestart, createRuntime, poststop; NULL: detach if the
 * state says "stopped") on the OCI state read from standard input, in
 * the stage's sandbox. Returns 0 or a negative errno with its message
 * recorded (poststop returns 0 whatever happened).
 */
int stage_run(const struct stage_opts *o, const char *stage);
/* Whether @word is an OCI stage (supported or not). */
bool stage_is_known(const char *word);

#endif
