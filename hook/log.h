/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_LOG_H
#define OCB_LOG_H

#include <stdarg.h>

#define OCB_NAME "oci-cgroup-bpf-hook"

/*
 * Errors travel up as negative errno values. The first failure also
 * records one human sentence (what failed, what to do) with ocb_err();
 * the top level reports it once, on stderr and in syslog.
 */
__attribute__((format(printf, 2, 3))) int ocb_err(int err, const char *fmt, ...);
const char *ocb_err_msg(void);
void ocb_err_clear(void);

void ocb_log_open(void);
/* An informational line for syslog only (facility daemon). */
__attribute__((format(printf, 1, 2))) void ocb_log_info(const char *fmt, ...);
/* A warning: syslog, and stderr unless quiet. */
__attribute__((format(printf, 1, 2))) void ocb_log_warn(const char *fmt, ...);
/* Report the recorded error (or @err) on stderr and in syslog. */
void ocb_report_error(int err);

#endif
