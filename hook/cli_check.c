// SPDX-License-Identifier: GPL-2.0
/*
 * `check`: a preflight of this host, one line per item:
 * "pass|warn|fail: what — what to do". Any fail exits 1.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "advice.h"
#include "cli.h"
#include "config.h"
#include "host.h"
#include "kfacts.h"
#include "fmt.h"
#include "inspect.h"
#include "log.h"
#include "policy.h"
#include "pin.h"
#include "profile.h"
#include "progs.h"
#include "slots.h"

/* BPF links on cgroups (5.7) and their info with the cgroup id (5.8). */
#define MIN_KERNEL_MAJOR 5
#define MIN_KERNEL_MINOR 8
/* lsm_cgroup programs, which deny packet and raw sockets. */
#define LSM_CGROUP_MAJOR 6

enum check_status { CHECK_PASS, CHECK_WARN, CHECK_FAIL };

struct check_run {
	const struct cli_ctx *ctx;
	json_t *items; /* JSON output, else NULL */
	unsigned int failed, warned;
	/* host_probe_*(): 0 if this host loads the program that refuses
	 * raw (cgroup/sock_create) or packet (lsm_cgroup) sockets. */
	int raw_probe, packet_probe;
};

/* What /proc/self/mountinfo says about cgroups. */
struct cgroup_mounts {
	char v2[PATH_MAX];     /* first cgroup2 mount point, "" if none */
	char v1[1024];	       /* v1 hierarchies: "cpu, memory, ..." */
	char net_v1[PATH_MAX]; /* a v1 mount with net_cls or net_prio */
};

static void check_usage(FILE *out)
{
	fprintf(out,
		"Usage: " OCB_NAME " check [--json]\n"
		"\n"
		"Checks that this host can run the hook: root in the initial user namespace,\n"
		"kernel version, the BPF syscall, bpffs at --bpffs, cgroup v2 (and, in hybrid\n"
		"mode, that cgroup v1 net_cls/net_prio do not disable cgroup v2 socket\n"
		"matching), the program types used, kernel BTF, and which sockets a profile\n"
		"can refuse here (raw: cgroup/sock_create; packet: lsm_cgroup, the BPF LSM),\n"
		"found by loading a program; the programs themselves, loaded and attached\n"
		"to a cgroup made for the check and removed; then the configuration\n"
		"directory: config.json,\n"
		"what privileged_network does on this host, and every profile, compiled as\n"
		"an attach would. Run it after changing profiles.\n"
		"One line per item: pass, warn or fail, with what to do. Exits 1 if any\n"
		"item fails.\n"
		"\n"
		"  -j, --json  JSON output\n"
		"  -h, --help  show this help\n");
}

static int parse_opts(const struct cli_ctx *ctx, int argc, char **argv, bool *json)
{
	static const struct cli_spec spec = { "check", check_usage, NULL, 0, 0, NULL };
	int first;

	return cli_parse(ctx, &spec, argc, argv, json, &first);
}

__attribute__((format(printf, 5, 6))) static void emit(struct check_run *run, const char *key,
						       enum check_status st, const char *todo,
						       const char *fmt, ...)
{
	static const char *const names[] = { "pass", "warn", "fail" };
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	run->failed += st == CHECK_FAIL;
	run->warned += st == CHECK_WARN;
	if (run->items)
		json_array_append_new(run->items,
				      json_pack("{s:s,s:s,s:s,s:s?}", "check", key, "status",
						names[st], "what", what, "todo", todo));
	else if (todo)
		printf("%s: %s — %s\n", names[st], what, todo);
	else
		printf("%s: %s\n", names[st], what);
}

static void check_root(struct check_run *run)
{
	switch (host_root_status()) {
	case HOST_NOT_ROOT:
		emit(run, "root", CHECK_FAIL, "run the hook (and this check) as root",
		     "not running as root (euid %u)", (unsigned int)geteuid());
		break;
	case HOST_IN_USERNS:
		emit(run, "root", CHECK_FAIL,
		     "cgroup BPF needs root on the host: run the runtime and hook outside user namespaces (rootless containers are not supported)",
		     "running as root, but inside a user namespace");
		break;
	default:
		emit(run, "root", CHECK_PASS, NULL,
		     "running as root in the initial user namespace");
	}
}

static void check_kernel(struct check_run *run)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2) {
		emit(run, "kernel", CHECK_WARN, "make sure the kernel is 5.8 or later",
		     "cannot read the kernel version");
		return;
	}
	if (major < MIN_KERNEL_MAJOR || (major == MIN_KERNEL_MAJOR && minor < MIN_KERNEL_MINOR))
		emit(run, "kernel", CHECK_FAIL,
		     "boot Linux 5.8 or later (BPF links on cgroups, with link info)",
		     "kernel %s is too old", u.release);
	else if (major < LSM_CGROUP_MAJOR)
		emit(run, "kernel", CHECK_WARN,
		     "profiles that deny packet sockets need Linux 6.0 or later (lsm_cgroup programs)",
		     "kernel %s (5.8 or later)", u.release);
	else
		emit(run, "kernel", CHECK_PASS, NULL, "kernel %s (5.8 or later)", u.release);
}

static void check_bpf_syscall(struct check_run *run)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ocb_check", 4, 4, 1, NULL);
	int err = errno;

	if (fd >= 0) {
		close(fd);
		emit(run, "bpf", CHECK_PASS, NULL, "BPF syscall usable (created a test array map)");
		return;
	}
	emit(run, "bpf", CHECK_FAIL,
	     err == ENOSYS ? "the kernel needs CONFIG_BPF_SYSCALL=y"
	     : err == EPERM
		     ? "run as root; check kernel lockdown, seccomp filters and LSM policy denying bpf()"
		     : "see the kernel log (dmesg) for why bpf() failed",
	     "BPF syscall unusable: creating an array map failed: %s", strerror(err));
}

static bool filesystem_has(const char *name)
{
	char line[128], fs[64];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "nodev %63s", fs) == 1 && !strcmp(fs, name);
	fclose(f);
	return found;
}

static bool dir_is_empty(const char *path)
{
	struct dirent *de;
	bool empty = true;
	DIR *d = opendir(path);

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* Mounts bpffs at @path in a throwaway mount namespace: shows that the
 * hook could, without changing anything. Returns 0 or ocb_errno(). */
static int probe_bpffs_mount(const char *path)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return ocb_errno();
	if (!pid) {
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("bpffs", path, "bpf", 0, "mode=0700"))
			_exit(errno & 0xff);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return ocb_errno();
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -EINTR;
}

static void check_bpffs_dir(struct check_run *run, const char *p)
{
	int err = probe_bpffs_mount(p);

	if (err)
		emit(run, "bpffs", CHECK_FAIL,
		     "mount it yourself (mount -t bpf bpffs DIR) or pass --bpffs a bpffs mount point",
		     "bpffs is not mounted at %s and mounting it there fails: %s", p,
		     strerror(-err));
	else
		emit(run, "bpffs", CHECK_WARN,
		     "the hook mounts it at the first attach, in the runtime's mount namespace; mount it at boot (fstab: bpffs /sys/fs/bpf bpf defaults 0 0) so that every namespace sees the pins",
		     "bpffs is not mounted at %s (an empty directory, mountable)", p);
}

/* An empty directory (like the kernel's /sys/fs/bpf) is where the hook
 * mounts bpffs itself; anything else there is a wrong --bpffs. */
static void check_bpffs(struct check_run *run)
{
	const char *p = run->ctx->bpffs;
	struct statfs sfs;
	struct stat st;

	if (!statfs(p, &sfs) && sfs.f_type == BPF_FS_MAGIC) {
		emit(run, "bpffs", CHECK_PASS, NULL, "bpffs mounted at %s", p);
	} else if (p[0] != '/') {
		emit(run, "bpffs", CHECK_FAIL, "pass --bpffs an absolute path",
		     "--bpffs %s is not an absolute path", p);
	} else if (!filesystem_has("bpf")) {
		emit(run, "bpffs", CHECK_FAIL, "the kernel needs CONFIG_BPF_SYSCALL=y",
		     "bpffs is not mounted at %s and this kernel has no bpf file system", p);
	} else if (stat(p, &st)) {
		if (errno == ENOENT)
			emit(run, "bpffs", CHECK_WARN,
			     "the hook creates and mounts it at the first attach; mount it at boot (fstab: bpffs /sys/fs/bpf bpf defaults 0 0)",
			     "%s does not exist", p);
		else
			emit(run, "bpffs", CHECK_FAIL, "pass --bpffs a bpffs mount point",
			     "cannot examine %s: %s", p, strerror(errno));
	} else if (S_ISDIR(st.st_mode) && dir_is_empty(p)) {
		check_bpffs_dir(run, p);
	} else {
		emit(run, "bpffs", CHECK_FAIL,
		     "mount bpffs there (mount -t bpf bpffs DIR) or pass --bpffs the bpffs mount point",
		     "%s is not a bpffs mount and not an empty directory", p);
	}
}

/* mountinfo writes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The controllers named in a v1 mount's super options ("rw,cpu,cpuacct"). */
static void add_v1(struct cgroup_mounts *m, const char *mnt, char *opts)
{
	char *save = NULL, *o;
	size_t used = strlen(m->v1);

	for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "rw") || !strcmp(o, "ro"))
			continue;
		if ((!strcmp(o, "net_cls") || !strcmp(o, "net_prio")) && !m->net_v1[0])
			snprintf(m->net_v1, sizeof(m->net_v1), "%s", mnt);
		if (used + strlen(o) + 3 < sizeof(m->v1))
			used += (size_t)snprintf(m->v1 + used, sizeof(m->v1) - used, "%s%s",
						 used ? ", " : "", o);
	}
}

/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
static void scan_mount_line(struct cgroup_mounts *m, char *line)
{
	char *save = NULL, *tok, *mnt = NULL, *fstype, *super;
	int i;

	for (i = 0, tok = strtok_r(line, " \n", &save); tok && strcmp(tok, "-");
	     tok = strtok_r(NULL, " \n", &save), i++)
		if (i == 4)
			mnt = tok;
	fstype = strtok_r(NULL, " \n", &save);
	strtok_r(NULL, " \n", &save); /* source */
	super = strtok_r(NULL, " \n", &save);
	if (!tok || !mnt || !fstype || !super)
		return;
	unescape(mnt);
	if (!strcmp(fstype, "cgroup2") && !m->v2[0])
		snprintf(m->v2, sizeof(m->v2), "%s", mnt);
	else if (!strcmp(fstype, "cgroup"))
		add_v1(m, mnt, super);
}

static int scan_mounts(struct cgroup_mounts *m)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		return ocb_errno();
	while (getline(&line, &cap, f) > 0)
		scan_mount_line(m, line);
	free(line);
	fclose(f);
	return 0;
}

static void check_cgroup2(struct check_run *run, const struct cgroup_mounts *m)
{
	if (!m->v2[0])
		emit(run, "cgroup2", CHECK_FAIL,
		     "mount it (hybrid: mount -t cgroup2 none /sys/fs/cgroup/unified) or boot with systemd.unified_cgroup_hierarchy=1; cgroup BPF needs cgroup v2",
		     "no cgroup2 file system is mounted");
	else if (m->v1[0])
		emit(run, "cgroup2", CHECK_PASS, NULL,
		     "cgroup2 mounted at %s (hybrid: cgroup v1 hierarchies %s are mounted too)",
		     m->v2, m->v1);
	else
		emit(run, "cgroup2", CHECK_PASS, NULL, "cgroup2 mounted at %s (unified)", m->v2);
}

/* Set by the tree walk: the first cgroup whose net_cls or net_prio is set. */
static char net_in_use[PATH_MAX + 32];

static bool file_has_nonzero(const char *path, bool priomap)
{
	char line[256], ifname[64];
	unsigned long v;
	bool set = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!set && fgets(line, sizeof(line), f))
		set = priomap ? sscanf(line, "%63s %lu", ifname, &v) == 2 && v
			      : sscanf(line, "%lu", &v) == 1 && v;
	fclose(f);
	return set;
}

static bool file_is_empty(const char *path)
{
	char c;
	bool empty;
	FILE *f = fopen(path, "re");

	if (!f)
		return true;
	empty = fread(&c, 1, 1, f) == 0;
	fclose(f);
	return empty;
}

/* Writing net_cls.classid or net_prio.ifpriomap, or moving a task into a
 * net_prio cgroup, makes the kernel stop matching sockets to cgroup v2. */
static int net_walk(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char file[PATH_MAX + 32], procs[PATH_MAX + 32];

	(void)st;
	if (type != FTW_D)
		return 0;
	snprintf(file, sizeof(file), "%s/net_cls.classid", path);
	if (file_has_nonzero(file, false))
		goto in_use;
	snprintf(file, sizeof(file), "%s/net_prio.ifpriomap", path);
	if (file_has_nonzero(file, true))
		goto in_use;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	if (ftw->level > 0 && !access(file, F_OK) && !file_is_empty(procs)) {
		snprintf(file, sizeof(file), "%s", procs);
		goto in_use;
	}
	return 0;
in_use:
	snprintf(net_in_use, sizeof(net_in_use), "%s", file);
	return 1;
}

/* Activation is for good: the kernel logs it once and never undoes it. */
static bool kmsg_says_disabled(void)
{
	char rec[2048];
	bool found = false;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), n;
	unsigned int i;

	if (fd < 0)
		return false;
	for (i = 0; !found && i < 100000; i++) {
		n = (int)read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* overwritten while we read: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		found = strstr(rec, "disabling cgroup2 socket matching") != NULL;
	}
	close(fd);
	return found;
}

static void check_net_cls(struct check_run *run, const struct cgroup_mounts *m)
{
	static const char todo[] =
		"stop using cgroup v1 net_cls/net_prio and reboot: until then the kernel matches no socket to a cgroup v2, and container policies do not apply";

	net_in_use[0] = '\0';
	if (m->net_v1[0])
		nftw(m->net_v1, net_walk, 16, FTW_PHYS | FTW_MOUNT);
	if (kmsg_says_disabled())
		emit(run, "net_cls", CHECK_FAIL, todo,
		     "cgroup v2 socket matching is disabled (kernel log: net_prio or net_cls activated)");
	else if (net_in_use[0])
		emit(run, "net_cls", CHECK_FAIL, todo, "cgroup v1 net_cls/net_prio is in use (%s)",
		     net_in_use);
	else if (m->net_v1[0])
		emit(run, "net_cls", CHECK_WARN,
		     "do not set net_cls.classid or net_prio.ifpriomap, nor move tasks into net_prio cgroups: that disables cgroup v2 socket matching until reboot; unmount it if unused",
		     "cgroup v1 net_cls/net_prio is mounted at %s (not in use)", m->net_v1);
	else
		emit(run, "net_cls", CHECK_PASS, NULL,
		     "no cgroup v1 net_cls/net_prio hierarchy mounted");
}

static void check_prog_type(struct check_run *run, enum bpf_prog_type type, const char *key,
			    const char *what)
{
	int ret = libbpf_probe_bpf_prog_type(type, NULL);

	if (ret == 1)
		emit(run, key, CHECK_PASS, NULL, "%s programs supported", what);
	else if (ret == 0)
		emit(run, key, CHECK_FAIL, "the kernel needs CONFIG_CGROUP_BPF=y",
		     "%s programs are not supported by this kernel", what);
	else
		emit(run, key, CHECK_FAIL, "fix the BPF syscall check above first",
		     "cannot probe %s programs: %s", what, strerror(-ret));
}

static void check_map_types(struct check_run *run)
{
	int lpm = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, NULL);
	int pcpu = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERCPU_ARRAY, NULL);

	if (lpm == 1 && pcpu == 1)
		emit(run, "maps", CHECK_PASS, NULL, "lpm_trie and percpu_array maps supported");
	else
		emit(run, "maps", CHECK_FAIL,
		     "boot a kernel with BPF LPM trie and per-CPU array maps",
		     "lpm_trie maps %s, percpu_array maps %s", lpm == 1 ? "supported" : "unusable",
		     pcpu == 1 ? "supported" : "unusable");
}

/*
 * What a profile's "sockets" can refuse here, by loading the programs
 * (host.c): /sys/kernel/security/lsm may list bpf on a kernel that still
 * refuses lsm_cgroup programs. Only profiles that deny sockets need them.
 */
static void check_socket_layers(struct check_run *run)
{
	const struct {
		const char *key, *pass, *todo, *what;
		int err;
	} layers[] = {
		{ "sock-raw",
		  "cgroup/sock_create programs load: profiles may deny raw IP sockets (\"raw\": \"deny\")",
		  "profiles with \"raw\": \"deny\" fail to start here; the kernel needs CONFIG_CGROUP_BPF=y",
		  "cgroup/sock_create programs do not load", run->raw_probe },
		{ "sock-packet",
		  "lsm_cgroup programs load (BPF LSM): profiles may deny packet and XDP sockets (\"packet\": \"deny\")",
		  "profiles cannot deny packet sockets here (\"packet\": \"deny\" fails to start), so containers holding CAP_NET_RAW can bypass a profile: see privileged_network below; the BPF LSM needs CONFIG_BPF_LSM=y, bpf in lsm=, and a kernel that lets the hook load lsm_cgroup programs",
		  "lsm_cgroup programs do not load", run->packet_probe },
	};
	size_t i;

	for (i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		if (!layers[i].err)
			emit(run, layers[i].key, CHECK_PASS, NULL, "%s", layers[i].pass);
		else
			emit(run, layers[i].key, CHECK_WARN, layers[i].todo, "%s: %s",
			     layers[i].what, strerror(-layers[i].err));
}

static void check_btf(struct check_run *run)
{
	struct kfacts kf;

	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		emit(run, "btf", CHECK_PASS, NULL, "kernel BTF at /sys/kernel/btf/vmlinux");
	else
		emit(run, "btf", CHECK_WARN,
		     "a kernel with CONFIG_DEBUG_INFO_BTF=y tells the hook where a socket's freebind and transparent flags are, and lets bpftool describe the programs",
		     "no kernel BTF (/sys/kernel/btf/vmlinux: %s)", strerror(errno));
	/* A 32-bit setsockopt() runs no cgroup sockopt program: the egress
	 * program reads the flags themselves, where it knows their place. */
	kfacts_inet_flags(&kf, false);
	if (kf.spoof_mask)
		emit(run, "spoof-flags", CHECK_PASS, NULL,
		     "a socket's freebind/transparent flags are readable (struct inet_sock at %u): its datagrams are denied wherever egress can deny, a 32-bit setsockopt() notwithstanding",
		     kf.inet_flags_off);
	else
		emit(run, "spoof-flags", CHECK_WARN,
		     "refuse the i386 system call ABI in the runtime's seccomp profile (or boot with ia32_emulation=0), or use Linux 6.6 or later with BTF",
		     "this kernel's freebind/transparent flags are not where the programs can read them: a 32-bit setsockopt() can set them past the sockopt program and forge a source address");
}

/* The message the failed call recorded (or @err's), then forgotten. */
static const char *take_err(int err, char *buf, size_t size)
{
	snprintf(buf, size, "%s", ocb_err_msg()[0] ? ocb_err_msg() : strerror(-err));
	ocb_err_clear();
	return buf;
}

static bool check_config_file(struct check_run *run, struct ocb_config *cfg)
{
	const char *dir = run->ctx->config_dir;
	char path[PATH_MAX + 16], msg[1024];
	struct stat st;
	int err = config_load(dir, cfg);

	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (err)
		emit(run, "config", CHECK_FAIL,
		     "fix it: while it is wrong the hook refuses every container", "%s",
		     take_err(err, msg, sizeof(msg)));
	else if (stat(path, &st))
		emit(run, "config", CHECK_PASS, NULL,
		     "no %s: built-in defaults (no default profile, on_error refuse, privileged_network refuse)",
		     path);
	else
		emit(run, "config", CHECK_PASS, NULL,
		     "%s: default profile %s, on_error %s, privileged_network %s", path,
		     cfg->default_profile ? cfg->default_profile : "none",
		     cfg->on_error_allow ? "allow" : "refuse",
		     cfg->privileged_warn ? "warn" : "refuse");
	return !err;
}

/* What privileged_network does, given the socket layers of this host. */
static void check_privileged(struct check_run *run, const struct ocb_config *cfg)
{
	const char *raw = run->packet_probe
				  ? "CAP_NET_RAW (packet sockets cannot be refused here)"
				  : "CAP_NET_RAW unless its profile denies packet sockets";

	if (cfg->privileged_warn)
		emit(run, "privileged-network", CHECK_WARN,
		     "set \"privileged_network\": \"refuse\" (the default) to keep such containers from starting",
		     "privileged_network warn: a container holding CAP_NET_ADMIN, or %s, starts although its profile can be bypassed ('list' and 'show' flag it)",
		     raw);
	else
		emit(run, "privileged-network", CHECK_PASS, NULL,
		     "privileged_network refuse: a container whose profile denies anything does not start if it holds CAP_NET_ADMIN, or %s",
		     raw);
}

/* Whether @msg starts "profile NAME". */
static bool named(const char *msg, const char *name)
{
	return !strncmp(msg, "profile ", 8) && !strncmp(msg + 8, name, strlen(name));
}

/* What a profile that compiles probably does not mean: warnings. */
static void advise(struct check_run *run, const char *name)
{
	char advice[8][ADVICE_LEN];
	struct profile prof;
	size_t n, i;

	if (config_load_profile(run->ctx->config_dir, name, &prof)) {
		ocb_err_clear();
		return;
	}
	n = profile_advise(&prof, advice, sizeof(advice) / sizeof(advice[0]));
	for (i = 0; i < n && i < sizeof(advice) / sizeof(advice[0]); i++)
		emit(run, "profile", CHECK_WARN, NULL, "profile %s: %s", name, advice[i]);
	profile_free(&prof);
}

/* Loads and compiles one profile, as an attach would. */
static void check_profile(struct check_run *run, const char *name)
{
	struct ocb_policy *pol = NULL;
	char msg[1024];
	int err = config_load_policy(run->ctx->config_dir, name, &pol);

	/* The compiler's messages name the profile already: once. */
	if (err && named(take_err(err, msg, sizeof(msg)), name))
		emit(run, "profile", CHECK_FAIL,
		     "fix the profile: containers that use it fail to start", "%s", msg);
	else if (err)
		emit(run, "profile", CHECK_FAIL,
		     "fix the profile: containers that use it fail to start", "profile %s: %s",
		     name, msg);
	else if ((pol->sockets & OCB_SOCK_DENY_PACKET) && run->packet_probe)
		emit(run, "profile", CHECK_FAIL,
		     "remove \"packet\" from the profile's \"sockets\" (\"raw\": \"deny\" needs no LSM), or boot a kernel that loads lsm_cgroup programs",
		     "profile %s denies packet sockets, but lsm_cgroup programs do not load here: containers that use it fail to start",
		     name);
	else if ((pol->sockets & OCB_SOCK_DENY_RAW) && run->raw_probe)
		emit(run, "profile", CHECK_FAIL, "remove \"raw\" from the profile's \"sockets\"",
		     "profile %s denies raw sockets, but cgroup/sock_create programs do not load here: containers that use it fail to start",
		     name);
	else
		emit(run, "profile", CHECK_PASS, NULL,
		     "profile %s: %s, %zu rule entries, %zu port entries", name,
		     pol->mode & OCB_MODE_AUDIT ? "audit" : "enforce", pol->n_rules, pol->n_ports);
	if (!err)
		advise(run, name);
	policy_free(pol);
}

/* profiles/NAME.json: the name of a file the hook may load, or false. */
static bool profile_file_name(const char *file, char *name, size_t size)
{
	size_t len = strlen(file);

	if (len <= 5 || strcmp(file + len - 5, ".json") || len - 5 >= size)
		return false;
	memcpy(name, file, len - 5);
	name[len - 5] = '\0';
	return true;
}

static void check_profiles(struct check_run *run, const struct ocb_config *cfg)
{
	char dir[PATH_MAX + 16], name[NAME_MAX + 1];
	int n, i;
	bool have_default = false;
	struct dirent **des = NULL;

	snprintf(dir, sizeof(dir), "%s/profiles", run->ctx->config_dir);
	n = scandir(dir, &des, NULL, alphasort);
	for (i = 0; i < n; i++) {
		const char *file = des[i]->d_name;

		if (!profile_file_name(file, name, sizeof(name)))
			continue;
		if (!profile_name_valid(name))
			emit(run, "profile", CHECK_WARN, "rename it to a valid profile name",
			     "%s/%s is never used: not a valid profile name", dir, file);
		else
			check_profile(run, name);
		have_default |= cfg->default_profile && !strcmp(name, cfg->default_profile);
	}
	for (i = 0; i < n; i++)
		free(des[i]);
	free(des);
	if (cfg->default_profile && !have_default)
		emit(run, "profile", CHECK_FAIL,
		     "install it, or change default_profile in config.json",
		     "the default profile %s is not in %s: containers without an annotation fail to start",
		     cfg->default_profile, dir);
}

static void check_config(struct check_run *run)
{
	struct ocb_config cfg;

	if (check_config_file(run, &cfg)) {
		check_privileged(run, &cfg);
		check_profiles(run, &cfg);
		config_free(&cfg);
	}
}

/* Loaded: with how many slots taken, and kept free with their maps. */
static void check_slots(struct check_run *run, const struct pin_tree *t, const char *dir,
			unsigned int other)
{
	unsigned int taken = 0, pooled = 0;
	struct ocb_shared s;

	if (progs_open_maps(t, progs_build_id(), &s))
		ocb_err_clear();
	else
		slots_count(&s, &taken, &pooled);
	progs_close(&s);
	emit(run, "programs", CHECK_PASS, NULL,
	     "this build's programs are loaded once, at %s (%u other build%s loaded); %u container slot%s taken, %u free with their maps",
	     dir, other, other == 1 ? "" : "s", taken, taken == 1 ? "" : "s", pooled);
}

/* The shared programs: loaded once per build by the first container. */
static void check_programs(struct check_run *run)
{
	char dir[PATH_MAX], base[PATH_MAX];
	struct pin_tree t;
	struct dirent *de;
	unsigned int other = 0;
	struct stat st;
	DIR *d;

	if (pin_tree_init(&t, run->ctx->bpffs) ||
	    progs_dir(&t, progs_build_id(), dir, sizeof(dir)) ||
	    progs_dir(&t, "", base, sizeof(base))) {
		ocb_err_clear();
		return;
	}
	d = opendir(base);
	while (d && (de = readdir(d)))
		other += de->d_name[0] != '.' && strcmp(de->d_name, progs_build_id());
	if (d)
		closedir(d);
	if (!stat(dir, &st))
		check_slots(run, &t, dir, other);
	else
		emit(run, "programs", CHECK_PASS, NULL,
		     "this build's programs are not loaded yet: the first container that starts loads them into %s (%u other build%s loaded)",
		     dir, other, other == 1 ? "" : "s");
}

/*
 * What an attach does, tried: the programs loaded (not pinned) and
 * attached to a cgroup made for this check under the cgroup2 mount, then
 * detached and the cgroup removed. A probe that loads is not enough: a
 * kernel may load a program and refuse to attach it.
 */
static void check_attach(struct check_run *run, const char *v2)
{
	char cg[PATH_MAX + 64], done[256], msg[1024];
	struct statfs sfs;
	struct pin_tree t;
	int fd, err;

	if (!v2[0])
		return;
	if (statfs(run->ctx->bpffs, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		emit(run, "attach", CHECK_WARN, "run check again once bpffs is mounted",
		     "attaching the programs was not tried: no bpffs at %s", run->ctx->bpffs);
		return;
	}
	snprintf(cg, sizeof(cg), "%s/oci-cgroup-bpf-hook-check.%d", v2, (int)getpid());
	if (mkdir(cg, 0700)) {
		emit(run, "attach", CHECK_FAIL, "run check as root in the initial cgroup namespace",
		     "cannot create the cgroup %s to attach to: %s", cg, strerror(errno));
		return;
	}
	fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? ocb_err(ocb_errno(), "cannot open %s: %s", cg, strerror(errno))
		     : pin_tree_init(&t, run->ctx->bpffs);
	if (!err)
		err = progs_try_attach(&t, fd, done, sizeof(done));
	if (fd >= 0)
		close(fd);
	/* The links are closed: the cgroup holds no program and goes. */
	if (rmdir(cg))
		emit(run, "attach", CHECK_WARN, "remove it: rmdir it",
		     "cannot remove the cgroup %s made for this check: %s", cg, strerror(errno));
	if (err)
		emit(run, "attach", CHECK_FAIL,
		     "containers fail to start here; see the checks above for what this host lacks",
		     "the programs do not attach to a cgroup: %s", take_err(err, msg, sizeof(msg)));
	else
		emit(run, "attach", CHECK_PASS, NULL,
		     "the programs load and attach to a cgroup (made for this check and removed): %s",
		     done);
}

static void run_checks(struct check_run *run)
{
	struct cgroup_mounts m;
	int err;

	check_root(run);
	check_kernel(run);
	check_bpf_syscall(run);
	check_bpffs(run);
	err = scan_mounts(&m);
	if (err) {
		emit(run, "cgroup2", CHECK_FAIL, "run the check where /proc is mounted",
		     "cannot read /proc/self/mountinfo: %s", strerror(-err));
	} else {
		check_cgroup2(run, &m);
		check_net_cls(run, &m);
	}
	check_prog_type(run, BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb",
			"cgroup_skb (ingress, egress)");
	check_prog_type(run, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup_sock_addr",
			"cgroup_sock_addr (connect4/6, sendmsg4/6)");
	check_prog_type(run, BPF_PROG_TYPE_CGROUP_SOCKOPT, "cgroup_sockopt",
			"cgroup_sockopt (options that forge a source)");
	check_map_types(run);
	/* The profiles and privileged_network are judged on these too. */
	run->raw_probe = host_probe_sock_create();
	run->packet_probe = host_probe_lsm_cgroup();
	check_socket_layers(run);
	if (!err)
		check_attach(run, m.v2);
	check_btf(run);
	check_programs(run);
	check_config(run);
}

int cmd_check(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct check_run run = { .ctx = ctx };
	bool json;
	int err = parse_opts(ctx, argc, argv, &json);

	if (err)
		return err == CLI_HELP_SHOWN ? 0 : err;
	if (json) {
		run.items = json_array();
		if (!run.items)
			return ocb_err(-ENOMEM, "out of memory");
	}
	run_checks(&run);
	if (json)
		err = fmt_json_print(json_pack("{s:o,s:b,s:i,s:i}", "checks", run.items, "ok",
					       !run.failed, "failed", (int)run.failed, "warnings",
					       (int)run.warned));
	else
		fflush(stdout);
	if (!err && run.failed)
		err = ocb_err(-EINVAL, "%u check%s failed; see the fail items above", run.failed,
			      run.failed == 1 ? "" : "s");
	return err;
}
