// SPDX-License-Identifier: GPL-2.0
/*
 * `gc`: removes the pins of containers whose cgroup is gone (their
 * poststop never ran) and work directories left by hook processes that
 * died mid-way. Each container is removed under its id's lock, so gc
 * never races an attach or detach of the same id.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "cli.h"
#include "fmt.h"
#include "inspect.h"
#include "trace.h"
#include "log.h"
#include "pin.h"
#include "progs.h"
#include "slots.h"
#include "state.h"

struct gc_run {
	const struct pin_tree *tree;
	bool dry_run, json;
	json_t *containers, *work_dirs, *programs; /* JSON output, else NULL */
	unsigned int removed, kept, failed;
};

static void gc_usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " gc [--dry-run] [--json]\n"
		     "\n"
		     "Removes the pins of containers whose cgroup no longer exists (stale in\n"
		     "'list': the runtime never ran the poststop hook) and the work directories\n"
		     "of hook processes that died, frees the slots such containers left in\n"
		     "the shared programs' maps, and unloads program versions of an older\n"
		     "build that no container uses. Free slots beyond a reserve of 16 give\n"
		     "their maps back, and the tries of profiles no container uses are\n"
		     "freed. Live containers are never touched.\n"
		     "\n"
		     "  -n, --dry-run  only print what would be removed\n"
		     "  -j, --json     JSON output\n"
		     "  -h, --help     show this help\n");
}

static int parse_opts(const struct cli_ctx *ctx, int argc, char **argv, struct gc_run *run)
{
	const struct cli_flag flags[] = { { "dry-run", 'n', &run->dry_run }, { 0 } };
	const struct cli_spec spec = { "gc", gc_usage, flags, 0, 0, NULL };
	int first;

	return cli_parse(ctx, &spec, argc, argv, &run->json, &first);
}

static void report(struct gc_run *run, json_t *list, const char *what, const char *id,
		   const char *path)
{
	const char *verb = run->dry_run ? "would remove" : "removed";

	if (list)
		json_array_append_new(list, json_pack("{s:s?,s:s,s:b}", "id", id, "path", path,
						      "removed", !run->dry_run));
	else if (id)
		printf("%s %s %s (%s)\n", verb, what, id, path);
	else
		printf("%s %s %s\n", verb, what, path);
}

/* Called with the id's lock held: the container may have been replaced
 * by a fresh attach, or detached, since the unlocked look. Returns 1 if
 * it removed the pins. */
static int remove_locked(struct gc_run *run, const struct ocb_entry *e)
{
	unsigned long long cgid;
	struct stat st;
	int err;

	if (stat(e->dir, &st) || inspect_liveness(e->dir, &cgid) != OCB_STALE)
		return 0;
	err = ocb_release_slot(run->tree, e->dir, false);
	if (!err)
		err = pin_retire(run->tree, e->id);
	if (err)
		return err;
	report(run, run->containers, "container", e->id, e->dir);
	run->removed++;
	return 1;
}

static void gc_container(struct gc_run *run, const struct ocb_entry *e)
{
	struct pin_lock lock = { .fd = -1 };
	unsigned long long cgid;
	enum ocb_liveness live;
	struct stat st;
	int err = 0;

	if (stat(e->dir, &st))
		return; /* detached meanwhile */
	live = inspect_liveness(e->dir, &cgid);
	if (live != OCB_STALE) {
		if (live == OCB_UNKNOWN)
			ocb_log_warn("cannot read the links of %s; left alone", e->dir);
		run->kept++;
		return;
	}
	if (run->dry_run) {
		report(run, run->containers, "container", e->id, e->dir);
		run->removed++;
		return;
	}
	/* The hook refuses an id that fails the check, so no attach or
	 * detach can hold its lock, and it could not name a lock file. */
	if (ocb_id_check(e->id))
		ocb_err_clear();
	else
		err = pin_lock_id(e->id, &lock);
	if (!err)
		err = remove_locked(run, e);
	pin_unlock_id(&lock, err == 1);
	if (err < 0) {
		inspect_tolerate();
		run->failed++;
	}
}

/* Removes the pin directory @path (not with --dry-run) and reports it
 * as @what in @list. */
static void remove_dir(struct gc_run *run, json_t *list, const char *what, const char *path)
{
	int err = run->dry_run ? 0 : pin_remove_tree(path);

	if (err) {
		ocb_log_warn("cannot remove %s: %s", path, strerror(-err));
		run->failed++;
		return;
	}
	report(run, list, what, NULL, path);
	run->removed++;
}

static void gc_work_dir(struct gc_run *run, const char *name)
{
	char path[PATH_MAX + NAME_MAX + 2];

	if (!pin_work_abandoned(name))
		return;
	snprintf(path, sizeof(path), "%s/%s", run->tree->work, name);
	remove_dir(run, run->work_dirs, "work directory", path);
}

static void gc_work_dirs(struct gc_run *run)
{
	struct dirent *de;
	DIR *d = opendir(run->tree->work);

	if (!d) {
		if (errno != ENOENT) {
			ocb_log_warn("cannot read %s: %s", run->tree->work, strerror(errno));
			run->failed++;
		}
		return;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			gc_work_dir(run, de->d_name);
	closedir(d);
}

/* The info maps of the containers pinned now, by map id. */
static size_t live_info_ids(const struct gc_run *run, __u32 **ids)
{
	struct ocb_entries ents = { 0 };
	size_t i, n = 0;
	int fd;

	*ids = NULL;
	if (inspect_scan(run->tree, &ents) || !ents.n) {
		ocb_err_clear();
		return 0;
	}
	*ids = calloc(ents.n, sizeof(**ids));
	for (i = 0; *ids && i < ents.n; i++) {
		if (inspect_open_pin(ents.v[i].dir, ocb_map_pins[OCB_MAP_INFO], &fd)) {
			ocb_err_clear();
			continue;
		}
		(*ids)[n++] = progs_map_id(fd);
		close(fd);
	}
	inspect_entries_free(&ents);
	return n;
}

/* Slots whose container's pins are gone (a crash between the two). */
static void gc_slots(struct gc_run *run, const char *build)
{
	struct pin_lock lock = { .fd = -1 };
	struct ocb_shared s;
	unsigned int freed = 0, pruned = 0, trimmed = 0, dropped = 0;
	__u32 *ids = NULL;
	size_t n;

	if (progs_open_maps(run->tree, build, &s) || progs_open_btf(&s) || pin_lock_slots(&lock)) {
		ocb_err_clear();
		progs_close(&s);
		return;
	}
	/* Under the lock: a slot is claimed only after its pins exist. */
	n = live_info_ids(run, &ids);
	if (slots_sweep(&s, ids, n, run->dry_run, &freed)) {
		inspect_tolerate();
		run->failed++;
	}
	if ((!run->dry_run && slots_settle(&s)) ||
	    slots_trim(&s, run->dry_run, &trimmed, &dropped)) {
		inspect_tolerate();
		run->failed++;
	}
	if (!run->dry_run)
		progs_sweep_registry(&s, &pruned);
	pin_unlock_id(&lock, false);
	progs_close(&s);
	free(ids);
	if (freed && !run->json)
		printf("%s %u orphaned slot%s of programs %s\n",
		       run->dry_run ? "would free" : "freed", freed, freed == 1 ? "" : "s", build);
	run->removed += freed;
	/* The pool's upkeep, not leftovers: not counted as removed. */
	if (trimmed && !run->json)
		printf("pool of programs %s: %s the maps of %u free slot%s (it keeps %u for the next containers)\n",
		       build, run->dry_run ? "would give back" : "gave back", trimmed,
		       trimmed == 1 ? "" : "s", SLOTS_RESERVE);
	if (dropped && !run->json)
		printf("pool of programs %s: %s the tries of profiles no container uses (held by %u free slot%s)\n",
		       build, run->dry_run ? "would free" : "freed", dropped,
		       dropped == 1 ? "" : "s");
}

/* Program versions no link uses (an older build's, once its containers
 * stopped); this build's stays loaded for the next container. */
static void gc_programs(struct gc_run *run)
{
	char base[PATH_MAX], dir[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	DIR *d;

	if (progs_dir(run->tree, "", base, sizeof(base)))
		return;
	d = opendir(base);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		gc_slots(run, de->d_name);
		snprintf(dir, sizeof(dir), "%s%s", base, de->d_name);
		if (strcmp(de->d_name, progs_build_id()) && !progs_version_in_use(dir))
			remove_dir(run, run->programs, "programs", dir);
	}
	if (d)
		closedir(d);
}

static int finish(struct gc_run *run)
{
	int err = 0;

	if (run->json)
		err = fmt_json_print(json_pack("{s:b,s:O,s:O,s:O,s:i}", "dry_run", run->dry_run,
					       "containers", run->containers, "work_dirs",
					       run->work_dirs, "programs", run->programs, "kept",
					       (int)run->kept));
	else if (!run->removed)
		printf("nothing to remove (%u live container%s)\n", run->kept,
		       run->kept == 1 ? "" : "s");
	if (!err && run->failed)
		err = ocb_err(-EIO, "%u item%s could not be removed; see the warnings above",
			      run->failed, run->failed == 1 ? "" : "s");
	return err;
}

int cmd_gc(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct gc_run run = { 0 };
	struct ocb_entries ents = { 0 };
	struct pin_tree tree;
	size_t i;
	int err = parse_opts(ctx, argc, argv, &run);

	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	err = inspect_scan_bpffs(ctx->bpffs, &tree, &ents);
	if (err)
		return err;
	run.tree = &tree;
	if (run.json) {
		run.containers = json_array();
		run.work_dirs = json_array();
		run.programs = json_array();
	}
	for (i = 0; i < ents.n; i++)
		gc_container(&run, &ents.v[i]);
	gc_work_dirs(&run);
	gc_programs(&run);
	/* A `trace` that was killed leaves event building on: turn it off
	 * unless a reader still holds the lock. */
	if (!run.dry_run)
		trace_reset_if_unread(tree.events);
	err = finish(&run);
	json_decref(run.containers);
	json_decref(run.work_dirs);
	json_decref(run.programs);
	inspect_entries_free(&ents);
	return err;
}
