#!/bin/bash
# The hook run by hand, as a runtime would, for a process in a cgroup and a
# network namespace made by this test: what it attaches and pins, that the
# counters see TCP (IPv4, IPv6) and UDP traffic, and that poststop leaves
# nothing behind.
. "$(dirname "$0")/../lib.sh"
test_init

new_netns NS net
new_cgroup CG target
start_in_ns_cg PID "$NS" "$CG"
# A dot and a percent sign: both are escaped in the pin directory's name.
ID="$T.manual%1"
diag "cgroup $CG, netns $NS, process $PID, id $ID -> $(pin_dir "$ID")"

run_hook prestart "$ID" "$PID" created
expect_hook_ok "prestart attaches"
expect_eq "prestart prints nothing" "" "$HOOK_ERR$HOOK_OUT"
# Asked of bpffs and of the hook, not of the test library's pin_dir.
expect_eq "the pin directory's name escapes '.' and '%'" "$T%2emanual%251" \
	"$(ls "$PIN_BASE" | grep -F "$T" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "list --json names the container by its id, unescaped" "$ID" \
	"$("$HOOK" "${HOOK_ARGS[@]}" list --json 2>&1 | jq -r --arg t "$T" '.[]?.id | select(startswith($t))')"
check_attached "prestart" "$ID" "$CG"

# bpftool link show pinned, in its plain form, for every link.
for n in "${LINK_NAMES[@]}"; do
	out=$(bpftool link show pinned "$(pin_dir "$ID")/$n" 2>&1)
	expect_match "bpftool link show pinned .../$n" "cgroup +prog [0-9]+" "$out"
done

info=$(bpftool -j map dump pinned "$(pin_dir "$ID")/info" 2>/dev/null | jq -c '.[0].formatted.value')
expect_eq "info map records the cgroup directory" "$CG" "$(jq -r .cgroup <<<"$info")" "$info"
expect_eq "info map records the cgroup id" "$(cg_id "$CG")" "$(jq -r .cgroup_id <<<"$info")"

zero=$(stats_sum "$ID")
expect_eq "counters start at zero" 0 "$(jq '[.. | numbers] | add' <<<"$zero")" "$zero"

start_tcp_echo "$NS" 127.0.0.1 7001
start_tcp_echo "$NS" ::1 7001
start_udp_echo "$NS" 127.0.0.1 7002
start_udp_echo "$NS" ::1 7002

# TCP over IPv4.
before=$(stats_sum "$ID")
answer=$(tcp_client "$NS" "$CG" 127.0.0.1 7001 ping4)
expect_eq "TCP/IPv4 exchange from the cgroup" "pong ping4" "$answer"
after=$(stats_sum "$ID")
expect_moved "TCP/IPv4" "$before" "$after" egress.packets_allowed egress.bytes_allowed \
	ingress.packets_allowed ingress.bytes_allowed connects_allowed
expect_still "TCP/IPv4" "$before" "$after" egress.packets_denied ingress.packets_denied \
	connects_denied sends_allowed

# TCP over IPv6.
before=$after
answer=$(tcp_client "$NS" "$CG" ::1 7001 ping6)
expect_eq "TCP/IPv6 exchange from the cgroup" "pong ping6" "$answer"
after=$(stats_sum "$ID")
expect_moved "TCP/IPv6" "$before" "$after" egress.packets_allowed egress.bytes_allowed \
	ingress.packets_allowed ingress.bytes_allowed connects_allowed
expect_still "TCP/IPv6" "$before" "$after" egress.packets_denied ingress.packets_denied connects_denied

# UDP, unconnected sendto(): sendmsg4/6 see it, not connect4/6.
before=$after
answer=$(udp_client "$NS" "$CG" 127.0.0.1 7002 dgram4)
expect_eq "UDP/IPv4 exchange from the cgroup" "upong dgram4" "$answer"
after=$(stats_sum "$ID")
expect_moved "UDP/IPv4" "$before" "$after" egress.packets_allowed egress.bytes_allowed \
	ingress.packets_allowed ingress.bytes_allowed sends_allowed
expect_still "UDP/IPv4" "$before" "$after" connects_allowed sends_denied

before=$after
answer=$(udp_client "$NS" "$CG" ::1 7002 dgram6)
expect_eq "UDP/IPv6 exchange from the cgroup" "upong dgram6" "$answer"
after=$(stats_sum "$ID")
expect_moved "UDP/IPv6" "$before" "$after" egress.packets_allowed egress.bytes_allowed \
	ingress.packets_allowed ingress.bytes_allowed sends_allowed
expect_still "UDP/IPv6" "$before" "$after" connects_allowed sends_denied

# Traffic of a process outside the cgroup (same netns) is not counted.
before=$after
answer=$(printf 'outside\n' | timeout 10 nsenter --net="$NETNS_DIR/$NS" socat -t 3 - TCP4:127.0.0.1:7001)
expect_eq "TCP exchange from outside the cgroup" "pong outside" "$answer"
after=$(stats_sum "$ID")
expect_still "outside the cgroup" "$before" "$after" egress.packets_allowed ingress.packets_allowed connects_allowed

# Poststop while the process still runs: the cgroup stays, our links go.
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop detaches"
expect_eq "poststop prints nothing" "" "$HOOK_ERR$HOOK_OUT"
assert_nothing_left "poststop" "$ID" "$CG"
expect_eq "the process is untouched" "$(cat "$CG/cgroup.procs")" "$PID"

# Traffic after poststop is not counted anywhere, and still flows.
answer=$(tcp_client "$NS" "$CG" 127.0.0.1 7001 after)
expect_eq "traffic still flows after poststop" "pong after" "$answer"

done_testing
