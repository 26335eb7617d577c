/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_TRACE_H
#define OCB_TRACE_H

#include <linux/types.h>

/* Sets trace_ctl.readers (non-zero: the programs build events). */
int trace_set_readers(int ctl_fd, __u32 readers);
/* Turns event building off if no `trace` holds the reader lock (for gc). */
int trace_reset_if_unread(const char *events_dir);

#endif
