#!/bin/bash
# The pool of slots (issue 15, hook/slots.c): a container that stops
# leaves its slot's maps in the shared outer maps, and a later container
# takes them over instead of writing a map-in-map (each such write waits
# for an RCU grace period). What the later container must find: counters
# from zero, its own info, its own policy. A slot whose container's pins
# went without a poststop is freed by gc; gc gives the maps of free slots
# beyond a reserve back to the kernel.
. "$(dirname "$0")/../lib.sh"
test_init
. "$OCB_TOP/tests/attack-lib.sh"

new_netns NS pool
start_tcp_echo "$NS" 127.0.0.1 7001
start_tcp_echo "$NS" 127.0.0.2 7001
# Content no other test's profile has: its tries are made for this test.
profile pool2 '{"egress": {"default": "allow", "deny": ["127.0.0.2", "10.59.0.0/16"]}}'
atk_write_config
annot='{"annotations": {"oci-cgroup-bpf-hook/profile": "pool2"}}'

new_cgroup CG_A a
start_in_ns_cg P_A "$NS" "$CG_A"
new_cgroup CG_B b
start_in_ns_cg P_B "$NS" "$CG_B"
# Another container of pool2 runs throughout: a free slot keeps the
# tries of a profile in use for its next container (the last container
# of a profile frees them: 57).
new_cgroup CG_R r
start_in_ns_cg P_R "$NS" "$CG_R"

info_of() { # ID FIELD
	bpftool -j map dump pinned "$(pin_dir "$1")/info" 2>/dev/null | jq -r --arg f "$2" '.[0].formatted.value[$f] // "none"'
}
tcp_in() { # CG ADDR
	tcp_client "$NS" "$1" "$2" 7001 hello 2>&1 | tr '\n' ' '
}
busy_fields=(egress.packets_allowed egress.bytes_allowed ingress.packets_allowed connects_allowed connects_denied)

run_hook prestart "$T.r" "$P_R" created "$annot"
expect_hook_ok "r attaches"
# A: traffic moves its counters, then it stops.
run_hook prestart "$T.a" "$P_A" created "$annot"
expect_hook_ok "a attaches"
check_attached "a" "$T.a" "$CG_A"
expect_match "a: 127.0.0.1 works" "pong hello" "$(tcp_in "$CG_A" 127.0.0.1)"
expect_match "a: 127.0.0.2 refused" "Operation not permitted" "$(tcp_in "$CG_A" 127.0.0.2)"
expect_gt "a: its counters moved" "$(stat_sum "$T.a" connects_allowed)" 0
expect_gt "a: its denials counted" "$(stat_sum "$T.a" connects_denied)" 0
STATS_A=$(pinned_map_id "$T.a" stats)
INFO_A=$(pinned_map_id "$T.a" info)
SLOT_A=$(info_of "$T.a" slot)
BUILD_A=$(info_of "$T.a" build)
run_hook poststop "$T.a" 0 stopped
expect_hook_ok "a detaches"
expect_eq "a's stats map stays, in the pool" "there" \
	"$(bpftool map show id "$STATS_A" >/dev/null 2>&1 && echo there || echo gone)"
expect_match "a's slot $SLOT_A is free (2 freeing, 3 ready)" "^[23]$" \
	"$(_slot_state "$PROGS_DIR/$BUILD_A" "$SLOT_A")"

# B, again and again, until it gets a's slot: the free slots are taken
# longest free first.
reused=
for ((i = 0; i < 40; i++)); do
	run_hook prestart "$T.b$i" "$P_B" created "$annot"
	expect_hook_ok "b$i attaches" || break
	if [ "$(pinned_map_id "$T.b$i" stats)" = "$STATS_A" ]; then
		reused=$T.b$i
		break
	fi
	run_hook poststop "$T.b$i" 0 stopped
	expect_hook_ok "b$i detaches" || break
done
if [ -z "$reused" ]; then
	not_ok "a later container takes a's slot over" "40 containers later, none had stats map $STATS_A"
else
	ok "a later container ($reused) takes a's slot over: its stats map $STATS_A"
	expect_eq "  and its info map" "$INFO_A" "$(pinned_map_id "$reused" info)"
	expect_eq "  its slot is a's" "$SLOT_A" "$(info_of "$reused" slot)"
	expect_eq "  the slot is taken" 1 "$(_slot_state "$PROGS_DIR/$BUILD_A" "$SLOT_A")"
	for f in "${busy_fields[@]}"; do
		expect_eq "  its $f starts from zero" 0 "$(stat_sum "$reused" "$f")"
	done
	expect_eq "  its info names its cgroup" "$CG_B" "$(info_of "$reused" cgroup)"
	expect_eq "  its info records its cgroup id" "$(cg_id "$CG_B")" "$(info_of "$reused" cgroup_id)"
	check_attached "$reused" "$reused" "$CG_B"
	expect_match "  127.0.0.1 works" "pong hello" "$(tcp_in "$CG_B" 127.0.0.1)"
	expect_match "  127.0.0.2 refused" "Operation not permitted" "$(tcp_in "$CG_B" 127.0.0.2)"
	expect_eq "  counted: one connect allowed, one denied" "1 1" \
		"$(stat_sum "$reused" connects_allowed) $(stat_sum "$reused" connects_denied)"
	run_hook poststop "$reused" 0 stopped
	expect_hook_ok "  it detaches"
fi

# A container whose pins are removed by hand leaves its slot taken;
# gc frees it.
run_hook prestart "$T.c" "$P_B" created "$annot"
expect_hook_ok "c attaches"
SLOT_C=$(info_of "$T.c" slot)
rm -rf "$(pin_dir "$T.c")"
expect_eq "c's pins removed by hand: its slot $SLOT_C is still taken" 1 \
	"$(_slot_state "$PROGS_DIR/$BUILD_A" "$SLOT_C")"
out=$("$HOOK" "${HOOK_ARGS[@]}" gc --dry-run 2>&1)
expect_match "gc --dry-run would free it" "would free 1 orphaned slot " "$out"
expect_eq "  and does not" 1 "$(_slot_state "$PROGS_DIR/$BUILD_A" "$SLOT_C")"
out=$("$HOOK" "${HOOK_ARGS[@]}" gc 2>&1)
expect_match "gc frees it" "freed 1 orphaned slot " "$out"
# Free (2, 3), or beyond the pool's reserve and given back (0).
expect_match "  c's slot is no longer taken" "^[023]$" "$(_slot_state "$PROGS_DIR/$BUILD_A" "$SLOT_C")"
rm -f "$LOCK_DIR/$T.c"

# gc leaves the pool at most its reserve of free slots (57 has more).
free_slots() {
	bpftool -j map dump pinned "$PROGS_DIR/$BUILD_A/slots" 2>/dev/null |
		jq '[.[]? | objects | select(.formatted.value.state == 2 or .formatted.value.state == 3)] | length'
}
"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1
n=$(free_slots)
expect_eq "after gc, no more free slots than the reserve of 16 ($n)" 1 "$((n <= 16))"

run_hook poststop "$T.r" 0 stopped
expect_hook_ok "r detaches"
for id in "$T.a" "$reused" "$T.c" "$T.r"; do
	[ -n "$id" ] && assert_nothing_left "$id" "$id"
done
done_testing
