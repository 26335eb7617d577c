#!/bin/bash
# Bypass, classes 2-4 of issue 13 and what else an attacker would try,
# from real runc containers, each with its allowed twin:
#  2. no false denials: a connected UDP socket sending with ancillary data
#     (IP_PKTINFO, IP_TOS, IPV6_PKTINFO, IPV6_TCLASS) to an allowed peer;
#     replies to an unconnected UDP socket's sendto() under ingress
#     default deny (and nobody else gets in);
#  3. every protocol with ports: "any" port rules cover UDP-Lite (a socket
#     here) and SCTP (a raw socket, CAP_NET_RAW); profiles may name
#     udplite, sctp and dccp;
#  4. IPv6 header chains (IPV6_HDRINCL, CAP_NET_RAW): hop-by-hop of 16
#     bytes + fragment header + UDP; non-first fragments fail closed;
#  look further: sendmmsg, io_uring, TCP Fast Open, IPv4-mapped and
#     IPv4-compatible IPv6 addresses, broadcast and multicast.
. "$(dirname "$0")/../lib.sh"
test_init
. "$OCB_TOP/tests/attack-lib.sh"

new_netns NS proto
new_peer PEER ppeer "$NS"
ip -n "$NS" addr add 10.78.0.1/24 dev ocb0 && ip -n "$NS" addr add fd00:78::1/64 dev ocb0 nodad &&
	ip -n "$PEER" addr add 10.78.0.2/24 dev ocb1 && ip -n "$PEER" addr add fd00:78::2/64 dev ocb1 nodad ||
	bail "addresses on the veth pair"
for a in fd00::5; do
	ip -n "$NS" addr add "$a/128" dev lo nodad || bail "add $a to lo in $NS"
done

profile cmsg '{"egress": {"default": "deny", "allow": [
	{"cidr": "127.0.0.1", "proto": "udp", "ports": "7501"},
	{"cidr": "::1", "proto": "udp", "ports": "7501"}]}}'
profile indeny '{"egress": {"default": "allow"}, "ingress": {"default": "deny"}}'
profile ports '{"egress": {"default": "allow", "deny": [
	{"cidr": "0.0.0.0/0", "proto": "any", "ports": "7701"},
	{"cidr": "::/0", "proto": "any", "ports": "7701"}]}}'
profile named '{"egress": {"default": "allow", "deny": [
	{"cidr": "127.0.0.1", "proto": "udplite", "ports": "7702"},
	{"cidr": "::1", "proto": "udplite", "ports": "7702"},
	{"cidr": "10.78.0.2", "proto": "sctp", "ports": "7702"},
	{"cidr": "10.78.0.2", "proto": "dccp", "ports": "7702"}]}}'
profile lf '{"egress": {"default": "allow", "deny": ["127.0.0.2"]}}'
profile bcast '{"egress": {"default": "allow", "deny": ["10.78.0.0/24", "255.255.255.255", "224.0.0.0/4"]}}'
profile lan '{"egress": {"default": "allow", "deny": ["10.78.0.0/24"]}}'

# ============================================================ 2a. ancillary data
atk_container C cmsg "$NS" cmsg || bail "a container with profile cmsg starts" "$RUN_ERR"
ok "a container with profile cmsg (egress default deny, udp/7501 allowed) starts"
ns_script r4 "$NS" -b 127.0.0.1 -p 7501 udp-script 4
ns_script r4d "$NS" -b 127.0.0.1 -p 7502 udp-script 4
ns_script r6 "$NS" -b ::1 -p 7501 udp-script 6
ns_script r6d "$NS" -b ::1 -p 7502 udp-script 6
ctr_script c4 "$C" udp-script 4
ctr_script c6 "$C" udp-script 6
expect_eq "2a: a UDP socket connects to allowed 127.0.0.1:7501" "ok connected" "$(script_ask c4 "connect 127.0.0.1 7501")"
expect_eq "2a: a UDP socket connects to allowed [::1]:7501" "ok connected" "$(script_ask c6 "connect ::1 7501")"
before=$(stats_sum "$C")
for k in pktinfo tos; do
	out=$(script_ask c4 "cmsg $k m-$k")
	expect_eq "2a: connected UDP/IPv4 send with $k ancillary data to the allowed peer works" "ok sent" "$out"
	expect_recv "2a: ... and arrives" r4 "^recv 127\.0\.0\.1 [0-9]+ m-$k\$"
done
for k in pktinfo6 tclass; do
	out=$(script_ask c6 "cmsg $k m-$k")
	expect_eq "2a: connected UDP/IPv6 send with $k ancillary data to the allowed peer works" "ok sent" "$out"
	expect_recv "2a: ... and arrives" r6 "^recv ::1 [0-9]+ m-$k\$"
done
mid=$(stats_sum "$C")
expect_eq "2a: nothing was counted as denied" 0 "$(($(denied_sum "$mid") - $(denied_sum "$before")))"
out=$(script_ask c4 "cmsgto tos 127.0.0.1 7502 d4")
expect_match "2a twin: the same socket, ancillary data, to denied 127.0.0.1:7502: EPERM" '^error EPERM' "$out"
expect_none "2a twin: nothing arrives at 127.0.0.1:7502" r4d
out=$(script_ask c6 "cmsgto tclass ::1 7502 d6")
expect_match "2a twin: the same socket, ancillary data, to denied [::1]:7502: EPERM" '^error EPERM' "$out"
expect_none "2a twin: nothing arrives at [::1]:7502" r6d
after=$(stats_sum "$C")
expect_eq "2a twin: sends_denied counts the 2 refused datagrams" 2 "$(stat_delta "$mid" "$after" sends_denied)"

# ============================================================ 2b. replies to sendto()
atk_container I indeny "$NS" indeny || bail "a container with profile indeny starts" "$RUN_ERR"
ok "a container with profile indeny (ingress default deny) starts"
for fam in 4 6; do
	if [ $fam = 4 ]; then lo=127.0.0.1 other=127.0.0.5 re='127\.0\.0\.1'; else lo=::1 other=fd00::5 re='::1'; fi
	ctr_script s$fam "$I" -p 7601 udp-script $fam
	ctr_script q$fam "$I" -p 7604 udp-script $fam
	ns_script srv$fam "$NS" -b $lo -p 7602 udp-script $fam
	ns_script tp$fam "$NS" -b $lo -p 7603 udp-script $fam
	ns_script ta$fam "$NS" -b $other -p 7602 udp-script $fam
	before=$(stats_sum "$I")
	expect_eq "2b/IPv$fam: unconnected sendto the server works" "ok sent" "$(script_ask s$fam "sendto $lo 7602 q")"
	expect_recv "2b/IPv$fam: the server gets it" srv$fam "^recv $re 7601 q\$"
	script_ask srv$fam "sendto $lo 7601 reply" >/dev/null
	expect_recv "2b/IPv$fam: the server's reply reaches the socket that sent" s$fam "^recv $re 7602 reply\$"
	script_ask tp$fam "sendto $lo 7601 third" >/dev/null
	expect_none "2b/IPv$fam twin: the same address from another port is not delivered" s$fam
	script_ask ta$fam "sendto $lo 7601 other" >/dev/null
	expect_none "2b/IPv$fam twin: the same port from another address ($other) is not delivered" s$fam
	script_ask srv$fam "sendto $lo 7604 never" >/dev/null
	expect_none "2b/IPv$fam twin: the server to a socket that never sent to it is not delivered" q$fam
	after=$(stats_sum "$I")
	expect_eq "2b/IPv$fam: ingress packets_allowed counts the one reply" 1 \
		"$(stat_delta "$before" "$after" ingress.packets_allowed)"
	expect_eq "2b/IPv$fam: ingress packets_denied counts the 3 others" 3 \
		"$(stat_delta "$before" "$after" ingress.packets_denied)"
done

# ============================================================ 3. protocols with ports
atk_container P ports "$NS" ports CAP_NET_RAW || bail "a container with profile ports (CAP_NET_RAW) starts" "$RUN_ERR"
ok "a container with profile ports ('any' ports 7701 denied) and CAP_NET_RAW starts"
for fam in 4 6; do
	if [ $fam = 4 ]; then lo=127.0.0.1; else lo=::1; fi
	ns_script l$fam "$NS" -P udplite -b $lo -p 7701 udp-script $fam
	ns_script lok$fam "$NS" -P udplite -b $lo -p 7703 udp-script $fam
	ctr_script ul$fam "$P" -P udplite udp-script $fam
	before=$(stats_sum "$P")
	out=$(script_ask ul$fam "sendto $lo 7701 lite")
	expect_match "3/IPv$fam: UDP-Lite sendto a denied port ('any' rule): EPERM" '^error EPERM' "$out"
	expect_none "3/IPv$fam: nothing arrives at the UDP-Lite receiver" l$fam
	# UDP-Lite has no pre_connect: the kernel runs no connect hook for
	# it, so connect() itself cannot be refused; its datagrams can.
	out=$(script_ask ul$fam "connect $lo 7701")
	out2=$(script_ask ul$fam "send lite2")
	expect_none "3/IPv$fam: UDP-Lite connected to a denied port: nothing arrives (connect: $out; send: $out2)" l$fam
	after=$(stats_sum "$P")
	expect_eq "3/IPv$fam: both UDP-Lite datagrams are counted as denied" 2 \
		"$(($(denied_sum "$after") - $(denied_sum "$before")))"
	script_ask ul$fam "sendto $lo 7703 liteok" >/dev/null
	expect_recv "3/IPv$fam twin: UDP-Lite to an allowed port arrives" lok$fam '^recv .* liteok$'
done
nft_counter "$PEER" sctp4 ip daddr 10.78.0.2 meta l4proto 132 th dport 7701
nft_counter "$PEER" sctp4ok ip daddr 10.78.0.2 meta l4proto 132 th dport 7703
nft_counter "$PEER" sctp6 ip6 daddr fd00:78::2 meta l4proto 132 th dport 7701
nft_counter "$PEER" sctp6ok ip6 daddr fd00:78::2 meta l4proto 132 th dport 7703
before=$(stats_sum "$P")
out=$(in_ctr "$P" ipproto 132 10.78.0.2 7701)
expect_eq "3: SCTP/IPv4 (raw) to a denied port ('any' rule) does not arrive ($out)" 0 "$(nft_packets "$PEER" sctp4)"
out=$(in_ctr "$P" ipproto 132 fd00:78::2 7701)
expect_eq "3: SCTP/IPv6 (raw) to a denied port ('any' rule) does not arrive ($out)" 0 "$(nft_packets "$PEER" sctp6)"
after=$(stats_sum "$P")
expect_eq "3: egress packets_denied counts both SCTP packets" 2 "$(stat_delta "$before" "$after" egress.packets_denied)"
in_ctr "$P" ipproto 132 10.78.0.2 7703 >/dev/null
expect_eq "3 twin: SCTP/IPv4 to an allowed port arrives" 1 "$(nft_packets "$PEER" sctp4ok)"
in_ctr "$P" ipproto 132 fd00:78::2 7703 >/dev/null
expect_eq "3 twin: SCTP/IPv6 to an allowed port arrives" 1 "$(nft_packets "$PEER" sctp6ok)"

if atk_container PN named "$NS" named CAP_NET_RAW; then
	ok "a profile naming udplite, sctp and dccp loads"
	ns_script nl "$NS" -P udplite -b 127.0.0.1 -p 7702 udp-script 4
	ns_script nu "$NS" -b 127.0.0.1 -p 7702 udp-script 4
	ctr_script nlc "$PN" -P udplite udp-script 4
	ctr_script nuc "$PN" udp-script 4
	out=$(script_ask nlc "sendto 127.0.0.1 7702 n")
	expect_match "3: a 'udplite' rule: UDP-Lite to its port: EPERM" '^error EPERM' "$out"
	expect_none "3: ... nothing arrives" nl
	script_ask nuc "sendto 127.0.0.1 7702 u" >/dev/null
	expect_recv "3 twin: a 'udplite' rule does not cover UDP" nu '^recv .* u$'
	nft_counter "$PEER" nsctp ip daddr 10.78.0.2 meta l4proto 132 th dport 7702
	nft_counter "$PEER" ndccp ip daddr 10.78.0.2 meta l4proto 33 th dport 7702
	nft_counter "$PEER" ndccpok ip daddr 10.78.0.2 meta l4proto 33 th dport 7703
	out=$(in_ctr "$PN" ipproto 132 10.78.0.2 7702)
	expect_eq "3: an 'sctp' rule: SCTP to its port does not arrive ($out)" 0 "$(nft_packets "$PEER" nsctp)"
	out=$(in_ctr "$PN" ipproto 33 10.78.0.2 7702)
	expect_eq "3: a 'dccp' rule: DCCP (raw) to its port does not arrive ($out)" 0 "$(nft_packets "$PEER" ndccp)"
	in_ctr "$PN" ipproto 33 10.78.0.2 7703 >/dev/null
	expect_eq "3 twin: DCCP to another port arrives" 1 "$(nft_packets "$PEER" ndccpok)"
else
	not_ok "a profile naming udplite, sctp and dccp loads" "$RUN_ERR"
fi

# ============================================================ 4. IPv6 header chains
# From container P (CAP_NET_RAW; 'any' ports 7701 denied). Receivers in the peer.
ns_script h "$PEER" -b fd00:78::2 -p 7701 udp-script 6
ns_script hok "$PEER" -b fd00:78::2 -p 7703 udp-script 6
ns_script h4 "$PEER" -b 10.78.0.2 -p 7701 udp-script 4
out=$(in_ctr "$P" raw6 udp fd00:78::1 fd00:78::2 7701)
expect_none "4: sanity: plain raw UDP/IPv6 to the denied port does not arrive ($out)" h
out=$(in_ctr "$P" raw6 udp fd00:78::1 fd00:78::2 7703)
expect_recv "4 twin: plain raw UDP/IPv6 to an allowed port arrives ($out)" hok '^recv fd00:78::1 40000 rawudp$'
TRACE_LOG=$T_TMP/trace-chain.log
trace_start "$TRACE_LOG" "$P"
before=$(stats_sum "$P")
out=$(in_ctr "$P" raw6 hbhfrag fd00:78::1 fd00:78::2 7701)
expect_none "4: hop-by-hop (16 bytes) + fragment + UDP to the denied port does not arrive ($out)" h
after=$(stats_sum "$P")
expect_eq "4: ... and is counted as denied" 1 "$(stat_delta "$before" "$after" egress.packets_denied)"
out=$(in_ctr "$P" raw6 hbhfrag fd00:78::1 fd00:78::2 7703)
expect_recv "4 twin: the same chain to an allowed port arrives ($out)" hok '^recv fd00:78::1 40000 hbhfrag$'
before=$(stats_sum "$P")
out=$(in_ctr "$P" raw6 frag2 fd00:78::1 fd00:78::2 7703)
after=$(stats_sum "$P")
expect_eq "4: a non-first IPv6 fragment (payload reads as UDP to an allowed port) is denied ($out)" \
	"1 0" "$(stat_delta "$before" "$after" egress.packets_denied) $(stat_delta "$before" "$after" egress.packets_allowed)"
before=$(stats_sum "$P")
out=$(in_ctr "$P" raw4 frag2 10.78.0.1 10.78.0.2 7703)
after=$(stats_sum "$P")
expect_eq "4: a non-first IPv4 fragment is denied too (fail closed) ($out)" \
	"1 0" "$(stat_delta "$before" "$after" egress.packets_denied) $(stat_delta "$before" "$after" egress.packets_allowed)"
out=$(in_ctr "$P" raw4 udp 10.78.0.1 10.78.0.2 7701)
expect_none "4: sanity: raw UDP/IPv4 to the denied port does not arrive ($out)" h4
trace_stop
expect_match "4: trace shows the drop of the header chain to port 7701" \
	'"event":"drop".*"remote":"fd00:78::2"' "$(grep -F '"port":7701' "$TRACE_LOG")" "$(cat "$TRACE_LOG")"
expect_gt "4: trace shows the fragments' drops" "$(jq -c 'select(.event == "drop" and .verdict == "deny")' "$TRACE_LOG" | wc -l)" 3

# ============================================================ look further
atk_container L lf "$NS" lf || bail "a container with profile lf (127.0.0.2 denied) starts" "$RUN_ERR"
ok "a container with profile lf (127.0.0.2 denied) starts"
ns_script m1 "$NS" -b 127.0.0.1 -p 7801 udp-script 4
ns_script m2 "$NS" -b 127.0.0.2 -p 7801 udp-script 4
sink T1 "$NS" 127.0.0.1 7802
sink T2 "$NS" 127.0.0.2 7802
ctr_script mm "$L" udp-script 4
out=$(script_ask mm "mmsg 127.0.0.1 7801 127.0.0.2 7801 mm")
expect_eq "further: sendmmsg of [allowed, denied]: the first is sent, the second gets EPERM" "error EPERM sent 1" "$out"
expect_recv "further twin: the allowed one arrives" m1 '^recv .* mm$'
expect_none "further: the denied one does not" m2
out=$(in_ctr "$L" uring-sendto 127.0.0.2 7801)
expect_match "further: io_uring SENDMSG to a denied address: EPERM" '^error EPERM' "$out"
expect_none "further: ... nothing arrives" m2
out=$(in_ctr "$L" uring-sendto 127.0.0.1 7801)
expect_match "further twin: io_uring SENDMSG to an allowed address works" '^ok sent 5' "$out"
expect_recv "further twin: ... and arrives" m1 '^recv .* ping$'
out=$(in_ctr "$L" uring-connect 127.0.0.2 7802)
expect_match "further: io_uring CONNECT to a denied address: EPERM" '^error EPERM' "$out"
out=$(in_ctr "$L" uring-connect 127.0.0.1 7802)
expect_match "further twin: io_uring CONNECT to an allowed address works" '^ok hello' "$out"
out=$(in_ctr "$L" tfo 127.0.0.2 7802)
expect_match "further: TCP Fast Open sendto(MSG_FASTOPEN) to a denied address: EPERM" '^error EPERM' "$out"
out=$(in_ctr "$L" tfo 127.0.0.1 7802)
expect_match "further twin: TCP Fast Open to an allowed address works" '^ok hello' "$out"
expect_eq "further: the denied TCP server got no connection" 0 "$(conns "$T2")"
expect_eq "further twin: the allowed TCP server got both" 2 "$(conns "$T1")"
ctr_script mp "$L" udp-script 6
out=$(script_ask mp "sendto ::ffff:127.0.0.2 7801 mapped")
expect_match "further: UDP sendto IPv4-mapped ::ffff:127.0.0.2: EPERM" '^error EPERM' "$out"
expect_none "further: ... nothing arrives" m2
script_ask mp "sendto ::ffff:127.0.0.1 7801 mapok" >/dev/null
expect_recv "further twin: UDP sendto ::ffff:127.0.0.1 arrives" m1 '^recv .* mapok$'
out=$(in_ctr "$L" -t 1000 tcp ::127.0.0.2 7802)
expect_match "further: IPv4-compatible ::127.0.0.2 does not connect (the kernel does not route it as IPv4)" '^error' "$out"
expect_eq "further: ... and reaches no one" 0 "$(conns "$T2")"

# Broadcast and multicast leave by an address, not a host: a profile
# stops them by naming 255.255.255.255 and 224.0.0.0/4.
ns_script bc "$PEER" -p 7803 udp-script 4
expect_eq "further: the peer joins 239.1.2.3" ok "$(script_ask bc "join 239.1.2.3 10.78.0.2")"
atk_container B bcast "$NS" bcast || bail "a container with profile bcast starts" "$RUN_ERR"
atk_container LAN lan "$NS" lan || bail "a container with profile lan starts" "$RUN_ERR"
for cid in "$B" "$LAN"; do
	ctr_script "b-$cid" "$cid" -b 10.78.0.1 udp-script 4
	script_ask "b-$cid" broadcast >/dev/null
	script_ask "b-$cid" "mcast-if 10.78.0.1" >/dev/null
done
out=$(script_ask "b-$B" "sendto 255.255.255.255 7803 bc1")
expect_match "further: broadcast 255.255.255.255 under a profile that denies it: EPERM" '^error EPERM' "$out"
out=$(script_ask "b-$B" "sendto 239.1.2.3 7803 mc1")
expect_match "further: multicast 239.1.2.3 under a profile that denies 224.0.0.0/4: EPERM" '^error EPERM' "$out"
out=$(script_ask "b-$B" "sendto 10.78.0.255 7803 bc2")
expect_match "further: the subnet's broadcast address is inside the denied /24: EPERM" '^error EPERM' "$out"
expect_none "further: none of them reached the peer" bc
# The twins, and what a profile that names only the LAN's prefix means:
# its hosts still get the container's broadcasts and multicasts.
script_ask "b-$LAN" "sendto 255.255.255.255 7803 bc3" >/dev/null
expect_recv "further twin: denying only 10.78.0.0/24, broadcast to 255.255.255.255 reaches the peer" bc '^recv 10\.78\.0\.1 [0-9]+ bc3$'
script_ask "b-$LAN" "sendto 239.1.2.3 7803 mc3" >/dev/null
expect_recv "further twin: denying only 10.78.0.0/24, multicast to 239.1.2.3 reaches the peer" bc '^recv 10\.78\.0\.1 [0-9]+ mc3$'

for cid in "$C" "$I" "$P" ${PN:+"$PN"} "$L" "$B" "$LAN"; do
	trunc kill "$cid" KILL >/dev/null 2>&1
	wait_for 30 'test "$(runc_status "$cid")" = stopped'
	check "runc delete $cid" trunc delete "$cid"
done
done_testing
