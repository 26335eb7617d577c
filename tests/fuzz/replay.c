// SPDX-License-Identifier: GPL-2.0
/*
 * Without libFuzzer: runs a harness on its seed corpus and on its
 * regressions (inputs that once crashed it), or on the files given,
 * printing TAP. Built by tests/fuzz/fuzz.mk as build/tests/test_fuzz_*,
 * which `make check` runs with the unit tests (under the sanitizers with
 * SANITIZE=1). A crash or a broken invariant aborts: a failed test.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got;
	FILE *f = fopen(path, "rb");

	if (!f || fstat(fileno(f), &st)) {
		printf("not ok - %s: cannot read: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return 1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		abort();
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	/* Flushed first: if the input crashes us, the log names it. */
	fprintf(stderr, "# %s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

/* Every regular file in @dir; returns how many ran, -1 on a failure. */
static int run_dir(const char *dir, int verbose)
{
	char path[PATH_MAX];
	struct dirent **names;
	int n, i, ran = 0, bad = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			bad |= run_file(path);
			if (verbose)
				printf("ok - fuzz/" FUZZ_NAME ": regression %s\n", names[i]->d_name);
			ran++;
		}
		free(names[i]);
	}
	free(names);
	return bad ? -1 : ran;
}

int main(int argc, char **argv)
{
	int i, corpus, regressions, bad = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			bad |= run_file(argv[i]);
		return bad;
	}
	corpus = run_dir(FUZZ_DIR "/corpus/" FUZZ_NAME, 0);
	regressions = run_dir(FUZZ_DIR "/regressions/" FUZZ_NAME, 1);
	if (corpus <= 0)
		printf("not ok - fuzz/" FUZZ_NAME ": no seed corpus in " FUZZ_DIR "/corpus/" FUZZ_NAME "\n");
	else
		printf("ok - fuzz/" FUZZ_NAME ": %d seed inputs replayed\n", corpus);
	return corpus <= 0 || regressions < 0;
}
