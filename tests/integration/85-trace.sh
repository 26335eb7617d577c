#!/bin/bash
# `trace`: a denied connect shows with the right pid, command, address and
# port; containers that start after trace began are seen; short ids work;
# SIGINT/SIGTERM end it cleanly and turn event building off; a burst of
# 100,000 events is either all printed or the loss is reported exactly.
. "$(dirname "$0")/../lib.sh"
test_init
NETTOOL=$OCB_TOP/build/nettool
[ -x "$NETTOOL" ] || bail "build/nettool exists" "build it: make build/nettool"

new_netns NS tr
CFG=$T_TMP/config
mkdir -p "$CFG/profiles" && chmod 755 "$CFG" "$CFG/profiles" || bail "create $CFG"
printf '%s\n' '{"egress": {"deny": ["127.0.0.2"]}}' >"$CFG/profiles/deny2.json"
printf '%s\n' '{"egress": {"deny": ["127.0.0.2"]}, "trace": {"connects": false, "drops": false}}' \
	>"$CFG/profiles/quiet.json"
printf '%s\n' '{"trace": {"packets": true, "packets_per_second": 5}}' >"$CFG/profiles/packets.json"
chmod 644 "$CFG"/profiles/*.json
HOOK_ARGS+=(--config-dir "$CFG")
start_tcp_echo "$NS" 127.0.0.2 7001
start_tcp_echo "$NS" 127.0.0.1 7001

# attach_ctr ID CGNAME PROFILE: a sleeping process in a new cgroup, attached.
attach_ctr() {
	local ctr_cg ctr_pid
	new_cgroup ctr_cg "$2"
	start_in_ns_cg ctr_pid "$NS" "$ctr_cg"
	run_hook prestart "$1" "$ctr_pid" creating "{\"annotations\": {\"oci-cgroup-bpf-hook/profile\": \"$3\"}}"
	expect_hook_ok "attach $1 with profile $3" || return 1
	LAST_CG=$ctr_cg
}
readers() {
	bpftool -j map dump pinned "$BPFFS/oci-cgroup-bpf-hook-events/v1/trace_ctl" | jq '.[0].formatted.value.readers'
}
readers_are() {
	[ "$(readers)" = "$1" ]
}
# start_trace VAR LOG ARGS...: `trace` in the background; waits until it reads.
start_trace() {
	local var=$1 log=$2
	shift 2
	bg_start "$var" "$log" "$HOOK" "${HOOK_ARGS[@]}" trace "$@"
	wait_for 5 readers_are 1 || bail "trace turned event building on" "$(cat "$log")" "readers: $(readers)"
}

A="$T.alpha-0123"
attach_ctr "$A" alpha deny2 || bail "attach $A"
CG_A=$LAST_CG
expect_eq "no reader: event building is off" 0 "$(readers)"

start_trace TP "$T_TMP/trace1.log" --json
expect_eq "a running trace turns event building on" 1 "$(readers)"
out=$(in_ns_cg "$NS" "$CG_A" "$NETTOOL" tcp 127.0.0.2 7001)
expect_match "the denied connect fails" '^error EPERM' "$out"
out=$(in_ns_cg "$NS" "$CG_A" "$NETTOOL" tcp 127.0.0.1 7001)
expect_match "the allowed connect works" '^ok' "$out"
# A container that starts after trace began.
B="$T.beta"
attach_ctr "$B" beta deny2 || bail "attach $B"
CG_B=$LAST_CG
in_ns_cg "$NS" "$CG_B" sh -c 'echo $$ > /dev/null; exec "$0" tcp 127.0.0.2 7001' "$NETTOOL" >/dev/null
wait_for 5 grep -q "\"container\":\"$B\"" "$T_TMP/trace1.log"
kill -INT "$TP"
wait_for 5 sh -c "! kill -0 $TP"
wait "$TP"
expect_eq "SIGINT ends trace with status 0" 0 "$?"
log=$(cat "$T_TMP/trace1.log")
deny=$(jq -c "select(.container == \"$A\" and .event == \"connect\" and .verdict == \"deny\")" <<<"$log" | head -1)
expect_eq "trace shows the denied connect's address and port" "127.0.0.2 7001 tcp" \
	"$(jq -r '"\(.remote) \(.port) \(.proto)"' <<<"$deny")" "$log"
expect_eq "trace names the command" nettool "$(jq -r .comm <<<"$deny")"
expect_match "trace gives a pid" '^[0-9]+$' "$(jq -r .pid <<<"$deny")"
allow=$(jq -c "select(.container == \"$A\" and .event == \"connect\" and .verdict == \"allow\")" <<<"$log" | head -1)
expect_eq "trace shows the allowed connect too" "127.0.0.1 7001" "$(jq -r '"\(.remote) \(.port)"' <<<"$allow")"
expect_eq "a container attached after trace began is traced" 1 \
	"$(jq -c "select(.container == \"$B\" and .verdict == \"deny\")" <<<"$log" | wc -l)"
expect_eq "the last reader out turns event building off" 0 "$(readers)"

# The pid is the connecting process's: run one whose pid we know.
start_trace TP "$T_TMP/trace2.log" "${A:0:$((${#T} + 4))}"
in_ns_cg "$NS" "$CG_A" sh -c 'echo "$$" > "$1"; exec "$2" tcp 127.0.0.2 7001' sh "$T_TMP/pid" "$NETTOOL" >/dev/null
in_ns_cg "$NS" "$CG_B" "$NETTOOL" tcp 127.0.0.2 7001 >/dev/null
sleep 0.5
kill -TERM "$TP"
wait_for 5 sh -c "! kill -0 $TP"
wait "$TP"
expect_eq "SIGTERM ends trace with status 0" 0 "$?"
line=$(grep " connect deny " "$T_TMP/trace2.log" | head -1)
expect_match "human output: one line with id, verdict, pid, command, address:port" \
	"^[0-9T:.-]+Z $A connect deny pid $(cat "$T_TMP/pid") comm nettool tcp 127.0.0.2:7001\$" "$line"
expect_eq "a short id (unique prefix) limits trace to that container" 0 "$(grep -c " $B " "$T_TMP/trace2.log")"

# A profile that turns tracing off emits nothing.
C="$T.gamma"
attach_ctr "$C" gamma quiet || bail "attach $C"
CG_C=$LAST_CG
start_trace TP "$T_TMP/trace3.log" --json
in_ns_cg "$NS" "$CG_C" "$NETTOOL" tcp 127.0.0.2 7001 >/dev/null
sleep 0.5
bg_stop "$TP"
expect_eq "a profile with trace off emits no event" 0 "$(grep -c "\"container\":\"$C\"" "$T_TMP/trace3.log")"

# Per-packet tracing (opt-in): allowed packets are reported too, at most
# packets_per_second per CPU; a profile without it reports none.
P="$T.pkts"
attach_ctr "$P" pkts packets || bail "attach $P"
CG_P=$LAST_CG
start_udp_echo "$NS" 127.0.0.1 7002
start_trace TP "$T_TMP/trace4.log" --json
out=$(in_ns_cg "$NS" "$CG_P" "$NETTOOL" udp-sendto 127.0.0.1 7002 200 10)
expect_match "200 datagrams sent from the per-packet container" "^ok sent 200" "$out"
in_ns_cg "$NS" "$CG_A" "$NETTOOL" udp-sendto 127.0.0.1 7002 50 10 >/dev/null
sleep 0.5
bg_stop "$TP"
pkts=$(jq -c "select(.container == \"$P\" and .event == \"packet\")" "$T_TMP/trace4.log")
n=$(printf '%s' "$pkts" | grep -c . || true)
ncpu=$(nproc)
diag "per-packet events: $n (budget 5/s per CPU, $ncpu CPUs)"
expect_gt "per-packet tracing reports packets" "$n" 0
# Two windows at most over the run, on each CPU.
expect_gt "per-packet tracing stays within its rate ($n <= $((2 * 5 * ncpu)))" $((2 * 5 * ncpu + 1)) "$n"
first=$(printf '%s\n' "$pkts" | head -1)
expect_eq "a packet event gives protocol, remote and length" "udp 127.0.0.1 7002 38" \
	"$(jq -r '"\(.proto) \(.remote) \(.port) \(.len)"' <<<"$first")" "$first"
expect_eq "a profile without per-packet tracing reports no packet" 0 \
	"$(jq -c "select(.container == \"$A\" and .event == \"packet\")" "$T_TMP/trace4.log" | wc -l)"

# A burst of 100,000 events: each one printed, or counted as lost.
N=100000
start_trace TP "$T_TMP/burst.log" --json "$A"
out=$(in_ns_cg "$NS" "$CG_A" "$NETTOOL" udp-sendto 127.0.0.2 9 $N 1)
expect_match "the burst: $N datagrams refused" "sent 0 of $N" "$out"
sleep 1
kill -TERM "$TP"
wait_for 20 sh -c "! kill -0 $TP"
wait "$TP"
printed=$(grep -c "\"event\":\"send\"" "$T_TMP/burst.log")
lost=$(jq -s '[.[] | select(.event == "lost") | .count] | add // 0' "$T_TMP/burst.log")
diag "burst: $printed printed, $lost reported lost"
expect_eq "burst: printed + reported lost = $N" $N $((printed + lost))
expect_eq "sends_denied counted all $N" $N "$(stat_sum "$A" sends_denied)"

# trace with an unknown id: a clear error.
err=$("$HOOK" "${HOOK_ARGS[@]}" trace "$T.nope" 2>&1)
expect_match "trace with an unknown id fails clearly" "^oci-cgroup-bpf-hook: " "$err"
done_testing
