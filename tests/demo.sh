#!/bin/bash
# tests/demo.sh (sudo make demo): a real runc container with the hook,
# step by step. Everything happens in a private network namespace with a
# local web server; everything is removed at the end, even on Ctrl-C.
. "$(dirname "$0")/lib.sh"

require_root
require_cmds runc bpftool jq busybox nsenter ip ss
[ -x "$HOOK" ] || bail "hook binary $HOOK exists" "build it first: make"
CG2_MNT=$(cg2_mount) || bail "a cgroup v2 hierarchy is mounted"

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' N=$'\e[0m'
else
	B='' G='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
# show CMD...: prints the command, runs it, indents its output.
show() {
	printf '%s    $ %s%s\n' "$G" "$*" "$N"
	"$@" 2>&1 | sed 's/^/      /'
}
# show_sh 'SHELL CODE': the same for a pipeline.
show_sh() {
	printf '%s    $ %s%s\n' "$G" "$1" "$N"
	bash -c "$1" 2>&1 | sed 's/^/      /'
}

ID=$T.demo
step "oci-cgroup-bpf-hook demo"
say "hook:          $HOOK"
say "cgroup v2 at:  $CG2_MNT"
say "bpffs at:      $BPFFS"
say "container id:  $ID  (bpffs forbids dots: pinned as $(basename "$(pin_dir "$ID")"))"

step "A private network namespace, with web servers on 127.0.0.1:8080 and 127.0.0.2:8080"
new_netns NS demo
mkdir -p "$T_TMP/www"
echo "hello from the web server in $NS" >"$T_TMP/www/index.html"
for a in 127.0.0.1 127.0.0.2; do
	bg_start HTTPD "$T_TMP/httpd-$a.log" in_ns "$NS" busybox httpd -f -p "$a:8080" -h "$T_TMP/www"
done
wait_for 5 listening "$NS" 8080 || bail "web servers on port 8080"
show ip netns list
show ip netns exec "$NS" ss -ltn

step "An administrator's profiles: 'demo' denies 127.0.0.2 and SMTP; 'open' allows all"
CFG=$T_TMP/config
mkdir -p "$CFG/profiles" && chmod 755 "$CFG" "$CFG/profiles"
cat >"$CFG/profiles/demo.json" <<'JSON'
{
  "description": "no 127.0.0.2, no SMTP",
  "egress": {
    "default": "allow",
    "deny": ["127.0.0.2", {"cidr": "0.0.0.0/0", "proto": "tcp", "ports": "25,465,587"}]
  }
}
JSON
echo '{"description": "everything allowed, counted"}' >"$CFG/profiles/open.json"
chmod 644 "$CFG"/profiles/*.json
HOOK_ARGS+=(--config-dir "$CFG")
show cat "$CFG/profiles/demo.json"

step "A runc bundle: busybox-static rootfs, that netns, the hook at prestart and poststop"
make_bundle BUNDLE demo "$NS" prestart sh -c 'exec sleep 600'
CG=$BUNDLE_CG
jq '.annotations["oci-cgroup-bpf-hook/profile"] = "demo"' "$BUNDLE/config.json" >"$BUNDLE/c.json" &&
	mv "$BUNDLE/c.json" "$BUNDLE/config.json"
show jq '{args: .process.args, annotations, cgroupsPath: .linux.cgroupsPath, network: (.linux.namespaces[] | select(.type == "network")), hooks}' "$BUNDLE/config.json"

step "runc run -d: runc calls the hook at prestart, before the container's process starts"
defer_detach "$ID"
printf '%s    $ %s%s\n' "$G" "runc run -d --bundle $BUNDLE $ID" "$N"
# The container's stdio must not be this script's pipes.
trunc run -d --bundle "$BUNDLE" "$ID" </dev/null >"$T_TMP/container.log" 2>&1 ||
	bail "runc run" "$(cat "$T_TMP/container.log")"
show runc --root "$RUNC_ROOT" list
PID=$(runc_pid "$ID")
say "container process $PID is in cgroup $(proc_cg2 "$PID")"

step "Our programs on the container's cgroup (and only there)"
show bpftool cgroup tree "$CG"
say "the cgroup v2 root has none of them:"
show_sh "bpftool cgroup show $CG2_MNT | grep ocb_ || echo '(nothing of ours)'"

step "The pins: one link per attach point, and the maps"
DIR=$(pin_dir "$ID")
show ls "$DIR"
for n in "${LINK_NAMES[@]}"; do
	show bpftool link show pinned "$DIR/$n"
done

step "The container talks to the web server; the profile stops it at 127.0.0.2"
bg_start TRACE "$T_TMP/trace.log" "$HOOK" "${HOOK_ARGS[@]}" trace "$ID"
sleep 0.5
show runc --root "$RUNC_ROOT" exec "$ID" wget -qO- http://127.0.0.1:8080/
show runc --root "$RUNC_ROOT" exec "$ID" wget -qO- http://127.0.0.2:8080/
show runc --root "$RUNC_ROOT" exec "$ID" nc -w 1 127.0.0.1 25
sleep 0.5
bg_stop "$TRACE"
say "what 'oci-cgroup-bpf-hook trace $ID' printed meanwhile:"
sed 's/^/      /' "$T_TMP/trace.log"

step "The hook's own view: list, show, stats"
show "$HOOK" "${HOOK_ARGS[@]}" list
show "$HOOK" "${HOOK_ARGS[@]}" show "$ID"
show "$HOOK" "${HOOK_ARGS[@]}" stats "$ID"

step "Incident over: apply 'open' to the running container, atomically"
show "$HOOK" "${HOOK_ARGS[@]}" apply "$ID" open
show runc --root "$RUNC_ROOT" exec "$ID" wget -qO- http://127.0.0.2:8080/

step "Counters: bpftool map dump pinned $DIR/stats (one value per CPU)"
show bpftool map dump pinned "$DIR/stats"
say "summed over the CPUs:"
show_sh "bpftool -j map dump pinned '$DIR/stats' | jq -c '[.[0].formatted.values[].value] as \$v | reduce (\$v[0] | paths(numbers)) as \$p ({}; setpath(\$p; [\$v[] | getpath(\$p)] | add))'"

CGID=$(cg_id "$CG")
PROGS=$(for n in "${LINK_NAMES[@]}"; do link_info "$ID" "$n" | jq -r .prog_id; done | tr '\n' ' ')

step "Tear down: runc kill, then runc delete, which runs the hook at poststop"
show runc --root "$RUNC_ROOT" kill "$ID" KILL
wait_for 10 'test "$(runc_status "$ID")" = stopped'
show runc --root "$RUNC_ROOT" delete "$ID"

step "Nothing is left"
show_sh "ls -d '$DIR' 2>&1 || true"
show_sh "test -d $CG && bpftool cgroup tree $CG || echo 'cgroup $CG is gone'"
show_sh "bpftool link show | grep -w 'cgroup_id $CGID' || echo '(no link on cgroup id $CGID)'"
progs_gone() {
	local p
	for p in $PROGS; do
		bpftool prog show id "$p" >/dev/null 2>&1 && return 1
	done
	return 0
}
wait_for 5 progs_gone # the kernel frees programs asynchronously
show_sh "for p in $PROGS; do bpftool prog show id \$p >/dev/null 2>&1 && echo \"program \$p: still loaded\" || echo \"program \$p: unloaded\"; done"

step "Done: the trap now removes the network namespace, the web server and the bundle"
