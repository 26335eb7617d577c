#!/bin/bash
# Ids shared between runtimes: a container id is unique only within one
# runtime's state directory. Two real runc containers with one id under
# two `runc --root` directories: the first runs with the hook and a deny
# profile; the second's prestart fails "already attached", and its
# poststop (run by runc, and by hand with its state), a poststop with the
# owner's bundle while the owner runs, and `gc` all leave the first one's
# pins, links and enforcement alone; the first one's own poststop then
# removes everything. Then, by hand: which bundle and cgroup states let a
# poststop detach, and that show/list report the bundle.
. "$(dirname "$0")/../lib.sh"
test_init
NETTOOL=$OCB_TOP/build/nettool
[ -x "$NETTOOL" ] || bail "build/nettool exists" "build it: make build/nettool"

new_netns NS shared
start_tcp_echo "$NS" 127.0.0.1 7001
start_tcp_echo "$NS" 127.0.0.2 7001

CFG=$T_TMP/config
mkdir -p "$CFG/profiles" && chmod 755 "$CFG" "$CFG/profiles" || bail "create $CFG"
printf '%s\n' '{"egress": {"default": "allow", "deny": ["127.0.0.2"]}}' >"$CFG/profiles/deny2.json" &&
	chmod 644 "$CFG/profiles/deny2.json" || bail "write profile deny2"
HOOK_ARGS+=(--config-dir "$CFG")

# hook_run STAGE ID PID STATUS [EXTRA]: run_hook without its cg_park_for:
# this test is about poststops that find the cgroup populated.
hook_run() {
	local stage=$1
	shift
	case $stage in prestart | createRuntime) defer_detach "$1" ;; esac
	hook_state "$@" >"$T_TMP/state.json" || bail "build a state for $*"
	hook_stdin "$stage" <"$T_TMP/state.json"
}

cli() { # ARGS...: the hook's CLI; sets OUT and RC
	OUT=$("$HOOK" "${HOOK_ARGS[@]}" "$@" 2>"$T_TMP/cli.err")
	RC=$?
}

# The second runtime's state directory, as `runc --root B` has it.
RUNC_ROOT_B=/run/$T-runc-b
truncb() {
	runc --root "$RUNC_ROOT_B" "$@"
}
defer "runc_cleanup_all '$RUNC_ROOT_B'"

# bundle_for VAR NAME: a bundle running `sleep 600` with profile deny2.
bundle_for() {
	local _var=$1 _b
	# (make_bundle's own locals would shadow a variable named dir.)
	make_bundle _b "$2" "$NS" prestart sleep 600
	jq '.annotations["oci-cgroup-bpf-hook/profile"] = "deny2"' "$_b/config.json" >"$_b/c.json" &&
		mv "$_b/c.json" "$_b/config.json" || bail "annotate $_b/config.json"
	printf -v "$_var" '%s' "$_b"
}

in_ctr() { # ROOT CID ARGS...: nettool inside a container
	timeout 20 runc --root "$1" exec "$2" /bin/nettool "${@:3}" 2>&1
}

# enforced LABEL: the owner's policy still holds: a denied connect fails
# with EPERM, an allowed one works, and both are counted.
enforced() {
	local before after out
	before=$(stats_sum "$ID")
	out=$(in_ctr "$RUNC_ROOT" "$ID" tcp 127.0.0.2 7001)
	expect_match "$1: a connect to the denied 127.0.0.2 fails with EPERM" '^error EPERM' "$out"
	out=$(in_ctr "$RUNC_ROOT" "$ID" tcp 127.0.0.1 7001)
	expect_match "$1: a connect to 127.0.0.1 works" '^ok' "$out"
	after=$(stats_sum "$ID")
	expect_moved "$1: counted" "$before" "$after" connects_denied connects_allowed
}

# owner_intact LABEL: the owner's pins, links and programs are as they were.
owner_intact() {
	check_attached "$1" "$ID" "$OWNER_CG"
	expect_eq "$1: the pinned links are the owner's" "$OWNER_LINKS" "$(link_ids "$ID")"
	check "$1: the owner's lock file stays" test -e "$LOCK_DIR/$ID"
	enforced "$1"
}

ensure_rootfs
install -m 755 "$NETTOOL" "$ROOTFS/bin/.nettool.$$" && mv -f "$ROOTFS/bin/.nettool.$$" "$ROOTFS/bin/nettool" ||
	bail "install nettool into $ROOTFS"

# ======================================= two runc roots, one container id
ID=$T.shared
defer_detach "$ID"
bundle_for OWNER_BUNDLE owner
OWNER_CG=$BUNDLE_CG
bundle_for TWIN_BUNDLE twin
TWIN_CG=$BUNDLE_CG
diag "id $ID: owner $OWNER_BUNDLE ($OWNER_CG) under $RUNC_ROOT, twin $TWIN_BUNDLE ($TWIN_CG) under $RUNC_ROOT_B"

trunc run -d --bundle "$OWNER_BUNDLE" "$ID" </dev/null >"$T_TMP/owner.log" 2>&1 ||
	bail "the owner starts under runc --root $RUNC_ROOT" "$(cat "$T_TMP/owner.log")"
ok "the owner starts under runc --root $RUNC_ROOT"
expect_eq "the owner runs in its cgroup" "/$T-owner" "$(proc_cg2 "$(runc_pid "$ID")")"
check_attached "owner" "$ID" "$OWNER_CG"
OWNER_LINKS=$(link_ids "$ID")
diag "owner's links: $OWNER_LINKS"
enforced "owner"
cli show --json "$ID"
expect_eq "show --json: the owner's bundle" "$OWNER_BUNDLE" "$(jq -r .bundle <<<"$OUT")" "$OUT"

# The twin: same id, another runc root, another bundle and cgroup.
truncb run -d --bundle "$TWIN_BUNDLE" "$ID" </dev/null >"$T_TMP/twin.log" 2>&1
expect_ne "the twin under runc --root $RUNC_ROOT_B does not start" 0 "$?"
expect_match "  its prestart failed as already attached" "already attached" "$(cat "$T_TMP/twin.log")"
diag "  -> $(grep -o 'oci-cgroup-bpf-hook: .*' "$T_TMP/twin.log" | head -1)"
expect_eq "  nothing of ours on the twin's cgroup" "" "$(ocb_progs_on "$TWIN_CG" | tr '\n' ' ')"
# runc ran the twin's poststop as it tore the twin down.
owner_intact "after the twin's runc run and teardown"

# The twin's poststop by hand, with the state runc gives it.
TWIN_STATE=$(jq -nc --arg b "$TWIN_BUNDLE" '{bundle: $b}')
hook_run poststop "$ID" 0 stopped "$TWIN_STATE"
expect_hook_ok "the twin's poststop exits 0"
expect_match "  it says whose pins it leaves (id, owner's bundle and cgroup)" \
	"^oci-cgroup-bpf-hook: warning: container $ID: pins left in place: .*bundle $OWNER_BUNDLE, cgroup $OWNER_CG\\)" "$HOOK_ERR"
diag "  -> $HOOK_ERR"
owner_intact "after the twin's poststop"

hook_run "" "$ID" 0 stopped "$TWIN_STATE"
expect_hook_ok "the twin's no-stage \"stopped\" call exits 0"
owner_intact "after the twin's no-stage call"

# A twin whose bundle path is the owner's (`runc --root B run -b SAME`):
# only the owner's populated cgroup tells them apart.
hook_run poststop "$ID" 0 stopped "$(jq -nc --arg b "$OWNER_BUNDLE" '{bundle: $b}')"
expect_hook_ok "a poststop with the owner's bundle while the owner runs exits 0"
expect_match "  it says the cgroup is populated" "pins left in place: their cgroup is populated" "$HOOK_ERR"
owner_intact "after a same-bundle poststop"

cli gc
expect_eq "gc exits 0" 0 "$RC" "$(cat "$T_TMP/cli.err")"
cli gc --json
expect_eq "gc --json removes no container" "[]" "$(jq -c '[.containers[] | .id]' <<<"$OUT")" "$OUT"
owner_intact "after gc"

# The owner's own teardown: runc kills it, removes its cgroup, runs
# poststop with its state.
check "the owner: runc kill" trunc kill "$ID" KILL
wait_for 10 'test "$(runc_status "$ID")" = stopped'
check "the owner: runc delete (runs its poststop)" trunc delete "$ID"
check "runc removed the owner's cgroup" test ! -d "$OWNER_CG"
assert_nothing_left "the owner's poststop" "$ID" "$OWNER_CG"

# ========================================= by hand: bundle and cgroup
new_cgroup CG manual
start_in_ns_cg PID "$NS" "$CG"
ID=$T.manual
ONE='{"bundle": "/srv/b/one"}'
TWO='{"bundle": "/srv/b/two"}'
# run_hook_nobundle STAGE ID PID STATUS: hook_run with no "bundle" at all.
run_hook_nobundle() {
	[ "$1" = prestart ] && defer_detach "$2"
	hook_state "$2" "$3" "$4" | jq -c 'del(.bundle)' >"$T_TMP/state.json" || bail "build a state"
	hook_stdin "$1" <"$T_TMP/state.json"
}
hook_run prestart "$ID" "$PID" created "$ONE"
expect_hook_ok "attach with bundle /srv/b/one"
check_attached "manual" "$ID" "$CG"
LINKS=$(link_ids "$ID")
info=$(bpftool -j map dump pinned "$(pin_dir "$ID")/info" 2>/dev/null | jq -c '.[0].formatted.value')
expect_eq "the info map records the bundle" /srv/b/one "$(jq -r .bundle <<<"$info")" "$info"
cli show "$ID"
expect_match "show prints the bundle" '^Bundle: +/srv/b/one$' "$OUT"
cli list --json
expect_eq "list --json has the bundle" /srv/b/one \
	"$(jq -r --arg id "$ID" '.[] | select(.id == $id) | .bundle' <<<"$OUT")" "$OUT"

kept() { # LABEL REGEX: the last poststop exited 0, said REGEX, left the pins
	expect_hook_ok "$1: exits 0"
	expect_match "$1: says why" "$2" "$HOOK_ERR"
	expect_eq "$1: the pins stay" "$LINKS" "$(link_ids "$ID")"
	expect_eq "$1: the programs stay on the cgroup" "${#LINK_NAMES[@]}" "$(ocb_progs_on "$CG" | wc -l)"
}
hook_run poststop "$ID" 0 stopped "$ONE"
kept "poststop with the recorded bundle while the cgroup is populated" \
	"container $ID: pins left in place: their cgroup is populated, .*cgroup $CG\\)"
run_hook_nobundle poststop "$ID" 0 stopped
kept "poststop without a bundle while the cgroup is populated" "their cgroup is populated"
hook_run poststop "$ID" 0 stopped "$TWO"
kept "poststop with another bundle" "bundle /srv/b/one, cgroup $CG\\), not to bundle /srv/b/two"

# The container exits: its cgroup stays, empty (as podman can leave it).
bg_stop "$PID"
wait_for 5 cg_unpopulated "$CG" || bail "the cgroup $CG is empty"
hook_run poststop "$ID" 0 stopped "$TWO"
kept "poststop with another bundle, cgroup empty" "not to bundle /srv/b/two"
hook_run "" "$ID" 0 stopped "$TWO"
kept "no-stage stopped with another bundle, cgroup empty" "not to bundle /srv/b/two"
hook_run poststop "$ID" 0 stopped "$ONE"
expect_hook_ok "poststop with the recorded bundle, cgroup empty"
expect_eq "  says nothing" "" "$HOOK_ERR"
assert_nothing_left "the owner's poststop, cgroup empty" "$ID" "$CG"

# Pins without a recorded bundle: the cgroup test alone decides.
start_in_ns_cg PID "$NS" "$CG"
ID=$T.nobundle
run_hook_nobundle prestart "$ID" "$PID" created
expect_hook_ok "attach from a state without a bundle"
check_attached "no bundle" "$ID" "$CG"
LINKS=$(link_ids "$ID")
cli show --json "$ID"
expect_eq "show --json: bundle null" null "$(jq -c .bundle <<<"$OUT")" "$OUT"
hook_run poststop "$ID" 0 stopped "$TWO"
kept "no recorded bundle, cgroup populated" "pins left in place: their cgroup is populated, .*\\(bundle -, "
bg_stop "$PID"
wait_for 5 cg_unpopulated "$CG" || bail "the cgroup $CG is empty"
hook_run poststop "$ID" 0 stopped "$TWO"
expect_hook_ok "no recorded bundle, cgroup empty: poststop detaches"
assert_nothing_left "no recorded bundle" "$ID" "$CG"

done_testing
