// SPDX-License-Identifier: GPL-2.0
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static char err_msg[1024];

void ocb_err_vrecord(const char *fmt, va_list ap)
{
	if (!err_msg[0])
		vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
}

const char *ocb_err_msg(void)
{
	return err_msg;
}

void ocb_err_clear(void)
{
	err_msg[0] = '\0';
}

/* libbpf's warnings (a verifier log among them) go to syslog only:
 * stderr gets the one line that ocb_report_error() prints. */
static int libbpf_to_syslog(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	vsyslog(LOG_DAEMON | (level == LIBBPF_WARN ? LOG_WARNING : LOG_INFO), fmt, ap);
	return 0;
}

void ocb_log_open(void)
{
	openlog(OCB_NAME, LOG_PID, LOG_DAEMON);
	libbpf_set_print(libbpf_to_syslog);
}

void ocb_log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_DAEMON | LOG_INFO, fmt, ap);
	va_end(ap);
}

void ocb_log_warn(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, OCB_NAME ": warning: %s\n", line);
	syslog(LOG_DAEMON | LOG_WARNING, "%s", line);
}

void ocb_report_error(int err)
{
	const char *msg = err_msg[0] ? err_msg : strerror(err < 0 ? -err : err);

	fprintf(stderr, OCB_NAME ": %s\n", msg);
	syslog(LOG_DAEMON | LOG_ERR, "%s", msg);
}
