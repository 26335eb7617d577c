/* SPDX-License-Identifier: GPL-2.0 */
#ifndef OCB_LOG_H
#define OCB_LOG_H

#include <errno.h>
#include <stdarg.h>

#define OCB_NAME "oci-cgroup-bpf-hook"

/*
 * Errors travel up as negative errno values. The first failure also
 * records one human sentence (what failed, what to do) with ocb_err();
 * the top level reports it once, on stderr and in syslog.
 */
void ocb_err_vrecord(const char *fmt, va_list ap);

/* Records the first message and returns @err. Inline so that callers,
 * and static analysis, see the error code pass through unchanged. */
__attribute__((format(printf, 2, 3))) static inline int ocb_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ocb_err_vrecord(fmt, ap);
	va_end(ap);
	return err;
}

/* -errno of the call that just failed; never 0, even if errno is. */
static inline int ocb_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

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
