#!/bin/bash
# `trace`: a denied connect shows with the right pid, command, address and
# port; containers that start after trace began are seen; short ids work;
# SIGINT/SIGTERM end it cleanly and turn event building off; a burst of
# 100,000 events is either all printed or the loss is reported exactly.
# What is checked is what trace printed, counted exactly; where trace has
# to catch up, the test polls (with a generous deadline) until the events
# are there. How fast trace is is not asserted here: that is `make bench`.
. "$(dirname "$0")/../lib.sh"
test_init
require_cmds taskset
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

# n_events LOG COND: how many of LOG's JSON events the jq condition COND
# holds for (a line trace is still writing does not count yet).
n_events() {
	jq -c "select($2)" "$1" 2>/dev/null | wc -l
}
# ours LOG: how many of LOG's events are of this test's containers (a
# trace of every container also sees those of tests running alongside).
ours() {
	n_events "$1" "(.container // \"\") | startswith(\"$T.\")"
}

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
	wait_for 20 readers_are 1 || bail "trace turned event building on" "$(cat "$log")" "readers: $(readers)"
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
# Each event is in the ring buffer before its connect() returns; wait
# until trace has printed the three.
wait_for 60 'test "$(ours "$T_TMP/trace1.log")" -ge 3'
kill -INT "$TP"
wait_for 20 sh -c "! kill -0 $TP"
wait "$TP"
expect_eq "SIGINT ends trace with status 0" 0 "$?"
log=$(cat "$T_TMP/trace1.log")
expect_eq "trace shows exactly the three connects, once each" \
	"$A connect allow tcp 127.0.0.1 7001|$A connect deny tcp 127.0.0.2 7001|$B connect deny tcp 127.0.0.2 7001" \
	"$(jq -r "select((.container // \"\") | startswith(\"$T.\")) | \"\(.container) \(.event) \(.verdict) \(.proto) \(.remote) \(.port)\"" <<<"$log" |
		sort | paste -sd'|')" "$log"
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

# The pid is the connecting process's: run one whose pid we know. B's
# connect goes first: once A's is printed, trace has read past B's.
start_trace TP "$T_TMP/trace2.log" "${A:0:$((${#T} + 4))}"
in_ns_cg "$NS" "$CG_B" "$NETTOOL" tcp 127.0.0.2 7001 >/dev/null
in_ns_cg "$NS" "$CG_A" sh -c 'echo "$$" > "$1"; exec "$2" tcp 127.0.0.2 7001' sh "$T_TMP/pid" "$NETTOOL" >/dev/null
wait_for 60 'grep -qF " $A connect deny " "$T_TMP/trace2.log"'
kill -TERM "$TP"
wait_for 20 sh -c "! kill -0 $TP"
wait "$TP"
expect_eq "SIGTERM ends trace with status 0" 0 "$?"
line=$(grep -F " $T." "$T_TMP/trace2.log")
expect_match "human output: one line with id, verdict, pid, command, address:port" \
	"^[0-9T:.-]+Z $A connect deny pid $(cat "$T_TMP/pid") comm nettool tcp 127.0.0.2:7001\$" "$line"
expect_eq "a short id (unique prefix) limits trace to that container" 0 "$(grep -c " $B " "$T_TMP/trace2.log")"
expect_eq "the traced container's one connect is printed once" 1 "$(grep -cF " $T." "$T_TMP/trace2.log")" "$line"

# A profile that turns tracing off emits nothing.
C="$T.gamma"
attach_ctr "$C" gamma quiet || bail "attach $C"
CG_C=$LAST_CG
start_trace TP "$T_TMP/trace3.log" --json
in_ns_cg "$NS" "$CG_C" "$NETTOOL" tcp 127.0.0.2 7001 >/dev/null
# Then one that is traced: once trace printed it, it has read past
# anything C's connect could have put in the ring buffer before it.
in_ns_cg "$NS" "$CG_A" "$NETTOOL" tcp 127.0.0.2 7001 >/dev/null
wait_for 60 'test "$(n_events "$T_TMP/trace3.log" ".container == \"$A\"")" -ge 1'
bg_stop "$TP"
expect_eq "a profile with trace off emits no event" 0 "$(n_events "$T_TMP/trace3.log" ".container == \"$C\"")"
expect_eq "the traced connect after it is printed, once" 1 "$(n_events "$T_TMP/trace3.log" ".container == \"$A\"")"

# Per-packet tracing (opt-in): allowed packets are reported too, at most
# packets_per_second per CPU; a profile without it reports none.
P="$T.pkts"
attach_ctr "$P" pkts packets || bail "attach $P"
CG_P=$LAST_CG
# The budget is per CPU (and per container, whose programs have their own
# window, fresh at attach): the sender keeps to one CPU. Nothing listens
# on port 7003, so nothing answers: every packet event is one it sent.
CPU=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
start_trace TP "$T_TMP/trace4.log" --json
out=$(in_ns_cg "$NS" "$CG_P" taskset -c "$CPU" "$NETTOOL" udp-sendto 127.0.0.1 7003 200 10)
expect_match "200 datagrams sent from the per-packet container" "^ok sent 200" "$out"
in_ns_cg "$NS" "$CG_A" "$NETTOOL" udp-sendto 127.0.0.1 7003 50 10 >/dev/null
# Every send is an event too: once A's 50 are printed, trace has read
# all of P's, which came before.
wait_for 60 'test "$(n_events "$T_TMP/trace4.log" ".container == \"$A\" and .event == \"send\"")" -ge 50'
bg_stop "$TP"
expect_eq "each of the 200 sends is printed once" 200 \
	"$(n_events "$T_TMP/trace4.log" ".container == \"$P\" and .event == \"send\" and .verdict == \"allow\"")"
expect_eq "each of the other container's 50 sends is printed once" 50 \
	"$(n_events "$T_TMP/trace4.log" ".container == \"$A\" and .event == \"send\" and .verdict == \"allow\"")"
PKTS=$T_TMP/packets.json
jq -c "select(.container == \"$P\" and .event == \"packet\")" "$T_TMP/trace4.log" >"$PKTS"
n=$(wc -l <"$PKTS")
# The budget's windows last a second from the packet that opens one, so
# packets that trace's own clock puts at most S seconds apart fall in at
# most floor(S) + 1 windows (S with a quarter second to spare: the budget
# and the event read the clock at slightly different times). Each window
# reports its first 5 packets; 200 fill the first one.
span=$(jq -s 'map(.time | (sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000000
	+ (capture("\\.(?<us>[0-9]+)Z$").us | tonumber)) | if length > 0 then max - min else 0 end' "$PKTS")
win=$(((span + 250000) / 1000000 + 1))
diag "per-packet events: $n over $span us: $win window(s) of 5 on CPU $CPU"
if [ "$n" -ge 5 ] && [ "$n" -le $((5 * win)) ]; then
	ok "per-packet tracing reports exactly its budget, 5 packets a second on the sender's CPU"
else
	not_ok "per-packet tracing reports exactly its budget, 5 packets a second on the sender's CPU" \
		"expected 5 in each of $win window(s): 5 to $((5 * win))" "got: $n"
fi
expect_eq "each packet event is the egress of one datagram sent: protocol, remote, length" \
	"egress udp 127.0.0.1 7003 38" \
	"$(jq -r '"\(.direction) \(.proto) \(.remote) \(.port) \(.len)"' "$PKTS" | sort -u)" "$(head -3 "$PKTS")"
expect_eq "a profile without per-packet tracing reports no packet" 0 \
	"$(n_events "$T_TMP/trace4.log" ".container == \"$A\" and .event == \"packet\"")"

# A burst of 100,000 events: each one printed, or counted as lost.
N=100000
# burst_seen: the burst's events printed or reported lost so far.
burst_seen() {
	echo $(($(grep -c '"event":"send"' "$T_TMP/burst.log") +
		$(grep -o '"event":"lost","count":[0-9]*' "$T_TMP/burst.log" | awk -F: '{ s += $3 } END { print s + 0 }')))
}
start_trace TP "$T_TMP/burst.log" --json "$A"
out=$(in_ns_cg "$NS" "$CG_A" "$NETTOOL" udp-sendto 127.0.0.2 9 $N 1)
expect_match "the burst: $N datagrams refused" "sent 0 of $N" "$out"
# All are in the ring buffer or counted lost by now; wait until trace
# has printed or reported them, then it must stop there.
wait_for 120 'test "$(burst_seen)" -ge $N'
kill -TERM "$TP"
wait_for 20 sh -c "! kill -0 $TP"
wait "$TP"
printed=$(grep -c "\"event\":\"send\"" "$T_TMP/burst.log")
lost=$(jq -s '[.[] | select(.event == "lost") | .count] | add // 0' "$T_TMP/burst.log")
diag "burst: $printed printed, $lost reported lost"
expect_eq "burst: printed + reported lost = $N" $N $((printed + lost))
expect_eq "burst: every event printed is a refused send to 127.0.0.2:9" "deny udp 127.0.0.2 9" \
	"$(jq -r 'select(.event == "send") | "\(.verdict) \(.proto) \(.remote) \(.port)"' "$T_TMP/burst.log" | sort -u)"
expect_eq "sends_denied counted all $N" $N "$(stat_sum "$A" sends_denied)"

# trace with an unknown id: a clear error.
err=$("$HOOK" "${HOOK_ARGS[@]}" trace "$T.nope" 2>&1)
expect_match "trace with an unknown id fails clearly" "^oci-cgroup-bpf-hook: " "$err"
done_testing
