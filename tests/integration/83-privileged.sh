#!/bin/bash
# privileged_network: a container holding CAP_NET_RAW (packet sockets,
# which no cgroup program sees, where the host cannot refuse them) or
# CAP_NET_ADMIN (tun devices, NAT, routes) can get around any profile.
# With "refuse" (the default) such a container does not start when its
# profile can deny anything; with "warn" it starts, the hook warns, and
# list/show flag it. Raw IP sockets are refused by cgroup/sock_create
# (no LSM needed) for profiles with "raw": "deny". Real runc containers,
# in a network namespace made here; the bundle's config.json edge cases
# (symlink, FIFO, size, no bundle) by hand on a test cgroup.
. "$(dirname "$0")/../lib.sh"
test_init
NETTOOL=$OCB_TOP/build/nettool
[ -x "$NETTOOL" ] || bail "build/nettool exists" "build it: make build/nettool"

new_netns NS priv
start_tcp_echo "$NS" 127.0.0.1 7001
start_tcp_echo "$NS" 127.0.0.2 7001

# ---------------------------------------------------------------- config
# Three config directories on the same profiles: the default (no
# privileged_network key: refuse), warn, and on_error allow.
PROFILES='{
 "deny": {"egress": {"default": "allow", "deny": ["127.0.0.2"]}},
 "rawdeny": {"sockets": {"raw": "deny"}},
 "packetdeny": {"sockets": {"packet": "deny"}},
 "accounting": {"description": "no rules: nothing to bypass"},
 "audit": {"mode": "audit", "egress": {"deny": ["127.0.0.2"]}}
}'
config_dir() { # VAR NAME CONFIG-JSON [PROFILE...]: a config dir with those profiles
	local var=$1 dir=$T_TMP/$2 p
	mkdir -p "$dir/profiles" && chmod 755 "$dir" "$dir/profiles" || bail "create $dir"
	printf '%s\n' "$3" >"$dir/config.json" && chmod 644 "$dir/config.json" || bail "write $dir/config.json"
	shift 3
	for p in "$@"; do
		jq --arg p "$p" '.[$p]' <<<"$PROFILES" >"$dir/profiles/$p.json" &&
			chmod 644 "$dir/profiles/$p.json" || bail "write profile $p"
	done
	printf -v "$var" '%s' "$dir"
}
ALL=(deny rawdeny accounting audit)
config_dir REFUSE refuse '{}' "${ALL[@]}"
config_dir WARN warn '{"privileged_network": "warn"}' "${ALL[@]}"
config_dir ONERR onerr '{"on_error": "allow", "default_profile": "deny"}' "${ALL[@]}"
BASE_ARGS=("${HOOK_ARGS[@]}")

# ---------------------------------------------------------------- helpers
# ctr VAR NAME CONFIG PROFILE SETS CAP...: a runc container with the hook
# reading CONFIG, the annotation PROFILE ("" for none), and CAPs added to
# the capability SETS ("all" or one set, e.g. "bounding"). Sets VAR to its
# id and CCG to its cgroup; on failure RUN_ERR holds runc's output.
ctr() {
	local var=$1 name=$2 cfg=$3 prof=$4 sets=$5 bundle cid caps
	shift 5
	local HOOK_ARGS=("${BASE_ARGS[@]}" --config-dir "$cfg")
	make_bundle bundle "$name" "$NS" prestart sleep 600
	install -m 755 "$NETTOOL" "$ROOTFS/bin/.nettool.$$" && mv -f "$ROOTFS/bin/.nettool.$$" "$ROOTFS/bin/nettool" ||
		bail "install nettool into $ROOTFS"
	caps=$(printf '%s\n' "$@" | jq -R . | jq -sc 'map(select(. != ""))')
	jq --arg p "$prof" --arg sets "$sets" --argjson caps "$caps" '
		(if $p == "" then . else .annotations["oci-cgroup-bpf-hook/profile"] = $p end)
		| .process.capabilities |= with_entries(if $sets == "all" or .key == $sets then .value += $caps else . end)' \
		"$bundle/config.json" >"$bundle/c.json" && mv "$bundle/c.json" "$bundle/config.json" ||
		bail "edit $bundle/config.json"
	cid="$T.$name"
	defer_detach "$cid"
	CCG=$BUNDLE_CG
	RUN_ERR=
	if ! trunc run -d --bundle "$bundle" "$cid" </dev/null >"$T_TMP/$name.run.log" 2>&1; then
		RUN_ERR=$(cat "$T_TMP/$name.run.log")
		return 1
	fi
	RUN_LOG=$(cat "$T_TMP/$name.run.log")
	printf -v "$var" '%s' "$cid"
}

# refused DESC NAME REGEX: the last ctr failed with the hook's line
# matching REGEX, and left nothing behind.
refused() {
	local desc=$1 name=$2 re=$3
	expect_match "$desc: runc run fails with the hook's reason" "oci-cgroup-bpf-hook: .*$re" "$RUN_ERR"
	assert_nothing_left "$desc" "$T.$name" "$CG2_MNT/$T-$name"
}

# started DESC: the last ctr started; says why not otherwise.
started() {
	if [ -n "$RUN_ERR" ]; then
		not_ok "$1: the container starts" "$RUN_ERR"
		return 1
	fi
	ok "$1: the container starts"
}

in_ctr() {
	timeout 20 runc --root "$RUNC_ROOT" exec "$1" /bin/nettool "${@:2}" 2>&1
}

cli() { # CONFIG CMD...: sets OUT and RC
	OUT=$("$HOOK" "${BASE_ARGS[@]}" --config-dir "$1" "${@:2}" 2>&1)
	RC=$?
}

# info_of ID FIELD: a field of `list --json` for ID.
list_field() {
	"$HOOK" "${BASE_ARGS[@]}" list --json | jq -r --arg id "$1" --arg f "$2" '.[] | select(.id == $id) | .[$f]'
}

# ============================================================ refuse (the default)
ctr X r-raw "$REFUSE" deny all CAP_NET_RAW && not_ok "CAP_NET_RAW + deny profile: refused under the default"
[ -z "$RUN_ERR" ] || ok "CAP_NET_RAW + deny profile: refused under the default"
refused "CAP_NET_RAW + deny" r-raw 'holds CAP_NET_RAW and profile deny denies traffic, but its packet sockets bypass every cgroup program.*drop CAP_NET_RAW.*privileged_network.*warn.* to start it anyway'
diag "  -> $(grep -o 'oci-cgroup-bpf-hook: .*' <<<"$RUN_ERR" | head -1)"

# In the bounding set only: a setuid or file-capability program can raise it.
ctr X r-admin "$REFUSE" deny bounding CAP_NET_ADMIN && not_ok "CAP_NET_ADMIN (bounding set only) + deny profile: refused"
[ -z "$RUN_ERR" ] || ok "CAP_NET_ADMIN (bounding set only) + deny profile: refused"
refused "CAP_NET_ADMIN + deny" r-admin 'holds CAP_NET_ADMIN and profile deny denies traffic, but CAP_NET_ADMIN lets it reroute.*drop CAP_NET_ADMIN'

# A profile that denies raw sockets is a profile that denies: packet
# sockets would do what raw ones may not.
ctr X r-rawdeny "$REFUSE" rawdeny all CAP_NET_RAW && not_ok "CAP_NET_RAW + raw-deny profile: refused"
[ -z "$RUN_ERR" ] || ok "CAP_NET_RAW + raw-deny profile: refused"
refused "CAP_NET_RAW + rawdeny" r-rawdeny 'holds CAP_NET_RAW and profile rawdeny'

# The twin: the same profile without those capabilities starts, enforced.
ctr TW twin "$REFUSE" deny all
started "no NET capability + deny profile (the twin)"
if [ -n "${TW:-}" ]; then
	expect_eq "the twin is not flagged (list --json)" false "$(list_field "$TW" bypassable)"
	expect_match "the twin's policy holds: 127.0.0.2 is denied" '^error EPERM' "$(in_ctr "$TW" tcp 127.0.0.2 7001)"
	expect_match "the twin reaches 127.0.0.1" '^ok' "$(in_ctr "$TW" tcp 127.0.0.1 7001)"
	expect_match "the twin: raw sockets need CAP_NET_RAW (EPERM from the kernel, not us)" '^error EPERM' "$(in_ctr "$TW" raw)"
fi

# Nothing to bypass: profiles that deny nothing, audit mode, no profile.
ctr A1 a-acct "$REFUSE" accounting all CAP_NET_RAW CAP_NET_ADMIN
started "CAP_NET_RAW + CAP_NET_ADMIN + a profile without rules, under refuse"
ctr A2 a-audit "$REFUSE" audit all CAP_NET_RAW
started "CAP_NET_RAW + an audit-mode profile, under refuse"
ctr A3 a-none "$REFUSE" "" all CAP_NET_RAW
started "CAP_NET_RAW without a profile (accounting only), under refuse"
[ -n "${A1:-}" ] && expect_eq "a profile without rules is not flagged" false "$(list_field "$A1" bypassable)"
if [ -n "${A1:-}" ]; then
	expect_match "no raw-socket rule: a raw socket works with CAP_NET_RAW" '^ok' "$(in_ctr "$A1" raw)"
	expect_eq "no raw-socket rule: no sock_raw link is pinned" no "$([ -e "$(pin_dir "$A1")/sock_raw" ] && echo yes || echo no)"
fi

# ============================================================ apply
# `apply` judges the new profile as prestart judged the first, on the
# capabilities recorded at attach: a container that started with nothing
# to bypass cannot be switched to a profile it could bypass unnoticed.
if [ -n "${A1:-}" ]; then
	cli "$REFUSE" apply "$A1" deny
	expect_ne "apply under refuse: a denying profile for a CAP_NET_RAW/ADMIN container fails" 0 "$RC"
	expect_match "apply under refuse: the message says why and what to change" \
		"holds CAP_NET_RAW and CAP_NET_ADMIN and profile deny denies traffic.*privileged_network" "$OUT"
	expect_eq "apply under refuse: the container keeps its profile" accounting "$(list_field "$A1" profile)"
	expect_match "apply under refuse: its old policy still holds (127.0.0.2 reachable)" '^ok' \
		"$(in_ctr "$A1" tcp 127.0.0.2 7001)"
	cli "$WARN" apply "$A1" deny
	expect_eq "apply under warn: the denying profile is applied" 0 "$RC" "$OUT"
	expect_eq "apply under warn: the container is flagged bypassable" true "$(list_field "$A1" bypassable)"
	expect_match "apply under warn: the new profile is enforced on what it sees" '^error EPERM' \
		"$(in_ctr "$A1" tcp 127.0.0.2 7001)"
	cli "$WARN" apply "$A1" accounting
	expect_eq "apply back to a profile without rules: the flag is cleared" false \
		"$(list_field "$A1" bypassable)" "$OUT"
fi
if [ -n "${TW:-}" ]; then
	cli "$REFUSE" apply "$TW" accounting
	expect_eq "apply, the twin without NET capabilities: to accounting" 0 "$RC" "$OUT"
	cli "$REFUSE" apply "$TW" deny
	expect_eq "apply, the twin without NET capabilities: back to deny under refuse" 0 "$RC" "$OUT"
	expect_eq "apply, the twin: not flagged" false "$(list_field "$TW" bypassable)"
fi

# ============================================================ on_error allow
# A refusal is not an error that on_error excuses; the fallback to the
# default profile is judged the same way.
ctr X e-raw "$ONERR" deny all CAP_NET_RAW && not_ok "on_error allow: CAP_NET_RAW + deny profile is still refused"
[ -z "$RUN_ERR" ] || ok "on_error allow: CAP_NET_RAW + deny profile is still refused"
refused "on_error allow, CAP_NET_RAW + deny" e-raw 'holds CAP_NET_RAW and profile deny'
ctr X e-fallback "$ONERR" no-such-profile all CAP_NET_RAW && not_ok "on_error allow: an unknown profile falls back to default 'deny', which is refused"
[ -z "$RUN_ERR" ] || ok "on_error allow: an unknown profile falls back to default 'deny', which is refused"
refused "on_error allow, fallback" e-fallback 'holds CAP_NET_RAW and profile deny'

# ============================================================ warn
ctr W1 w-raw "$WARN" deny all CAP_NET_RAW
started "warn: CAP_NET_RAW + deny profile"
if [ -n "${W1:-}" ]; then
	diag "runc output: $RUN_LOG"
	expect_eq "warn: list --json flags it bypassable" true "$(list_field "$W1" bypassable)"
	expect_match "warn: list says bypassable in its MODE" "^$W1 +live +deny +enforce,bypassable " \
		"$("$HOOK" "${BASE_ARGS[@]}" list)"
	expect_match "warn: show says its policy can be bypassed" '^Bypassable: +yes' \
		"$("$HOOK" "${BASE_ARGS[@]}" show "$W1")"
	expect_eq "warn: show --json flags it" true \
		"$("$HOOK" "${BASE_ARGS[@]}" show --json "$W1" | jq -r .bypassable)"
	expect_match "warn: the profile is still enforced on what it sees" '^error EPERM' "$(in_ctr "$W1" tcp 127.0.0.2 7001)"
fi
ctr W2 w-admin "$WARN" deny all CAP_NET_ADMIN
started "warn: CAP_NET_ADMIN + deny profile"
[ -n "${W2:-}" ] && expect_eq "warn: the CAP_NET_ADMIN container is flagged" true "$(list_field "$W2" bypassable)"

# Raw IP sockets: refused by cgroup/sock_create, no LSM needed, even for a
# container holding CAP_NET_RAW; its twin without "raw": "deny" may.
ctr W3 w-rawdeny "$WARN" rawdeny all CAP_NET_RAW
started "warn: CAP_NET_RAW + raw-deny profile"
if [ -n "${W3:-}" ]; then
	before=$(stat_sum "$W3" sockets_denied)
	expect_match "raw: deny: socket(AF_INET, SOCK_RAW) fails with EPERM despite CAP_NET_RAW" '^error EPERM' "$(in_ctr "$W3" raw)"
	expect_eq "raw: deny: sockets_denied moved by exactly 1" 1 "$(($(stat_sum "$W3" sockets_denied) - before))"
	expect_match "raw: deny: an ordinary TCP socket still works" '^ok' "$(in_ctr "$W3" tcp 127.0.0.1 7001)"
	link=$(bpftool -j link show pinned "$(pin_dir "$W3")/sock_raw")
	expect_eq "raw: deny: the sock_raw link is a cgroup_inet_sock_create link of ocb_sock_raw" \
		"cgroup_inet_sock_create ocb_sock_raw" \
		"$(jq -r .attach_type <<<"$link") $(bpftool -j prog show id "$(jq -r .prog_id <<<"$link")" | jq -r .name)"
	expect_eq "raw: deny: no lsm_cgroup program is loaded for it" no \
		"$([ -e "$(pin_dir "$W3")/sockets" ] && echo yes || echo no)"
	expect_eq "warn: the raw-deny container is flagged (packet sockets stay open)" true "$(list_field "$W3" bypassable)"
fi

# ============================================================ the bundle, by hand
# What the hook reads is the container author's: edge cases on a test
# cgroup, with the hook run as a runtime would.
new_cgroup CG manual
start_in_ns_cg PID "$NS" "$CG"
ID="$T.manual"
bundle_state() { # BUNDLE-JSON CONFIG-DIR: prestart with profile deny
	local HOOK_ARGS=("${BASE_ARGS[@]}" --config-dir "$2")
	run_hook prestart "$ID" "$PID" created \
		"$(jq -nc --argjson b "$1" '{bundle: $b, annotations: {"oci-cgroup-bpf-hook/profile": "deny"}}')"
}
B=$T_TMP/bundle-edge
mkdir -p "$B"
printf '{"process": {"capabilities": {"bounding": ["CAP_NET_RAW"]}}}\n' >"$T_TMP/real.json"
ln -sf "$T_TMP/real.json" "$B/config.json"
bundle_state "\"$B\"" "$REFUSE"
expect_refused "a config.json that is a symbolic link is refused" "config.json is a symbolic link.*privileged_network"
nothing=$(ls "$(pin_dir "$ID")" 2>/dev/null)
expect_eq "  nothing pinned" "" "$nothing"
rm -f "$B/config.json" && mkfifo "$B/config.json"
start=$SECONDS
bundle_state "\"$B\"" "$REFUSE"
expect_refused "a config.json that is a FIFO is refused" "config.json is not a regular file"
expect_eq "  at once (no blocking open)" yes "$([ $((SECONDS - start)) -lt 5 ] && echo yes || echo no)"
rm -f "$B/config.json" && head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$B/config.json"
bundle_state "\"$B\"" "$REFUSE"
expect_refused "a config.json over 4 MiB is refused" "larger than 4 MiB"
printf '{"process": {"capabilities": {"bounding": []}}, "process": {}}\n' >"$B/config.json"
bundle_state "\"$B\"" "$REFUSE"
expect_refused "a config.json with duplicate keys is refused" "config.json is not valid JSON"
bundle_state null "$REFUSE"
expect_refused "a state without a bundle is refused" 'no absolute "bundle" path'
printf '{"process": {"capabilities": {"ambient": ["cap_net_raw"]}}}\n' >"$B/config.json"
bundle_state "\"$B\"" "$REFUSE"
expect_refused "an ambient cap_net_raw (any case) counts" "holds CAP_NET_RAW"
printf '{"process": {"capabilities": {"bounding": ["CAP_NET_BIND_SERVICE"]}}}\n' >"$B/config.json"
bundle_state "\"$B\"" "$REFUSE"
expect_hook_ok "a bundle without NET capabilities attaches"
detach_quiet "$ID"
# warn: unknown capabilities count as held, and the line says so.
bundle_state null "$WARN"
expect_hook_ok "warn: a state without a bundle attaches"
expect_match "warn: stderr (and syslog) say why it may be bypassed" \
	"^oci-cgroup-bpf-hook: warning: container $ID: cannot tell whether it holds CAP_NET_RAW or CAP_NET_ADMIN .*profile deny may be bypassed" "$HOOK_ERR"
expect_eq "warn: and it is flagged" true "$(list_field "$ID" bypassable)"
detach_quiet "$ID"
printf '{"process": {"capabilities": {"effective": ["CAP_NET_RAW"]}}}\n' >"$B/config.json"
bundle_state "\"$B\"" "$WARN"
expect_match "warn: a CAP_NET_RAW container's line names the capability and the profile" \
	"^oci-cgroup-bpf-hook: warning: container $ID holds CAP_NET_RAW: profile deny can be bypassed" "$HOOK_ERR"
detach_quiet "$ID"
assert_nothing_left "manual attaches" "$ID"

# ============================================================ check
cli "$REFUSE" check
expect_eq "check: no fail under the default config (exit 0)" 0 "$RC" "$OUT"
CHECK_OUT=$OUT
expect_match "check: reports the raw-socket layer, by loading" '^pass: cgroup/sock_create programs load: profiles may deny raw IP sockets' "$OUT"
expect_match "check: reports the packet-socket layer, by loading" '^(pass|warn): lsm_cgroup programs (load|do not load)' "$OUT"
expect_match "check: says what privileged_network does here" '^pass: privileged_network refuse: .*CAP_NET_ADMIN, or CAP_NET_RAW' "$OUT"
expect_match "check: a raw-deny profile passes (no LSM needed)" '^pass: profile rawdeny' "$OUT"
cli "$WARN" check --json
expect_eq "check --json: privileged_network warn is a warning" warn \
	"$(jq -r '.checks[] | select(.check == "privileged-network") | .status' <<<"$OUT")"
if grep -q '^warn: lsm_cgroup programs do not load' <<<"$CHECK_OUT"; then
	config_dir PKT pkt '{}' packetdeny
	cli "$PKT" check
	expect_match "check: a packet-deny profile fails where lsm_cgroup does not load" \
		'^fail: profile packetdeny denies packet sockets, but lsm_cgroup programs do not load here' "$OUT"
	expect_eq "check: exits 1 for it" 1 "$RC"
	skip "packet sockets refused in a container" "lsm_cgroup programs do not load on this host"
else
	skip "check: a packet-deny profile fails where lsm_cgroup does not load" "lsm_cgroup programs load on this host"
fi

# ============================================================ teardown
for cid in ${TW:-} ${A1:-} ${A2:-} ${A3:-} ${W1:-} ${W2:-} ${W3:-}; do
	trunc kill "$cid" KILL >/dev/null 2>&1
	wait_for 30 'test "$(runc_status "$cid")" = stopped'
	trunc delete "$cid" >/dev/null 2>&1
	assert_nothing_left "after delete" "$cid"
done
done_testing
