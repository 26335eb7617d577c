#!/bin/bash
# Profiles stored once (issue 15): containers whose profiles compile to
# the same entries share one pair of tries (the `rules` and `ports`
# maps), frozen so that no one writes them; kept by the pool of free
# slots for the next container until gc frees the tries no container
# uses; `apply` switches one container to another
# profile's tries without touching the others.
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
run_hook poststop "$T.e" 0 stopped
expect_hook_ok "e detaches"
run_hook poststop "$T.f" 0 stopped
expect_hook_ok "f detaches"

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
# Free slots of the pool keep them for the next container of deny2
# (slots.c) until gc: it frees the tries no container uses.
expect_eq "deny2's tries stay for the next container of deny2" "there" \
	"$(bpftool map show id "$RA" >/dev/null 2>&1 && echo there || echo gone)"
out=$("$HOOK" "${HOOK_ARGS[@]}" gc 2>&1)
expect_eq "gc" 0 "$?" "$out"
expect_match "  it says what it freed" "pool of programs [0-9a-f]+: (gave back the maps of [1-9][0-9]* free slots?|freed the tries of profiles no container uses)" "$out"
wait_for 5 "! bpftool map show id $RA >/dev/null 2>&1"
expect_eq "gc frees deny2's tries once no container uses them" "gone gone" \
	"$(bpftool map show id "$RA" >/dev/null 2>&1 && echo there || echo gone) $(bpftool map show id "$PA" >/dev/null 2>&1 && echo there || echo gone)"
RC=$(pinned_map_id "$T.c" rules)
run_hook poststop "$T.b" 0 stopped
expect_hook_ok "b detaches"
expect_eq "c keeps deny3's tries" "$RC" "$(pinned_map_id "$T.c" rules)"
run_hook poststop "$T.c" 0 stopped
expect_hook_ok "c detaches"
for c in a b c d e f; do
	cg=CG_$c
	assert_nothing_left "$c" "$T.$c" "${!cg}"
done
done_testing
