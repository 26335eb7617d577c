/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_SANDBOX_H
#define OCB_SANDBOX_H

/*
 * The seccomp allow list the hook confines itself to once its input and
 * options are read: one for each stage and each command. See SECURITY.md
 * for what each allows and why.
 */
enum ocb_sandbox {
	OCB_SANDBOX_NONE,   /* no filter: --help, --version, usage errors */
	OCB_SANDBOX_ATTACH, /* prestart, createRuntime */
	OCB_SANDBOX_DETACH, /* poststop */
	OCB_SANDBOX_APPLY,
	OCB_SANDBOX_TRACE,
	OCB_SANDBOX_STATS,
	OCB_SANDBOX_LIST,
	OCB_SANDBOX_SHOW,
	OCB_SANDBOX_GC,
	OCB_SANDBOX_CHECK,
	OCB_SANDBOX_COUNT,
};

/*
 * Installs the filter of @which for the rest of the process's life (and
 * its children's). @bpffs is the --bpffs directory: attach may mount
 * bpffs there only if it is not a bpffs yet. Returns 0 or a negative
 * errno with the message recorded (ocb_err()).
 */
int ocb_sandbox_enter(enum ocb_sandbox which, const char *bpffs);
/* The profile's name, as SECURITY.md calls it. */
const char *ocb_sandbox_name(enum ocb_sandbox which);

#endif
