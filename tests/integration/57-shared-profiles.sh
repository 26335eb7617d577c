#!/bin/bash
# Profiles stored once (issue 15): containers whose profiles compile to
# the same entries share one pair of tries (the `rules` and `ports`
# maps), frozen so that no one writes them; the poststop of a profile's
# last container frees them (hook/slots.c, slots_let_go()); `apply`
# switches one container to another profile's tries without touching
# the others.
. "$(dirname "$0")/../lib.sh"
test_init
. "$OCB_TOP/tests/attack-lib.sh"

new_netns NS share
for a in 127.0.0.1 127.0.0.2 127.0.0.3; do
	start_tcp_echo "$NS" "$a" 7001
done
start_tcp_echo "$NS" 127.0.0.2 7002
profile deny2 '{"egress": {"default": "allow", "deny": ["127.0.0.2"]}}'
profile deny3 '{"egress": {"default": "allow", "deny": ["127.0.0.3"]}}'
# The same entries as deny2, written otherwise: the same tries.
profile deny2b '{"description": "another name, the same rules",
	"egress": {"deny": ["127.0.0.2/32"], "default": "allow"}}'
# The same address rule, other ports: other tries.
profile port1 '{"egress": {"default": "allow",
	"deny": [{"cidr": "127.0.0.2", "proto": "tcp", "ports": "7001"}]}}'
profile port2 '{"egress": {"default": "allow",
	"deny": [{"cidr": "127.0.0.2", "proto": "tcp", "ports": "7002"}]}}'
atk_write_config

map_there() { # ID
	bpftool map show id "$1" >/dev/null 2>&1 && echo there || echo gone
}
annot() { # PROFILE
	jq -nc --arg p "$1" '{annotations: {"oci-cgroup-bpf-hook/profile": $p}}'
}
for c in a b c d e f; do
	new_cgroup "CG_$c" "$c"
	cg=CG_$c
	start_in_ns_cg "P_$c" "$NS" "${!cg}"
done
run_hook prestart "$T.a" "$P_a" created "$(annot deny2)"
expect_hook_ok "a attaches with deny2"
run_hook prestart "$T.b" "$P_b" created "$(annot deny2)"
expect_hook_ok "b attaches with deny2"
run_hook prestart "$T.c" "$P_c" created "$(annot deny3)"
expect_hook_ok "c attaches with deny3"
run_hook prestart "$T.d" "$P_d" created "$(annot deny2b)"
expect_hook_ok "d attaches with deny2b"

RA=$(pinned_map_id "$T.a" rules)
PA=$(pinned_map_id "$T.a" ports)
expect_eq "a and b share their rules trie" "$RA" "$(pinned_map_id "$T.b" rules)"
expect_eq "a and b share their ports trie" "$PA" "$(pinned_map_id "$T.b" ports)"
expect_eq "d's profile compiles to the same entries: the same rules trie" "$RA" "$(pinned_map_id "$T.d" rules)"
expect_ne "c's profile has tries of its own" "$RA" "$(pinned_map_id "$T.c" rules)"
expect_ne "each container has its own counters" "$(pinned_map_id "$T.a" stats)" "$(pinned_map_id "$T.b" stats)"
expect_eq "the shared tries are frozen" "1 1" \
	"$(bpftool -j map show id "$RA" | jq -r .frozen) $(bpftool -j map show id "$PA" | jq -r .frozen)"
out=$(bpftool map update id "$RA" key hex $(printf '00 %.0s' $(seq 1 28)) value hex 00 00 00 00 00 00 00 00 2>&1)
expect_match "  an update of a shared trie is refused" "Operation not permitted|Device or resource busy" "$out"

tcp_in() { # CG ADDR
	tcp_client "$NS" "$1" "$2" 7001 hello 2>&1 | tr '\n' ' '
}
expect_match "a: 127.0.0.2 refused" "Operation not permitted" "$(tcp_in "$CG_a" 127.0.0.2)"
expect_match "b: 127.0.0.2 refused" "Operation not permitted" "$(tcp_in "$CG_b" 127.0.0.2)"
expect_match "b: 127.0.0.3 works" "pong hello" "$(tcp_in "$CG_b" 127.0.0.3)"
expect_match "c: 127.0.0.3 refused" "Operation not permitted" "$(tcp_in "$CG_c" 127.0.0.3)"

# Profiles that differ only in their ports do not share.
run_hook prestart "$T.e" "$P_e" created "$(annot port1)"
expect_hook_ok "e attaches with port1"
run_hook prestart "$T.f" "$P_f" created "$(annot port2)"
expect_hook_ok "f attaches with port2"
expect_ne "port1 and port2 have tries of their own" "$(pinned_map_id "$T.e" ports)" "$(pinned_map_id "$T.f" ports)"
expect_match "e: 127.0.0.2:7001 refused" "Operation not permitted" "$(tcp_in "$CG_e" 127.0.0.2)"
expect_match "f: 127.0.0.2:7001 works" "pong hello" "$(tcp_in "$CG_f" 127.0.0.2)"
expect_match "f: 127.0.0.2:7002 refused" "Operation not permitted" \
	"$(tcp_client "$NS" "$CG_f" 127.0.0.2 7002 hello 2>&1 | tr '\n' ' ')"
PE=$(pinned_map_id "$T.e" ports)
PF=$(pinned_map_id "$T.f" ports)
run_hook poststop "$T.e" 0 stopped
expect_hook_ok "e detaches"
expect_eq "e was port1's last container: its tries are freed" gone "$(map_there "$PE")"
expect_eq "  f's are not" there "$(map_there "$PF")"
run_hook poststop "$T.f" 0 stopped
expect_hook_ok "f detaches"
expect_eq "f was port2's last container: its tries are freed" gone "$(map_there "$PF")"

# apply: b moves to deny3's tries; a and d keep theirs.
out=$("$HOOK" "${HOOK_ARGS[@]}" apply "$T.b" deny3 2>&1)
expect_eq "apply b deny3" 0 "$?" "$out"
expect_eq "b now runs c's tries" "$(pinned_map_id "$T.c" rules)" "$(pinned_map_id "$T.b" rules)"
expect_match "b: 127.0.0.2 works now" "pong hello" "$(tcp_in "$CG_b" 127.0.0.2)"
expect_match "b: 127.0.0.3 refused now" "Operation not permitted" "$(tcp_in "$CG_b" 127.0.0.3)"
expect_match "a: 127.0.0.2 still refused" "Operation not permitted" "$(tcp_in "$CG_a" 127.0.0.2)"
expect_eq "a still runs deny2's tries" "$RA" "$(pinned_map_id "$T.a" rules)"

# The last user frees them.
run_hook poststop "$T.a" 0 stopped
expect_hook_ok "a detaches"
expect_eq "d still has deny2's tries" "$RA" "$(pinned_map_id "$T.d" rules)"
expect_match "d: 127.0.0.2 still refused" "Operation not permitted" "$(tcp_in "$CG_d" 127.0.0.2)"
run_hook poststop "$T.d" 0 stopped
expect_hook_ok "d detaches"
expect_eq "d was deny2's last container: its poststop freed the tries" "gone gone" \
	"$(map_there "$RA") $(map_there "$PA")"
# A later container of deny2 compiles it again, and is held to it.
new_cgroup CG_g g
start_in_ns_cg P_g "$NS" "$CG_g"
run_hook prestart "$T.g" "$P_g" created "$(annot deny2)"
expect_hook_ok "g attaches with deny2 again"
expect_ne "  with new tries" "$RA" "$(pinned_map_id "$T.g" rules)"
expect_match "g: 127.0.0.2 refused" "Operation not permitted" "$(tcp_in "$CG_g" 127.0.0.2)"
expect_match "g: 127.0.0.3 works" "pong hello" "$(tcp_in "$CG_g" 127.0.0.3)"
RG=$(pinned_map_id "$T.g" rules)
run_hook poststop "$T.g" 0 stopped
expect_hook_ok "g detaches"
expect_eq "  and its tries go with it" gone "$(map_there "$RG")"
# apply moves a profile's last container to another: the old tries go.
new_cgroup CG_h h
start_in_ns_cg P_h "$NS" "$CG_h"
run_hook prestart "$T.h" "$P_h" created "$(annot port1)"
expect_hook_ok "h attaches with port1"
PH=$(pinned_map_id "$T.h" ports)
out=$("$HOOK" "${HOOK_ARGS[@]}" apply "$T.h" deny3 2>&1)
expect_eq "apply h deny3" 0 "$?" "$out"
expect_eq "  h was port1's last container: port1's tries are freed" gone "$(map_there "$PH")"
expect_match "  h: 127.0.0.3 refused" "Operation not permitted" "$(tcp_in "$CG_h" 127.0.0.3)"
expect_match "  h: 127.0.0.2 works" "pong hello" "$(tcp_in "$CG_h" 127.0.0.2)"
run_hook poststop "$T.h" 0 stopped
expect_hook_ok "h detaches"
out=$("$HOOK" "${HOOK_ARGS[@]}" gc 2>&1)
expect_eq "gc" 0 "$?" "$out"
BUILD=$(bpftool -j map dump pinned "$(pin_dir "$T.c")/info" | jq -r '.[0].formatted.value.build')
expect_eq "  it finds no tries to free in build $BUILD: the poststops did" "" \
	"$(grep "pool of programs $BUILD: freed the tries" <<<"$out")"
RC=$(pinned_map_id "$T.c" rules)
run_hook poststop "$T.b" 0 stopped
expect_hook_ok "b detaches"
expect_eq "c keeps deny3's tries" "$RC" "$(pinned_map_id "$T.c" rules)"
run_hook poststop "$T.c" 0 stopped
expect_hook_ok "c detaches"
expect_eq "c was deny3's last container (b applied it too): its tries are freed" gone \
	"$(map_there "$RC")"
# "unused_profiles": "keep": the free slots keep a profile no container
# uses for its next container (no compiling, no grace period) until gc.
jq '. + {unused_profiles: "keep"}' "$CFG/config.json" >"$T_TMP/keep.json" &&
	install -m 644 "$T_TMP/keep.json" "$CFG/config.json" || bail "write the keep config"
for c in i j; do
	new_cgroup "CG_$c" "$c"
	cg=CG_$c
	start_in_ns_cg "P_$c" "$NS" "${!cg}"
done
run_hook prestart "$T.i" "$P_i" created "$(annot port2)"
expect_hook_ok "keep: i attaches with port2"
PI=$(pinned_map_id "$T.i" ports)
run_hook poststop "$T.i" 0 stopped
expect_hook_ok "keep: i detaches"
expect_eq "keep: i was port2's last container, its tries stay" there "$(map_there "$PI")"
run_hook prestart "$T.j" "$P_j" created "$(annot port2)"
expect_hook_ok "keep: j attaches with port2"
expect_eq "  j runs the kept tries" "$PI" "$(pinned_map_id "$T.j" ports)"
expect_match "  j: 127.0.0.2:7002 refused" "Operation not permitted" \
	"$(tcp_client "$NS" "$CG_j" 127.0.0.2 7002 hello 2>&1 | tr '\n' ' ')"
run_hook poststop "$T.j" 0 stopped
expect_hook_ok "keep: j detaches"
expect_eq "  the tries stay" there "$(map_there "$PI")"
out=$("$HOOK" "${HOOK_ARGS[@]}" gc 2>&1)
expect_eq "keep: gc" 0 "$?" "$out"
expect_match "  it frees them (or the maps of the slots that hold them)" \
	"pool of programs $BUILD: (freed the tries of profiles no container uses|gave back the maps of)" "$out"
expect_eq "  they are gone" gone "$(map_there "$PI")"
for c in a b c d e f g h i j; do
	cg=CG_$c
	assert_nothing_left "$c" "$T.$c" "${!cg}"
done
done_testing
