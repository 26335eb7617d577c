// SPDX-License-Identifier: GPL-2.0
/*
 * `trace [ID...]`: streams connect, send and drop events from the shared
 * ring buffer. While it runs, trace_ctl.readers is non-zero and the
 * programs build events; when the last reader leaves it goes back to 0.
 * Liveness of readers is a shared flock, so a reader that crashed does
 * not keep tracing on past the next reader's exit (or `gc`).
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"
#include "ocb_maps.h"
#include "pin.h"
#include "trace.h"

/*
 * Readers hold this lock shared while they run. It is named after the
 * shared maps' directory (device and inode), so readers of different
 * bpffs instances do not keep each other's event building on.
 */
static int trace_lock_path(const char *events_dir, char *path, size_t size)
{
	struct stat st;

	if (stat(events_dir, &st))
		return ocb_errno();
	snprintf(path, size, OCB_LOCK_DIR "/.trace-%lx-%lx", (unsigned long)st.st_dev,
		 (unsigned long)st.st_ino);
	return 0;
}

struct tracer {
	const struct cli_ctx *ctx;
	struct pin_tree tree;
	struct ocb_entries entries; /* known containers, rescanned on a miss */
	unsigned long long *cgids;  /* cgroup id of each entry */
	char **want;		    /* IDs asked for (resolved), NULL: all */
	size_t n_want;
	long long boot_to_real; /* add to CLOCK_BOOTTIME for wall time */
	int ctl_fd, lost_fd, lock_fd;
	unsigned long long lost_seen;
	unsigned long long printed;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int trace_set_readers(int ctl_fd, __u32 readers)
{
	struct ocb_trace_ctl ctl = { .readers = readers };
	__u32 zero = 0;

	return bpf_map_update_elem(ctl_fd, &zero, &ctl, BPF_ANY) ? ocb_errno() : 0;
}

int trace_reset_if_unread(const char *events_dir)
{
	char path[PATH_MAX + 16], lock_path[64];
	int lock, fd, err = 0;

	if (trace_lock_path(events_dir, lock_path, sizeof(lock_path)))
		return 0; /* no shared maps, nothing to turn off */
	lock = open(lock_path, O_RDWR | O_CLOEXEC);
	if (lock < 0)
		return 0; /* no reader ever ran */
	if (!flock(lock, LOCK_EX | LOCK_NB)) {
		snprintf(path, sizeof(path), "%s/trace_ctl", events_dir);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			err = trace_set_readers(fd, 0);
			close(fd);
		}
	}
	close(lock);
	return err;
}

static int open_shared(struct tracer *t)
{
	char path[PATH_MAX + 16], lock_path[64];

	snprintf(path, sizeof(path), "%s/trace_ctl", t->tree.events);
	t->ctl_fd = bpf_obj_get(path);
	if (t->ctl_fd < 0)
		return ocb_err(ocb_errno(),
			       "cannot open %s: %s; no container has been attached on this bpffs yet",
			       path, strerror(errno));
	snprintf(path, sizeof(path), "%s/trace_lost", t->tree.events);
	t->lost_fd = bpf_obj_get(path);
	if (t->lost_fd < 0)
		return ocb_err(ocb_errno(), "cannot open %s: %s", path, strerror(errno));
	if (mkdir(OCB_LOCK_DIR, 0700) && errno != EEXIST)
		return ocb_err(ocb_errno(), "cannot create %s: %s", OCB_LOCK_DIR, strerror(errno));
	if (trace_lock_path(t->tree.events, lock_path, sizeof(lock_path)))
		return ocb_err(ocb_errno(), "cannot stat %s: %s", t->tree.events, strerror(errno));
	t->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t->lock_fd < 0 || flock(t->lock_fd, LOCK_SH))
		return ocb_err(ocb_errno(), "cannot lock %s: %s", lock_path, strerror(errno));
	return 0;
}

static unsigned long long read_lost(const struct tracer *t)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long sum = 0;
	__u64 *per_cpu;
	__u32 zero = 0;
	int i;

	if (ncpu <= 0)
		return 0;
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (per_cpu && !bpf_map_lookup_elem(t->lost_fd, &zero, per_cpu))
		for (i = 0; i < ncpu; i++)
			sum += per_cpu[i];
	free(per_cpu);
	return sum;
}

static int rescan(struct tracer *t)
{
	struct ocb_info info;
	size_t i;
	int err;

	inspect_entries_free(&t->entries);
	free(t->cgids);
	t->cgids = NULL;
	err = inspect_scan(&t->tree, &t->entries);
	if (err)
		return err;
	t->cgids = calloc(t->entries.n + 1, sizeof(*t->cgids));
	if (!t->cgids)
		return -ENOMEM;
	for (i = 0; i < t->entries.n; i++)
		if (!inspect_read_info(t->entries.v[i].dir, &info))
			t->cgids[i] = info.cgroup_id;
	return 0;
}

/* The container id of an event's cgroup; NULL if not (or no longer) known. */
static const char *container_of(struct tracer *t, unsigned long long cgid)
{
	int pass;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < t->entries.n; i++)
			if (t->cgids[i] == cgid)
				return t->entries.v[i].id;
		/* A container that started after us: look again once. */
		if (pass == 0 && rescan(t))
			return NULL;
	}
	return NULL;
}

static bool wanted(const struct tracer *t, const char *id)
{
	size_t i;

	if (!t->want)
		return true;
	for (i = 0; i < t->n_want; i++)
		if (!strcmp(t->want[i], id))
			return true;
	return false;
}

static void fmt_addr(const __u8 a[16], char *buf, size_t size)
{
	if (ocb_v4_mapped(a))
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)size);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)size);
}

static const char *event_name(__u8 type)
{
	switch (type) {
	case OCB_EV_CONNECT:
		return "connect";
	case OCB_EV_SEND:
		return "send";
	case OCB_EV_DROP:
		return "drop";
	case OCB_EV_SOCKET:
		return "socket";
	case OCB_EV_PACKET:
		return "packet";
	}
	return "unknown";
}

/* "allow", "deny", or "audit-deny" for a deny that audit mode let pass. */
static const char *verdict_name(const struct ocb_event *e)
{
	if (e->verdict == OCB_DENY && !e->enforced)
		return "audit-deny";
	return fmt_verdict(e->verdict);
}

static void print_json(const struct tracer *t, const char *id, const struct ocb_event *e,
		       const char *remote, const char *local, const char *proto, char *when)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "time", when,
			  "container", id, "event", event_name(e->type), "verdict", verdict_name(e),
			  "direction", fmt_dir(e->dir), "proto", proto, "port", (int)e->port,
			  "remote", remote, "family", e->family == AF_INET6 ? "ipv6" : "ipv4");

	if (!o)
		return;
	if (e->pid)
		json_object_set_new(o, "pid", json_integer(e->pid));
	if (e->comm[0])
		json_object_set_new(o, "comm", json_stringn(e->comm, strnlen(e->comm, 16)));
	if (e->type == OCB_EV_DROP || e->type == OCB_EV_PACKET) {
		json_object_set_new(o, "local", json_string(local));
		json_object_set_new(o, "local_port", json_integer(e->local_port));
		json_object_set_new(o, "len", json_integer(e->len));
	}
	if (e->rule == OCB_RULE_DEFAULT || e->rule == OCB_RULE_FAILSAFE)
		json_object_set_new(o, "rule",
				    json_string(e->rule == OCB_RULE_DEFAULT ? "default"
									    : "failsafe"));
	else
		json_object_set_new(o, "rule", json_integer(e->rule));
	json_dumpf(o, stdout, JSON_COMPACT);
	json_decref(o);
	(void)t;
	fputc('\n', stdout);
}

static int handle_event(void *data, void *ev, size_t size)
{
	struct tracer *t = data;
	const struct ocb_event *e = ev;
	char remote[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN], pbuf[16], when[40];
	const char *id, *proto = pbuf;
	time_t secs;
	struct tm tm;
	long long real;

	if (size < sizeof(*e))
		return 0;
	id = container_of(t, e->cgroup_id);
	if (!id || !wanted(t, id))
		return 0;
	real = (long long)e->time_ns + t->boot_to_real;
	secs = (time_t)(real / 1000000000ll);
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%06lldZ",
		 (real % 1000000000ll) / 1000);
	fmt_addr(e->remote, remote, sizeof(remote));
	fmt_addr(e->local, local, sizeof(local));
	if (e->type == OCB_EV_SOCKET)
		snprintf(pbuf, sizeof(pbuf), "family %u", e->family);
	else
		proto = fmt_proto(e->proto, pbuf, sizeof(pbuf));
	if (t->ctx->json)
		print_json(t, id, e, remote, local, proto, when);
	else if (e->type == OCB_EV_DROP || e->type == OCB_EV_PACKET)
		printf("%s %s %s %s %s %s %s:%u -> %s:%u len %u\n", when, id, event_name(e->type),
		       verdict_name(e), fmt_dir(e->dir), proto, local, e->local_port, remote,
		       e->port, e->len);
	else if (e->type == OCB_EV_SOCKET)
		printf("%s %s %s %s pid %u comm %.16s %s type %u\n", when, id, event_name(e->type),
		       verdict_name(e), e->pid, e->comm, proto, e->port);
	else
		printf("%s %s %s %s pid %u comm %.16s %s %s%s%s:%u\n", when, id,
		       event_name(e->type), verdict_name(e), e->pid, e->comm, proto,
		       e->family == AF_INET6 ? "[" : "", remote, e->family == AF_INET6 ? "]" : "",
		       e->port);
	t->printed++;
	return 0;
}

static void report_lost(struct tracer *t)
{
	unsigned long long lost = read_lost(t);

	if (lost == t->lost_seen)
		return;
	if (t->ctx->json)
		printf("{\"event\":\"lost\",\"count\":%llu,\"total\":%llu}\n", lost - t->lost_seen,
		       lost);
	else
		printf("lost %llu events (ring buffer full; %llu in all since the buffer was created)\n",
		       lost - t->lost_seen, lost);
	t->lost_seen = lost;
}

static int resolve_wanted(struct tracer *t, int n, char **ids)
{
	const struct ocb_entry *e;
	int i, err;

	if (!n)
		return 0;
	t->want = calloc((size_t)n, sizeof(char *));
	if (!t->want)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = inspect_resolve(&t->entries, ids[i], &e);
		if (err)
			return err;
		t->want[t->n_want] = strdup(e->id);
		if (!t->want[t->n_want++])
			return -ENOMEM;
	}
	return 0;
}

static int run(struct tracer *t)
{
	char path[PATH_MAX + 16];
	struct ring_buffer *rb;
	int fd, err;

	snprintf(path, sizeof(path), "%s/events", t->tree.events);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return ocb_err(ocb_errno(), "cannot open %s: %s", path, strerror(errno));
	rb = ring_buffer__new(fd, handle_event, t, NULL);
	close(fd);
	if (!rb)
		return ocb_err(ocb_errno(), "cannot read the ring buffer: %s", strerror(errno));
	err = trace_set_readers(t->ctl_fd, 1);
	if (err) {
		ring_buffer__free(rb);
		return ocb_err(err, "cannot turn tracing on: %s", strerror(-err));
	}
	t->lost_seen = read_lost(t);
	while (!stop) {
		err = ring_buffer__poll(rb, 200);
		if (err < 0 && err != -EINTR)
			break;
		report_lost(t);
		fflush(stdout);
		err = 0;
	}
	/* Drain what is already there, then leave. */
	ring_buffer__consume(rb);
	report_lost(t);
	fflush(stdout);
	ring_buffer__free(rb);
	return err < 0 ? ocb_err(err, "reading events failed: %s", strerror(-err)) : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: " OCB_NAME " trace [--json] [ID...]\n"
		     "\n"
		     "Streams connect, send, socket and drop events (and, where the profile\n"
		     "asks, rate-limited packet events) of the given containers (IDs or unique\n"
		     "prefixes), or of every attached container, including those that start\n"
		     "later. What a container reports is set by its profile's \"trace\".\n"
		     "One line per event (one JSON object per line with --json). Events lost\n"
		     "because this reader fell behind are counted and reported. Ends on\n"
		     "Ctrl-C or SIGTERM.\n"
		     "\n"
		     "  -j, --json  JSON output, one object per line\n"
		     "  -h, --help  show this help\n");
}

int cmd_trace(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_spec spec = { "trace", usage, NULL, 0, -1, NULL };
	struct cli_ctx local = *ctx;
	struct tracer t = { .ctx = &local, .ctl_fd = -1, .lost_fd = -1, .lock_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	size_t i;
	int first, err;

	err = cli_parse(ctx, &spec, argc, argv, &local.json, &first);
	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	t.boot_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
	err = pin_tree_init(&t.tree, ctx->bpffs);
	if (!err)
		err = rescan(&t);
	if (!err)
		err = resolve_wanted(&t, argc - first, argv + first);
	if (!err)
		err = open_shared(&t);
	if (!err) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		err = run(&t);
	}
	/* The last reader out turns event building off. */
	if (t.lock_fd >= 0) {
		flock(t.lock_fd, LOCK_UN);
		if (!flock(t.lock_fd, LOCK_EX | LOCK_NB) && t.ctl_fd >= 0)
			trace_set_readers(t.ctl_fd, 0);
		close(t.lock_fd);
	}
	if (t.ctl_fd >= 0)
		close(t.ctl_fd);
	if (t.lost_fd >= 0)
		close(t.lost_fd);
	for (i = 0; i < t.n_want; i++)
		free(t.want[i]);
	free(t.want);
	free(t.cgids);
	inspect_entries_free(&t.entries);
	return err;
}
