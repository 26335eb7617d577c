// SPDX-License-Identifier: GPL-2.0
/*
 * The shared programs: loaded once per host and build, pinned, and found
 * again by every container's prestart; a container's maps and its slot.
 *
 * Layout of <bpffs>/oci-cgroup-bpf-hook-progs/<build id>/: one pin per
 * program (named as the container's links: ingress, egress, ...; a
 * program this kernel refuses, such as lsm_cgroup here, has none), the
 * outer maps c_<map>, `cgslot`, `profiles`, `slots` (slots.c) and
 * `meta`. The directory is built in a work directory and renamed into
 * place whole, under the shared lock:
 * a directory that exists is complete, and the first containers of a
 * boot, racing, load the object once.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inspect.h"
#include "kfacts.h"
#include "log.h"
#include "ocb.skel.h"
#include "ocb_build_id.h"
#include "ocb_maps.h"
#include "pin.h"
#include "policy.h"
#include "progs.h"
#include "sha256.h"
#include "slots.h"

const char *const ocb_map_pins[OCB_N_MAPS] = {
	[OCB_MAP_STATS] = "stats", [OCB_MAP_ACTIVE] = "active", [OCB_MAP_CONF] = "conf",
	[OCB_MAP_RULES] = "rules", [OCB_MAP_PORTS] = "ports",	[OCB_MAP_INFO] = "info",
};

/* The outer maps in the shared directory, by enum ocb_map. */
static const char *const outer_pins[OCB_N_MAPS] = {
	[OCB_MAP_STATS] = "c_stats", [OCB_MAP_ACTIVE] = "c_active", [OCB_MAP_CONF] = "c_conf",
	[OCB_MAP_RULES] = "c_rules", [OCB_MAP_PORTS] = "c_ports",   [OCB_MAP_INFO] = "c_info",
};

/* How a container's maps are made (the templates in ocb.bpf.c). */
static const struct {
	enum bpf_map_type type;
	__u32 key_size, value_size, max_entries, flags;
	const char *key_type, *value_type;
} map_defs[OCB_N_MAPS] = {
	[OCB_MAP_STATS] = { BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct ocb_stats), 1, 0, "__u32",
			    "ocb_stats" },
	[OCB_MAP_ACTIVE] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct ocb_active), 1, 0, "__u32",
			     "ocb_active" },
	[OCB_MAP_CONF] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct ocb_conf), 2, 0, "__u32",
			   "ocb_conf" },
	[OCB_MAP_RULES] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct ocb_rule_key),
			    sizeof(struct ocb_rule), 0, BPF_F_NO_PREALLOC, "ocb_rule_key",
			    "ocb_rule" },
	[OCB_MAP_PORTS] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct ocb_port_key),
			    sizeof(struct ocb_class), 0, BPF_F_NO_PREALLOC, "ocb_port_key",
			    "ocb_class" },
	[OCB_MAP_INFO] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct ocb_info), 1, 0, "__u32",
			   "ocb_info" },
};

/* The program behind each link pin. */
static struct bpf_program *link_prog(struct ocb *skel, enum ocb_link l)
{
	struct bpf_program *progs[OCB_N_LINKS] = {
		[OCB_LINK_INGRESS] = skel->progs.ocb_ingress,
		[OCB_LINK_EGRESS] = skel->progs.ocb_egress,
		[OCB_LINK_CONNECT4] = skel->progs.ocb_connect4,
		[OCB_LINK_CONNECT6] = skel->progs.ocb_connect6,
		[OCB_LINK_SENDMSG4] = skel->progs.ocb_sendmsg4,
		[OCB_LINK_SENDMSG6] = skel->progs.ocb_sendmsg6,
		[OCB_LINK_SOCKOPT] = skel->progs.ocb_sockopt,
		[OCB_LINK_SOCK_RAW] = skel->progs.ocb_sock_raw,
		[OCB_LINK_SOCKETS] = skel->progs.ocb_sock_create,
	};

	return progs[l];
}

static struct bpf_map *outer_map(struct ocb *skel, enum ocb_map m)
{
	struct bpf_map *maps[OCB_N_MAPS] = {
		[OCB_MAP_STATS] = skel->maps.c_stats, [OCB_MAP_ACTIVE] = skel->maps.c_active,
		[OCB_MAP_CONF] = skel->maps.c_conf,   [OCB_MAP_RULES] = skel->maps.c_rules,
		[OCB_MAP_PORTS] = skel->maps.c_ports, [OCB_MAP_INFO] = skel->maps.c_info,
	};

	return maps[m];
}

const char *progs_build_id(void)
{
	return OCB_BUILD_ID;
}

int progs_dir(const struct pin_tree *t, const char *build, char *dir, size_t size)
{
	const char *slash = strrchr(t->work, '/');
	int n;

	/* Beside the work directory, on the same bpffs. */
	n = snprintf(dir, size, "%.*s/" OCB_PROGS_SUBDIR "/%s", (int)(slash - t->work), t->work,
		     build);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- loading, once ---- */

static int open_skel(struct ocb **skel, const struct pin_tree *t, bool lsm)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = t->events);
	struct kfacts kf;

	*skel = ocb__open_opts(&opts);
	if (!*skel)
		return ocb_err(ocb_errno(), "cannot open the BPF object: %s", strerror(errno));
	kfacts_inet_flags(&kf, true);
	(*skel)->rodata->inet_flags_off = kf.inet_flags_off;
	(*skel)->rodata->spoof_mask = kf.spoof_mask;
	bpf_program__set_autoload((*skel)->progs.ocb_sock_create, lsm);
	return 0;
}

/* Loads the object; without the lsm_cgroup program where the kernel
 * refuses it (no BPF LSM, or trampolines refused): profiles that deny
 * packet sockets are then refused at attach. */
static int load_skel(const struct pin_tree *t, struct ocb **skel)
{
	int err = open_skel(skel, t, true);

	if (!err)
		err = ocb__load(*skel);
	if (!err)
		return 0;
	ocb__destroy(*skel);
	*skel = NULL;
	ocb_err_clear();
	err = open_skel(skel, t, false);
	if (!err)
		err = ocb__load(*skel);
	if (err)
		return ocb_err(err,
			       "the kernel refused our BPF programs: %s; run 'oci-cgroup-bpf-hook check' to see what this host lacks",
			       strerror(-err));
	return 0;
}

static int type_id(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	if (id < 0)
		id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	return id;
}

static int write_meta(struct ocb *skel, const char *path)
{
	const struct btf *btf = bpf_object__btf(skel->obj);
	struct bpf_btf_info info = {};
	__u32 len = sizeof(info), zero = 0;
	struct ocb_meta meta = {};
	int fd, err, i;

	if (!btf || bpf_obj_get_info_by_fd(btf__fd(btf), &info, &len))
		return ocb_err(-ENOENT, "the BPF object has no BTF in the kernel");
	meta.btf_id = info.id;
	for (i = 0; i < OCB_N_MAPS; i++) {
		int k = type_id(btf, map_defs[i].key_type),
		    v = type_id(btf, map_defs[i].value_type);

		if (k <= 0 || v <= 0)
			return ocb_err(-ENOENT, "the BPF object's BTF lacks %s or %s",
				       map_defs[i].key_type, map_defs[i].value_type);
		meta.key_type[i] = (__u32)k;
		meta.value_type[i] = (__u32)v;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ocb_meta", 4, sizeof(meta), 1, NULL);
	if (fd < 0)
		return ocb_err(ocb_errno(), "cannot create the meta map: %s", strerror(errno));
	err = bpf_map_update_elem(fd, &zero, &meta, BPF_ANY) ? ocb_errno() : 0;
	if (!err)
		err = bpf_obj_pin(fd, path) ? ocb_errno() : 0;
	close(fd);
	if (err)
		return ocb_err(err, "cannot write %s: %s", path, strerror(-err));
	return 0;
}

#define SHARED_PATH_MAX (PATH_MAX + 32)

static int make_slots(struct ocb *skel, const char *path)
{
	const struct btf *btf = bpf_object__btf(skel->obj);
	int k = type_id(btf, "__u32"), v = type_id(btf, "ocb_slot_rec");

	if (k <= 0 || v <= 0)
		return ocb_err(-ENOENT, "the BPF object's BTF lacks __u32 or ocb_slot_rec");
	return slots_make(btf__fd(btf), (__u32)k, (__u32)v, path);
}

/* Compiled profiles by content (policy_hash()): the ids of their tries.
 * Not a reference: the tries go with their last container, and a stale
 * entry is replaced (a map id found again is proved by the tries' name
 * entry, policy_tries_named()). */
struct registry_value {
	__u32 rules_id;
	__u32 ports_id;
};

#define REGISTRY_MAX 4096

static int make_registry(const char *path)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "ocb_profiles", SHA256_LEN,
			    sizeof(struct registry_value), REGISTRY_MAX, &opts);
	if (fd < 0)
		return ocb_err(ocb_errno(), "cannot create the profiles map: %s", strerror(errno));
	if (bpf_obj_pin(fd, path))
		err = ocb_err(ocb_errno(), "cannot pin %s: %s", path, strerror(errno));
	close(fd);
	return err;
}

static int pin_all(struct ocb *skel, const char *dir)
{
	char path[SHARED_PATH_MAX];
	int i, err;

	for (i = 0; i < OCB_N_LINKS; i++) {
		struct bpf_program *prog = link_prog(skel, i);

		if (bpf_program__fd(prog) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ocb_link_pins[i]);
		err = bpf_program__pin(prog, path);
		if (err)
			return ocb_err(err, "cannot pin program %s: %s", path, strerror(-err));
	}
	for (i = 0; i < OCB_N_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, outer_pins[i]);
		err = bpf_map__pin(outer_map(skel, i), path);
		if (err)
			return ocb_err(err, "cannot pin map %s: %s", path, strerror(-err));
	}
	snprintf(path, sizeof(path), "%s/cgslot", dir);
	err = bpf_map__pin(skel->maps.cgslot, path);
	if (err)
		return ocb_err(err, "cannot pin map %s: %s", path, strerror(-err));
	snprintf(path, sizeof(path), "%s/meta", dir);
	err = write_meta(skel, path);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/slots", dir);
	err = make_slots(skel, path);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/profiles", dir);
	return make_registry(path);
}

int progs_try_attach(const struct pin_tree *t, int cgroup_fd, char *done, size_t size)
{
	struct ocb *skel = NULL;
	size_t used = 0;
	int i, prog, link, err = load_skel(t, &skel);

	done[0] = '\0';
	for (i = 0; !err && i < OCB_N_LINKS; i++) {
		prog = bpf_program__fd(link_prog(skel, i));
		/* Not loaded here (lsm_cgroup refused): the probes say so. */
		if (prog < 0)
			continue;
		link = bpf_link_create(prog, cgroup_fd, ocb_link_types[i], NULL);
		if (link < 0) {
			err = ocb_err(ocb_errno(), "cannot attach %s: %s", ocb_link_pins[i],
				      strerror(errno));
			break;
		}
		close(link);
		used += (size_t)snprintf(done + used, size - used, "%s%s", used ? ", " : "",
					 ocb_link_pins[i]);
		if (used >= size)
			used = size - 1;
	}
	ocb__destroy(skel);
	return err;
}

/* Under the shared lock: if no one did meanwhile, loads and publishes. */
static int load_locked(const struct pin_tree *t, const char *dir)
{
	char staging[PATH_MAX], parent[PATH_MAX];
	struct ocb *skel = NULL;
	struct stat st;
	int err;

	if (!stat(dir, &st))
		return 0;
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	if (mkdir(parent, 0700) && errno != EEXIST)
		return ocb_err(ocb_errno(), "cannot create %s: %s", parent, strerror(errno));
	err = pin_work_create(t, "progs", staging, sizeof(staging));
	if (err)
		return err;
	err = load_skel(t, &skel);
	if (!err)
		err = pin_all(skel, staging);
	if (!err && rename(staging, dir))
		err = ocb_err(ocb_errno(), "cannot publish %s: %s", dir, strerror(errno));
	if (err)
		pin_remove_tree(staging);
	else
		ocb_log_info("loaded the BPF programs once for this host: %s", dir);
	ocb__destroy(skel);
	return err;
}

static int open_maps(struct ocb_shared *s)
{
	__u32 zero = 0;
	int i, fd, err;

	for (i = 0; i < OCB_N_MAPS; i++) {
		err = inspect_open_pin(s->dir, outer_pins[i], &s->outer[i]);
		if (err)
			return err;
	}
	err = inspect_open_pin(s->dir, "cgslot", &s->cgslot);
	if (!err)
		err = inspect_open_pin(s->dir, "profiles", &s->profiles);
	if (!err)
		err = slots_open(s);
	if (!err)
		err = inspect_open_pin(s->dir, "meta", &fd);
	if (err)
		return err;
	err = bpf_map_lookup_elem(fd, &zero, &s->meta) ? ocb_errno() : 0;
	close(fd);
	if (err)
		return ocb_err(err, "cannot read %s/meta: %s", s->dir, strerror(-err));
	return 0;
}

void progs_init(struct ocb_shared *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < OCB_N_LINKS; i++)
		s->prog[i] = -1;
	for (i = 0; i < OCB_N_MAPS; i++)
		s->outer[i] = -1;
	s->cgslot = -1;
	s->profiles = -1;
	s->btf = -1;
	s->slots = -1;
}

int progs_open_maps(const struct pin_tree *t, const char *build, struct ocb_shared *s)
{
	progs_init(s);
	if (progs_dir(t, build, s->dir, sizeof(s->dir)))
		return ocb_err(-ENAMETOOLONG, "the programs' directory is too long");
	return open_maps(s);
}

int progs_open_btf(struct ocb_shared *s)
{
	s->btf = bpf_btf_get_fd_by_id(s->meta.btf_id);
	if (s->btf < 0)
		return ocb_err(ocb_errno(), "cannot open the programs' BTF (id %u): %s",
			       s->meta.btf_id, strerror(errno));
	return 0;
}

int progs_open(const struct pin_tree *t, struct ocb_shared *s)
{
	struct pin_lock lock = { .fd = -1 };
	char path[SHARED_PATH_MAX];
	struct stat st;
	int i, err = 0;

	progs_init(s);
	if (progs_dir(t, progs_build_id(), s->dir, sizeof(s->dir)))
		return ocb_err(-ENAMETOOLONG, "the programs' directory is too long");
	if (stat(s->dir, &st)) {
		err = pin_lock_shared(&lock);
		if (!err)
			err = load_locked(t, s->dir);
		pin_unlock_id(&lock, false);
	}
	for (i = 0; !err && i < OCB_N_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, ocb_link_pins[i]);
		s->prog[i] = bpf_obj_get(path);
		if (s->prog[i] < 0 && errno != ENOENT)
			err = ocb_err(ocb_errno(), "cannot open %s: %s", path, strerror(errno));
	}
	if (!err)
		err = open_maps(s);
	return err ? err : progs_open_btf(s);
}

void progs_close(struct ocb_shared *s)
{
	int i;

	for (i = 0; i < OCB_N_LINKS; i++)
		if (s->prog[i] >= 0)
			close(s->prog[i]);
	for (i = 0; i < OCB_N_MAPS; i++)
		if (s->outer[i] >= 0)
			close(s->outer[i]);
	if (s->cgslot >= 0)
		close(s->cgslot);
	if (s->profiles >= 0)
		close(s->profiles);
	if (s->btf >= 0)
		close(s->btf);
	slots_close(s);
	progs_init(s);
}

/* ---- a container's maps and slot ---- */

__u32 progs_map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static int create_map(const struct ocb_shared *s, enum ocb_map i, __u32 max, int *fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .btf_fd = s->btf,
		    .btf_key_type_id = s->meta.key_type[i],
		    .btf_value_type_id = s->meta.value_type[i], .map_flags = map_defs[i].flags);

	*fd = bpf_map_create(map_defs[i].type, ocb_map_pins[i], map_defs[i].key_size,
			     map_defs[i].value_size, max ? max : map_defs[i].max_entries, &opts);
	if (*fd < 0)
		return ocb_err(ocb_errno(), "cannot create map %s: %s", ocb_map_pins[i],
			       strerror(errno));
	return 0;
}

int progs_create_map(const struct ocb_shared *s, enum ocb_map m, int *fd)
{
	return create_map(s, m, 0, fd);
}

int progs_create_standin(const struct ocb_shared *s, enum ocb_map m, int *fd)
{
	bool tries = m == OCB_MAP_RULES || m == OCB_MAP_PORTS;

	return create_map(s, m, tries ? 1 : 0, fd);
}

__u32 progs_tries_at(int outer, __u32 key)
{
	struct bpf_map_info info = {};
	__u32 id, len = sizeof(info);
	int fd;

	if (bpf_map_lookup_elem(outer, &key, &id))
		return 0;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.max_entries <= 1)
		id = 0;
	close(fd);
	return id;
}

/* The tries of the registry entry for @hash, if they are still there. */
static bool found_tries(const struct ocb_shared *s, const unsigned char hash[SHA256_LEN],
			int *rules, int *ports)
{
	struct registry_value v;

	if (s->profiles < 0 || bpf_map_lookup_elem(s->profiles, hash, &v))
		return false;
	*rules = bpf_map_get_fd_by_id(v.rules_id);
	*ports = bpf_map_get_fd_by_id(v.ports_id);
	if (*rules >= 0 && *ports >= 0 && policy_tries_named(*rules, hash))
		return true;
	if (*rules >= 0)
		close(*rules);
	if (*ports >= 0)
		close(*ports);
	*rules = *ports = -1;
	return false;
}

int progs_profile_tries(const struct ocb_shared *s, const struct ocb_policy *p, int *rules,
			int *ports)
{
	unsigned char hash[SHA256_LEN];
	struct registry_value v;
	__u32 cap[2];
	int err;

	*rules = *ports = -1;
	policy_hash(p, hash);
	if (found_tries(s, hash, rules, ports))
		return 0;
	policy_capacity(p, &cap[0], &cap[1]);
	err = create_map(s, OCB_MAP_RULES, cap[0], rules);
	if (!err)
		err = create_map(s, OCB_MAP_PORTS, cap[1], ports);
	if (!err)
		err = policy_fill_tries(p, hash, *rules, *ports);
	if (err)
		return err;
	v.rules_id = progs_map_id(*rules);
	v.ports_id = progs_map_id(*ports);
	/* Full, or raced by another container of the profile: this one
	 * keeps its own copy. */
	if (s->profiles >= 0 && v.rules_id && v.ports_id)
		bpf_map_update_elem(s->profiles, hash, &v, BPF_ANY);
	return 0;
}

int progs_create_maps(const struct ocb_shared *s, const struct ocb_policy *p, int fds[OCB_N_MAPS])
{
	int i, err;

	for (i = 0; i < OCB_N_MAPS; i++)
		fds[i] = -1;
	err = progs_profile_tries(s, p, &fds[OCB_MAP_RULES], &fds[OCB_MAP_PORTS]);
	for (i = 0; !err && i < OCB_N_MAPS; i++) {
		if (i != OCB_MAP_RULES && i != OCB_MAP_PORTS)
			err = create_map(s, i, 0, &fds[i]);
	}
	return err;
}

/* ---- gc ---- */

static void prog_ids(const char *dir, __u32 *ids, size_t *n)
{
	char path[SHARED_PATH_MAX];
	struct bpf_prog_info info;
	__u32 len;
	int i, fd;

	*n = 0;
	for (i = 0; i < OCB_N_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ocb_link_pins[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			ids[(*n)++] = info.id;
		close(fd);
	}
}

bool progs_version_in_use(const char *dir)
{
	__u32 ids[OCB_N_LINKS], id = 0;
	size_t n, i;

	prog_ids(dir, ids, &n);
	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			for (i = 0; i < n; i++)
				if (info.prog_id == ids[i]) {
					close(fd);
					return true;
				}
		close(fd);
	}
	return false;
}

int progs_sweep_registry(const struct ocb_shared *s, unsigned int *pruned)
{
	unsigned char key[SHA256_LEN], next[SHA256_LEN];
	struct registry_value v;
	bool first = true;
	int fd;

	*pruned = 0;
	while (s->profiles >= 0 && !bpf_map_get_next_key(s->profiles, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, sizeof(key));
		if (bpf_map_lookup_elem(s->profiles, key, &v))
			continue;
		fd = bpf_map_get_fd_by_id(v.rules_id);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		/* Deleting the current key ends a walk: start over. */
		if (!bpf_map_delete_elem(s->profiles, key)) {
			(*pruned)++;
			first = true;
		}
	}
	return 0;
}
