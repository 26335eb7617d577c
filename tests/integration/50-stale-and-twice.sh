#!/bin/bash
# Repeated and out-of-order calls: a second attach of a live id, two
# attaches racing for one id, stale pins (the cgroup went away without a
# poststop), poststop twice, poststop of an id never attached, crun-style
# and empty-environment poststop, ids that differ only by escaping.
. "$(dirname "$0")/../lib.sh"
test_init

new_netns NS net
start_tcp_echo "$NS" 127.0.0.1 7001

# --------------------------------------------- second attach of a live id
new_cgroup CG1 live
start_in_ns_cg P1 "$NS" "$CG1"
new_cgroup CG2 other
start_in_ns_cg P2 "$NS" "$CG2"
ID=$T.live
run_hook prestart "$ID" "$P1" created
expect_hook_ok "first attach"
check_attached "first attach" "$ID" "$CG1"
links=$(link_ids "$ID")
diag "links: $links"

run_hook prestart "$ID" "$P2" created
expect_refused "second attach of a live id, another cgroup" "already attached"
expect_eq "  the pinned links are the same" "$links" "$(link_ids "$ID")"
expect_eq "  nothing attached to the other cgroup" "" "$(ocb_progs_on "$CG2" | tr '\n' ' ')"
run_hook prestart "$ID" "$P1" created
expect_refused "second attach of a live id, same process" "already attached"
run_hook createRuntime "$ID" "$P1" created
expect_refused "second attach of a live id at createRuntime" "already attached"
# Without its info pin, the look at the recorded cgroup fails and is
# tolerated: its message must not stand in for the refusal's.
info_id=$(bpftool -j map show pinned "$(pin_dir "$ID")/info" | jq -r .id)
rm -f "$(pin_dir "$ID")/info"
run_hook prestart "$ID" "$P2" created
expect_refused "second attach of a live id whose info pin is gone" "already attached"
bpftool map pin id "$info_id" "$(pin_dir "$ID")/info" || bail "pin the info map again"
expect_eq "  the pinned links are still the same" "$links" "$(link_ids "$ID")"
expect_eq "  the cgroup still has all our programs, once each" \
	"$(printf 'ocb_%s\n' "${LINK_NAMES[@]}" | sort | tr '\n' ' ')" "$(ocb_progs_on "$CG1" | tr '\n' ' ')"
before=$(stats_sum "$ID")
expect_eq "  the live container still talks" "pong still" "$(tcp_client "$NS" "$CG1" 127.0.0.1 7001 still)"
expect_moved "  and is still counted" "$before" "$(stats_sum "$ID")" egress.packets_allowed \
	ingress.packets_allowed connects_allowed
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop of the live id"
assert_nothing_left "live id" "$ID" "$CG1"
expect_eq "  nothing on the other cgroup either" "" "$(ocb_progs_on "$CG2" | tr '\n' ' ')"

# ---------------------------------------- two attaches racing for one id
ID=$T.race
defer_detach "$ID"
for i in 1 2 3; do
	hook_state "$ID" "$P1" created >"$T_TMP/race-1.json"
	hook_state "$ID" "$P2" created >"$T_TMP/race-2.json"
	racers=()
	for n in 1 2; do
		("$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/race-$n.json" >/dev/null 2>"$T_TMP/race-$n.err"
		echo $? >"$T_TMP/race-$n.rc") &
		racers+=($!)
	done
	wait "${racers[@]}"
	rcs="$(cat "$T_TMP/race-1.rc") $(cat "$T_TMP/race-2.rc")"
	case $rcs in
	"0 1") win=$CG1 lose=$CG2 loser=2 ;;
	"1 0") win=$CG2 lose=$CG1 loser=1 ;;
	*) win= ;;
	esac
	if [ -z "$win" ]; then
		not_ok "race $i: exactly one of two simultaneous attaches wins" "exit codes: $rcs" \
			"$(cat "$T_TMP"/race-*.err)"
	else
		ok "race $i: exactly one of two simultaneous attaches wins ($rcs)"
		expect_match "race $i: the loser says the id is attached" "^oci-cgroup-bpf-hook: .*already attached" \
			"$(cat "$T_TMP/race-$loser.err")"
		expect_eq "race $i: the pins are the winner's" "$(cg_id "$win")" \
			"$(link_info "$ID" ingress | jq -r .cgroup_id)"
		expect_eq "race $i: all our programs on the winner's cgroup" "${#LINK_NAMES[@]}" "$(ocb_progs_on "$win" | wc -l)"
		expect_eq "race $i: nothing on the loser's cgroup" "" "$(ocb_progs_on "$lose" | tr '\n' ' ')"
		check_attached "race $i" "$ID" "$win"
	fi
	run_hook poststop "$ID" 0 stopped
	assert_nothing_left "race $i" "$ID" "$CG1"
	expect_eq "race $i: nothing left on either cgroup" "" "$(ocb_progs_on "$CG1")$(ocb_progs_on "$CG2")"
done

# ---------------------------------------------------------- stale pins
ID=$T.stale
new_cgroup CG3 stale-old
start_in_ns_cg P3 "$NS" "$CG3"
run_hook prestart "$ID" "$P3" created
expect_hook_ok "attach, before the cgroup goes away"
check_attached "before going stale" "$ID" "$CG3"
old_links=$(link_ids "$ID")
old_objs=${T_SEEN_OBJS[$ID]}
old_cgid=$(cg_id "$CG3")
tcp_client "$NS" "$CG3" 127.0.0.1 7001 old >/dev/null
# The container dies and its cgroup is removed; poststop never runs.
remove_cgroup "$CG3"
check "the old cgroup is gone" test ! -d "$CG3"
if wait_for 10 'test "$(link_info "$ID" ingress | jq -r .cgroup_id)" = 0'; then
	ok "the kernel detached the pinned links from the removed cgroup (cgroup_id 0)"
else
	not_ok "the kernel detached the pinned links from the removed cgroup" "$(link_info "$ID" ingress)"
fi
check "the stale pins are still there" test -d "$(pin_dir "$ID")"

new_cgroup CG4 stale-new
start_in_ns_cg P4 "$NS" "$CG4"
run_hook prestart "$ID" "$P4" created
expect_hook_ok "attach over stale pins replaces them"
check_attached "after replacing stale pins" "$ID" "$CG4"
new_links=$(link_ids "$ID")
expect_ne "  the links are new" "$old_links" "$new_links"
wait_for 5 'test -z "$(_seen_left "$old_objs")"'
expect_eq "  the old links and maps are freed" "" "$(_seen_left "$old_objs")"
fresh=$(stats_sum "$ID")
expect_eq "  the counters start again from zero" 0 "$(jq '[.. | numbers] | add' <<<"$fresh")" "$fresh"
expect_eq "  the new container talks" "pong new" "$(tcp_client "$NS" "$CG4" 127.0.0.1 7001 new)"
expect_moved "  and is counted" "$fresh" "$(stats_sum "$ID")" egress.packets_allowed ingress.packets_allowed \
	connects_allowed
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop after the replacement"
T_OUR_CGIDS+="$old_cgid "
assert_nothing_left "stale, replaced, stopped" "$ID" "$CG4"

# The kernel lets go of a removed cgroup's links asynchronously (~0.2 s
# here): an attach of the same id right after the removal still finds
# them live: the hook also checks the cgroup directory it recorded.
ID=$T.quick
new_cgroup CGQ1 quick-old
start_in_ns_cg PQ1 "$NS" "$CGQ1"
new_cgroup CGQ2 quick-new
start_in_ns_cg PQ2 "$NS" "$CGQ2"
run_hook prestart "$ID" "$PQ1" created
expect_hook_ok "attach (quick re-attach)"
hook_state "$ID" "$PQ2" created >"$T_TMP/quick.json"
kill -KILL "$PQ1"
wait_for 5 cg_unpopulated "$CGQ1"
rmdir "$CGQ1"
quick_links=$(link_ids "$ID")
hook_stdin prestart <"$T_TMP/quick.json"
expect_hook_ok "attach right after the old cgroup was removed"
check_attached "  it replaced the stale pins: new links on the new cgroup" "$ID" "$CGQ2"
expect_ne "  the links are new" "$quick_links" "$(link_ids "$ID")"
expect_eq "  info names the new cgroup" "$CGQ2" \
	"$("$HOOK" "${HOOK_ARGS[@]}" show --json "$ID" 2>/dev/null | jq -r '.cgroup')"
run_hook poststop "$ID" 0 stopped
assert_nothing_left "quick re-attach" "$ID" "$CGQ2"

# Stale pins, then poststop (the runtime did run it, late): removed too.
ID=$T.stale2
new_cgroup CG5 stale2
start_in_ns_cg P5 "$NS" "$CG5"
run_hook prestart "$ID" "$P5" created
check_attached "stale2" "$ID" "$CG5"
remove_cgroup "$CG5"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "late poststop after the cgroup went away"
assert_nothing_left "late poststop" "$ID"

# ---------------------------------------------------- poststop, repeated
ID=$T.twice
run_hook prestart "$ID" "$P1" created
expect_hook_ok "attach (for poststop twice)"
check_attached "poststop twice" "$ID" "$CG1"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "first poststop"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "second poststop exits 0"
expect_eq "  and prints nothing" "" "$HOOK_ERR$HOOK_OUT"
assert_nothing_left "poststop twice" "$ID" "$CG1"

ID=$T.never
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop of an id never attached exits 0"
expect_eq "  and prints nothing" "" "$HOOK_ERR$HOOK_OUT"
assert_nothing_left "poststop of an id never attached" "$ID"
run_hook poststop "$ID" - stopped
expect_hook_ok "poststop with no pid at all exits 0"

# crun passes status "stopped", pid 0 and fields runc does not.
ID=$T.crun
run_hook prestart "$ID" "$P1" created
check_attached "crun-style" "$ID" "$CG1"
run_hook poststop "$ID" 0 stopped '{"ociVersion":"1.0.0","root":"/run/crun","rootfs":"/var/lib/x/rootfs","created":"2024-01-01T00:00:00Z","owner":"","annotations":{"io.container.manager":"libpod"}}'
expect_hook_ok "poststop with a crun-style state"
assert_nothing_left "crun-style poststop" "$ID" "$CG1"

# Runtimes run hooks with the hook's "env" only, often none at all.
ID=$T.env
HOOK_WRAP=(env -i)
run_hook prestart "$ID" "$P1" created
expect_hook_ok "prestart with an empty environment"
check_attached "empty environment" "$ID" "$CG1"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "poststop with an empty environment"
HOOK_WRAP=()
assert_nothing_left "empty environment" "$ID" "$CG1"

# ----------------------------------------- ids that differ by escaping
A="$T.x%y"
B="$T%2ex%25y"
run_hook prestart "$A" "$P1" created
expect_hook_ok "attach $A"
run_hook prestart "$B" "$P2" created
expect_hook_ok "attach $B (what $A escapes to)"
# Asked of bpffs and of the hook, not of the test library's pin_dir.
expect_eq "  they pin to two directories, each escaped once" "$T%252ex%2525y $T%2ex%25y" \
	"$(ls "$PIN_BASE" | grep -F "$T" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  list --json names both by their ids" "$B $A" \
	"$("$HOOK" "${HOOK_ARGS[@]}" list --json 2>&1 | jq -r --arg t "$T" '[.[]?.id | select(startswith($t))] | sort | join(" ")')"
check_attached "$A" "$A" "$CG1"
check_attached "$B" "$B" "$CG2"
run_hook poststop "$A" 0 stopped
assert_nothing_left "$A" "$A" "$CG1"
check "  $B is untouched" test -d "$(pin_dir "$B")"
expect_eq "  and still attached to its cgroup" "${#LINK_NAMES[@]}" "$(ocb_progs_on "$CG2" | wc -l)"
run_hook poststop "$B" 0 stopped
assert_nothing_left "$B" "$B" "$CG2"

done_testing
