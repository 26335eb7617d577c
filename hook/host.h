/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_HOST_H
#define OCB_HOST_H

#include <stdbool.h>

enum host_root {
	HOST_ROOT, /* euid 0 in the initial user namespace */
	HOST_NOT_ROOT,
	HOST_IN_USERNS, /* root, but in a user namespace (rootless) */
};

/* cgroup BPF needs CAP_SYS_ADMIN in the initial user namespace. */
enum host_root host_root_status(void);

/*
 * What this host can refuse, found by loading a two-instruction program
 * (never from a list the kernel publishes): 0 if it loads, else -errno
 * (-EOPNOTSUPP: the kernel lacks the hook). No message is recorded.
 */
/* cgroup/sock_create: raw IP sockets ("sockets": {"raw": "deny"}). */
int host_probe_sock_create(void);
/* lsm_cgroup/socket_create: packet and XDP sockets ("packet": "deny"). */
int host_probe_lsm_cgroup(void);

#endif
