#!/bin/bash
# Real podman containers (runc, cgroupfs, a busybox-static --rootfs, in a
# network namespace this test made) getting the hook from hooks.d files:
#  - an annotated container is attached and pinned with its profile, and
#    the profile decides its connects                          [policy]
#  - a container without the annotation gets nothing
#  - `podman run -d`, `podman stop`, `podman rm` leave nothing pinned
#  - an unknown profile fails `podman run` with our message    [policy]
#  - the "every container" variant (packaging/hooks.d-always) attaches
#    unannotated containers, with config.json's default_profile [policy]
# [policy]: needs the annotation-driven profiles (config.json, profiles/).
#
# Two modes:
#  - default: hooks.d files generated from config/hooks.d (path -> this
#    tree's build/oci-cgroup-bpf-hook, plus --config-dir TESTDIR) given
#    to podman with --hooks-dir, and a test configuration directory;
#  - OCB_PODMAN_INSTALLED=1 (tests/check-package.sh): the installed
#    package, podman's default hooks directories (no --hooks-dir) and
#    /etc/oci-cgroup-bpf-hook as installed.
if [ "${OCB_PODMAN_INSTALLED:-}" = 1 ]; then
	export OCB_HOOK=/usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook
fi
. "$(dirname "$0")/../lib.sh"
test_init
require_cmds podman busybox python3
# The cgroup v2 mount point (lib.sh's name for it has changed before).
CGROUP2=${CG2_MNT:-${CG2:-$(cg2_mount)}}
defer_libpod_parent_cleanup
[ -n "$CGROUP2" ] || bail "a cgroup v2 hierarchy is mounted"

INSTALLED=${OCB_PODMAN_INSTALLED:-0}
ANNOTATION=oci-cgroup-bpf-hook/profile
SHIPPED_HOOKS=$OCB_TOP/config/hooks.d
ALWAYS_HOOKS=$OCB_TOP/packaging/hooks.d-always
SHIPPED_HOOKPATH=/usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook
PORT=7070

ensure_rootfs
new_netns NS podman
# Listens on every loopback address of the namespace: 127.0.0.1 and .2.
start_tcp_echo "$NS" 0.0.0.0 "$PORT"

# gen_hooks SRC DST CONFDIR: hooks.d files for this tree: the shipped JSON
# with hook.path -> $HOOK and "--config-dir CONFDIR" before the stage.
gen_hooks() {
	mkdir -p "$2" || return 1
	python3 - "$1" "$2" "$HOOK" "$3" "$SHIPPED_HOOKPATH" <<-'EOF'
		import json, os, sys
		src, dst, hook, confdir, shipped = sys.argv[1:]
		for name in sorted(os.listdir(src)):
		    if not name.endswith(".json"):
		        continue
		    h = json.load(open(os.path.join(src, name)))
		    assert h["hook"]["path"] == shipped, (name, h["hook"]["path"])
		    args = h["hook"]["args"]
		    assert args[0] == "oci-cgroup-bpf-hook" and len(args) == 2, (name, args)
		    h["hook"]["path"] = hook
		    h["hook"]["args"] = [args[0], "--config-dir", confdir, args[1]]
		    with open(os.path.join(dst, name), "w") as f:
		        json.dump(h, f, indent=2)
		        f.write("\n")
	EOF
}

# ---------------------------------------------------------------- setup

PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
RUN_OPTS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024
	--network "ns:$NETNS_DIR/$NS" --rootfs "$ROOTFS")

if [ "$INSTALLED" = 1 ]; then
	diag "mode: installed package, podman's default hooks directories"
	CONF=/etc/oci-cgroup-bpf-hook
	[ -x "$SHIPPED_HOOKPATH" ] || bail "the package installed $SHIPPED_HOOKPATH"
	for f in "$SHIPPED_HOOKS"/*.json; do
		inst=/usr/share/containers/oci/hooks.d/${f##*/}
		if cmp -s "$f" "$inst"; then
			ok "installed $inst is byte-identical to config/hooks.d/${f##*/}"
		else
			not_ok "installed $inst is byte-identical to config/hooks.d/${f##*/}" \
				"$(diff "$f" "$inst" 2>&1)"
		fi
	done
	# The shipped deny-all profile: nothing gets out, loopback included.
	DENY_PROFILE=deny-all
	DENIED_ADDR=127.0.0.1
	ALLOWED_ADDR=
else
	diag "mode: this tree ($HOOK), --hooks-dir with generated hooks.d files"
	CONF=$T_TMP/conf
	mkdir -p "$CONF/profiles" &&
		cp "$OCB_TOP"/config/config.json "$CONF/" &&
		cp "$OCB_TOP"/config/profiles/*.json "$CONF/profiles/" ||
		bail "test configuration directory $CONF"
	# TCP to 127.0.0.2 is denied, everything else allowed.
	cat >"$CONF/profiles/$T-deny-lo2.json" <<-'EOF'
		{
		  "description": "podman test: no TCP to 127.0.0.2",
		  "egress": {
		    "default": "allow",
		    "deny": [{"cidr": "127.0.0.2/32", "proto": "tcp"}]
		  }
		}
	EOF
	chmod -R go-w "$CONF"
	gen_hooks "$SHIPPED_HOOKS" "$T_TMP/hooks.d" "$CONF" || bail "generate hooks.d files"
	# The generated files differ from the shipped ones in path and args only.
	out=$(python3 - "$SHIPPED_HOOKS" "$T_TMP/hooks.d" <<-'EOF'
		import json, os, sys
		a, b = sys.argv[1:]
		names = sorted(n for n in os.listdir(a) if n.endswith(".json"))
		assert names == sorted(os.listdir(b)), (names, os.listdir(b))
		for n in names:
		    x, y = json.load(open(os.path.join(a, n))), json.load(open(os.path.join(b, n)))
		    for h in (x, y):
		        del h["hook"]["path"]
		        h["hook"]["args"] = [h["hook"]["args"][0], h["hook"]["args"][-1]]
		    assert x == y, (n, x, y)
		print(" ".join(names))
	EOF
	)
	expect_eq "generated hooks.d files are config/hooks.d but for path and --config-dir" \
		"$(cd "$SHIPPED_HOOKS" && ls -- *.json | sort | tr '\n' ' ' | sed 's/ $//')" "$out"
	PODMAN+=(--hooks-dir "$T_TMP/hooks.d")
	DENY_PROFILE=$T-deny-lo2
	DENIED_ADDR=127.0.0.2
	ALLOWED_ADDR=127.0.0.1
fi

# new_name VAR SUFFIX: a container name of this test, removed at exit.
new_name() {
	local n="$T-$2"
	defer "podman_rm '$n'"
	printf -v "$1" '%s' "$n"
}

# podman_rm NAME: removes one of our containers and whatever it left.
podman_rm() {
	local id
	case $1 in "$T"-*) ;; *) return 1 ;; esac
	id=$(podman container inspect -f '{{.Id}}' "$1" 2>/dev/null)
	timeout 60 "${PODMAN[@]}" rm -f -t 0 "$1" >/dev/null 2>&1
	[ -n "$id" ] && detach_quiet "$id"
	return 0
}

# OCB_PODMAN_IDS_FILE: where to append the id of every container made
# (tests/check-package.sh checks after the purge that none left a trace).
cid_of() {
	local id
	id=$(podman container inspect -f '{{.Id}}' "$1" 2>/dev/null)
	[ -n "$id" ] && [ -n "${OCB_PODMAN_IDS_FILE:-}" ] && echo "$id" >>"$OCB_PODMAN_IDS_FILE"
	printf '%s\n' "$id"
}
pid_of() { podman container inspect -f '{{.State.Pid}}' "$1" 2>/dev/null; }
cg_of() { printf '%s%s\n' "$CGROUP2" "$(proc_cg2 "$1")"; }
pinned() { [ -d "$(pin_dir "$1")" ]; }

# connect_from NAME ADDR: nc from inside the container to ADDR:$PORT.
connect_from() {
	timeout 30 "${PODMAN[@]}" exec "$1" sh -c "echo hello | nc -w 3 $2 $PORT" 2>&1
}

info_profile() {
	bpftool -j map dump pinned "$(pin_dir "$1")/info" 2>/dev/null |
		jq -r '.[0].formatted.value.profile' 2>/dev/null
}

# mkdir_deferred DIR: creates DIR and its missing parents; each directory
# created here is removed at exit (if empty).
mkdir_deferred() {
	local d=$1
	[ -d "$d" ] && return 0
	mkdir_deferred "$(dirname "$d")" || return 1
	mkdir "$d" || return 1
	defer "rmdir '$d'"
}

# ------------------------------------------- 1. annotated: attached, policy

new_name C1 anno
out=$(timeout 120 "${PODMAN[@]}" run -d --name "$C1" --annotation "$ANNOTATION=$DENY_PROFILE" \
	"${RUN_OPTS[@]}" sleep 600 2>&1)
rc=$?
expect_eq "podman run -d with $ANNOTATION=$DENY_PROFILE starts" 0 "$rc" "$out" ||
	bail "annotated container did not start"
ID1=$(cid_of "$C1")
PID1=$(pid_of "$C1")
CG_1=$(cg_of "$PID1")
diag "container $C1: id $ID1, pid $PID1, cgroup $CG_1"
case $(proc_cg2 "$PID1") in
/ | "") bail "container $C1 has its own cgroup" "cgroup: $(cat "/proc/$PID1/cgroup")" ;;
esac
check_attached "annotated" "$ID1" "$CG_1"
expect_eq "annotated: the info map names profile $DENY_PROFILE [policy]" "$DENY_PROFILE" \
	"$(info_profile "$ID1")"

out=$(connect_from "$C1" "$DENIED_ADDR")
expect_match "annotated: TCP connect to $DENIED_ADDR fails with EPERM inside the container [policy]" \
	"Operation not permitted" "$out"
if [ -n "$ALLOWED_ADDR" ]; then
	out=$(connect_from "$C1" "$ALLOWED_ADDR")
	expect_match "annotated: TCP to $ALLOWED_ADDR still answers" "pong hello" "$out"
fi

# ------------------------------------------- 2. no annotation: nothing

new_name C2 plain
out=$(timeout 120 "${PODMAN[@]}" run -d --name "$C2" "${RUN_OPTS[@]}" sleep 600 2>&1)
rc=$?
expect_eq "podman run -d without the annotation starts" 0 "$rc" "$out"
ID2=$(cid_of "$C2")
PID2=$(pid_of "$C2")
if pinned "$ID2"; then
	not_ok "no annotation: nothing pinned" "$(ls -la "$(pin_dir "$ID2")")"
else
	ok "no annotation: nothing pinned"
fi
if [ -n "$PID2" ] && [ "$PID2" != 0 ]; then
	expect_eq "no annotation: no program of ours on its cgroup" "" \
		"$(ocb_progs_on "$(cg_of "$PID2")" | tr '\n' ' ')"
fi
out=$(connect_from "$C2" "$DENIED_ADDR")
expect_match "no annotation: TCP to $DENIED_ADDR answers" "pong hello" "$out"

# ------------------------------------------- 3. stop, rm: nothing left

out=$(timeout 60 "${PODMAN[@]}" stop -t 1 "$C1" 2>&1)
expect_eq "podman stop of the annotated container" 0 "$?" "$out"
wait_for 10 sh -c "! test -d '$(pin_dir "$ID1")'"
if pinned "$ID1"; then
	not_ok "after podman stop: the poststop hook unpinned it" "$(ls -la "$(pin_dir "$ID1")")"
else
	ok "after podman stop: the poststop hook unpinned it"
fi
# Started again, the same container is attached again; stopped, detached.
out=$(timeout 120 "${PODMAN[@]}" start "$C1" 2>&1)
expect_eq "podman start of the stopped container" 0 "$?" "$out"
PID1=$(pid_of "$C1")
if pinned "$ID1" && [ -n "$PID1" ] && [ "$PID1" != 0 ]; then
	ok "after podman start: attached again"
	out=$(connect_from "$C1" "$DENIED_ADDR")
	expect_match "after podman start: TCP to $DENIED_ADDR fails with EPERM again [policy]" \
		"Operation not permitted" "$out"
else
	not_ok "after podman start: attached again" "pid $PID1" "$(ls -la "$(pin_dir "$ID1")" 2>&1)"
fi
CG_1=$(cg_of "$PID1")
out=$(timeout 60 "${PODMAN[@]}" stop -t 1 "$C1" 2>&1)
expect_eq "podman stop again" 0 "$?" "$out"
wait_for 10 sh -c "! test -d '$(pin_dir "$ID1")'"
out=$(timeout 60 "${PODMAN[@]}" rm "$C1" 2>&1)
expect_eq "podman rm of the annotated container" 0 "$?" "$out"
assert_nothing_left "after podman stop and rm" "$ID1" "$CG_1"
timeout 60 "${PODMAN[@]}" rm -f -t 0 "$C2" >/dev/null 2>&1

# A foreground `podman run --rm` that ends by itself.
new_name C3 rm
out=$(timeout 120 "${PODMAN[@]}" run --rm --name "$C3" --cidfile "$T_TMP/c3.cid" \
	--annotation "$ANNOTATION=$DENY_PROFILE" "${RUN_OPTS[@]}" \
	sh -c "echo ran-in-container; echo hello | nc -w 3 $DENIED_ADDR $PORT" 2>&1)
rc=$?
# nc's status is the container's: the denied connect makes it non-zero.
expect_ne "podman run --rm with the annotation runs (its nc is refused)" 0 "$rc" "$out"
expect_match "podman run --rm ran its command" "ran-in-container" "$out"
# What shows that the hook attached before the command ran.
expect_match "podman run --rm: its connect to $DENIED_ADDR fails with EPERM [policy]" \
	"Operation not permitted" "$out"
ID3=$(cat "$T_TMP/c3.cid" 2>/dev/null)
[ -n "$ID3" ] && [ -n "${OCB_PODMAN_IDS_FILE:-}" ] && echo "$ID3" >>"$OCB_PODMAN_IDS_FILE"
if [ -z "$ID3" ]; then
	not_ok "podman run --rm wrote its container id"
else
	wait_for 10 sh -c "! test -d '$(pin_dir "$ID3")'"
	assert_nothing_left "after podman run --rm" "$ID3"
fi

# ------------------------------------------- 4. unknown profile: refused

new_name C4 unknown
out=$(timeout 120 "${PODMAN[@]}" run --rm --name "$C4" --cidfile "$T_TMP/c4.cid" \
	--annotation "$ANNOTATION=$T-no-such-profile" "${RUN_OPTS[@]}" sh -c 'echo must-not-run' 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && ! grep -q must-not-run <<<"$out"; then
	ok "podman run with an unknown profile fails before the command runs [policy]"
else
	not_ok "podman run with an unknown profile fails before the command runs [policy]" \
		"exit status $rc" "$out"
fi
expect_match "podman shows our message naming the profile [policy]" \
	"oci-cgroup-bpf-hook: .*$T-no-such-profile" "$out"
diag "podman said: $(grep -o 'oci-cgroup-bpf-hook: [^"]*' <<<"$out" | head -1)"
ID4=$(cat "$T_TMP/c4.cid" 2>/dev/null)
[ -n "$ID4" ] && [ -n "${OCB_PODMAN_IDS_FILE:-}" ] && echo "$ID4" >>"$OCB_PODMAN_IDS_FILE"
if [ -n "$ID4" ]; then
	if pinned "$ID4"; then
		not_ok "unknown profile: nothing pinned" "$(ls -la "$(pin_dir "$ID4")")"
	else
		ok "unknown profile: nothing pinned"
	fi
fi

# ------------------------------------------- 5. the "always" variant

# always_case LABEL HOOKS_ARGS...: an unannotated container is attached.
always_case() {
	local label=$1 name id pid cg rc out
	shift
	new_name name "always-$label"
	out=$(timeout 120 "${PODMAN[@]}" "$@" run -d --name "$name" "${RUN_OPTS[@]}" sleep 600 2>&1)
	rc=$?
	expect_eq "always/$label: podman run -d without the annotation starts" 0 "$rc" "$out" ||
		return 1
	id=$(cid_of "$name")
	pid=$(pid_of "$name")
	cg=$(cg_of "$pid")
	check_attached "always/$label" "$id" "$cg"
	ALWAYS_ID=$id ALWAYS_NAME=$name ALWAYS_CG=$cg
}

always_done() {
	timeout 60 "${PODMAN[@]}" rm -f -t 1 "$ALWAYS_NAME" >/dev/null 2>&1
	wait_for 10 sh -c "! test -d '$(pin_dir "$ALWAYS_ID")'"
	assert_nothing_left "always: after podman rm -f" "$ALWAYS_ID" "$ALWAYS_CG"
}

if [ "$INSTALLED" = 1 ]; then
	# The README's recipe: the always files in /etc/containers/oci/hooks.d,
	# and a containers.conf.d drop-in that makes podman read that directory
	# after /usr/share's, so they mask the shipped files of the same names.
	# Only if none of these files exists yet (never overwrite the host's).
	ETC_HOOKS=/etc/containers/oci/hooks.d
	CONF_D=/etc/containers/containers.conf.d
	DROPIN=50-oci-cgroup-bpf-hook-hooks-dir.conf
	clash=
	for f in "$ALWAYS_HOOKS"/*.json; do
		[ -e "$ETC_HOOKS/${f##*/}" ] && clash+="$ETC_HOOKS/${f##*/} "
	done
	[ -e "$CONF_D/$DROPIN" ] && clash+="$CONF_D/$DROPIN "
	if [ -n "$clash" ]; then
		skip "always variant via $ETC_HOOKS" "already present: $clash"
	else
		for d in "$ETC_HOOKS" "$CONF_D"; do
			mkdir_deferred "$d" || bail "create $d"
		done
		for f in "$ALWAYS_HOOKS"/*.json "$ALWAYS_HOOKS/$DROPIN"; do
			case $f in *.json) dst=$ETC_HOOKS ;; *) dst=$CONF_D ;; esac
			defer "rm -f '$dst/${f##*/}'"
			install -m 0644 "$f" "$dst/" || bail "install $f in $dst"
		done
		# Accounting only: the installed config.json has no default_profile.
		if always_case etc-mask; then
			expect_eq "always/etc-mask: no profile (accounting only)" "" "$(info_profile "$ALWAYS_ID")"
			out=$(connect_from "$ALWAYS_NAME" 127.0.0.1)
			expect_match "always/etc-mask: everything allowed" "pong hello" "$out"
			always_done
		fi
		# Masked, not added to: an annotated container gets the hook once
		# per stage (twice would fail: "already attached").
		new_name C5 always-anno
		out=$(timeout 120 "${PODMAN[@]}" run -d --name "$C5" --annotation "$ANNOTATION=$DENY_PROFILE" \
			"${RUN_OPTS[@]}" sleep 600 2>&1)
		expect_eq "always/etc-mask: an annotated container starts (hook run once)" 0 "$?" "$out"
		ID5=$(cid_of "$C5")
		expect_eq "always/etc-mask: the annotation's profile applies [policy]" "$DENY_PROFILE" \
			"$(info_profile "$ID5")"
		timeout 60 "${PODMAN[@]}" rm -f -t 1 "$C5" >/dev/null 2>&1
		wait_for 10 sh -c "! test -d '$(pin_dir "$ID5")'"
		assert_nothing_left "always/etc-mask: annotated, after podman rm -f" "$ID5"
		rm -f "$CONF_D/$DROPIN"
		for f in "$ALWAYS_HOOKS"/*.json; do
			rm -f "$ETC_HOOKS/${f##*/}"
		done
	fi
else
	gen_hooks "$ALWAYS_HOOKS" "$T_TMP/hooks-always" "$CONF" || bail "generate always hooks"
	# Without default_profile: attached, accounting only.
	if always_case accounting --hooks-dir "$T_TMP/hooks-always"; then
		expect_eq "always/accounting: no profile" "" "$(info_profile "$ALWAYS_ID")"
		out=$(connect_from "$ALWAYS_NAME" "$DENIED_ADDR")
		expect_match "always/accounting: everything allowed" "pong hello" "$out"
		always_done
	fi
	# With a default_profile: unannotated containers get it.
	CONF2=$T_TMP/conf-default
	cp -a "$CONF" "$CONF2" &&
		printf '{\n  "default_profile": "%s",\n  "on_error": "refuse"\n}\n' "$DENY_PROFILE" \
			>"$CONF2/config.json" || bail "configuration with a default_profile"
	gen_hooks "$ALWAYS_HOOKS" "$T_TMP/hooks-always-default" "$CONF2" || bail "generate always hooks"
	if always_case default_profile --hooks-dir "$T_TMP/hooks-always-default"; then
		expect_eq "always/default_profile: the default profile applies [policy]" "$DENY_PROFILE" \
			"$(info_profile "$ALWAYS_ID")"
		out=$(connect_from "$ALWAYS_NAME" "$DENIED_ADDR")
		expect_match "always/default_profile: TCP to $DENIED_ADDR fails with EPERM [policy]" \
			"Operation not permitted" "$out"
		always_done
	fi
fi

done_testing
