#!/bin/bash
# The files podman, CRI-O, Kubernetes and the packages use, checked without
# a cluster:
#  - hooks.d files: the 1.0.0 schema, stages, path and args; the "always"
#    variant differs in "when" only;
#  - config.json and the profiles: the hook's own `check` compiles them;
#  - `make install` / `make uninstall` (DESTDIR, PREFIX): the layout, the
#    hooks.d files byte-identical to config/hooks.d (the files the podman
#    test runs with), configuration never overwritten;
#  - Kubernetes YAML and CRI-O/containers TOML parse; every host path in
#    them is one of the install layout's; the ConfigMaps carry config/
#    byte for byte; the DaemonSet's sync script lays out the same tree
#    (run for real in a podman container);
#  - the man pages pass mandoc -Tlint / groff -ww; versions agree;
#  - a built .deb or .rpm (if any) holds the same hooks.d files.
. "$(dirname "$0")/../lib.sh"
test_init
require_cmds python3 make podman
defer_libpod_parent_cleanup

TOP=$OCB_TOP
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
	bail "$PY can import yaml" "apt-get install python3-yaml (tests/deps.sh)"
fi
VERSION=$(sed -n 's/^VERSION[[:space:]]*:=[[:space:]]*//p' "$TOP/Makefile")
HOOKPATH=/usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook

# py DESC CODE [ARGS...]: runs python CODE (with TOP in the environment);
# ok if it exits 0, its output as the failure detail otherwise.
py() {
	local desc=$1 code=$2 out rc
	shift 2
	out=$(TOP=$TOP VERSION=$VERSION HOOKPATH=$HOOKPATH "$PY" -c "$code" "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
		[ -n "$out" ] && diag "$out"
	else
		not_ok "$desc" "$out"
	fi
	return "$rc"
}

# ------------------------------------------------------------ JSON, hooks.d

py "every JSON file in config/ and packaging/ parses" '
import glob, json, os
top = os.environ["TOP"]
files = glob.glob(top + "/config/**/*.json", recursive=True) + glob.glob(top + "/packaging/**/*.json", recursive=True)
assert len(files) >= 9, files
for f in files:
    with open(f) as fh:
        json.load(fh)
'

py "hooks.d files: schema 1.0.0, prestart only / poststop only, path, args, timeout, annotation" '
import json, os, re, subprocess
top, path = os.environ["TOP"], os.environ["HOOKPATH"]
d = top + "/config/hooks.d"
names = sorted(n for n in os.listdir(d) if n.endswith(".json"))
assert names == ["oci-cgroup-bpf-hook-poststop.json", "oci-cgroup-bpf-hook-prestart.json"], names
for n in names:
    h = json.load(open(os.path.join(d, n)))
    stage = n[len("oci-cgroup-bpf-hook-"):-len(".json")]
    assert set(h) == {"version", "hook", "when", "stages"}, (n, set(h))
    assert h["version"] == "1.0.0", n
    assert set(h["hook"]) == {"path", "args", "timeout"}, (n, h["hook"])
    assert h["hook"]["path"] == path, (n, h["hook"]["path"])
    assert h["hook"]["args"] == ["oci-cgroup-bpf-hook", stage], (n, h["hook"]["args"])
    assert isinstance(h["hook"]["timeout"], int) and 0 < h["hook"]["timeout"] <= 120, n
    # prestart alone: podman also runs prestart hooks at createRuntime.
    assert h["stages"] == [stage], (n, h["stages"])
    ann = h["when"]["annotations"]
    assert list(h["when"]) == ["annotations"] and len(ann) == 1, (n, h["when"])
    (k, v), = ann.items()
    # Both are POSIX EREs: check them with grep -E as well as re.
    for rx, s in ((k, "oci-cgroup-bpf-hook/profile"), (v, "no-lan"), (v, "")):
        assert re.search(rx, s), (n, rx, s)
        assert subprocess.run(["grep", "-Eq", rx], input=s + "\n", text=True).returncode == 0, (n, rx, s)
    for s in ("oci-cgroup-bpf-hook/profiles", "x-oci-cgroup-bpf-hook/profile"):
        assert not re.search(k, s), (n, k, s)
'

py "the always variant is the shipped hooks.d with \"when\": {\"always\": true}, same file names" '
import json, os
top = os.environ["TOP"]
a, b = top + "/config/hooks.d", top + "/packaging/hooks.d-always"
na = sorted(n for n in os.listdir(a) if n.endswith(".json"))
nb = sorted(n for n in os.listdir(b) if n.endswith(".json"))
assert na == nb, (na, nb)
for n in na:
    x, y = json.load(open(os.path.join(a, n))), json.load(open(os.path.join(b, n)))
    assert y["when"] == {"always": True}, (n, y["when"])
    x.pop("when"); y.pop("when")
    assert x == y, n
'

# ------------------------------------------------------------ config, profiles

py "config.json and profiles use only documented keys; profile names are valid" '
import json, os, re
top = os.environ["TOP"]
c = json.load(open(top + "/config/config.json"))
assert set(c) <= {"default_profile", "allowed_profiles", "on_error", "privileged_network", "unused_profiles"}, c
assert c.get("unused_profiles", "free") in ("free", "keep")
assert c.get("on_error", "refuse") in ("refuse", "allow")
assert c.get("privileged_network", "refuse") in ("refuse", "warn")
d = top + "/config/profiles"
names = sorted(n[:-5] for n in os.listdir(d) if n.endswith(".json"))
assert names == ["deny-all", "no-lan", "no-metadata", "trace-only"], names
for n in names:
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", n), n
    p = json.load(open(os.path.join(d, n + ".json")))
    assert set(p) <= {"description", "mode", "egress", "ingress", "sockets", "trace"}, (n, set(p))
    # sockets needs the BPF LSM: a shipped profile must load everywhere.
    assert "sockets" not in p, n
    for dr in ("egress", "ingress"):
        assert set(p.get(dr, {})) <= {"default", "deny", "allow"}, (n, dr)
'

CHK=$T_TMP/check-conf
mkdir -p "$CHK/profiles" && cp "$TOP/config/config.json" "$CHK/" &&
	cp "$TOP"/config/profiles/*.json "$CHK/profiles/" && chmod -R go-w "$CHK" ||
	bail "copy config/ for check"
out=$("$HOOK" --config-dir "$CHK" -j check 2>&1)
rc=$?
expect_eq "oci-cgroup-bpf-hook check with the shipped config exits 0" 0 "$rc" "$out"
shipped=$(cd "$TOP/config/profiles" && ls *.json | sed 's/\.json$//' | LC_ALL=C sort | tr '\n' ' ')
passed=$(jq -r '.checks[]? | select(.check == "profile" and .status == "pass") | .what
	| capture("^profile (?<n>[^:]+):").n' <<<"$out" 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
expect_eq "check passes every shipped profile, each once" "$shipped" "$passed" "$out"
expect_eq "check passes config.json" pass \
	"$(jq -r '[.checks[]? | select(.check == "config")] | if length == 1 then .[0].status else "\(length) config items" end' <<<"$out" 2>/dev/null)" "$out"

# ------------------------------------------------------------ make install

# A fresh machine has neither the libraries nor, maybe, a compiler when
# `make check` or `make demo` first reads the Makefile: reading it must
# not run pkg-config or the compiler (their errors would be a newcomer's
# first screen, before deps installs them).
out=$(cd "$TOP" && PKG_CONFIG_LIBDIR=/nonexistent CC=/nonexistent/cc make -n deps 2>&1 >/dev/null)
expect_eq "make reads the Makefile without pkg-config or the compiler: no error first" "" "$out"

# -o: install what is built; never rebuild the tree's binary from here.
MAKE_INSTALL=(make -s -C "$TOP" --no-print-directory -o "$TOP/build/oci-cgroup-bpf-hook" -o build/oci-cgroup-bpf-hook)
DEST=$T_TMP/destdir
"${MAKE_INSTALL[@]}" install DESTDIR="$DEST" >"$T_TMP/install.log" 2>&1
expect_eq "make install DESTDIR=..." 0 "$?" "$(cat "$T_TMP/install.log")"
want="/etc/oci-cgroup-bpf-hook/config.json
/etc/oci-cgroup-bpf-hook/profiles/deny-all.json
/etc/oci-cgroup-bpf-hook/profiles/no-lan.json
/etc/oci-cgroup-bpf-hook/profiles/no-metadata.json
/etc/oci-cgroup-bpf-hook/profiles/trace-only.json
/usr/bin/oci-cgroup-bpf-hook
/usr/libexec/oci/hooks.d/oci-cgroup-bpf-hook
/usr/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-poststop.json
/usr/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-prestart.json
/usr/share/man/man1/oci-cgroup-bpf-hook.1
/usr/share/man/man5/oci-cgroup-bpf-hook-profile.5"
expect_eq "make install: the layout (files and links)" "$want" \
	"$(cd "$DEST" && find . \( -type f -o -type l \) | sed 's/^\.//' | sort)"
expect_eq "make install: /usr/bin link is relative and resolves to the hook" \
	"../libexec/oci/hooks.d/oci-cgroup-bpf-hook $DEST$HOOKPATH" \
	"$(readlink "$DEST/usr/bin/oci-cgroup-bpf-hook") $(readlink -f "$DEST/usr/bin/oci-cgroup-bpf-hook")"
for f in "$TOP"/config/hooks.d/*.json; do
	if cmp -s "$f" "$DEST/usr/share/containers/oci/hooks.d/${f##*/}"; then
		ok "make install: hooks.d/${f##*/} is byte-identical to config/hooks.d (the podman test's source)"
	else
		not_ok "make install: hooks.d/${f##*/} is byte-identical to config/hooks.d"
	fi
done
expect_eq "make install: modes (hook 755, configuration 644)" "755 644 644" \
	"$(stat -c %a "$DEST$HOOKPATH" "$DEST/etc/oci-cgroup-bpf-hook/config.json" \
		"$DEST/etc/oci-cgroup-bpf-hook/profiles/no-lan.json" | tr '\n' ' ' | sed 's/ $//')"

# Installing again keeps changed configuration.
echo '{"on_error": "allow"}' >"$DEST/etc/oci-cgroup-bpf-hook/config.json"
"${MAKE_INSTALL[@]}" install DESTDIR="$DEST" >"$T_TMP/install2.log" 2>&1
expect_eq "make install again: a changed config.json is kept" '{"on_error": "allow"}' \
	"$(cat "$DEST/etc/oci-cgroup-bpf-hook/config.json")" "$(cat "$T_TMP/install2.log")"
"${MAKE_INSTALL[@]}" uninstall DESTDIR="$DEST" >"$T_TMP/uninstall.log" 2>&1
expect_eq "make uninstall removes everything but the changed config.json" \
	"/etc/oci-cgroup-bpf-hook/config.json" \
	"$(cd "$DEST" && find . \( -type f -o -type l \) | sed 's/^\.//' | sort)" "$(cat "$T_TMP/uninstall.log")"

DEST2=$T_TMP/destdir-local
"${MAKE_INSTALL[@]}" install DESTDIR="$DEST2" PREFIX=/usr/local >"$T_TMP/install3.log" 2>&1
expect_eq "make install PREFIX=/usr/local" 0 "$?" "$(cat "$T_TMP/install3.log")"
expect_eq "PREFIX=/usr/local: hook stays in /usr/libexec/oci/hooks.d, link and hooks.d under /usr/local" \
	"$DEST2$HOOKPATH yes yes" \
	"$(readlink -f "$DEST2/usr/local/bin/oci-cgroup-bpf-hook") \
$([ -f "$DEST2/usr/local/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-prestart.json" ] && echo yes) \
$([ -f "$DEST2/usr/local/share/man/man5/oci-cgroup-bpf-hook-profile.5" ] && echo yes)"
DEST3=$T_TMP/destdir-hookdir
"${MAKE_INSTALL[@]}" install DESTDIR="$DEST3" HOOKDIR=/opt/ocb >"$T_TMP/install4.log" 2>&1
expect_eq "make install HOOKDIR=/opt/ocb: the hooks.d files name /opt/ocb/oci-cgroup-bpf-hook" \
	"/opt/ocb/oci-cgroup-bpf-hook /opt/ocb/oci-cgroup-bpf-hook" \
	"$(jq -r .hook.path "$DEST3"/usr/share/containers/oci/hooks.d/*.json | tr '\n' ' ' | sed 's/ $//')"

# ------------------------------------------------------------ Kubernetes, CRI-O

py "Kubernetes YAML parses; host paths, mounts, ConfigMaps and the example pod match the install layout" '
import glob, json, os, re, subprocess, sys, yaml
top, hookpath = os.environ["TOP"], os.environ["HOOKPATH"]
k = top + "/packaging/kubernetes"
docs = {}
for f in sorted(glob.glob(k + "/*.yaml")):
    docs[os.path.basename(f)] = [d for d in yaml.safe_load_all(open(f)) if d]
assert set(docs) == {"configmaps.yaml", "daemonset.yaml", "pod-example.yaml"}, set(docs)
layout = {"/usr/libexec/oci/hooks.d", "/usr/share/containers/oci/hooks.d", "/etc/oci-cgroup-bpf-hook"}

# ConfigMaps: byte-identical to config/, and what generate-configmaps.py writes.
cms = {d["metadata"]["name"]: d["data"] for d in docs["configmaps.yaml"]}
def files(d):
    return {n: open(os.path.join(d, n)).read() for n in os.listdir(d) if n.endswith(".json")}
assert cms["oci-cgroup-bpf-hook-hooksd"] == files(top + "/config/hooks.d"), "hooksd ConfigMap != config/hooks.d"
assert cms["oci-cgroup-bpf-hook-config"] == {"config.json": open(top + "/config/config.json").read()}
assert cms["oci-cgroup-bpf-hook-profiles"] == files(top + "/config/profiles"), "profiles ConfigMap != config/profiles"
gen = subprocess.run([sys.executable, k + "/generate-configmaps.py", "-"], capture_output=True, text=True, check=True).stdout
assert gen == open(k + "/configmaps.yaml").read(), "configmaps.yaml is stale: rerun generate-configmaps.py"

ds, = docs["daemonset.yaml"]
assert ds["kind"] == "DaemonSet"
spec = ds["spec"]["template"]["spec"]
vols = {v["name"]: v for v in spec["volumes"]}
host = {n: v["hostPath"]["path"] for n, v in vols.items() if "hostPath" in v}
assert set(host.values()) == layout, host
for n, v in vols.items():
    if "configMap" in v:
        assert v["configMap"]["name"] in cms, (n, v)
script = None
for c in spec["initContainers"] + spec["containers"]:
    assert c["securityContext"]["privileged"] is True, c["name"]
    for m in c["volumeMounts"]:
        if m["name"] in host:
            assert m["mountPath"] == "/host" + host[m["name"]], m
    env = {e["name"]: e["value"] for e in c.get("env", [])}
    script = script or env["SYNC_SCRIPT"]
    assert env["SYNC_SCRIPT"] == script, c["name"]
# Every node path the sync script writes lies in the layout.
paths = set(re.findall(r"\$H(/[A-Za-z0-9._/-]+)", script))
assert paths, script
for p in paths:
    assert any(p == l or p.startswith(l + "/") for l in layout), p
assert hookpath in script and "$H" + hookpath in script

pod, = docs["pod-example.yaml"]
prof = pod["metadata"]["annotations"]["oci-cgroup-bpf-hook/profile"]
assert os.path.exists(top + "/config/profiles/" + prof + ".json"), prof
print("host paths:", " ".join(sorted(layout)), "| sync writes:", " ".join(sorted(paths)))
'

py "CRI-O and containers.conf drop-ins parse; hooks_dir is /usr/share then /etc" '
import os, tomllib
top = os.environ["TOP"]
want = ["/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d"]
c = tomllib.load(open(top + "/packaging/crio/10-oci-cgroup-bpf-hook.conf", "rb"))
assert c == {"crio": {"runtime": {"hooks_dir": want}}}, c
c = tomllib.load(open(top + "/packaging/hooks.d-always/50-oci-cgroup-bpf-hook-hooks-dir.conf", "rb"))
assert c == {"engine": {"hooks_dir": want}}, c
'

# The DaemonSet's sync script, for real: in a podman container (busybox
# sh, install, cmp) with the volumes the DaemonSet mounts, onto an empty
# "node"; then the tree must be `make install`'s (hooks.d byte-identical).
ensure_rootfs
SYNC_ROOT=$T_TMP/sync-rootfs
cp -a "$ROOTFS" "$SYNC_ROOT" && mkdir -p "$SYNC_ROOT/usr/libexec/oci/hooks.d" &&
	cp "$HOOK" "$SYNC_ROOT$HOOKPATH" || bail "rootfs for the sync script"
NODE=$T_TMP/node
mkdir -p "$NODE/usr/libexec/oci/hooks.d" "$NODE/usr/share/containers/oci/hooks.d" "$NODE/etc/oci-cgroup-bpf-hook"
SCRIPT=$("$PY" -c 'import sys, yaml
d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x][0]
print(d["spec"]["template"]["spec"]["initContainers"][0]["env"][0]["value"])' \
	"$TOP/packaging/kubernetes/daemonset.yaml")
PROFILES_CM=$T_TMP/profiles-cm
mkdir -p "$PROFILES_CM" && cp "$TOP"/config/profiles/*.json "$PROFILES_CM/"
SYNC_NAME=$T-sync
defer "podman rm -f '$SYNC_NAME' >/dev/null 2>&1"
sync_run() {
	timeout 120 podman --runtime runc --cgroup-manager cgroupfs run --rm --name "$SYNC_NAME" \
		--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		-v "$NODE/usr/libexec/oci/hooks.d:/host/usr/libexec/oci/hooks.d" \
		-v "$NODE/usr/share/containers/oci/hooks.d:/host/usr/share/containers/oci/hooks.d" \
		-v "$NODE/etc/oci-cgroup-bpf-hook:/host/etc/oci-cgroup-bpf-hook" \
		-v "$TOP/config/hooks.d:/hooksd:ro" -v "$TOP/config:/config:ro" -v "$PROFILES_CM:/profiles:ro" \
		-e SYNC_SCRIPT="$SCRIPT" \
		--rootfs "$SYNC_ROOT" /bin/sh -c '/bin/sh -c "$SYNC_SCRIPT"' 2>&1
}
out=$(sync_run)
expect_eq "DaemonSet sync script runs (busybox sh, in podman)" 0 "$?" "$out"
got=$(cd "$NODE" && find . -type f | sed 's/^\.//' | sort)
want_node=$(grep -v -e '^/usr/bin/' -e '^/usr/share/man/' <<<"$want")
expect_eq "DaemonSet sync: the node gets the package layout" "$want_node" "$got"
diffs=""
for f in $want_node; do
	case $f in
	"$HOOKPATH") src=$HOOK ;;
	/usr/share/containers/oci/hooks.d/*) src=$TOP/config/hooks.d/${f##*/} ;;
	/etc/oci-cgroup-bpf-hook/*) src=$TOP/config/${f#/etc/oci-cgroup-bpf-hook/} ;;
	esac
	cmp -s "$src" "$NODE$f" || diffs+="$f "
done
expect_eq "DaemonSet sync: every file byte-identical to its source" "" "$diffs"
expect_eq "DaemonSet sync: modes (hook 755, configuration 644)" "755 644 644" \
	"$(stat -c %a "$NODE$HOOKPATH" "$NODE/etc/oci-cgroup-bpf-hook/config.json" \
		"$NODE/usr/share/containers/oci/hooks.d/oci-cgroup-bpf-hook-prestart.json" | tr '\n' ' ' | sed 's/ $//')"
out=$(sync_run)
expect_eq "DaemonSet sync again: nothing to do, nothing printed" "0:" "$?:$out"
rm "$PROFILES_CM/trace-only.json"
out=$(sync_run)
expect_match "DaemonSet sync: a profile gone from the ConfigMap is removed from the node" \
	"removed /host/etc/oci-cgroup-bpf-hook/profiles/trace-only.json" "$out"

# ------------------------------------------------------------ man pages, versions

for m in "$TOP/packaging/man/oci-cgroup-bpf-hook.1" "$TOP/packaging/man/oci-cgroup-bpf-hook-profile.5"; do
	out=$(groff -man -ww -z "$m" 2>&1)
	expect_eq "groff -man -ww: ${m##*/} has no warning" "" "$out"
	if command -v mandoc >/dev/null 2>&1; then
		out=$(mandoc -Tlint -W all "$m" 2>&1)
		expect_eq "mandoc -Tlint -W all: ${m##*/} is clean" "" "$out"
	else
		skip "mandoc -Tlint ${m##*/}" "mandoc is not installed"
	fi
	expect_match "${m##*/} .TH names version $VERSION" "^\.TH .*\"oci-cgroup-bpf-hook $VERSION\"" \
		"$(grep '^\.TH' "$m")"
	out=$(MANWIDTH=80 man -l "$m" 2>&1)
	expect_match "man -l ${m##*/} renders" "SEE ALSO" "$out"
done
out=$(dpkg-parsechangelog -l "$TOP/packaging/debian/changelog" -S Version 2>&1)
expect_eq "packaging/debian/changelog is at the Makefile's version" "$VERSION" "$out"
expect_eq "the RPM spec is at the Makefile's version" "$VERSION" \
	"$(sed -n 's/^Version:[[:space:]]*//p' "$TOP/packaging/rpm/oci-cgroup-bpf-hook.spec")"

# ------------------------------------------------------------ built packages

ARCH=$(dpkg --print-architecture 2>/dev/null)
DEB=$TOP/build/deb/oci-cgroup-bpf-hook_${VERSION}_$ARCH.deb
if [ -f "$DEB" ]; then
	x=$T_TMP/deb-x
	mkdir -p "$x" && dpkg-deb -x "$DEB" "$x"
	diffs=""
	for f in "$TOP"/config/hooks.d/*.json; do
		cmp -s "$f" "$x/usr/share/containers/oci/hooks.d/${f##*/}" || diffs+="${f##*/} "
	done
	expect_eq "build/deb: the .deb's hooks.d files are config/hooks.d's" "" "$diffs"
else
	skip "the .deb's hooks.d files" "no $DEB (make deb)"
fi
RPM=$(find "$TOP/build/rpm/RPMS" -name "oci-cgroup-bpf-hook-$VERSION-*.rpm" 2>/dev/null | head -1)
if [ -n "$RPM" ] && command -v rpm2cpio >/dev/null 2>&1 && command -v cpio >/dev/null 2>&1; then
	x=$T_TMP/rpm-x
	mkdir -p "$x" && (cd "$x" && rpm2cpio "$RPM" | cpio -idm --quiet 2>/dev/null)
	diffs=""
	for f in "$TOP"/config/hooks.d/*.json; do
		cmp -s "$f" "$x/usr/share/containers/oci/hooks.d/${f##*/}" || diffs+="${f##*/} "
	done
	expect_eq "build/rpm: the .rpm's hooks.d files are config/hooks.d's" "" "$diffs"
else
	skip "the .rpm's hooks.d files" "no RPM under build/rpm (make rpm), or no rpm2cpio/cpio"
fi

done_testing
