#!/bin/bash
# The inspection commands against real attaches: list, show, stats
# (text, JSON, Prometheus), gc and check. Everything happens on a bpffs
# mounted for this test alone, so gc only ever sees our containers; the
# containers are `sleep` processes in cgroups and a netns made here.
# shellcheck disable=SC2034 # read by lib.sh
OCB_BPFFS=/tmp/ocbt-cli-$$-bpffs
. "$(dirname "$0")/../lib.sh"
T=ocbt-cli-$$

test_init
# The cgroup2 mount, for our own assertions.
CG2=$(cg2_mount)

mkdir -p "$BPFFS" && mount -t bpf bpffs "$BPFFS" || bail "mount a private bpffs at $BPFFS"
defer "umount '$BPFFS'; rmdir '$BPFFS'"
# No profile unless a test asks for one: the config dir is ours.
CONF=$T_TMP/config
mkdir -p "$CONF/profiles"
HOOK_ARGS=(--bpffs "$BPFFS" --config-dir "$CONF")

cli() { # runs a command; sets OUT, ERR and RC
	OUT=$("$HOOK" "${HOOK_ARGS[@]}" "$@" 2>"$T_TMP/cli.err")
	RC=$?
	ERR=$(cat "$T_TMP/cli.err")
}

expect_rc() { # DESC RC
	expect_eq "$1 (exit $2)" "$2" "$RC" "stdout: $OUT" "stderr: $ERR"
}

# ------------------------------------------------------------------ setup

cat >"$CONF/profiles/cli-test.json" <<'EOF'
{
  "description": "what show must decode",
  "mode": "audit",
  "egress": {
    "default": "allow",
    "deny": ["10.0.0.0/8", "2001:db8::/32",
             {"cidr": "192.168.0.0/16", "proto": "tcp", "ports": "1024-2047"}],
    "allow": [{"cidr": "192.168.1.0/24", "proto": "udp", "ports": "53"}]
  },
  "ingress": { "default": "deny", "deny": ["203.0.113.0/24"] },
  "trace": { "connects": false }
}
EOF

new_netns NS net
new_cgroup CGA a
new_cgroup CGB b
start_in_ns_cg PIDA "$NS" "$CGA"
start_in_ns_cg PIDB "$NS" "$CGB"
# A dot (escaped in the pin name) and, for B, a quote and a backslash
# (escaped in Prometheus labels).
IDA="$T.a"
IDB="$T-b\"q\\z"

run_hook prestart "$IDA" "$PIDA" created
expect_hook_ok "prestart attaches A (no profile)" || bail "attach A" "$HOOK_ERR"
# B has the names CRI-O gives a Kubernetes container (and a control
# character that list and show must not print).
run_hook prestart "$IDB" "$PIDB" created '{"annotations":{"oci-cgroup-bpf-hook/profile":"cli-test",
	"io.kubernetes.pod.namespace":"team","io.kubernetes.pod.name":"web-1",
	"io.kubernetes.container.name":"nginx\u001b"}}'
expect_hook_ok "prestart attaches B (profile cli-test)" || bail "attach B" "$HOOK_ERR"

# ------------------------------------------------------------------- list

cli list
expect_rc "list" 0
expect_match "list has a header" '^ID +NAME +STATE +PROFILE +MODE +AGE +IN +OUT +CALLS-DENIED$' "$OUT"
expect_match "list shows A live, no name, attached seconds ago" "^$T\.a +- +live +- +enforce +[0-9]+s +[0-9]+/[0-9]+ +[0-9]+/[0-9]+ +[0-9]+$" "$OUT"
expect_match "list shows B live with its Kubernetes name and profile cli-test in audit mode" \
	"^$T-b\"q\\\\z +team/web-1/nginx\? +live +cli-test +audit " "$OUT"
expect_eq "list fits in 120 columns" "" "$(awk 'length > 120' <<<"$OUT")"
cli list --wide
expect_match "list --wide: the attach time, packets/bytes, CGROUP and DESCRIPTION" \
	'^ID +NAME +STATE +PROFILE +MODE +ATTACHED +IN-ALLOWED +IN-DENIED +OUT-ALLOWED +OUT-DENIED +CALLS-DENIED +CGROUP +DESCRIPTION$' "$OUT"
expect_match "list --wide: A's attach time" "^$T\.a +- +live +- +enforce +[0-9T:-]+Z +[0-9]+/[0-9]+ " "$OUT"
expect_match "list --wide: A's cgroup (no description: no profile)" "^$T\.a .* $CGA +- *$" "$OUT"
expect_match "list --wide: B's cgroup and its profile's description" "^$T-b.* $CGB +what show must decode$" "$OUT"
cli list --json
expect_eq "list --json: B's name and description" "team/web-1/nginx? what show must decode" \
	"$(jq -r --arg id "$IDB" '.[] | select(.id == $id) | "\(.name) \(.description)"' <<<"$OUT")"
# Denied connects and sends are in list, as stats counts them: B's
# profile denies 10.0.0.0/8 (audit: counted, then sent).
cli stats --json "$IDB"
calls0=$(jq '.[0].counters | .connects.denied + .sends.denied' <<<"$OUT")
for ((i = 0; i < 3; i++)); do
	printf x | timeout 10 sh -c "$_IN_NS_CG_SH" sh "$CGB" "$NS" \
		socat -u - UDP4-SENDTO:10.9.9.9:9 2>/dev/null
done
cli stats --json "$IDB"
calls=$(jq '.[0].counters | .connects.denied + .sends.denied' <<<"$OUT")
expect_eq "3 sends to a denied address: stats counts 3 more denied calls" 3 "$((calls - calls0))"
cli list
expect_match "  list's CALLS-DENIED says the same" "^$T-b.* $calls\$" "$OUT"

cli list --json
expect_rc "list --json" 0
a=$(jq -c --arg id "$IDA" '.[] | select(.id == $id)' <<<"$OUT")
expect_eq "list --json has two containers" 2 "$(jq length <<<"$OUT")"
expect_eq "list --json: A's cgroup, cgroup id, state" "$CGA $(cg_id "$CGA") live" \
	"$(jq -r '"\(.cgroup) \(.cgroup_id) \(.state)"' <<<"$a")"
t=$(jq -r .attach_time <<<"$a")
expect_match "list --json: attach time is ISO 8601 UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$t"
age=$(($(date +%s) - $(date -d "$t" +%s)))
expect_eq "list --json: attached within the last minute" yes "$([ "$age" -ge 0 ] && [ "$age" -lt 60 ] && echo yes || echo "no ($age s)")"
cli -j list
expect_eq "global -j means list --json" 2 "$(jq length <<<"$OUT")"
cli show "$IDB" --json
expect_eq "--json after the operand: show's JSON" "$IDB" "$(jq -r .id <<<"$OUT")"
cli show "$IDB"
expect_match "show B: its name" "^Name: +team/web-1/nginx\?$" "$OUT"
expect_match "show B: its profile's description" "^Description: +what show must decode$" "$OUT"

# ------------------------------------------------------------------- show

cli show --json "$IDA"
expect_rc "show --json A" 0
SHOW=$OUT
for n in "${LINK_NAMES[@]}"; do
	bt=$(link_info "$IDA" "$n")
	pname=$(bpftool -j prog show id "$(jq -r .prog_id <<<"$bt")" | jq -r .name)
	want=$(jq -r --arg p "$pname" '"\(.id) \(.prog_id) \($p) \(.attach_type) \(.cgroup_id)"' <<<"$bt")
	got=$(jq -r --arg n "$n" '.pins[] | select(.name == $n and .kind == "link")
		| "\(.id) \(.prog_id) \(.prog_name) \(.attach_type) \(.cgroup_id)"' <<<"$SHOW")
	expect_eq "show A: link $n agrees with bpftool (link, prog, name, type, cgroup)" "$want" "$got"
done
expect_eq "show A: link cgroup id is A's cgroup" "$(cg_id "$CGA")" "$(jq -r .link_cgroup_id <<<"$SHOW")"
expect_eq "show A: every map pinned" "$(printf '%s\n' "${MAP_NAMES[@]}" | sort | tr '\n' ' ')" \
	"$(jq -r '.pins[] | select(.kind == "map") | .name' <<<"$SHOW" | sort | tr '\n' ' ')"
expect_eq "show A: state, cgroup, profile" "live $CGA null" \
	"$(jq -r '"\(.state) \(.cgroup) \(.profile)"' <<<"$SHOW")"
expect_eq "show A: no profile: enforce, allow both ways, no rules" "enforce allow allow 0" \
	"$(jq -r '.policy | "\(.mode) \(.defaults.ingress) \(.defaults.egress) \(.rules | length)"' <<<"$SHOW")"

cli show "$IDA"
expect_rc "show A (text)" 0
expect_match "show A: text names the cgroup and its id" "^Cgroup: +$CGA \(id $(cg_id "$CGA")\)$" "$OUT"
id=$(link_info "$IDA" ingress | jq -r .id)
prog=$(link_info "$IDA" ingress | jq -r .prog_id)
expect_match "show A: text lists the ingress link and program ids" \
	"^ingress +$id +$prog +ocb_ingress +cgroup_inet_ingress +$(cg_id "$CGA")$" "$OUT"

# B: the profile, as the compiler wrote it to the tries, decoded back.
cli show --json "$IDB"
expect_rc "show --json B" 0
P=$(jq -c .policy <<<"$OUT")
expect_eq "show B: audit mode, ingress default deny, egress default allow" "audit deny allow" \
	"$(jq -r '"\(.mode) \(.defaults.ingress) \(.defaults.egress)"' <<<"$P")"
expect_eq "show B: traces drops only" '["drops"]' "$(jq -c .trace <<<"$P")"
expect_eq "show B: the rules in effect" \
	"egress 10.0.0.0/8 addr deny
egress 192.168.0.0/16 class deny tcp:1024-2047
egress 192.168.1.0/24 class allow udp:53-53
egress 2001:db8::/32 addr deny
ingress 203.0.113.0/24 addr deny" \
	"$(jq -r '.rules[] | "\(.direction) \(.cidr) \(.kind) \(.verdict)"
		+ (if .kind == "class" then " " + ([.ports[] | "\(.proto):\(.from)-\(.to)"] | join(",")) else "" end)' <<<"$P" | sort)" \
	"$P"
expect_eq "show B: every rule carries its index in the profile" true \
	"$(jq '[.rules[].rule | type == "number"] | all' <<<"$P")"
cli show "$IDB"
expect_match "show B: text shows the class rule with its ports" \
	'192\.168\.0\.0/16 +class [0-9]+ \(tcp 1024-2047\) +deny' "$OUT"

# Port classes as ranges: longest prefix wins in the ports trie. A
# profile's tries are shared and frozen: a write to A's is refused. So
# the class is written by hand into tries of our own, pinned in place of
# A's (show reads the pins): dir egress, tcp, over 1024-2047 (/6) and
# 1280 (/16), and a rule using it (the class in the key is in host order).
out=$(bpftool map update pinned "$(pin_dir "$IDA")/ports" key hex 26 00 00 00 00 01 06 00 04 00 00 00 \
	value hex 05 00 00 00 2>&1)
expect_match "A's tries are frozen: a write is refused" "Operation not permitted|Device or resource busy" "$out"
bpftool map create "$(pin_dir "$IDA")/ports-hand" type lpm_trie key 12 value 4 entries 16 name ports flags 1 &&
	bpftool map create "$(pin_dir "$IDA")/rules-hand" type lpm_trie key 28 value 8 entries 16 name rules flags 1 &&
	bpftool map update pinned "$(pin_dir "$IDA")/ports-hand" key hex 26 00 00 00 00 01 06 00 04 00 00 00 \
		value hex 05 00 00 00 &&
	bpftool map update pinned "$(pin_dir "$IDA")/ports-hand" key hex 30 00 00 00 00 01 06 00 05 00 00 00 \
		value hex 07 00 00 00 &&
	bpftool map update pinned "$(pin_dir "$IDA")/rules-hand" \
		key hex 98 00 00 00 00 01 05 00 01 00 00 00 00 00 00 00 00 00 00 ff ff c0 a8 00 00 00 00 00 \
		value hex 04 00 00 00 70 01 00 00 &&
	mv "$(pin_dir "$IDA")/ports-hand" "$(pin_dir "$IDA")/ports" &&
	mv "$(pin_dir "$IDA")/rules-hand" "$(pin_dir "$IDA")/rules" ||
	not_ok "pin hand-made tries in place of A's"
cli show --json "$IDA"
expect_eq "show A: port ranges reconstructed from trie prefixes" \
	"5 tcp 1024-1279,7 tcp 1280-1280,5 tcp 1281-2047" \
	"$(jq -r '[.policy.port_classes[] | "\(.class) \(.proto) \(.from)-\(.to)"] | join(",")' <<<"$OUT")"
expect_eq "show A: the hand-made class rule" "4 egress 192.168.0.0/16 class 5 allow tcp 1024-1279,tcp 1281-2047" \
	"$(jq -r '.policy.rules[] | "\(.rule) \(.direction) \(.cidr) \(.kind) \(.class) \(.verdict) "
		+ ([.ports[] | "\(.proto) \(.from)-\(.to)"] | join(","))' <<<"$OUT")"

# ------------------------------------------------------------- short ids

cli show --json "$T."
expect_eq "show accepts a unique prefix" "$IDA" "$(jq -r .id <<<"$OUT")"
cli show "$T"
expect_rc "show with an ambiguous prefix fails" 1
expect_match "the error names both candidates" "ambiguous: it matches ($T\.a, $T-b|$T-b.*, $T\.a)" "$ERR"
cli show nosuch-$$
expect_rc "show with an unknown id fails" 1
expect_match "the error says what to do" "no attached container matches 'nosuch-$$'.*list" "$ERR"
cli show
expect_rc "show without an id is a usage error" 2
cli list extra
expect_rc "list with an argument is a usage error" 2
cli stats --bogus
expect_rc "an unknown option is a usage error" 2
for v in list show stats gc check apply trace; do
	cli "$v" --help
	expect_rc "$v --help" 0
	expect_match "$v --help prints its usage" "^Usage: oci-cgroup-bpf-hook $v" "$OUT"
	expect_eq "$v --help lists --json and --help in one style" "1 1" \
		"$(grep -c '^  -j, --json  \+[A-Z]' <<<"$OUT") $(grep -c '^  -h, --help  \+show this help$' <<<"$OUT")" "$OUT"
done

# ------------------------------------------------------------------ stats

N=7
PAYLOAD=100
port=7060
bg_start sink "$T_TMP/sink.log" in_ns "$NS" socat -u UDP4-RECV:$port,bind=127.0.0.1 OPEN:/dev/null
wait_for 5 listening "$NS" $port udp || bail "UDP sink on 127.0.0.1:$port"
cli stats --json "$IDA"
before=$OUT
data=$(head -c $PAYLOAD /dev/zero | tr '\0' x)
for ((i = 0; i < N; i++)); do
	printf '%s' "$data" | timeout 10 sh -c "$_IN_NS_CG_SH" sh "$CGA" "$NS" \
		socat -u - UDP4-SENDTO:127.0.0.1:$port || not_ok "send datagram $i"
done
cli stats --json "$IDA"
after=$OUT
expect_rc "stats --json A" 0
delta() { echo $(($(jq ".[0].counters.$1" <<<"$after") - $(jq ".[0].counters.$1" <<<"$before"))); }
expect_eq "stats: $N datagrams are $N egress packets" $N "$(delta egress.packets_allowed)"
expect_eq "stats: ... of $N * ($PAYLOAD + 28) bytes" $((N * (PAYLOAD + 28))) "$(delta egress.bytes_allowed)"
expect_eq "stats: ... and $N sends" $N "$(delta sends.allowed)"
expect_eq "stats: nothing denied" "0 0" "$(delta egress.packets_denied) $(delta connects.denied)"
expect_eq "stats agrees with the stats map summed by bpftool" \
	"$(stat_sum "$IDA" egress.packets_allowed) $(stat_sum "$IDA" egress.bytes_allowed) $(stat_sum "$IDA" sends_allowed)" \
	"$(jq -r '.[0].counters | "\(.egress.packets_allowed) \(.egress.bytes_allowed) \(.sends.allowed)"' <<<"$after")"

cli stats "$IDA"
pk=$(jq '.[0].counters.egress.packets_allowed' <<<"$after")
by=$(jq '.[0].counters.egress.bytes_allowed' <<<"$after")
expect_match "stats (text) shows the egress counters" "^  egress +packets $pk allowed, 0 denied; bytes $by allowed, 0 denied$" "$OUT"
cli stats
expect_eq "stats without ids covers every container" 2 "$(grep -c "^$T" <<<"$OUT")"
cli list --json
expect_eq "list shows the same counters" "$pk $by" \
	"$(jq -r --arg id "$IDA" '.[] | select(.id == $id) | .counters.egress | "\(.packets_allowed) \(.bytes_allowed)"' <<<"$OUT")"

cli stats --prometheus
expect_rc "stats --prometheus" 0
PROM=$OUT
expect_match "prometheus: packets of A, egress, allowed" \
	"^ocb_packets_total\{container=\"$T\.a\",direction=\"egress\",verdict=\"allowed\"\} $pk$" "$PROM"
expect_match "prometheus: bytes of A, egress, allowed" \
	"^ocb_bytes_total\{container=\"$T\.a\",direction=\"egress\",verdict=\"allowed\"\} $by$" "$PROM"
expect_match "prometheus: quote and backslash escaped in labels" \
	"^ocb_sends_total\{container=\"$T-b\\\\\"q\\\\\\\\z\",verdict=\"allowed\"\} [0-9]+$" "$PROM"
for m in packets bytes connects sends; do
	expect_match "prometheus: HELP and TYPE for ocb_${m}_total" \
		"# HELP ocb_${m}_total .+
# TYPE ocb_${m}_total counter" "$PROM"
done
if command -v promtool >/dev/null 2>&1; then
	out=$(printf '%s\n' "$PROM" | promtool check metrics 2>&1)
	expect_eq "promtool check metrics accepts the output" "0 " "$? $out"
else
	skip "promtool check metrics" "promtool is not installed (apt-get install prometheus)"
fi

# --------------------------------------------------------------------- gc

cli gc --dry-run
expect_rc "gc --dry-run with everything live" 0
expect_match "gc --dry-run: nothing to remove" "^nothing to remove" "$OUT"

# B's container dies without poststop: its cgroup goes, its pins stay.
BLINKS=$(link_ids "$IDB")
bg_stop "$PIDB"
remove_cgroup "$CGB" || not_ok "remove B's cgroup"
state_of() { "$HOOK" "${HOOK_ARGS[@]}" list --json | jq -r --arg id "$1" '.[] | select(.id == $id) | .state'; }
wait_for 10 'test "$(state_of "$IDB")" = stale'
expect_eq "list: B is stale once its cgroup is gone" stale "$(state_of "$IDB")"
expect_eq "list: A is still live" live "$(state_of "$IDA")"

# A work directory of a hook that died, and one of a live process.
sh -c 'exit 0' &
dead=$!
wait $dead
while kill -0 "$dead" 2>/dev/null; do dead=$((dead + 1)); done
WORK=$BPFFS/oci-cgroup-bpf-hook-work
mkdir -p "$WORK/staging-$dead-0" "$WORK/trash-$$-0"

cli gc --dry-run
expect_rc "gc --dry-run" 0
expect_match "gc --dry-run names B" "^would remove container $T-b\"q\\\\z " "$OUT"
expect_match "gc --dry-run names the abandoned work directory" "^would remove work directory $WORK/staging-$dead-0$" "$OUT"
expect_eq "gc --dry-run leaves B's pins" yes "$([ -d "$(pin_dir "$IDB")" ] && echo yes)"
expect_eq "gc --dry-run leaves the work directory" yes "$([ -d "$WORK/staging-$dead-0" ] && echo yes)"

cli gc --json
expect_rc "gc" 0
expect_eq "gc removed B and the abandoned work directory, nothing else" \
	"$IDB $WORK/staging-$dead-0 1" \
	"$(jq -r '"\([.containers[].id] | join(",")) \([.work_dirs[].path] | join(",")) \(.kept)"' <<<"$OUT")"
expect_eq "gc: B's pins are gone" no "$([ -e "$(pin_dir "$IDB")" ] && echo yes || echo no)"
expect_eq "gc: B's lock file is gone" no "$([ -e "$LOCK_DIR/$IDB" ] && echo yes || echo no)"
expect_eq "gc: the live process's work directory stays" yes "$([ -d "$WORK/trash-$$-0" ] && echo yes)"
rmdir "$WORK/trash-$$-0"
left=""
for l in $BLINKS; do
	bpftool link show id "${l#*=}" >/dev/null 2>&1 && left+="$l "
done
expect_eq "gc: B's links are released" "" "$left"
expect_eq "gc: A keeps all its links" "${#LINK_NAMES[@]}" "$(link_ids "$IDA" | grep -o '=[0-9]*' | wc -l)"
check_attached "after gc" "$IDA" "$CGA"
cli gc
expect_match "gc again: nothing to remove (1 live container)" "^nothing to remove \(1 live container\)" "$OUT"

# ------------------------------------------------------------------ check

cli check
expect_rc "check passes on this host" 0
expect_eq "check: no fail line" "" "$(grep '^fail' <<<"$OUT")"
expect_match "check: one line per item" "^pass: running as root in the initial user namespace$" "$OUT"
expect_match "check: cgroup2" "^pass: cgroup2 mounted at $CG2" "$OUT"
expect_match "check: bpffs" "^pass: bpffs mounted at $BPFFS$" "$OUT"
# check tries what an attach does: the programs attached to a cgroup it
# makes and removes (a program that loads may still not attach).
expect_match "check: the programs attach to a cgroup it made" \
	"^pass: the programs load and attach to a cgroup \(made for this check and removed\): ingress, egress, connect4, connect6, sendmsg4, sendmsg6, sockopt, sock_raw" "$OUT"
expect_eq "check: the cgroup it made is gone" "" "$(find "$CG2" -maxdepth 1 -name 'oci-cgroup-bpf-hook-check.*')"
expect_eq "check: every line is pass, warn or fail" "" "$(grep -Ev '^(pass|warn|fail): ' <<<"$OUT")"
cli check --json
expect_eq "check --json: ok" true "$(jq .ok <<<"$OUT")"
expect_match "check: the config directory" "^pass: no $CONF/config.json: built-in defaults" "$(jq -r '.checks[] | "\(.status): \(.what)"' <<<"$OUT")"
expect_eq "check: each profile compiled" "pass profile cli-test: audit, 5 rule entries" \
	"$(jq -r '.checks[] | select(.check == "profile") | "\(.status) \(.what)"' <<<"$OUT" | sed 's/, [0-9]* port entries$//')"

bad=$T_TMP/bad-config
mkdir -p "$bad/profiles"
echo '{"default_profile": "missing"}' >"$bad/config.json"
echo '{"egress": {"deny": ["10.0.0.0/33"]}}' >"$bad/profiles/broken.json"
echo '{"egress": {"deny": ["10.0.0.0/8"], "allow": ["10.0.0.0/8"]}}' >"$bad/profiles/tie.json"
echo '{"egress": {"deny": ["10.0.0.0/8", "192.0.2.0/24", "10.0.0.0/8"]}}' >"$bad/profiles/dup.json"
echo '{"egress": {"default": "deny", "allow": ["192.0.2.0/24"]}}' >"$bad/profiles/nolo.json"
OUT=$("$HOOK" --bpffs "$BPFFS" --config-dir "$bad" check 2>"$T_TMP/cli.err")
RC=$?
ERR=$(cat "$T_TMP/cli.err")
expect_rc "check fails on a broken profile, a tie and a missing default profile" 1
expect_match "check: names the broken profile" "^fail: profile broken: .*10\.0\.0\.0/33.* — fix the profile" "$OUT"
expect_match "check: names the missing default profile" "^fail: the default profile missing is not in $bad/profiles" "$OUT"
expect_match "check: the error counts the failures" "3 checks failed" "$ERR"
tie=$(grep '^fail: .*tie' <<<"$OUT")
expect_eq "check: the tie's line names its profile once" 1 "$(grep -o 'profile tie' <<<"$tie" | wc -l)" "$tie"
expect_match "check: warns of a repeated rule" \
	"^warn: profile dup: egress.deny\[2\] repeats egress.deny\[0\]: remove one$" "$OUT"
expect_match "check: warns of IPv4-only denies under an allowing default" \
	"^warn: profile dup: egress denies IPv4 addresses only and allows the rest: IPv6 stays open" "$OUT"
expect_match "check: warns of a default deny whose allows leave out loopback" \
	"^warn: profile nolo: egress.default is deny and no egress.allow covers loopback" "$OUT"
expect_match "check: a profile it warns about still passes" "^pass: profile dup: enforce" "$OUT"

notbpf=$T_TMP/not-bpffs
mkdir -p "$notbpf" && touch "$notbpf/file"
OUT=$("$HOOK" --bpffs "$notbpf" check 2>"$T_TMP/cli.err")
RC=$?
ERR=$(cat "$T_TMP/cli.err")
expect_rc "check fails with --bpffs on a plain directory" 1
expect_match "check: says the bpffs is wrong and what to do" \
	"^fail: $notbpf is not a bpffs mount .* — mount bpffs there" "$OUT"
expect_match "check: the error counts the failures" "1 check failed" "$ERR"

empty=$T_TMP/empty-dir
mkdir -p "$empty"
OUT=$("$HOOK" --bpffs "$empty" check 2>"$T_TMP/cli.err")
RC=$?
ERR=$(cat "$T_TMP/cli.err")
expect_rc "check only warns for an empty directory (the hook mounts bpffs there)" 0
expect_match "check: says it is mountable" "^warn: bpffs is not mounted at $empty \(an empty directory, mountable\) — " "$OUT"
expect_eq "check's mount probe left nothing mounted" "" "$(awk -v m="$empty" '$5 == m' /proc/self/mountinfo)"

# Without cgroup2: in a private mount namespace, unmount it.
OUT=$(unshare --mount --propagation private sh -c \
	'umount "$1" || exit 99; exec "$2" --bpffs "$3" check' sh "$CG2" "$HOOK" "$BPFFS" 2>"$T_TMP/cli.err")
RC=$?
ERR=$(cat "$T_TMP/cli.err")
if [ "$RC" -eq 99 ]; then
	skip "check without cgroup2" "cannot unmount $CG2 in a private mount namespace"
else
	expect_rc "check fails without cgroup2" 1
	expect_match "check: says cgroup2 is missing and what to do" \
		"^fail: no cgroup2 file system is mounted — mount it" "$OUT"
fi
expect_eq "the host still has cgroup2 mounted" "$CG2" "$(cg2_mount)"

# ------------------------------------------------------------------ apply

# A profile that denies nothing: A's capabilities are unknown (no
# bundle), so privileged_network would refuse one that denies.
echo '{"description": "counts, denies nothing"}' >"$CONF/profiles/plain.json"
chmod 644 "$CONF/profiles/plain.json"
cli apply --json "$IDA" plain
expect_rc "apply --json" 0
expect_eq "apply --json: what was applied, until when" "$IDA plain true stop" \
	"$(jq -r '"\(.id) \(.profile) \(.applied) \(.until)"' <<<"$OUT")"
cli show --json "$IDA"
expect_eq "show after apply: the new profile and its description" "plain counts, denies nothing" \
	"$(jq -r '"\(.profile) \(.description)"' <<<"$OUT")"

# ------------------------------------------------------------------- end

run_hook poststop "$IDA" 0 stopped
expect_hook_ok "poststop A"
cli list --json
expect_eq "list is empty once every container is gone" "[]" "$(jq -c . <<<"$OUT")"
cli list
expect_eq "list prints only its header when empty" 1 "$(wc -l <<<"$OUT")"

done_testing
