#!/bin/bash
# Bypass, class 1 (issue 13): the packet's real destination decides, not
# only the address a process gave to connect() or sendto(). Attacks from
# real runc containers, each with its allowed twin:
#  a. connect()/sendto() to 0.0.0.0 and ::, which the kernel sends to a
#     local address (the bound one, else 127.0.0.1 / ::1);
#  b. IPv6 routing headers (IPV6_RTHDR, segment routing, unprivileged) and
#     IPv4 source routes (IP_OPTIONS LSRR/SSRR: this kernel wants
#     CAP_NET_RAW for them), which send the packet to the first hop;
#  c. NAT in the container's own netns (a container given CAP_NET_ADMIN):
#     an output DNAT rule turns an allowed destination into a denied one;
#  d. `apply`: the next datagram of an already connected UDP socket is
#     decided by the new profile;
#  e. forged sources: IPV6_FREEBIND (no capability) or IP_TRANSPARENT
#     (CAP_NET_RAW) and a PKTINFO source make a datagram "from" a denied
#     host to a closed port; the kernel's own ICMP socket, outside the
#     container's cgroup, then carries its payload to that host.
# Receivers are outside the container: in its netns (loopback) or in a
# peer netns joined by veth, where nft counts what arrives.
. "$(dirname "$0")/../lib.sh"
test_init
. "$OCB_TOP/tests/attack-lib.sh"

new_netns NS dst
new_peer PEER dpeer "$NS"
ip -n "$NS" addr add 10.77.0.1/24 dev ocb0 && ip -n "$NS" addr add fd00:77::1/64 dev ocb0 nodad ||
	bail "addresses on ocb0"
for a in 10.77.0.2 10.77.0.3 10.77.0.4; do
	ip -n "$PEER" addr add "$a/24" dev ocb1 || bail "add $a in $PEER"
done
for a in fd00:77::2 fd00:77::3 fd00:77::4; do
	ip -n "$PEER" addr add "$a/64" dev ocb1 nodad || bail "add $a in $PEER"
done

profile unspec '{"egress": {"default": "allow", "deny": [
	{"cidr": "127.0.0.0/8", "proto": "any", "ports": "7101"},
	{"cidr": "::1", "proto": "any", "ports": "7101"}]}}'
# 10.77.0.2 and fd00:77::2 are denied; the other peer addresses are not.
profile peer2 '{"egress": {"default": "allow", "deny": ["10.77.0.2", "fd00:77::2"]}}'
profile open '{"egress": {"default": "allow"}}'
profile no-lo1 '{"egress": {"default": "allow", "deny": ["127.0.0.1", "::1"]}}'

# ============================================================ a. 0.0.0.0 and ::
atk_container U unspec "$NS" unspec || bail "a container with profile unspec starts" "$RUN_ERR"
ok "a container with profile unspec starts"
sink S4 "$NS" 127.0.0.1 7101
sink S4b "$NS" 127.0.0.5 7101
sink S4ok "$NS" 127.0.0.1 7103
sink S6 "$NS" ::1 7101
sink S6ok "$NS" ::1 7103

before=$(stats_sum "$U")
out=$(in_ctr "$U" tcp 0.0.0.0 7101)
expect_match "1a: TCP connect to 0.0.0.0:7101 (goes to 127.0.0.1, denied port) fails with EPERM" '^error EPERM' "$out"
expect_eq "1a: nothing reached 127.0.0.1:7101" 0 "$(conns "$S4")"
after=$(stats_sum "$U")
expect_eq "1a: connects_denied counts it" 1 "$(stat_delta "$before" "$after" connects_denied)"
out=$(in_ctr "$U" -b 127.0.0.5 tcp 0.0.0.0 7101)
expect_match "1a: bound to 127.0.0.5, TCP connect to 0.0.0.0:7101 fails with EPERM" '^error EPERM' "$out"
expect_eq "1a: nothing reached 127.0.0.5:7101" 0 "$(conns "$S4b")"
out=$(in_ctr "$U" tcp :: 7101)
expect_match "1a: TCP connect to [::]:7101 (goes to ::1) fails with EPERM" '^error EPERM' "$out"
expect_eq "1a: nothing reached [::1]:7101" 0 "$(conns "$S6")"
out=$(in_ctr "$U" tcp 0.0.0.0 7103)
expect_match "1a twin: TCP connect to 0.0.0.0:7103 (allowed port) works" '^ok hello' "$out"
expect_eq "1a twin: 127.0.0.1:7103 got the connection" 1 "$(conns "$S4ok")"
out=$(in_ctr "$U" tcp :: 7103)
expect_match "1a twin: TCP connect to [::]:7103 works" '^ok hello' "$out"
expect_eq "1a twin: [::1]:7103 got the connection" 1 "$(conns "$S6ok")"

ns_script r4 "$NS" -b 127.0.0.1 -p 7101 udp-script 4
ns_script r4ok "$NS" -b 127.0.0.1 -p 7103 udp-script 4
ns_script r6 "$NS" -b ::1 -p 7101 udp-script 6
ns_script r6ok "$NS" -b ::1 -p 7103 udp-script 6
ctr_script u4 "$U" udp-script 4
ctr_script u6 "$U" udp-script 6
before=$(stats_sum "$U")
out=$(script_ask u4 "sendto 0.0.0.0 7101 a1")
expect_none "1a: UDP sendto 0.0.0.0:7101 does not reach 127.0.0.1:7101 (sendto said: $out)" r4
out=$(script_ask u6 "sendto :: 7101 a2")
expect_none "1a: UDP sendto [::]:7101 does not reach [::1]:7101 (sendto said: $out)" r6
after=$(stats_sum "$U")
expect_eq "1a: the two datagrams are counted as denied (connects/sends/egress denied)" 2 \
	"$(($(denied_sum "$after") - $(denied_sum "$before")))"
script_ask u4 "sendto 0.0.0.0 7103 a3" >/dev/null
expect_recv "1a twin: UDP sendto 0.0.0.0:7103 arrives at 127.0.0.1:7103" r4ok '^recv 127\.0\.0\.1 [0-9]+ a3$'
script_ask u6 "sendto :: 7103 a4" >/dev/null
expect_recv "1a twin: UDP sendto [::]:7103 arrives at [::1]:7103" r6ok '^recv ::1 [0-9]+ a4$'
ctr_script u4c "$U" udp-script 4
out=$(script_ask u4c "connect 0.0.0.0 7101")
expect_match "1a: UDP connect to 0.0.0.0:7101 fails with EPERM" '^error EPERM' "$out"
script_ask u4c "send a5" >/dev/null
expect_none "1a: nothing from that socket reaches 127.0.0.1:7101" r4

# ============================================================ b. source routes
# Counted in the peer as they come in (the peer then drops them: it does
# not accept source routes, which does not matter here).
nft_counter "$PEER" rt6u ip6 daddr fd00:77::2 udp dport 7201
nft_counter "$PEER" rt6u2 ip6 daddr fd00:77::3 udp dport 7202
nft_counter "$PEER" rt6t ip6 daddr fd00:77::2 tcp dport 7203
nft_counter "$PEER" rt4u ip daddr 10.77.0.2 udp dport 7204
nft_counter "$PEER" rt4s ip daddr 10.77.0.2 udp dport 7205
nft_counter "$PEER" rt4u2 ip daddr 10.77.0.3 udp dport 7206
nft_counter "$PEER" rt4t ip daddr 10.77.0.2 tcp dport 7207

atk_container R peer2 "$NS" peer2 || bail "a container with profile peer2 starts" "$RUN_ERR"
atk_container RO open "$NS" open || bail "a container with profile open starts" "$RUN_ERR"
atk_container RR peer2raw "$NS" peer2 CAP_NET_RAW || bail "a container with profile peer2 and CAP_NET_RAW starts" "$RUN_ERR"
atk_container RRO openraw "$NS" open CAP_NET_RAW || bail "a container with profile open and CAP_NET_RAW starts" "$RUN_ERR"
ok "containers for the source route attacks start"

# srr_case LABEL COUNTER PROTO CID TWIN_CID NETTOOL-ARGS...: the attack
# from CID must not reach the counter; from TWIN_CID (no denies) it does.
srr_case() {
	local label=$1 counter=$2 proto=$3 cid=$4 twin=$5 c0 c1 c2 out before after
	shift 5
	c0=$(nft_packets "$PEER" "$counter")
	before=$(stats_sum "$cid")
	out=$(in_ctr "$cid" "$@")
	c1=$(nft_packets "$PEER" "$counter")
	after=$(stats_sum "$cid")
	expect_eq "1b: $label: nothing reaches the first hop (nettool: $out)" 0 $((c1 - c0))
	if [ "$proto" = udp ]; then
		expect_eq "1b: $label: the datagram is counted as denied" 1 \
			"$(($(denied_sum "$after") - $(denied_sum "$before")))"
	else
		expect_match "1b: $label: the connect does not succeed" '^error' "$out"
		expect_gt "1b: $label: the denial is counted" \
			"$(($(denied_sum "$after") - $(denied_sum "$before")))" 0
	fi
	out=$(in_ctr "$twin" "$@")
	c2=$(nft_packets "$PEER" "$counter")
	expect_gt "1b twin: $label: under a profile without denies it reaches the first hop" $((c2 - c1)) 0
}
srr_case "IPv6 routing header, UDP, first hop denied" rt6u udp "$R" "$RO" \
	-r fd00:77::2 udp-sendto fd00:77::9 7201
srr_case "IPv6 routing header, UDP, first hop allowed, second denied" rt6u2 udp "$R" "$RO" \
	-r fd00:77::3,fd00:77::2 udp-sendto fd00:77::9 7202
srr_case "IPv6 routing header, TCP, first hop denied" rt6t tcp "$R" "$RO" \
	-t 1000 -r fd00:77::2 tcp fd00:77::9 7203
out=$(in_ctr "$R" -r 10.77.0.2 udp-sendto 10.77.0.9 7204)
expect_match "1b: without CAP_NET_RAW the kernel refuses an IPv4 source route (IP_OPTIONS: EPERM)" \
	'^error EPERM' "$out"
srr_case "IPv4 LSRR (CAP_NET_RAW), UDP, first hop denied" rt4u udp "$RR" "$RRO" \
	-r 10.77.0.2 udp-sendto 10.77.0.9 7204
srr_case "IPv4 SSRR (CAP_NET_RAW), UDP, first hop denied" rt4s udp "$RR" "$RRO" \
	-s -r 10.77.0.2 udp-sendto 10.77.0.9 7205
srr_case "IPv4 LSRR (CAP_NET_RAW), UDP, first hop allowed, second denied" rt4u2 udp "$RR" "$RRO" \
	-r 10.77.0.3,10.77.0.2 udp-sendto 10.77.0.9 7206
srr_case "IPv4 LSRR (CAP_NET_RAW), TCP, first hop denied" rt4t tcp "$RR" "$RRO" \
	-t 1000 -r 10.77.0.2 tcp 10.77.0.9 7207

# ============================================================ c. NAT
# The container's netns gets output DNAT rules (what a container with
# CAP_NET_ADMIN could add): allowed 10.77.0.3 / fd00:77::3 become denied
# 10.77.0.2 / fd00:77::2; port 7303 goes to allowed 10.77.0.4 instead.
in_ns "$NS" nft -f - <<'EOF' || bail "DNAT rules in the container's netns"
table inet ocbt-nat {
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr 10.77.0.3 tcp dport 7301 dnat ip to 10.77.0.2
		ip daddr 10.77.0.3 udp dport 7302 dnat ip to 10.77.0.2
		ip daddr 10.77.0.3 tcp dport 7303 dnat ip to 10.77.0.4
		ip daddr 10.77.0.3 udp dport 7304 dnat ip to 10.77.0.4
		ip6 daddr fd00:77::3 tcp dport 7301 dnat ip6 to fd00:77::2
		ip6 daddr fd00:77::3 udp dport 7302 dnat ip6 to fd00:77::2
		ip6 daddr fd00:77::3 tcp dport 7303 dnat ip6 to fd00:77::4
	}
}
EOF
defer "in_ns '$NS' nft delete table inet ocbt-nat"
sink N4 "$PEER" 10.77.0.2 7301
sink N6 "$PEER" fd00:77::2 7301
sink N4ok "$PEER" 10.77.0.4 7303
sink N6ok "$PEER" fd00:77::4 7303
ns_script n4u "$PEER" -b 10.77.0.2 -p 7302 udp-script 4
ns_script n6u "$PEER" -b fd00:77::2 -p 7302 udp-script 6
ns_script n4uok "$PEER" -b 10.77.0.4 -p 7304 udp-script 4

TRACE_LOG=$T_TMP/trace-nat.log
trace_start "$TRACE_LOG" "$R"
before=$(stats_sum "$R")
out=$(in_ctr "$R" -t 1000 tcp 10.77.0.3 7301)
expect_match "1c: TCP to allowed 10.77.0.3:7301, DNATed to denied 10.77.0.2, does not connect" '^error' "$out"
expect_eq "1c: nothing reached 10.77.0.2:7301" 0 "$(conns "$N4")"
out=$(in_ctr "$R" -t 1000 tcp fd00:77::3 7301)
expect_match "1c: TCP to allowed [fd00:77::3]:7301, DNATed to denied fd00:77::2, does not connect" '^error' "$out"
expect_eq "1c: nothing reached [fd00:77::2]:7301" 0 "$(conns "$N6")"
ctr_script nat4 "$R" udp-script 4
ctr_script nat6 "$R" udp-script 6
out=$(script_ask nat4 "sendto 10.77.0.3 7302 n1")
expect_none "1c: UDP sendto 10.77.0.3:7302, DNATed to denied 10.77.0.2, does not arrive ($out)" n4u
script_ask nat4 "connect 10.77.0.3 7302" >/dev/null
out=$(script_ask nat4 "send n2")
expect_none "1c: connected UDP to 10.77.0.3:7302, DNATed, does not arrive ($out)" n4u
out=$(script_ask nat6 "sendto fd00:77::3 7302 n3")
expect_none "1c: UDP sendto [fd00:77::3]:7302, DNATed to denied fd00:77::2, does not arrive ($out)" n6u
after=$(stats_sum "$R")
expect_gt "1c: egress packets_denied moved" "$(stat_delta "$before" "$after" egress.packets_denied)" 0
trace_stop
drops=$(jq -c 'select(.event == "drop" and .verdict == "deny" and .direction == "egress")' "$TRACE_LOG")
expect_match "1c: trace shows a drop of a packet to 10.77.0.2 port 7301 or 7302" \
	'"remote":"10\.77\.0\.2"' "$drops" "$(cat "$TRACE_LOG")"
expect_match "1c: trace shows a drop of a packet to fd00:77::2" '"remote":"fd00:77::2"' "$drops"
out=$(in_ctr "$R" tcp 10.77.0.3 7303)
expect_match "1c twin: TCP to 10.77.0.3:7303, DNATed to allowed 10.77.0.4, works" '^ok hello' "$out"
expect_eq "1c twin: 10.77.0.4:7303 got the connection" 1 "$(conns "$N4ok")"
out=$(in_ctr "$R" tcp fd00:77::3 7303)
expect_match "1c twin: TCP to [fd00:77::3]:7303, DNATed to allowed fd00:77::4, works" '^ok hello' "$out"
expect_eq "1c twin: [fd00:77::4]:7303 got the connection" 1 "$(conns "$N6ok")"
script_ask nat4 "sendto 10.77.0.3 7304 n4" >/dev/null
expect_recv "1c twin: UDP to 10.77.0.3:7304, DNATed to allowed 10.77.0.4, arrives" n4uok '^recv 10\.77\.0\.1 [0-9]+ n4$'

# ============================================================ d. apply
# apply_case SUFFIX FIRST WHY: a container starts under profile FIRST;
# its connected UDP sockets send; `apply no-lo1`; the next datagram to
# what no-lo1 denies does not arrive. Under "open" (denies nothing) the
# programs record nothing with the sockets; under "peer2" (denies other
# addresses) they do, and the policy generation must retire the record.
apply_case() {
	local x=$1 first=$2 why=$3 ap out before after p1 p2
	atk_container ap "apply$x" "$NS" "$first" ||
		bail "a container with profile $first starts (apply)" "$RUN_ERR"
	p1=740${x:-1}
	p2=$((p1 + 1))
	ns_script "ap1$x" "$NS" -b 127.0.0.1 -p "$p1" udp-script 4
	ns_script "ap2$x" "$NS" -b 127.0.0.2 -p "$p2" udp-script 4
	ns_script "ap6$x" "$NS" -b ::1 -p "$p1" udp-script 6
	ctr_script "c1$x" "$ap" udp-script 4
	ctr_script "c2$x" "$ap" udp-script 4
	ctr_script "c6$x" "$ap" udp-script 6
	expect_eq "1d ($why): connect a UDP socket to 127.0.0.1:$p1" "ok connected" \
		"$(script_ask "c1$x" "connect 127.0.0.1 $p1")"
	expect_eq "1d ($why): connect a UDP socket to 127.0.0.2:$p2" "ok connected" \
		"$(script_ask "c2$x" "connect 127.0.0.2 $p2")"
	expect_eq "1d ($why): connect a UDP socket to [::1]:$p1" "ok connected" \
		"$(script_ask "c6$x" "connect ::1 $p1")"
	script_ask "c1$x" "send d1" >/dev/null
	expect_recv "1d ($why): before apply the datagram arrives" "ap1$x" '^recv 127\.0\.0\.1 [0-9]+ d1$'
	script_ask "c6$x" "send d1" >/dev/null
	expect_recv "1d ($why): before apply the IPv6 datagram arrives" "ap6$x" '^recv ::1 [0-9]+ d1$'
	out=$("$HOOK" "${HOOK_ARGS[@]}" apply "$ap" no-lo1 2>&1)
	expect_match "1d ($why): apply a profile that denies 127.0.0.1 and ::1" "profile no-lo1 applied" "$out"
	before=$(stats_sum "$ap")
	out=$(script_ask "c1$x" "send d2")
	expect_none "1d ($why): after apply the same socket's next datagram does not arrive (send said: $out)" "ap1$x"
	out=$(script_ask "c6$x" "send d2")
	expect_none "1d ($why): after apply the IPv6 socket's next datagram does not arrive (send said: $out)" "ap6$x"
	after=$(stats_sum "$ap")
	expect_eq "1d ($why): both datagrams are counted as denied" 2 \
		"$(($(denied_sum "$after") - $(denied_sum "$before")))"
	script_ask "c2$x" "send d3" >/dev/null
	expect_recv "1d twin ($why): a connected socket to 127.0.0.2, allowed by both profiles, still sends" "ap2$x" \
		'^recv 127\.0\.0\.[0-9]+ [0-9]+ d3$'
	AP_IDS+=("$ap")
}
AP_IDS=()
apply_case "" open "nothing recorded: the first profile denies nothing"
apply_case 5 peer2 "decisions recorded: the first profile can deny"

# ============================================================ e. forged sources
# Attacks from R (peer2: fd00:77::2 and 10.77.0.2 denied, no extra
# capability) and RR (peer2 and CAP_NET_RAW), twins from RO and RRO
# (profile open). D is fd00:77::2 / 10.77.0.2, in the peer; what reaches
# it is counted there twice: a raw ICMP socket logs each ICMP error with
# the payload it quotes (a marker per send), and nft counts the
# destination-unreachables to D. Each attack's twin goes second, by the
# same path, so once the twin's error is at D the attack's would be too.
profile ingonly '{"ingress": {"default": "allow", "deny": ["fd00:77::9"]}, "egress": {"default": "allow"}}'
profile peer2audit '{"mode": "audit", "egress": {"default": "allow", "deny": ["10.77.0.2", "fd00:77::2"]}}'
atk_container IG ingonly "$NS" ingonly || bail "a container with profile ingonly starts" "$RUN_ERR"
atk_container AU audit "$NS" peer2audit || bail "a container with profile peer2audit starts" "$RUN_ERR"
ok "containers for the forged source attacks start"
bg_start _pid "$T_TMP/icmp6.log" in_ns "$PEER" "$NETTOOL" icmp-sink 6
bg_start _pid "$T_TMP/icmp4.log" in_ns "$PEER" "$NETTOOL" icmp-sink 4
wait_for 5 grep -q '^listening' "$T_TMP/icmp6.log" && wait_for 5 grep -q '^listening' "$T_TMP/icmp4.log" ||
	bail "ICMP sinks in $PEER" "$(cat "$T_TMP/icmp6.log" "$T_TMP/icmp4.log")"
nft_counter "$PEER" un6 ip6 daddr fd00:77::2 icmpv6 type destination-unreachable
nft_counter "$PEER" un4 ip daddr 10.77.0.2 icmp type destination-unreachable

at_d() { # MARKER: ICMP errors that reached D quoting MARKER
	cat "$T_TMP/icmp6.log" "$T_TMP/icmp4.log" | grep -Ec " (fd00:77::2|10\.77\.0\.2) $1\$"
}
sockets_denied() { # CID
	stat_sum "$1" sockets_denied
}
# opt_case LABEL CID REGEX DENIED NETTOOL-ARGS...: the answer matches REGEX
# and sockets_denied moved by DENIED.
opt_case() {
	local label=$1 cid=$2 want=$3 n=$4 before out
	shift 4
	before=$(sockets_denied "$cid")
	out=$(in_ctr "$cid" "$@")
	expect_match "1e: $label" "$want" "$out"
	expect_eq "1e: $label: sockets_denied moved by $n" "$n" $(($(sockets_denied "$cid") - before))
}
# spoof_case LABEL NFT CID TWIN NETTOOL-ARGS...: `nettool NETTOOL-ARGS...
# MARKER` (a spoof) from CID delivers nothing to D; from TWIN it does.
spoof_case() {
	local label=$1 nft=$2 cid=$3 twin=$4 c0 c1 out tout mark
	shift 4
	mark=e$RANDOM
	c0=$(nft_packets "$PEER" "$nft")
	out=$(in_ctr "$cid" "$@" "$mark-attack")
	tout=$(in_ctr "$twin" "$@" "$mark-twin")
	wait_for 5 '[ "$(at_d "$mark-twin")" -gt 0 ]'
	c1=$(nft_packets "$PEER" "$nft")
	expect_eq "1e twin: $label: under a profile without denies the error reaches D (spoof: $tout)" \
		1 "$(at_d "$mark-twin")" "$(cat "$T_TMP/icmp6.log" "$T_TMP/icmp4.log")"
	expect_eq "1e: $label: nothing reaches D (spoof: $out)" 0 "$(at_d "$mark-attack")"
	expect_eq "1e: $label: D's nft counter saw only the twin's error" 1 $((c1 - c0))
	SPOOF_OUT=$out
}

# The kernel's side: IPv4 needs IP_TRANSPARENT, IPv6 needs nothing.
out=$(in_ctr "$RO" spoof freebind 10.77.0.2 10.77.0.1 9 e-kernel4)
expect_match "1e: (kernel) without CAP_NET_RAW, IP_FREEBIND + IP_PKTINFO cannot send from 10.77.0.2" \
	'^error [A-Z]+ [0-9]+ \(freebind ok\)' "$out"

opt_case "setsockopt(IPV6_FREEBIND) on an IPv6 socket fails with EPERM" "$R" '^error EPERM' 1 \
	sockopt 6 ipv6 freebind
opt_case "setsockopt(SOL_IP, IP_FREEBIND) on an IPv4 socket fails with EPERM" "$R" '^error EPERM' 1 \
	sockopt 4 ip freebind
opt_case "setsockopt(SOL_IP, IP_FREEBIND) on an IPv6 socket fails with EPERM" "$R" '^error EPERM' 1 \
	sockopt 6 ip freebind
opt_case "setsockopt(IPV6_TRANSPARENT) without CAP_NET_RAW fails with EPERM, counted" "$R" \
	'^error EPERM' 1 sockopt 6 ipv6 transparent
opt_case "with CAP_NET_RAW, setsockopt(IP_TRANSPARENT) fails with EPERM" "$RR" '^error EPERM' 1 \
	sockopt 4 ip transparent
opt_case "with CAP_NET_RAW, setsockopt(IPV6_TRANSPARENT) fails with EPERM" "$RR" '^error EPERM' 1 \
	sockopt 6 ipv6 transparent
for a in "socket reuseaddr" "ipv6 v6only" "ipv6 tclass 16" "ip tos 16"; do
	# shellcheck disable=SC2086 # words on purpose
	opt_case "twin: under peer2, setsockopt($a) on an IPv6 socket works" "$R" '^ok' 0 sockopt 6 $a
done
opt_case "twin: under peer2, setsockopt(ip tos 16) on an IPv4 socket works" "$R" '^ok' 0 \
	sockopt 4 ip tos 16
opt_case "twin: under profile open, setsockopt(IPV6_FREEBIND) works" "$RO" '^ok' 0 sockopt 6 ipv6 freebind
opt_case "twin: under profile open, setsockopt(IP_FREEBIND) works" "$RO" '^ok' 0 sockopt 4 ip freebind
opt_case "twin: under profile ingonly (denies only ingress), setsockopt(IPV6_FREEBIND) works" "$IG" \
	'^ok' 0 sockopt 6 ipv6 freebind
opt_case "twin: under profile open with CAP_NET_RAW, setsockopt(IPV6_TRANSPARENT) works" "$RRO" \
	'^ok' 0 sockopt 6 ipv6 transparent
opt_case "audit: under peer2audit, setsockopt(IPV6_FREEBIND) works and is counted" "$AU" '^ok' 1 \
	sockopt 6 ipv6 freebind
opt_case "audit: under peer2audit, setsockopt(SOL_IP, IP_FREEBIND) works and is counted" "$AU" '^ok' 1 \
	sockopt 6 ip freebind

before=$(sockets_denied "$R")
spoof_case "source fd00:77::2 to the container's own fd00:77::1, closed port" un6 "$R" "$RO" \
	spoof freebind fd00:77::2 fd00:77::1 9
expect_match "1e: the spoof's IPV6_FREEBIND fails with EPERM and its send fails" \
	'^error [A-Z]+ [0-9]+ \(freebind EPERM\)' "$SPOOF_OUT"
spoof_case "source fd00:77::2 to allowed fd00:77::3, closed port (reflection)" un6 "$R" "$RO" \
	spoof freebind fd00:77::2 fd00:77::3 9
expect_match "1e: the reflection's IPV6_FREEBIND fails with EPERM and its send fails" \
	'^error [A-Z]+ [0-9]+ \(freebind EPERM\)' "$SPOOF_OUT"
expect_eq "1e: sockets_denied counts the two spoofs' refusals" 2 $(($(sockets_denied "$R") - before))
spoof_case "CAP_NET_RAW, IP_TRANSPARENT, source 10.77.0.2 to the container's own 10.77.0.1" un4 \
	"$RR" "$RRO" spoof transparent 10.77.0.2 10.77.0.1 9
expect_match "1e: the IPv4 spoof's IP_TRANSPARENT fails with EPERM" '\(transparent EPERM\)' "$SPOOF_OUT"
# The kernel runs no cgroup/setsockopt program for a compat (32-bit)
# setsockopt() (net/socket.c runs them only `if (!compat)`), so a 64-bit
# process's int $0x80 (nettool -3), or any i386 binary, still sets
# IPV6_FREEBIND. The egress program reads the socket's flags at each
# packet and denies what such a socket sends.
opt_case "32-bit setsockopt(IPV6_FREEBIND) skips ocb_sockopt (a kernel fact)" "$R" '^ok' 0 \
	-3 sockopt 6 ipv6 freebind
before=$(stat_sum "$R" egress.packets_denied)
spoof_case "32-bit IPV6_FREEBIND, source fd00:77::2 to the container's own fd00:77::1" un6 \
	"$R" "$RO" -3 spoof freebind fd00:77::2 fd00:77::1 9
expect_match "1e: the compat spoof's datagram is refused at egress (EPERM)" '^error EPERM' "$SPOOF_OUT"
expect_eq "1e: the compat spoof is counted as an egress packet denied" 1 \
	$(($(stat_sum "$R" egress.packets_denied) - before))
out=$(in_ctr "$R" udp-sendto fd00:77::2 9)
expect_match "1e: the direct send to [fd00:77::2]:9 still fails with EPERM" '^error EPERM' "$out"

for cid in "$U" "$R" "$RO" "$RR" "$RRO" "${AP_IDS[@]}" "$IG" "$AU"; do
	trunc kill "$cid" KILL >/dev/null 2>&1
	wait_for 30 'test "$(runc_status "$cid")" = stopped'
	check "runc delete $cid" trunc delete "$cid"
done
done_testing
