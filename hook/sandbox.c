// SPDX-License-Identifier: GPL-2.0
/*
 * The seccomp sandbox. Once the hook has read the runtime's state (or a
 * command its options), what it still does is a short, known list of
 * system calls: a filter lets exactly those through, some only with the
 * arguments the hook uses, and fails every other call with EPERM, an
 * error the hook reports like any other ("Operation not permitted"),
 * which is easier to debug than a dead process. Calls that only code
 * that has taken over the process would make (exec, ptrace, modules,
 * namespaces, mounts, file handles, other processes' memory and fds)
 * kill the process instead. The filter logs nothing itself.
 *
 * The lists come from strace -f of every stage and command; the test
 * suite runs with the filter on. SECURITY.md lists them with reasons.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/* The client request is a no-op instruction sequence natively: nothing
 * outside valgrind's JIT can make it true. */
#if defined(__has_include) && !defined(__CPPCHECK__) /* cppcheck cannot evaluate it */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#include <linux/magic.h>
#define OCB_ON_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef OCB_ON_VALGRIND
#define OCB_ON_VALGRIND() 0
#endif

/* Sanitizer runtimes need more at exit (LeakSanitizer stops the world
 * with a ptrace helper); such builds are for tests, never shipped. */
#if defined(__SANITIZE_ADDRESS__)
#define OCB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OCB_SANITIZED 1
#endif
#endif

/* What a profile may do beyond the base every profile has. */
enum {
	SB_LOCKS = 1 << 0, /* per-id lock files: mkdir, flock, open for writing */
	SB_PINS = 1 << 1,  /* the pin tree: rename, unlink, rmdir */
	SB_PIDFD = 1 << 2, /* pidfd_open, pidfd_send_signal(0) of the container */
	SB_KILL0 = 1 << 3, /* kill(pid, 0): is a work directory's owner alive */
	SB_EPOLL = 1 << 4, /* waiting on the trace ring buffer */
	SB_MOUNT = 1 << 5, /* mount bpffs at --bpffs, if it is not mounted yet */
	SB_PROBE = 1 << 6, /* fork a child that mounts bpffs in a new mount ns */
	SB_GUARD = 1 << 7, /* fork the guard (guard.c), talk to it, reap it */
	SB_CGDIR = 1 << 8, /* check: make and remove a cgroup to attach to */
};

#define CMD(c) (1ull << (c))
/* Reading maps, pins and object info. */
#define BPF_READ                                                                                \
	(CMD(BPF_MAP_LOOKUP_ELEM) | CMD(BPF_MAP_GET_NEXT_KEY) | CMD(BPF_OBJ_GET) |              \
	 CMD(BPF_PROG_GET_FD_BY_ID) | CMD(BPF_MAP_GET_FD_BY_ID) | CMD(BPF_OBJ_GET_INFO_BY_FD) | \
	 CMD(BPF_BTF_GET_FD_BY_ID) | CMD(BPF_LINK_GET_FD_BY_ID))
/* What libbpf needs to load an object and probe kernel features. */
#define BPF_LOAD                                                                                  \
	(CMD(BPF_MAP_CREATE) | CMD(BPF_MAP_UPDATE_ELEM) | CMD(BPF_PROG_LOAD) | CMD(BPF_OBJ_PIN) | \
	 CMD(BPF_BTF_LOAD) | CMD(BPF_MAP_FREEZE) | CMD(BPF_BTF_GET_NEXT_ID) |                     \
	 CMD(BPF_PROG_BIND_MAP))

struct profile {
	const char *name;
	unsigned int groups;
	uint64_t bpf_cmds; /* bit n: bpf(n, ...) is allowed */
};

/* Never a way to detach programs (PROG_DETACH, LINK_DETACH) or to
 * change links: detach only unpins, and the kernel does the rest. */
static const struct profile profiles[OCB_SANDBOX_COUNT] = {
	/* LOAD: the first container of a boot loads the shared programs
	 * (progs.c); UPDATE_BATCH: a pool of slots that ran dry grows. */
	[OCB_SANDBOX_ATTACH] = { "attach", SB_LOCKS | SB_PINS | SB_PIDFD | SB_MOUNT | SB_GUARD,
				 BPF_READ | BPF_LOAD | CMD(BPF_LINK_CREATE) |
					 CMD(BPF_MAP_UPDATE_BATCH) },
	/* Reading the info map (and, without it, the links) proves that
	 * the pins are the detaching container's (detach_owns()); its cgroup
	 * is pointed at no slot and its slot given back (slots.c). The last
	 * container of a profile frees its tries: the free slots' entries
	 * are pointed at empty stand-ins (BTF, CREATE, UPDATE_BATCH:
	 * slots_let_go()). */
	[OCB_SANDBOX_DETACH] = { "detach", SB_LOCKS | SB_PINS | SB_KILL0 | SB_GUARD,
				 CMD(BPF_OBJ_GET) | CMD(BPF_OBJ_GET_INFO_BY_FD) |
					 CMD(BPF_MAP_LOOKUP_ELEM) | CMD(BPF_MAP_UPDATE_ELEM) |
					 CMD(BPF_BTF_GET_FD_BY_ID) | CMD(BPF_MAP_CREATE) |
					 CMD(BPF_MAP_UPDATE_BATCH) },
	/* MAP_CREATE: a map-in-map whose update waits for running programs
	 * before the old policy is deleted (policy.c). */
	/* A new profile's tries may have to be made (CREATE, FREEZE) and
	 * are pinned in place of the old ones (OBJ_PIN, rename); the old
	 * ones go from the pool's free slots if no container uses them
	 * (UPDATE_BATCH: slots_let_go()). */
	[OCB_SANDBOX_APPLY] = { "apply", SB_LOCKS | SB_PINS,
				BPF_READ | CMD(BPF_MAP_CREATE) | CMD(BPF_MAP_UPDATE_ELEM) |
					CMD(BPF_MAP_DELETE_ELEM) | CMD(BPF_MAP_FREEZE) |
					CMD(BPF_OBJ_PIN) | CMD(BPF_MAP_UPDATE_BATCH) },
	[OCB_SANDBOX_TRACE] = { "trace", SB_LOCKS | SB_EPOLL, BPF_READ | CMD(BPF_MAP_UPDATE_ELEM) },
	[OCB_SANDBOX_STATS] = { "stats", 0, BPF_READ },
	[OCB_SANDBOX_LIST] = { "list", 0, BPF_READ },
	[OCB_SANDBOX_SHOW] = { "show", 0, BPF_READ },
	/* CREATE, UPDATE_BATCH: the pool's free slots let go of their maps
	 * (slots_trim()). */
	[OCB_SANDBOX_GC] = { "gc", SB_LOCKS | SB_PINS | SB_KILL0,
			     BPF_READ | CMD(BPF_MAP_UPDATE_ELEM) | CMD(BPF_MAP_DELETE_ELEM) |
				     CMD(BPF_MAP_CREATE) | CMD(BPF_MAP_UPDATE_BATCH) |
				     CMD(BPF_MAP_GET_NEXT_ID) | CMD(BPF_LINK_GET_NEXT_ID) |
				     CMD(BPF_PROG_GET_NEXT_ID) },
	/* CGDIR, LINK_CREATE: the programs attached to a cgroup made for
	 * the check, then detached (closed) and the cgroup removed. */
	[OCB_SANDBOX_CHECK] = { "check", SB_PROBE | SB_CGDIR,
				BPF_READ | BPF_LOAD | CMD(BPF_LINK_CREATE) },
};

/* Every profile: memory, reading files and directories, stdio, time,
 * exit, and syslog(3) (connect and send on the AF_UNIX socket that is
 * checked below). Restricted ones (mmap, open, ioctl...) come apart. */
static const char base_calls[] =
	"read pread64 readv write writev close lseek dup dup2 dup3 newfstatat fstat "
	"stat lstat statx statfs fstatfs readlink readlinkat getdents64 getdents "
	"access faccessat faccessat2 getcwd brk munmap mremap madvise exit exit_group "
	"restart_syscall rt_sigaction rt_sigprocmask rt_sigreturn getpid gettid getuid "
	"geteuid getgid getegid uname sysinfo getrandom futex sched_yield "
	"clock_gettime clock_getres gettimeofday time nanosleep clock_nanosleep "
	"connect sendto sendmsg";

static const char lock_calls[] = "mkdir mkdirat flock";
static const char pin_calls[] = "rename renameat renameat2 unlink unlinkat rmdir";
static const char cgdir_calls[] = "mkdir mkdirat rmdir";
static const char epoll_calls[] =
	"epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2";
static const char probe_calls[] = "wait4 waitid set_robust_list";
static const char guard_calls[] = "wait4 set_robust_list setsid";

/* Only a process that has been taken over makes these: it dies. */
static const char fatal_calls[] =
	"execve execveat ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp "
	"open_by_handle_at name_to_handle_at init_module finit_module delete_module "
	"kexec_load kexec_file_load reboot swapon swapoff pivot_root chroot setns "
	"unshare mount umount2 move_mount open_tree fsopen fsmount fsconfig fspick "
	"mount_setattr keyctl add_key request_key userfaultfd perf_event_open iopl "
	"ioperm acct settimeofday clock_settime clock_adjtime adjtimex sethostname "
	"setdomainname personality quotactl fanotify_init";

#ifdef OCB_SANITIZED
/* LeakSanitizer at exit: a clone()d helper ptrace()s the process. */
static const char sanitizer_calls[] =
	"clone wait4 waitpid ptrace prctl sigaltstack process_vm_readv getppid tgkill "
	"kill pipe pipe2";
#endif

struct filter {
	scmp_filter_ctx ctx;
	const struct profile *p;
	bool mount_allowed; /* with some arguments: not fatal */
	int err;
};

/* A name this architecture lacks (e.g. "open" on arm64) is skipped. */
static void rule(struct filter *f, uint32_t action, const char *name, unsigned int n,
		 const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int err;

	if (f->err || nr == __NR_SCMP_ERROR || nr < 0)
		return;
	err = seccomp_rule_add_array(f->ctx, action, nr, n, cmp);
	/* -EEXIST: the same call twice in the lists; harmless. */
	if (err && err != -EEXIST)
		f->err =
			ocb_err(err, "sandbox: cannot add a rule for %s: %s", name, strerror(-err));
}

static void allow(struct filter *f, const char *name)
{
	rule(f, SCMP_ACT_ALLOW, name, 0, NULL);
}

static void allow_if(struct filter *f, const char *name, struct scmp_arg_cmp cmp)
{
	rule(f, SCMP_ACT_ALLOW, name, 1, &cmp);
}

/* Calls @fn for each name in the space-separated @list. */
static void for_each_name(struct filter *f, const char *list,
			  void (*fn)(struct filter *f, const char *name))
{
	char name[32];
	size_t n;

	while (*list) {
		n = strcspn(list, " ");
		if (n && n < sizeof(name)) {
			memcpy(name, list, n);
			name[n] = '\0';
			fn(f, name);
		}
		list += n;
		list += strspn(list, " ");
	}
}

static void allow_all(struct filter *f, const char *list)
{
	for_each_name(f, list, allow);
}

/* No new executable memory: the hook never needs any after start. */
static void add_memory(struct filter *f)
{
	allow_if(f, "mmap", SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	allow_if(f, "mprotect", SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
}

/* Profiles without lock files only ever open for reading. */
static void add_open(struct filter *f)
{
	const unsigned int writes = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;

	if (f->p->groups & SB_LOCKS) {
		allow(f, "openat");
		allow(f, "open");
		return;
	}
	allow_if(f, "openat", SCMP_A2_32(SCMP_CMP_MASKED_EQ, writes, 0));
	allow_if(f, "open", SCMP_A1_32(SCMP_CMP_MASKED_EQ, writes, 0));
}

static void add_fd_controls(struct filter *f)
{
	static const int fcntl_cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC };
	size_t i;

	/* isatty() of stdio; no other ioctl. */
	allow_if(f, "ioctl", SCMP_A1_32(SCMP_CMP_EQ, TCGETS));
	/* libbpf moves fds below 3 up with F_DUPFD_CLOEXEC. */
	for (i = 0; i < sizeof(fcntl_cmds) / sizeof(fcntl_cmds[0]); i++)
		allow_if(f, "fcntl", SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)fcntl_cmds[i]));
	/* syslog(3) only: no network sockets, no netlink. */
	allow_if(f, "socket", SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX));
	/* getrlimit() anywhere; setrlimit() of RLIMIT_MEMLOCK only: libbpf
	 * raises it on kernels that charge BPF memory to it (before 5.11). */
	allow_if(f, "prlimit64", SCMP_A2_64(SCMP_CMP_EQ, 0));
	if (f->p->bpf_cmds & CMD(BPF_PROG_LOAD)) {
		struct scmp_arg_cmp memlock[] = { SCMP_A0_32(SCMP_CMP_EQ, 0),
						  SCMP_A1_32(SCMP_CMP_EQ, RLIMIT_MEMLOCK) };

		rule(f, SCMP_ACT_ALLOW, "prlimit64", 2, memlock);
		allow(f, "getrlimit");
		allow_if(f, "setrlimit", SCMP_A0_32(SCMP_CMP_EQ, RLIMIT_MEMLOCK));
	} else {
		allow(f, "getrlimit");
	}
	/* abort() signals its own process; nothing else may be signalled. */
	allow_if(f, "tgkill", SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid()));
}

static void add_bpf(struct filter *f)
{
	unsigned int cmd;

	for (cmd = 0; cmd < 64; cmd++)
		if (f->p->bpf_cmds & CMD(cmd))
			allow_if(f, "bpf", SCMP_A0_32(SCMP_CMP_EQ, cmd));
}

static bool is_bpffs(const char *path)
{
	struct statfs sfs;

	return path && !statfs(path, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

/*
 * seccomp cannot read the file system type string, so a mount is bounded
 * by its flags: a new mount (no bind, move, remount or propagation
 * change). It is allowed at all only when --bpffs is not a bpffs yet.
 */
static void add_processes(struct filter *f, const char *bpffs)
{
	const uint64_t fork_flags = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD;
	unsigned int g = f->p->groups;

	if (g & SB_PIDFD) {
		allow(f, "pidfd_open");
		allow_if(f, "pidfd_send_signal", SCMP_A1_32(SCMP_CMP_EQ, 0));
	}
	if (g & SB_KILL0)
		allow_if(f, "kill", SCMP_A1_32(SCMP_CMP_EQ, 0));
	if ((g & SB_MOUNT) && !is_bpffs(bpffs)) {
		allow_if(f, "mount", SCMP_A3_64(SCMP_CMP_EQ, 0));
		f->mount_allowed = true;
	}
	/* fork() and nothing else: glibc's flags exactly (no shared memory,
	 * files or fs, no thread, no namespace). clone3 cannot be filtered
	 * by its flags (they are behind a pointer): ENOSYS makes a libc
	 * fall back to clone. */
	if (g & (SB_PROBE | SB_GUARD)) {
		allow_if(f, "clone", SCMP_A0_64(SCMP_CMP_EQ, fork_flags));
		rule(f, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	}
	if (g & SB_GUARD) {
		allow_if(f, "socketpair", SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX));
		allow_if(f, "prctl", SCMP_A0_32(SCMP_CMP_EQ, PR_SET_NAME));
		allow_all(f, guard_calls);
	}
	if (g & SB_PROBE) {
		allow_if(f, "unshare", SCMP_A0_64(SCMP_CMP_EQ, CLONE_NEWNS));
		allow_if(f, "mount", SCMP_A3_64(SCMP_CMP_EQ, 0));
		allow_if(f, "mount", SCMP_A3_64(SCMP_CMP_EQ, MS_REC | MS_PRIVATE));
		allow_all(f, probe_calls);
		f->mount_allowed = true;
	}
}

/* The fatal list, but for calls this profile allows with some arguments:
 * with other arguments those fail with EPERM, like anything unlisted. */
static void kill_unless_allowed(struct filter *f, const char *name)
{
	if ((f->mount_allowed && !strcmp(name, "mount")) ||
	    ((f->p->groups & SB_PROBE) && !strcmp(name, "unshare")))
		return;
#ifdef OCB_SANITIZED
	if (!strcmp(name, "ptrace") || !strcmp(name, "process_vm_readv"))
		return;
#endif
	rule(f, SCMP_ACT_KILL_PROCESS, name, 0, NULL);
}

static void build(struct filter *f, const char *bpffs)
{
	allow_all(f, base_calls);
	add_memory(f);
	add_open(f);
	add_fd_controls(f);
	add_bpf(f);
	if (f->p->groups & SB_LOCKS)
		allow_all(f, lock_calls);
	if (f->p->groups & SB_PINS)
		allow_all(f, pin_calls);
	if (f->p->groups & SB_CGDIR)
		allow_all(f, cgdir_calls);
	if (f->p->groups & SB_EPOLL)
		allow_all(f, epoll_calls);
	add_processes(f, bpffs);
#ifdef OCB_SANITIZED
	allow_all(f, sanitizer_calls);
#endif
	for_each_name(f, fatal_calls, kill_unless_allowed);
}

const char *ocb_sandbox_name(enum ocb_sandbox which)
{
	if (which <= OCB_SANDBOX_NONE || which >= OCB_SANDBOX_COUNT)
		return "none";
	return profiles[which].name;
}

int ocb_sandbox_enter(enum ocb_sandbox which, const char *bpffs)
{
	struct filter f = { .p = &profiles[which] };
	int err;

	if (which <= OCB_SANDBOX_NONE || which >= OCB_SANDBOX_COUNT)
		return 0;
	/* valgrind has no seccomp(2), and a filter would bind its own calls
	 * too: memory checking runs the same code, unconfined. */
	if (OCB_ON_VALGRIND()) {
		ocb_log_info("not sandboxed: running under valgrind");
		return 0;
	}
	f.ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!f.ctx)
		return ocb_err(-ENOMEM, "sandbox: cannot set up the seccomp filter");
	/* A call from another ABI (x32, i386 on x86_64) never is ours. */
	err = seccomp_attr_set(f.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (err)
		f.err = ocb_err(err, "sandbox: %s", strerror(-err));
	build(&f, bpffs);
	if (!f.err) {
		err = seccomp_load(f.ctx);
		if (err)
			f.err = ocb_err(err,
					"cannot confine the hook with seccomp (%s profile): %s; the kernel needs CONFIG_SECCOMP_FILTER=y",
					f.p->name, strerror(-err));
	}
	seccomp_release(f.ctx);
	return f.err;
}
