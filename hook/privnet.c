// SPDX-License-Identifier: GPL-2.0
/*
 * "privileged_network": containers that can send around their profile.
 *
 * No cgroup program sees what a packet socket (AF_PACKET, AF_XDP) sends,
 * and a container holding CAP_NET_ADMIN can rewrite and reroute its own
 * traffic (a tun device, NAT and routes in its network namespace). So a
 * profile that denies anything holds for such a container only if its
 * packet sockets are refused (lsm_cgroup, where the kernel loads it) and
 * it lacks CAP_NET_ADMIN. Otherwise the hook does not pretend: it
 * refuses the container (the default) or, with "warn", lets it start,
 * warns and records in the info map that its policy can be bypassed.
 *
 * The capabilities come from the bundle's config.json: at prestart the
 * container's process has not dropped to them yet. That file is written
 * by the runtime from what the container's author asked for, so it is
 * read as hostile input: a regular file reached without following a
 * symbolic link in its last component, of bounded size. What cannot be
 * read counts as holding both capabilities.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "ocb_maps.h"
#include "policy.h"
#include "privnet.h"

/* Runtimes write a few KiB; Kubernetes caps annotations at 256 KiB. */
#define BUNDLE_CONFIG_MAX (4 * 1024 * 1024)

#define CAP_RAW OCB_INFO_NET_RAW
#define CAP_ADMIN OCB_INFO_NET_ADMIN

bool privnet_can_deny(const struct ocb_policy *pol)
{
	size_t i;

	if (!pol || (pol->mode & OCB_MODE_AUDIT))
		return false;
	if (pol->sockets || pol->default_verdict[OCB_INGRESS] == OCB_DENY ||
	    pol->default_verdict[OCB_EGRESS] == OCB_DENY)
		return true;
	for (i = 0; i < pol->n_rules; i++)
		if (pol->rules[i].val.verdict == OCB_DENY)
			return true;
	return false;
}

/* Reads at most BUNDLE_CONFIG_MAX bytes of @fd; a larger file is refused
 * even if it grew after fstat(). */
static int read_bounded(int fd, const char *path, char **buf, size_t *len)
{
	size_t got = 0;
	ssize_t n;

	*buf = malloc(BUNDLE_CONFIG_MAX + 1);
	if (!*buf)
		return ocb_err(-ENOMEM, "out of memory reading %s", path);
	for (;;) {
		n = read(fd, *buf + got, BUNDLE_CONFIG_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > BUNDLE_CONFIG_MAX)
			break;
	}
	if (n < 0 || got > BUNDLE_CONFIG_MAX) {
		int err = n < 0 ? ocb_errno() : -EFBIG;

		free(*buf);
		*buf = NULL;
		return ocb_err(err, "cannot read %s: %s", path,
			       err == -EFBIG ? "larger than 4 MiB" : strerror(-err));
	}
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

/*
 * The bundle directory is the runtime's to name (its path may hold
 * symbolic links); config.json in it must be a regular file itself: no
 * symbolic link to another file, no FIFO to block on (O_NONBLOCK), no
 * device whose open does something.
 */
static int read_bundle_config(const char *bundle, char *path, size_t size, char **buf, size_t *len)
{
	struct stat st;
	int dfd, fd, err;

	if (!bundle || bundle[0] != '/')
		return ocb_err(-EINVAL, "the state has no absolute \"bundle\" path");
	if (snprintf(path, size, "%s/config.json", bundle) >= (int)size)
		return ocb_err(-ENAMETOOLONG, "the bundle path is too long");
	dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ocb_err(ocb_errno(), "cannot open the bundle %s: %s", bundle,
			       strerror(errno));
	fd = openat(dfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	err = fd < 0 ? ocb_errno() : 0;
	close(dfd);
	if (err == -ELOOP)
		return ocb_err(err, "%s is a symbolic link", path);
	if (err)
		return ocb_err(err, "cannot open %s: %s", path, strerror(-err));
	if (fstat(fd, &st))
		err = ocb_err(ocb_errno(), "cannot stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		err = ocb_err(-EINVAL, "%s is not a regular file", path);
	else if (st.st_size > BUNDLE_CONFIG_MAX)
		err = ocb_err(-EFBIG, "%s is larger than 4 MiB", path);
	else
		err = read_bounded(fd, path, buf, len);
	close(fd);
	return err;
}

/* "CAP_NET_RAW", as runtimes spell it; the case and the prefix are not
 * trusted to be (a runtime that accepts more only grants more). */
static unsigned int cap_bit(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	if (!strcasecmp(name, "NET_RAW"))
		return CAP_RAW;
	if (!strcasecmp(name, "NET_ADMIN"))
		return CAP_ADMIN;
	return 0;
}

/*
 * The union of process.capabilities' five sets. A bounding set alone
 * does not make a capability effective, but a setuid or file-capability
 * program can raise it. No process.capabilities: none, as runc gives.
 */
static int parse_caps(const char *buf, size_t len, const char *path, unsigned int *caps)
{
	static const char *const sets[] = { "bounding", "effective", "permitted", "inheritable",
					    "ambient" };
	json_t *root, *proc, *capo, *set, *e;
	json_error_t jerr;
	size_t i, j;
	int err = 0;

	*caps = 0;
	/* Duplicate keys could be read one way here and another way by the
	 * runtime: refused. jansson's text is not shown: it quotes input. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ocb_err(-EINVAL, "%s is not valid JSON (line %d, column %d)", path,
			       jerr.line, jerr.column);
	proc = json_is_object(root) ? json_object_get(root, "process") : NULL;
	capo = json_is_object(proc) ? json_object_get(proc, "capabilities") : NULL;
	if (!json_is_object(root) || (proc && !json_is_object(proc)) ||
	    (capo && !json_is_null(capo) && !json_is_object(capo)))
		err = ocb_err(-EINVAL, "%s: process.capabilities is not an object", path);
	for (i = 0; !err && json_is_object(capo) && i < sizeof(sets) / sizeof(sets[0]); i++) {
		set = json_object_get(capo, sets[i]);
		if (!set || json_is_null(set))
			continue;
		if (!json_is_array(set)) {
			err = ocb_err(-EINVAL, "%s: process.capabilities.%s is not an array", path,
				      sets[i]);
			break;
		}
		json_array_foreach (set, j, e) {
			if (!json_is_string(e)) {
				err = ocb_err(-EINVAL,
					      "%s: process.capabilities.%s[%zu] is not a string",
					      path, sets[i], j);
				break;
			}
			*caps |= cap_bit(json_string_value(e));
		}
	}
	json_decref(root);
	return err;
}

static const char *caps_text(unsigned int caps)
{
	if ((caps & CAP_RAW) && (caps & CAP_ADMIN))
		return "CAP_NET_RAW and CAP_NET_ADMIN";
	return caps & CAP_ADMIN ? "CAP_NET_ADMIN" : "CAP_NET_RAW";
}

/* Why @bypass (CAP_* bits) defeats the profile, for the one line. */
static void why_text(unsigned int bypass, int lsm, char *buf, size_t size)
{
	const char *raw =
		lsm ? "its packet sockets bypass every cgroup program and this host cannot refuse them (lsm_cgroup programs do not load here)"
		    : "its packet sockets bypass every cgroup program and the profile does not deny them (\"sockets\": {\"packet\": \"deny\"})";
	const char *admin =
		"CAP_NET_ADMIN lets it reroute and rewrite its own traffic (tun devices, NAT, routes)";

	if ((bypass & CAP_RAW) && (bypass & CAP_ADMIN))
		snprintf(buf, size, "%s, and %s", raw, admin);
	else
		snprintf(buf, size, "%s", bypass & CAP_RAW ? raw : admin);
}

unsigned int privnet_read_caps(const char *bundle, char *why, size_t size)
{
	char path[4096 + 16];
	unsigned int caps = 0;
	size_t len = 0;
	char *buf = NULL;
	int err;

	err = read_bundle_config(bundle, path, sizeof(path), &buf, &len);
	if (!err)
		err = parse_caps(buf, len, path, &caps);
	free(buf);
	if (!err)
		return caps;
	snprintf(why, size, "%s", ocb_err_msg()[0] ? ocb_err_msg() : strerror(-err));
	ocb_err_clear();
	return CAP_RAW | CAP_ADMIN | OCB_INFO_CAPS_UNKNOWN;
}

/* Are the container's packet sockets refused by a program of ours? */
static bool packet_refused(const struct privnet_in *in, int *lsm)
{
	if (!(in->policy->sockets & OCB_SOCK_DENY_PACKET))
		return false;
	if (in->packet_program >= 0)
		return in->packet_program;
	/* Prestart: the lsm_cgroup program loads for such a profile, where
	 * the kernel lets it. */
	*lsm = host_probe_lsm_cgroup();
	return !*lsm;
}

int privnet_check(const struct privnet_in *in, unsigned int *info_flags)
{
	const char *profile = in->profile ? in->profile : "-";
	unsigned int caps = in->caps, bypass;
	char why[512];
	int lsm = 0;

	*info_flags &= ~OCB_INFO_BYPASSABLE;
	if (!privnet_can_deny(in->policy))
		return 0;
	if (caps & OCB_INFO_CAPS_UNKNOWN) {
		/* Unknown capabilities are treated as both held. */
		if (!in->warn)
			return ocb_err(-EPERM,
				       "container %s: cannot tell whether it holds CAP_NET_RAW or CAP_NET_ADMIN, which would bypass profile %s (%s); the runtime must pass the bundle with a regular config.json, or set \"privileged_network\": \"warn\" in %s/config.json",
				       in->id, profile, in->why ? in->why : "unknown",
				       in->config_dir);
		ocb_log_warn("container %s: cannot tell whether it holds CAP_NET_RAW or CAP_NET_ADMIN (%s): profile %s may be bypassed (privileged_network is warn)",
			     in->id, in->why ? in->why : "unknown", profile);
		*info_flags |= OCB_INFO_BYPASSABLE;
		return 0;
	}
	bypass = caps & CAP_ADMIN;
	if ((caps & CAP_RAW) && !packet_refused(in, &lsm))
		bypass |= CAP_RAW;
	if (!bypass)
		return 0;
	why_text(bypass, lsm, why, sizeof(why));
	if (!in->warn)
		return ocb_err(-EPERM,
			       "container %s holds %s and profile %s denies traffic, but %s, so the profile would not hold; drop %s from the container, give it a profile that denies nothing (accounting only, or \"mode\": \"audit\"), or set \"privileged_network\": \"warn\" in %s/config.json to start it anyway",
			       in->id, caps_text(caps), profile, why, caps_text(bypass),
			       in->config_dir);
	ocb_log_warn("container %s holds %s: profile %s can be bypassed (%s); privileged_network is warn",
		     in->id, caps_text(bypass), profile, why);
	*info_flags |= OCB_INFO_BYPASSABLE;
	return 0;
}
