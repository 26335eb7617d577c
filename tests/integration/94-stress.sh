#!/bin/bash
# Concurrency: STRESS_WORKERS workers (16) each attach and detach their own
# container (own cgroup, own sleeping process, own id) STRESS_CYCLES times,
# all at once; meanwhile STRESS_SHARED workers (4) race for one id, each
# from its own cgroup: an attach either wins or is refused as "already
# attached" (the per-id lock serialises them), and a winner finds the
# pins are its own until it detaches them.
# Every attach and detach of the private ids succeeds; afterwards nothing
# of ours is attached, pinned or loaded (no program, map, link or guard
# process beyond those before), and the pin tree is as before.
#
# 16 x 500 cycles take about 3.5 minutes on 2 cores (each attach loads
# and verifies the programs: issue "load once" takes that away), so
# `make check` runs 16 x 300, and 16 x 50 for a sanitizer build of the
# hook (ASan makes every run several times slower). STRESS=full
# (`make stress`: 500) or STRESS=quick (50) choose; STRESS_WORKERS,
# STRESS_CYCLES, STRESS_SHARED override.
OCB_BPFFS=/tmp/ocbt-stress-$$-bpffs
. "$(dirname "$0")/../lib.sh"
T=ocbt-stress-$$
test_init

case ${STRESS:-} in
full) CYCLES=500 ;;
quick) CYCLES=50 ;;
*) CYCLES=300
   ldd "$HOOK" 2>/dev/null | grep -q libasan && CYCLES=50 ;;
esac
CYCLES=${STRESS_CYCLES:-$CYCLES}
WORKERS=${STRESS_WORKERS:-16}
SHARED=${STRESS_SHARED:-4}

mkdir -p "$BPFFS" && mount -t bpf bpffs "$BPFFS" || bail "mount a private bpffs at $BPFFS"
defer "umount '$BPFFS'; rmdir '$BPFFS'"
HOOK_ARGS=(--bpffs "$BPFFS" --config-dir "$T_TMP/no-config")
new_netns NS net

# Workers' cgroups, processes and states.
for ((w = 1; w <= WORKERS + SHARED; w++)); do
	new_cgroup "CG_$w" "w$w"
	# Where the process waits while poststop runs: runtimes empty a
	# container's cgroup before poststop, and the hook leaves the pins of
	# a populated one (another container of that id may own them).
	new_cgroup "CGP_$w" "w$w-parked"
	cg=CG_$w
	start_in_ns_cg WPID "$NS" "${!cg}"
	printf -v "WPID_$w" '%s' "$WPID"
	id=$T.w$w
	[ "$w" -gt "$WORKERS" ] && id=$T.shared
	hook_state "$id" "$WPID" created >"$T_TMP/attach-$w.json"
	hook_state "$id" 0 stopped >"$T_TMP/detach-$w.json"
	T_OUR_CGIDS+="$(cg_id "${!cg}") "
	defer_detach "$id"
done

# in_cg W: worker W's process back in its cgroup; parked W: out of it.
in_cg() {
	local cg=CG_$1 pid=WPID_$1
	echo "${!pid}" >"${!cg}/cgroup.procs"
}
parked() {
	local cg=CGP_$1 pid=WPID_$1
	echo "${!pid}" >"${!cg}/cgroup.procs"
}

# The first containers of a boot race to load the programs, on this
# fresh bpffs: every attach succeeds, exactly one build directory holds
# exactly one set of programs, and no other program of ours is loaded.
progs_before=" $(ocb_prog_ids | tr '\n' ' ')"
first_pids=()
for ((w = 1; w <= WORKERS; w++)); do
	"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach-$w.json" >"$T_TMP/first-$w.out" 2>&1 &
	first_pids+=($!)
done
wait "${first_pids[@]}"
first_fail=""
for ((w = 1; w <= WORKERS; w++)); do
	[ -s "$T_TMP/first-$w.out" ] && first_fail+="w$w: $(cat "$T_TMP/first-$w.out") "
done
expect_eq "$WORKERS first attaches at once all succeed" "" "$first_fail"
expect_eq "one build of the programs is loaded" 1 "$(ls "$BPFFS/oci-cgroup-bpf-hook-progs" | wc -l)"
pinned=$(ls "$BPFFS"/oci-cgroup-bpf-hook-progs/*/ | grep -cvE '^(c_|cgslot|meta|profiles|slots$)')
new_progs=$(ocb_prog_ids | while read -r p; do [[ $progs_before == *" $p "* ]] || echo "$p"; done |
	while read -r p; do bpftool -j -f prog show id "$p" 2>/dev/null |
		jq -r --arg d "$BPFFS/" 'select(any(.pinned[]?; startswith($d))) | .id'; done | wc -l)
expect_eq "  once: $pinned programs pinned, as many of ours loaded on this bpffs" "$pinned" "$new_progs"
links_on=0
for ((w = 1; w <= WORKERS; w++)); do
	cg=CG_$w
	[ "$(ocb_progs_on "${!cg}" | wc -l)" -eq "${#LINK_NAMES[@]}" ] && links_on=$((links_on + 1))
done
expect_eq "  every worker's cgroup has all our programs" "$WORKERS" "$links_on"
expect_eq "  all run the same programs" 1 \
	"$(for ((w = 1; w <= WORKERS; w++)); do link_info "$T.w$w" ingress | jq -r .prog_id; done | sort -u | wc -l)"
for ((w = 1; w <= WORKERS; w++)); do
	parked "$w"
	"$HOOK" "${HOOK_ARGS[@]}" poststop <"$T_TMP/detach-$w.json" >/dev/null 2>&1 ||
		not_ok "poststop of first attach $w"
	in_cg "$w"
done
tree() {
	(cd "$BPFFS" && find . | sort)
}
counts() { # programs named ocb_*, maps, links: "P M L"
	printf '%s %s %s\n' "$(ocb_prog_ids | wc -l)" \
		"$(bpftool -j map show 2>/dev/null | jq 'if type == "array" then length else "?" end')" \
		"$(bpftool -j link show 2>/dev/null | jq 'if type == "array" then length else "?" end')"
}
TREE_BEFORE=$(tree)
COUNTS_BEFORE=$(counts)
GUARDS_BEFORE=$(our_guards)
snapshot_progs

# worker W: CYCLES attach+detach of its own id; failures in fail-W.
worker() {
	local w=$1 i out
	for ((i = 1; i <= CYCLES; i++)); do
		if ! out=$("$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach-$w.json" 2>&1); then
			echo "cycle $i: attach failed: $out"
			continue
		fi
		parked "$w"
		out=$("$HOOK" "${HOOK_ARGS[@]}" poststop <"$T_TMP/detach-$w.json" 2>&1)
		[ $? -eq 0 ] && [ -z "$out" ] || echo "cycle $i: detach: $out"
		in_cg "$w"
	done >"$T_TMP/fail-$w"
}

# shared_worker W: races for $T.shared; counts wins and losses.
shared_worker() {
	local w=$1 i out rc cg=CG_$1 mine got wins=0 losses=0
	mine=$(cg_id "${!cg}")
	for ((i = 1; i <= CYCLES; i++)); do
		out=$("$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/attach-$w.json" 2>&1)
		rc=$?
		if [ $rc -eq 1 ] && [[ $out == *"already attached"* ]]; then
			losses=$((losses + 1))
			continue
		fi
		if [ $rc -ne 0 ]; then
			echo "cycle $i: attach: exit $rc: $out"
			continue
		fi
		wins=$((wins + 1))
		# Nobody else detaches what we won: the pins must be ours.
		got=$(bpftool -j link show pinned "$(pin_dir "$T.shared")/ingress" 2>/dev/null | jq -r .cgroup_id)
		[ "$got" = "$mine" ] || echo "cycle $i: won, but the pinned links are on cgroup $got, not $mine"
		parked "$w"
		out=$("$HOOK" "${HOOK_ARGS[@]}" poststop <"$T_TMP/detach-$w.json" 2>&1)
		[ $? -eq 0 ] && [ -z "$out" ] || echo "cycle $i: detach: $out"
		in_cg "$w"
	done >"$T_TMP/fail-$w"
	echo "$wins $losses" >"$T_TMP/score-$w"
}

diag "$WORKERS workers x $CYCLES cycles, and $SHARED workers x $CYCLES on one id"
start=$(date +%s.%N)
pids=()
for ((w = 1; w <= WORKERS + SHARED; w++)); do
	if [ "$w" -le "$WORKERS" ]; then
		worker "$w" &
	else
		shared_worker "$w" &
	fi
	pids+=($!)
done
wait "${pids[@]}"
secs=$(echo "$(date +%s.%N) - $start" | bc)
diag "$((WORKERS * CYCLES)) private and $((SHARED * CYCLES)) shared-id attach attempts in ${secs}s"

for ((w = 1; w <= WORKERS; w++)); do
	f=$(wc -l <"$T_TMP/fail-$w")
	expect_eq "worker $w: $CYCLES attaches and detaches succeed" 0 "$f" "$(head -5 "$T_TMP/fail-$w")"
done
wins=0
losses=0
for ((w = WORKERS + 1; w <= WORKERS + SHARED; w++)); do
	read -r a b <"$T_TMP/score-$w"
	wins=$((wins + a))
	losses=$((losses + b))
	expect_eq "shared-id worker $w: only wins or 'already attached' ($a won, $b lost)" 0 \
		"$(wc -l <"$T_TMP/fail-$w")" "$(head -5 "$T_TMP/fail-$w")"
done
expect_eq "shared id: every attempt won or lost ($wins won, $losses lost)" \
	"$((SHARED * CYCLES))" "$((wins + losses))"
expect_gt "shared id: attaches did win" "$wins" 0

# Nothing of ours is left.
left=""
for ((w = 1; w <= WORKERS + SHARED; w++)); do
	cg=CG_$w
	n=$(ocb_progs_on "${!cg}" | wc -l)
	[ "$n" -eq 0 ] || left+="w$w:$n "
done
expect_eq "no program of ours on any worker's cgroup" "" "$left"
expect_eq "the pin tree is as before" "$TREE_BEFORE" "$(tree)"
links=$(bpftool -j link show 2>/dev/null | jq -r --arg ours "$T_OUR_CGIDS" '
	(if type == "array" then .[] else empty end)
	| select(.type == "cgroup") | .cgroup_id as $c
	| select($ours | contains(" \($c) ")) | .id' | tr '\n' ' ')
expect_eq "no link on any of our cgroups" "" "$links"
# The kernel frees maps after an RCU grace period: poll.
for kind in progs maps links; do
	left=$(_settled "$kind")
	expect_eq "no $kind of ours beyond those before (by id)" "" "$left" "$(_show_objects "$kind" "$left")"
done
expect_eq "nothing left in $WORK_DIR" "" "$(_left_in_work)"
# Others may be running tests on this machine: the totals are for the log.
wait_for 10 'test "$(counts)" = "$COUNTS_BEFORE"'
diag "programs (ocb_*), maps, links: before $COUNTS_BEFORE, after $(counts)"
for ((w = 1; w <= WORKERS + SHARED; w++)); do
	[ -e "$LOCK_DIR/$T.w$w" ] && not_ok "lock file of $T.w$w left"
done
[ -e "$LOCK_DIR/$T.shared" ] && not_ok "lock file of $T.shared left"
# Each attach and detach forked a guard (hook/guard.c) and reaped it.
expect_eq "no ocb-guard process of this test left" "" \
	"$(comm -13 <(echo "$GUARDS_BEFORE") <(our_guards))"
done_testing
