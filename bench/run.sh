#!/bin/bash
# bench/run.sh: the benchmarks behind `make bench` (see BENCHMARKS.md).
#
#   BENCH=quick (default) | full
#   BENCH_ONLY="start hook scale rules datapath connect memory progs"  a subset
#   BENCH_UPDATE_DOC=1   also replace the results block of BENCHMARKS.md
#   BENCH_RESULTS=DIR    write the results there instead of bench/results
#
# Every A/B comparison is interleaved: each round runs every variant
# once, in an order rotated from round to round, and the report gives
# medians and the median of the per-round ratios. The machine is shared
# and noisy; no number here is asserted anywhere.
#
# Safety (the machine is shared): programs are attached only to cgroups
# made here, traffic and nft rules exist only in a network namespace made
# here (loopback), pins live on a private bpffs mount (and, for the
# hook's "cold" variant, on a second one mounted for each of its rounds),
# and everything is undone by the EXIT/INT/TERM trap of tests/lib.sh,
# even on failure.

BENCH_MODE=${BENCH:-quick}
case $BENCH_MODE in
quick | full) ;;
*)
	echo "bench: BENCH must be quick or full, not '$BENCH_MODE'" >&2
	exit 2
	;;
esac
BENCH_ONLY=${BENCH_ONLY:-start hook scale rules datapath connect memory progs}

# Pins go to a bpffs mounted here for this run only.
export OCB_BPFFS=/run/ocbb-$$-bpffs
# shellcheck source=../tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
# Names and the runc root of tests/lib.sh, for this run.
# shellcheck disable=SC2034
T=ocbb-$$ T_NAME=bench RUNC_ROOT=/run/ocbb-$$-runc
BENCH_DIR=$OCB_TOP/bench
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
TOOLS=$OCB_TOP/build/bench
export LC_ALL=C

if [ "$BENCH_MODE" = full ]; then
	START_ROUNDS=30 HOOK_ROUNDS=40 SCALE_LEVELS="1 100 1000" SCALE_PROBES=20
	DP_ROUNDS=15 DP_SECONDS=3 CONN_ROUNDS=15 CONN_SECONDS=3 PROG_ROUNDS=15 PROG_REPEAT=1000000
else
	START_ROUNDS=8 HOOK_ROUNDS=12 SCALE_LEVELS="1 100 300" SCALE_PROBES=8
	DP_ROUNDS=3 DP_SECONDS=2 CONN_ROUNDS=3 CONN_SECONDS=2 PROG_ROUNDS=5 PROG_REPEAT=200000
fi
# For trying things out; the modes above are what the reports use.
SCALE_LEVELS=${BENCH_SCALE_LEVELS:-$SCALE_LEVELS}
# Containers on the largest rule profile in section rules: as many as
# the top scale level.
RULES_SCALE=${BENCH_RULES_SCALE:-${SCALE_LEVELS##* }}
DP_SECONDS=${BENCH_DP_SECONDS:-$DP_SECONDS}
DP_ROUNDS=${BENCH_DP_ROUNDS:-$DP_ROUNDS}
RULE_COUNTS=(1000 10000)
# Client and server of every network load share one CPU: the loads are
# then CPU-bound, so they measure CPU cost per byte, transaction or
# connection, and not the (large, erratic) cross-CPU wake-up latency of
# this VM. The last CPU, unless BENCH_CPU says otherwise.
BENCH_CPU=${BENCH_CPU:-$(($(nproc) - 1))}
IPERF_PORT=5201
NB_PORT=5300

RAW=$T_TMP/raw.tsv     # section metric variant round value
FACTS=$T_TMP/facts.jsonl # {"key": ..., "value": ...}
: >"$RAW"
: >"$FACTS"

say() {
	printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2
}

want() { # SECTION: is it selected?
	[[ " $BENCH_ONLY " == *" $1 "* ]]
}

rec() { # SECTION METRIC VARIANT ROUND VALUE
	[ -n "$5" ] || return 0
	printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"
}

fact() { # KEY JSON
	jq -nc --arg k "$1" --argjson v "$2" '{key: $k, value: $v}' >>"$FACTS" ||
		say "warning: fact $1 is not JSON: $2"
}

fact_str() { # KEY STRING
	fact "$1" "$(jq -nc --arg s "$2" '$s')"
}

# rotated ROUND ITEM...: the items, rotated by ROUND (one a line).
rotated() {
	local r=$1 i
	shift
	local a=("$@")
	for ((i = 0; i < ${#a[@]}; i++)); do
		printf '%s\n' "${a[(i + r) % ${#a[@]}]}"
	done
}

# timed VAR CMD...: runs CMD, stores its wall time in microseconds.
timed() {
	local _tm_var=$1 _tm_t0 _tm_t1 _tm_rc
	shift
	_tm_t0=${EPOCHREALTIME/./}
	"$@"
	_tm_rc=$?
	_tm_t1=${EPOCHREALTIME/./}
	printf -v "$_tm_var" '%s' "$((_tm_t1 - _tm_t0))"
	return "$_tm_rc"
}

ms() { # MICROSECONDS -> milliseconds with 3 decimals
	printf '%d.%03d' "$(($1 / 1000))" "$(($1 % 1000))"
}

# ---------------------------------------------------------------- setup

require_root
require_cmds bpftool jq runc iperf3 nft ip nsenter timeout awk taskset ss
require_hook
for t in floor-hook netbench progrun; do
	[ -x "$TOOLS/$t" ] || bail "bench tool $TOOLS/$t exists" "build it: make bench-tools"
	cp "$TOOLS/$t" "$T_TMP/$t" || bail "copy $t"
done
FLOOR=$T_TMP/floor-hook
NETBENCH=$T_TMP/netbench
PROGRUN=$T_TMP/progrun
CG2_MNT=$(cg2_mount)
[ -n "$CG2_MNT" ] || bail "a cgroup v2 hierarchy is mounted"

mkdir -p "$BPFFS" || bail "create $BPFFS"
mount -t bpf -o mode=0700 bpffs "$BPFFS" || bail "mount a private bpffs at $BPFFS"
# Registered first, so it runs last: after every container is detached.
defer "umount '$BPFFS'; rmdir '$BPFFS'"

# The configuration: no config.json (built-in defaults: no default
# profile, every profile allowed) and the benchmark's profiles.
CFG=$T_TMP/config
mkdir -p "$CFG/profiles" && chmod 755 "$CFG" "$CFG/profiles" || bail "create $CFG"
HOOK_ARGS+=(--config-dir "$CFG")

# Random /24s and /32s (half each), none in 127.0.0.0/8, none inside
# another, plus 127.0.0.2/32 first so that the policy can be seen to
# work. Fixed seed: every run uses the same prefixes.
gen_prefixes() { # COUNT
	awk -v n="$1" 'BEGIN {
		srand(20261125)
		print "127.0.0.2/32"; got = 1
		while (got < n) {
			a = 1 + int(rand() * 223); if (a == 127) continue
			b = int(rand() * 256); c = int(rand() * 256); k = a "." b "." c
			if (got % 2) { if (k in net || k in host) continue; net[k] = 1; print k ".0/24" }
			else { if (k in net) continue; d = 1 + int(rand() * 254)
				if ((k "." d) in h32) continue; h32[k "." d] = 1; host[k] = 1; print k "." d "/32" }
			got++
		}
	}'
}
MAX_RULES=${RULE_COUNTS[-1]}
gen_prefixes "$MAX_RULES" >"$T_TMP/prefixes.txt" || bail "generate prefixes"
[ "$(sort -u "$T_TMP/prefixes.txt" | wc -l)" -eq "$MAX_RULES" ] || bail "$MAX_RULES distinct prefixes"
profile_file() { # NAME JSON
	printf '%s\n' "$2" >"$CFG/profiles/$1.json" && chmod 644 "$CFG/profiles/$1.json"
}
profile_file allow '{"description": "allow-all: no rules"}'
# A profile of its own for the hook section's "last" variant: no other
# container uses it, so its prestart compiles it and its poststop frees it.
profile_file last '{"description": "one container at a time", "egress": {"default": "allow", "deny": ["127.0.0.9"]}}'
for n in "${RULE_COUNTS[@]}"; do
	head -n "$n" "$T_TMP/prefixes.txt" | jq -R . | jq -s --arg d "$n random prefixes denied" \
		'{description: $d, egress: {default: "allow", deny: .}}' >"$CFG/profiles/r$n.json" &&
		chmod 644 "$CFG/profiles/r$n.json" || bail "write profile r$n"
done

new_netns NS net
in_ns "$NS" sysctl -qw net.core.somaxconn=65535 net.ipv4.ip_local_port_range="1024 65000" \
	net.ipv4.tcp_tw_reuse=1 || bail "sysctls in $NS"

# sleeper VAR CG: a sleeping process in CG, standing for a container's.
sleeper() {
	local _sl_var=$1 _sl_cg=$2 _sl_pid
	bg_start _sl_pid /dev/null sh -c 'echo $$ >"$1/cgroup.procs" && exec sleep 3600' sh "$_sl_cg"
	wait_for 5 grep -qx "$_sl_pid" "$_sl_cg/cgroup.procs" || bail "sleeper $_sl_pid joined $_sl_cg"
	printf -v "$_sl_var" '%s' "$_sl_pid"
}

# state_file FILE ID PID [PROFILE]: an OCI state for the hook.
state_file() {
	local extra='{}'
	[ -n "${4:-}" ] && extra=$(jq -nc --arg p "$4" '{annotations: {"oci-cgroup-bpf-hook/profile": $p}}')
	hook_state "$2" "$3" created "$extra" >"$1" || bail "write state $1"
}

hook_at() { # STAGE STATEFILE
	"$HOOK" "${HOOK_ARGS[@]}" "$1" <"$2"
}

# attach_container ID CG [PROFILE]: a sleeper in CG, attached by prestart.
attach_container() {
	local id=$1 cg=$2 prof=${3:-} pid err
	sleeper pid "$cg"
	state_file "$T_TMP/state-$id.json" "$id" "$pid" "$prof"
	# The deferred poststop parks the cgroup's processes in CG-parked,
	# made during the exit trap, too late to defer its removal there:
	# removed here, after that poststop (defers run last first).
	defer "rmdir '$cg-parked' 2>/dev/null; true"
	defer_detach "$id"
	err=$(hook_at prestart "$T_TMP/state-$id.json" 2>&1) || bail "prestart of $id" "$err"
}

machine_facts() {
	local cpu kernel cores
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	cores=$(nproc)
	kernel=$(uname -r)
	fact machine "$(jq -nc --arg cpu "$cpu" --argjson cores "$cores" --arg kernel "$kernel" \
		--arg mem "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
		--arg virt "$(lscpu 2>/dev/null | awk -F': +' '/Hypervisor vendor/ { printf "%s VM", $2 }')$(c=$(systemd-detect-virt --container 2>/dev/null) && echo ", in a $c container")" \
		--arg runc "$(runc --version 2>/dev/null | head -1)" \
		--arg iperf3 "$(iperf3 --version 2>/dev/null | head -1)" \
		--arg nft "$(nft --version 2>/dev/null)" \
		--arg bpftool "$(bpftool version 2>/dev/null | head -1)" \
		--arg cgroup "$( [ "$CG2_MNT" = /sys/fs/cgroup ] && echo "cgroup v2 (unified) at $CG2_MNT" || echo "cgroup v2 hybrid at $CG2_MNT")" \
		'{cpu: $cpu, cores: $cores, kernel: $kernel, memory: $mem, virtualization: $virt,
		  runc: $runc, iperf3: $iperf3, nft: $nft, bpftool: $bpftool, cgroup: $cgroup}')"
	fact run "$(jq -nc --arg mode "$BENCH_MODE" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--arg commit "$(git -C "$OCB_TOP" rev-parse --short HEAD 2>/dev/null)" \
		--arg dirty "$(git -C "$OCB_TOP" status --porcelain -- hook bpf 2>/dev/null | wc -l)" \
		--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		--argjson params "$(jq -nc --argjson a "$START_ROUNDS" --argjson b "$HOOK_ROUNDS" \
			--arg c "$SCALE_LEVELS" --argjson d "$SCALE_PROBES" --argjson e "$DP_ROUNDS" \
			--argjson f "$DP_SECONDS" --argjson g "$CONN_ROUNDS" --argjson h "$CONN_SECONDS" \
			--argjson i "$PROG_ROUNDS" --argjson j "$PROG_REPEAT" --argjson k "$RULES_SCALE" \
			'{start_rounds: $a, hook_rounds: $b, scale_levels: ($c | split(" ") | map(tonumber)),
			  rules_scale: $k,
			  scale_probes: $d, datapath_rounds: $e, datapath_seconds: $f, connect_rounds: $g,
			  connect_seconds: $h, prog_rounds: $i, prog_repeat: $j, net_cpu: '"$BENCH_CPU"'}')" \
		'{mode: $mode, date: $date, commit: $commit, uncommitted_hook_changes: ($dirty | tonumber),
		  loadavg_at_start: $load, params: $params}')"
}

# ------------------------------------------------- kernel memory (bpftool)

# bpf_snapshot DIR: bpftool's view of links, programs and maps (with
# their pinned paths) in DIR/{links,progs,maps}.json.
bpf_snapshot() {
	bpftool -j -f link show >"$1/links.json" 2>/dev/null || echo '[]' >"$1/links.json"
	bpftool -j -f prog show >"$1/progs.json" 2>/dev/null || echo '[]' >"$1/progs.json"
	bpftool -j -f map show >"$1/maps.json" 2>/dev/null || echo '[]' >"$1/maps.json"
}

# Where the hook keeps what all containers share (hook/progs.c): the
# programs and outer maps, one directory a build, and the trace maps.
PROGS_BASE=$BPFFS/oci-cgroup-bpf-hook-progs
EVENTS_BASE=$BPFFS/oci-cgroup-bpf-hook-events

# container_memory DIR: per container (a directory under $PIN_BASE, by
# its escaped name): its links and maps, as pinned in its directory, and
# bytes_memlock of those maps (links have none). The `rules` and `ports`
# tries are its profile's, shared by every container of that profile
# (pinned in each of their directories): each map says how many
# container directories pin it (sharers); own_bytes counts the other
# maps, tries_bytes the tries whole, and total_bytes every map divided
# by its sharers, so that a sum over containers counts a trie once. The
# programs behind its links are the shared ones (shared_memory);
# shared_progs says whether every link runs one of them, so a container
# that loaded programs of its own shows. A JSON object keyed by
# directory name.
container_memory() {
	local dir=$1
	jq -n --slurpfile links "$dir/links.json" --slurpfile progs "$dir/progs.json" \
		--slurpfile maps "$dir/maps.json" --arg b "$PIN_BASE/" --arg pb "$PROGS_BASE/" '
		def cname: ltrimstr($b) | split("/")[0];
		def trie: .name == "rules" or .name == "ports";
		([$progs[0][] | select(any(.pinned[]?; startswith($pb))) | .id]) as $SP
		| ([$links[0][] | . as $l | .pinned[]? | select(startswith($b)) | {c: cname, x: $l}]
		   | group_by(.c) | map({key: .[0].c, value: [.[].x]}) | from_entries) as $LC
		| ([$maps[0][] | . as $m | ([.pinned[]? | select(startswith($b)) | cname] | unique) as $cs
		    | $cs[] | {c: ., x: ($m + {sharers: ($cs | length)})}]
		   | group_by(.c) | map({key: .[0].c, value: ([.[].x] | unique_by(.id))}) | from_entries) as $MC
		| [(($LC | keys) + ($MC | keys)) | unique[] | . as $c
		   | ($LC[$c] // []) as $L | ($MC[$c] // []) as $mp
		   | ([$L[].prog_id] | unique) as $pids
		   | {key: $c, value: {
			links: ($L | length), maps: ($mp | length),
			map_bytes: ([$mp[].bytes_memlock // 0] | add // 0),
			own_bytes: ([$mp[] | select(trie | not) | .bytes_memlock // 0] | add // 0),
			tries_bytes: ([$mp[] | select(trie) | .bytes_memlock // 0] | add // 0),
			tries_sharers: ([$mp[] | select(trie) | .sharers] | max // 0),
			total_bytes: ([$mp[] | (.bytes_memlock // 0) / .sharers] | add // 0 | round),
			progs_behind_links: ($pids | length),
			own_progs: ([$pids[] | select(. as $p | $SP | index($p) | not)] | length),
			shared_progs: ([$pids[] | select(. as $p | $SP | index($p) | not)] | length == 0),
			prog_ids: $pids, link_ids: [$L[].id], map_ids: [$mp[].id],
			cgroup_ids: ([$L[].cgroup_id] | unique),
			detail: [$mp[] | {kind: "map", id, name, type, bytes: (.bytes_memlock // 0), max_entries, sharers}]}}]
		| from_entries'
}

# shared_memory DIR: what all containers of our bpffs share, counted
# once: the programs pinned under $PROGS_BASE (every build there), the
# maps pinned there (c_<map>, cgslot, meta) and under $EVENTS_BASE (the
# trace ring buffer and its controls), and the maps the programs use
# that no container directory pins (.rodata, .bss, the socket storages).
# The ring buffer is also given apart: 16 MiB, it would hide the rest.
shared_memory() {
	jq -nc --slurpfile progs "$1/progs.json" --slurpfile maps "$1/maps.json" \
		--arg b "$PIN_BASE/" --arg pb "$PROGS_BASE/" --arg eb "$EVENTS_BASE/" '
		[$progs[0][] | select(any(.pinned[]?; startswith($pb)))] as $P
		| ([$P[].map_ids[]?] | unique) as $used
		| [$maps[0][]
		   | (if any(.pinned[]?; startswith($pb)) then "progs"
		      elif any(.pinned[]?; startswith($eb)) then "events"
		      elif (.id as $i | $used | index($i)) and (any(.pinned[]?; startswith($b)) | not) then "used"
		      else empty end) as $w
		   | {name, type, where: $w, bytes: (.bytes_memlock // 0), max_entries, id}] as $M
		| {builds: ([$P[].pinned[]? | select(startswith($pb)) | ltrimstr($pb) | split("/")[0]] | unique),
		   progs: [$P[] | {name, id, bytes: (.bytes_memlock // 0), xlated: .bytes_xlated,
				   jited: .bytes_jited, verified_insns}],
		   prog_ids: [$P[].id],
		   prog_bytes: ([$P[].bytes_memlock // 0] | add // 0),
		   maps: [$M[] | del(.id)],
		   map_bytes: ([$M[].bytes] | add // 0),
		   ringbuf_bytes: ([$M[] | select(.type == "ringbuf") | .bytes] | add // 0)}
		| .total_bytes = .prog_bytes + .map_bytes
		| .total_bytes_without_ringbuf = .total_bytes - .ringbuf_bytes'
}

# shared_dir: the one build directory of the shared programs (the newest
# if several), or nothing.
shared_dir() {
	find "$PROGS_BASE" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | head -1 | cut -d' ' -f2-
}

# slots_in STATE...: how many container slots are in one of the states
# (the shared `slots` map: 1 taken; 2 freeing and 3 ready, free slots
# that keep their maps for the next container).
slots_in() {
	local d
	d=$(shared_dir)
	if [ -z "$d" ] || [ ! -e "$d/slots" ]; then
		echo 0
		return 0
	fi
	bpftool -j map dump pinned "$d/slots" 2>/dev/null |
		jq --arg s " $* " '[.[]? | objects | .formatted.value.state as $st | select($s | contains(" \($st) "))] | length'
}

slots_used() {
	slots_in 1
}

slots_pooled() {
	slots_in 2 3
}

# Kernel memory as /proc/meminfo sees it (kB): slab + vmalloc + per-cpu.
meminfo_kernel_kb() {
	awk '/^(Slab|VmallocUsed|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}

# kmem_snapshot FILE: bytes by slab cache and by vmalloc caller, to see
# where kernel memory goes beyond what bytes_memlock counts.
kmem_snapshot() {
	{
		awk 'NR > 2 { print "slab:" $1, $2 * $4 }' /proc/slabinfo 2>/dev/null
		awk '{ c = $3; sub(/\+0x.*/, "", c); s[c] += $2 } END { for (c in s) print "vmalloc:" c, s[c] }' \
			/proc/vmallocinfo 2>/dev/null
	} >"$1"
}

# kmem_growth BEFORE AFTER N: the 10 biggest growths, as JSON, per one of
# N containers.
kmem_growth() {
	# "unpurged" is vmalloc space freed lazily, not memory in use.
	awk -v n="$3" 'NR == FNR { b[$1] = $2; next } $1 != "vmalloc:unpurged" { d = $2 - b[$1]; if (d > 0) print d, $1 }' "$1" "$2" |
		sort -rn | head -10 |
		jq -R 'split(" ") | {what: .[1], bytes: (.[0] | tonumber), bytes_per_container: ((.[0] | tonumber) / '"$3"' | round)}' |
		jq -sc .
}

# ================================================================ 1. start

bench_start() {
	local v bundle r order t rc hooks log
	say "container start: runc run of busybox 'true': no hooks, floor hooks, our hooks (another container of the profile runs), our hooks on a profile no other container uses ($START_ROUNDS rounds)"
	ensure_rootfs
	_runc_defer_cleanup
	local -A BUNDLE=()
	# The resident: another container of the default (no) profile, as on
	# a node that runs many. "ours-alone" runs profile "last", which no
	# other container uses: its prestart compiles it, its poststop frees it.
	new_cgroup res start-res
	attach_container "$T-start-res" "$res"
	for v in none floor ours ours-alone; do
		case $v in
		none) hooks='{}' ;;
		floor) hooks=$(jq -nc --arg p "$FLOOR" '{
				prestart: [{path: $p, args: ["floor-hook", "prestart"], timeout: 30}],
				poststop: [{path: $p, args: ["floor-hook", "poststop"], timeout: 30}]}') ;;
		ours | ours-alone) hooks=$(jq -nc --arg p "$HOOK" --argjson a "$(printf '%s\n' "${HOOK_ARGS[@]}" | jq -R . | jq -sc .)" '{
				prestart: [{path: $p, args: (["oci-cgroup-bpf-hook"] + $a + ["prestart"]), timeout: 30}],
				poststop: [{path: $p, args: (["oci-cgroup-bpf-hook"] + $a + ["poststop"]), timeout: 30}]}') ;;
		esac
		bundle=$T_TMP/bundle-start-$v
		mkdir -p "$bundle" && (cd "$bundle" && runc spec) || bail "runc spec"
		jq --arg rootfs "$ROOTFS" --arg cg "/$T-start-$v" --arg netns "$NETNS_DIR/$NS" \
			--argjson hooks "$hooks" --arg v "$v" '
			.process.args = ["true"] | .process.terminal = false | del(.process.rlimits)
			| if $v == "ours-alone" then .annotations = {"oci-cgroup-bpf-hook/profile": "last"} else . end
			| .root = {path: $rootfs, readonly: true} | .hostname = "bench"
			| .linux.cgroupsPath = $cg
			| .linux.namespaces |= map(if .type == "network" then .path = $netns else . end)
			| .hooks = $hooks' "$bundle/config.json" >"$bundle/c.json" &&
			mv "$bundle/c.json" "$bundle/config.json" || bail "edit $bundle/config.json"
		defer "remove_runc_cgroup '$T-start-$v'"
		defer_detach "$T-start-$v"
		BUNDLE[$v]=$bundle
	done
	log=$T_TMP/runc-start.log
	# Round 0 warms the caches and is not recorded.
	for ((r = 0; r <= START_ROUNDS; r++)); do
		mapfile -t order < <(rotated "$r" none floor ours ours-alone)
		for v in "${order[@]}"; do
			timed t trunc run --bundle "${BUNDLE[$v]}" "$T-start-$v" </dev/null >"$log" 2>&1
			rc=$?
			[ "$rc" -eq 0 ] || bail "runc run ($v) exits 0" "exit $rc" "$(cat "$log")"
			[ "$r" -gt 0 ] && rec start runc_run_ms "$v" "$r" "$(ms "$t")"
		done
	done
	if [ -e "$(pin_dir "$T-start-ours")" ]; then
		bail "poststop removed the pins of the runc containers"
	fi
}

# ================================================================= 2. hook

# The first container of a boot (or of a new build) loads and verifies
# the shared programs: variant "cold" times that prestart, each round on
# a bpffs of its own, mounted for the round and unmounted after its
# poststop (which drops the programs pinned there).
COLD_BPFFS=/run/ocbb-$$-cold-bpffs

hook_cold() { # STAGE STATEFILE
	"$HOOK" --bpffs "$COLD_BPFFS" --config-dir "$CFG" "$1" <"$2"
}

bench_hook() {
	local cg pid r v order t st stage big="ours-$((MAX_RULES / 1000))k" res
	say "hook alone: prestart and poststop against the floor hook, default and $MAX_RULES-rule profile (another container of each runs), a profile's only container, and the first container on a fresh bpffs ($HOOK_ROUNDS rounds)"
	# Residents: another container of the default and of the big
	# profile, as on a node that runs many of one profile. Without one,
	# each round's container is its profile's first and last ("last").
	new_cgroup res hook-res
	attach_container "$T-hk-res" "$res"
	new_cgroup res hook-res-big
	attach_container "$T-hk-res-big" "$res" "r$MAX_RULES"
	new_cgroup cg hook
	sleeper pid "$cg"
	state_file "$T_TMP/hk-ours.json" "$T-hk-default" "$pid"
	state_file "$T_TMP/hk-$big.json" "$T-hk-r$MAX_RULES" "$pid" "r$MAX_RULES"
	state_file "$T_TMP/hk-last.json" "$T-hk-last" "$pid" last
	state_file "$T_TMP/hk-cold.json" "$T-hk-cold" "$pid"
	cp "$T_TMP/hk-ours.json" "$T_TMP/hk-floor.json"
	defer_detach "$T-hk-default"
	defer_detach "$T-hk-r$MAX_RULES"
	defer_detach "$T-hk-last"
	# Unmounting drops the cold variant's pins, links and programs.
	defer "mountpoint -q '$COLD_BPFFS' && umount '$COLD_BPFFS'; rmdir '$COLD_BPFFS' 2>/dev/null; rm -f '$LOCK_DIR/$T-hk-cold'"
	mkdir -p "$COLD_BPFFS" || bail "create $COLD_BPFFS"
	# Round 0 warms the caches and is not recorded.
	for ((r = 0; r <= HOOK_ROUNDS; r++)); do
		mapfile -t order < <(rotated "$r" floor ours "$big" last cold)
		for v in "${order[@]}"; do
			st=$T_TMP/hk-$v.json
			[ "$v" = cold ] && { mount -t bpf -o mode=0700 bpffs "$COLD_BPFFS" || bail "mount a private bpffs at $COLD_BPFFS"; }
			for stage in prestart poststop; do
				# A runtime empties the cgroup before poststop, and
				# poststop leaves the pins of a running container.
				[ "$stage" = poststop ] && cg_park "$cg"
				case $v in
				floor) timed t "$FLOOR" "$stage" <"$st" 2>"$T_TMP/hook.err" ;;
				cold) timed t hook_cold "$stage" "$st" 2>"$T_TMP/hook.err" ;;
				*) timed t hook_at "$stage" "$st" 2>"$T_TMP/hook.err" ;;
				esac || bail "$stage ($v) exits 0" "$(cat "$T_TMP/hook.err")"
				[ "$stage" = poststop ] && cg_unpark "$cg"
				[ "$r" -gt 0 ] || continue
				# A cold poststop is any poststop: not recorded.
				[ "$v" = cold ] && [ "$stage" = poststop ] && continue
				rec hook "${stage}_ms" "$v" "$r" "$(ms "$t")"
			done
			if [ "$v" = cold ]; then
				[ -e "$COLD_BPFFS/oci-cgroup-bpf-hook/$T-hk-cold" ] && bail "poststop left the pins of the cold variant"
				umount "$COLD_BPFFS" || bail "unmount $COLD_BPFFS"
			fi
		done
	done
	[ -e "$(pin_dir "$T-hk-default")" ] && bail "poststop left the pins of the hook benchmark"
	return 0
}

# ================================================================ 3. scale

SCALE_PARENT=
declare -a SCALE_PID=()
SCALE_ATTACHED=0

# Kills the sleepers of every scale cgroup at once, then removes them.
scale_teardown() {
	local d i
	[ -n "$SCALE_PARENT" ] && [ -d "$SCALE_PARENT" ] || return 0
	_assert_ours_cg "$SCALE_PARENT"
	for d in "$SCALE_PARENT"/*/; do
		[ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill"
	done
	for ((i = 0; i < 50; i++)); do
		for d in "$SCALE_PARENT"/*/; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null
		done
		compgen -G "$SCALE_PARENT/*/" >/dev/null || break
		sleep 0.1
	done
	return 0
}

# scale_state FILE ID PID [PROFILE]
scale_state() {
	local ann=
	[ -n "${4:-}" ] && ann=',"annotations":{"oci-cgroup-bpf-hook/profile":"'$4'"}'
	printf '{"ociVersion":"1.0.2","id":"%s","status":"created","bundle":"%s","pid":%d%s}\n' \
		"$2" "$STATE_BUNDLE" "$3" "$ann" >"$1"
}

# scale_cgroups N: cgroups c1..cN under $SCALE_PARENT, each with a live
# sleeper (SCALE_PID[i]); a cgroup whose sleeper was stopped gets a new
# one. The sections that attach many containers share them.
scale_cgroups() {
	local n=$1 i
	if [ -z "$SCALE_PARENT" ]; then
		new_cgroup SCALE_PARENT scale
		defer scale_teardown
	fi
	for ((i = 1; i <= n; i++)); do
		[ -d "$SCALE_PARENT/c$i" ] || mkdir "$SCALE_PARENT/c$i" || bail "create $SCALE_PARENT/c$i"
		grep -q . "$SCALE_PARENT/c$i/cgroup.procs" && continue
		(echo "$BASHPID" >"$SCALE_PARENT/c$i/cgroup.procs" && exec sleep 3600) </dev/null >/dev/null 2>&1 &
		SCALE_PID[i]=$!
		disown "$!" # no job notices when they are killed
	done
	for ((i = 1; i <= n; i++)); do
		wait_for 5 grep -qx "${SCALE_PID[i]}" "$SCALE_PARENT/c$i/cgroup.procs" || bail "sleeper of c$i"
	done
}

# Two kinds of many containers: s, default profile, ids $T-sI (section
# scale); r, the largest rule profile, ids $T-rI (section rules). They
# use the same cgroups, one kind at a time.
declare -A ATTACHED=([s]=0 [r]=0)
declare -A KIND_PROFILE=([s]='' [r]="r$MAX_RULES")
declare -A KIND_SECTION=([s]=scale [r]=rules)

# scale_attach N [KIND]: attaches containers up to number N (prestart each).
scale_attach() {
	local n=$1 k=${2:-s} i t
	for ((i = ATTACHED[$k] + 1; i <= n; i++)); do
		scale_state "$T_TMP/scale-state.json" "$T-$k$i" "${SCALE_PID[i]}" "${KIND_PROFILE[$k]}"
		timed t hook_at prestart "$T_TMP/scale-state.json" 2>"$T_TMP/hook.err" ||
			bail "prestart of scale container $k$i" "$(cat "$T_TMP/hook.err")"
		rec "${KIND_SECTION[$k]}" attach_ms "c$(((i - 1) / 100 * 100))" "$i" "$(ms "$t")"
		ATTACHED[$k]=$i
	done
	[ "$k" = s ] && SCALE_ATTACHED=${ATTACHED[s]}
	return 0
}

# scale_detach N [KIND]: detaches containers down to number N (poststop each).
scale_detach() {
	local n=$1 k=${2:-s} i t
	for ((i = ATTACHED[$k]; i > n; i--)); do
		# Stopped, as a runtime stops a container before its poststop.
		echo 1 >"$SCALE_PARENT/c$i/cgroup.kill"
		wait_for 5 cg_unpopulated "$SCALE_PARENT/c$i"
		scale_state "$T_TMP/scale-state.json" "$T-$k$i" 0
		timed t hook_at poststop "$T_TMP/scale-state.json" 2>"$T_TMP/hook.err" ||
			bail "poststop of scale container $k$i" "$(cat "$T_TMP/hook.err")"
		rec "${KIND_SECTION[$k]}" detach_ms "c$(((i - 1) / 100 * 100))" "$i" "$(ms "$t")"
		ATTACHED[$k]=$((i - 1))
	done
	[ "$k" = s ] && SCALE_ATTACHED=${ATTACHED[s]}
	return 0
}

# scale_probe PASS COUNT: prestart and poststop of one more container,
# COUNT times, with $SCALE_ATTACHED attached.
scale_probe() {
	local pass=$1 count=$2 k t
	for ((k = 1; k <= count; k++)); do
		timed t hook_at prestart "$T_TMP/probe-state.json" 2>"$T_TMP/hook.err" ||
			bail "prestart of the probe with $SCALE_ATTACHED attached" "$(cat "$T_TMP/hook.err")"
		rec scale prestart_ms "n=$SCALE_ATTACHED" "$SCALE_ATTACHED-$pass$k" "$(ms "$t")"
		cg_park "$SCALE_PARENT/probe"
		timed t hook_at poststop "$T_TMP/probe-state.json" 2>"$T_TMP/hook.err" ||
			bail "poststop of the probe" "$(cat "$T_TMP/hook.err")"
		cg_unpark "$SCALE_PARENT/probe"
		rec scale poststop_ms "n=$SCALE_ATTACHED" "$SCALE_ATTACHED-$pass$k" "$(ms "$t")"
	done
}

# ids_left KIND "ID ID ...": how many of these programs, maps or links
# (KIND prog, map or link) still exist.
ids_left() {
	bpftool -j "$1" show 2>/dev/null | jq --arg ids "$2" \
		'($ids | split(" ") | map(select(. != "") | {key: ., value: true}) | from_entries) as $s
		 | [.[]? | objects | select($s[.id | tostring])] | length'
}

none_left() { # KIND "ID ID ..."
	[ "$(ids_left "$1" "$2")" = 0 ]
}

# pool_map_ids: "ID ID ...", the maps the shared outer maps hold: the
# slots' own maps, kept for the next containers, and their tries
# (tests/lib.sh reads them).
pool_map_ids() {
	_pool_index | awk '{ print $1 }' | sort -u | tr '\n' ' '
}

# not_in "A B C" "B": the ids of the first list not in the second.
not_in() {
	local id out=""
	for id in $1; do
		[[ " $2 " == *" $id "* ]] || out+="$id "
	done
	printf '%s' "$out"
}

# bpf_counts: how many programs, maps and links the kernel holds (all
# users of the machine), as JSON.
bpf_counts() {
	jq -nc --argjson p "$(bpftool -j prog show 2>/dev/null | jq 'length')" \
		--argjson m "$(bpftool -j map show 2>/dev/null | jq 'length')" \
		--argjson l "$(bpftool -j link show 2>/dev/null | jq 'length')" \
		'{progs: $p, maps: $m, links: $l}'
}

# kind_memory KIND N SNAPDIR: the memory fact of N containers of KIND
# (container_memory of their directories) and the shared objects, and
# the per-container objects that the cleanup check looks for
# ($T_TMP/KIND-ids.json).
kind_memory() {
	local k=$1 n=$2 dir=$3 mem shared
	mem=$(container_memory "$dir")
	shared=$(shared_memory "$dir")
	jq -c --arg p "$T-$k" '[to_entries[] | select(.key | test("^" + $p + "[0-9]+$")) | .value]' \
		<<<"$mem" >"$T_TMP/$k-ours.json"
	jq -c '{map_ids: ([.[].map_ids[]] | unique), link_ids: [.[].link_ids[]], prog_ids: ([.[].prog_ids[]] | unique),
		cgroup_ids: ([.[].cgroup_ids[]] | unique)}' "$T_TMP/$k-ours.json" >"$T_TMP/$k-ids.json"
	# Maps by id: a profile's tries, pinned by each of its containers,
	# count once.
	jq -c --argjson n "$n" --argjson sh "$shared" '
		([.[].detail[]] | unique_by(.id)) as $M
		| {containers: $n, measured: length,
		   links: ([.[].links] | add), maps: ($M | length),
		   total_bytes: ([$M[].bytes] | add // 0),
		   per_container_bytes: (([$M[].bytes] | add // 0) / length),
		   own_bytes: ([$M[] | select(.name != "rules" and .name != "ports") | .bytes] | add // 0),
		   per_container_own_bytes: (([$M[] | select(.name != "rules" and .name != "ports") | .bytes] | add // 0) / length),
		   tries: ([$M[] | select(.name == "rules" or .name == "ports")] | length),
		   tries_bytes: ([$M[] | select(.name == "rules" or .name == "ports") | .bytes] | add // 0),
		   rules_bytes: ([$M[] | select(.name == "rules") | .bytes] | add // 0),
		   per_container_rules_bytes: (([$M[] | select(.name == "rules") | .bytes] | add // 0) / length),
		   progs_behind_links: ([.[].prog_ids[]] | unique | length),
		   containers_with_own_progs: ([.[] | select(.shared_progs | not)] | length),
		   shared: ($sh | del(.progs, .maps, .prog_ids))}' "$T_TMP/$k-ours.json"
}

# cleanup_check KIND SLOTS0 SHARED0: after every container of KIND is
# detached: no pin left, none of their maps and links (ids seen while
# attached) still exists but the maps back in the pool of free slots, no cgroup link on their cgroups, the slots
# taken are as before (SLOTS0), and the shared programs are the one set
# they were (SHARED0: "ID ID ...", pinned in one build directory), still
# loaded. The programs stay by design. Prints the fact.
cleanup_check() {
	local k=$1 slots0=$2 shared0=$3 ids maps links cgids pins slots shared builds loaded pool pooled
	ids=$T_TMP/$k-ids.json
	maps=$(jq -r '.map_ids | map(tostring) | join(" ")' "$ids")
	links=$(jq -r '.link_ids | map(tostring) | join(" ")' "$ids")
	cgids=$(jq -r '.cgroup_ids | map(tostring) | join(" ")' "$ids")
	# A slot's maps stay in the pool for the next container; the
	# others (and links) are freed once their last reference goes (RCU).
	pool=$(pool_map_ids)
	pooled=$(($(wc -w <<<"$maps") - $(not_in "$maps" "$pool" | wc -w)))
	maps=$(not_in "$maps" "$pool")
	wait_for 10 none_left map "$maps"
	wait_for 10 none_left link "$links"
	# Their directories, and anything staged or trashed (no hook runs now).
	pins=$(
		find "$PIN_BASE" -mindepth 1 -maxdepth 1 -name "${T}-${k}[0-9]*" 2>/dev/null
		find "$BPFFS/oci-cgroup-bpf-hook-work" -mindepth 1 2>/dev/null
	)
	pins=$(grep -c . <<<"$pins")
	slots=$(slots_used)
	shared=$(shared_prog_ids)
	builds=$(find "$PROGS_BASE" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
	loaded=$(ids_left prog "$shared0")
	jq -nc --argjson pins "$pins" --argjson ml "$(ids_left map "$maps")" --argjson ll "$(ids_left link "$links")" \
		--argjson cl "$(bpftool -j link show 2>/dev/null | jq --arg ids "$cgids" \
			'($ids | split(" ") | map(select(. != "") | {key: ., value: true}) | from_entries) as $s
			 | [.[] | select(.type == "cgroup" and $s[.cgroup_id | tostring])] | length')" \
		--argjson mc "$(wc -w <<<"$maps")" --argjson lc "$(wc -w <<<"$links")" \
		--argjson s0 "$slots0" --argjson s1 "$slots" --arg sh0 "$shared0" --arg sh1 "$shared" \
		--argjson builds "$builds" --argjson loaded "$loaded" --argjson pooled "$pooled" \
		--argjson pool "$(slots_pooled)" '{
		pins_left: $pins, maps_left: $ml, maps_checked: $mc, maps_pooled: $pooled, slots_pooled: $pool, links_left: $ll, links_checked: $lc,
		cgroup_links_left: $cl, slots_before: $s0, slots_after: $s1,
		shared_progs: ($sh0 | split(" ") | length), shared_progs_after: ($sh1 | split(" ") | length),
		shared_progs_same: ($sh0 == $sh1), shared_progs_loaded: $loaded, shared_builds: $builds}
		| .clean = (.pins_left == 0 and .maps_left == 0 and .links_left == 0 and .cgroup_links_left == 0
			and .slots_after == .slots_before)
		| .shared_intact = (.shared_progs_same and .shared_progs_loaded == .shared_progs and .shared_builds == 1)'
}

shared_prog_ids() { # "ID ID ...", sorted, of the programs pinned under $PROGS_BASE
	bpftool -j -f prog show 2>/dev/null | jq -r --arg pb "$PROGS_BASE/" \
		'[.[] | select(any(.pinned[]?; startswith($pb))) | .id] | sort | map(tostring) | join(" ")'
}

bench_scale() {
	local -a levels
	read -ra levels <<<"$SCALE_LEVELS"
	local max=${levels[-1]} i n half probe_pid kb0='' kb1 kb2 dir slots0 slots1 shared0 counts0 counts1 clean
	half=$(((SCALE_PROBES + 1) / 2))
	say "scale: prestart latency with ${levels[*]} containers attached ($SCALE_PROBES probes each, half going up, half coming down)"
	scale_cgroups "$max"
	if [ ! -d "$SCALE_PARENT/probe" ]; then
		mkdir "$SCALE_PARENT/probe" || bail "create the probe cgroup"
		(echo "$BASHPID" >"$SCALE_PARENT/probe/cgroup.procs" && exec sleep 3600) </dev/null >/dev/null 2>&1 &
		probe_pid=$!
		disown "$!"
		wait_for 5 grep -qx "$probe_pid" "$SCALE_PARENT/probe/cgroup.procs" || bail "sleeper of the probe"
	fi
	probe_pid=$(head -1 "$SCALE_PARENT/probe/cgroup.procs")
	scale_state "$T_TMP/probe-state.json" "$T-probe" "$probe_pid"
	defer_detach "$T-probe"
	# Detach whatever is still attached at exit (a failure half-way).
	defer 'scale_detach 0 s >/dev/null 2>&1'
	slots0=$(slots_used)
	# The memory baseline is taken with the first level attached: the
	# first attach of the run may also load the shared programs and
	# create the shared trace maps (a 16 MiB ring buffer), which belong
	# to no container.
	for n in "${levels[@]}"; do
		scale_attach "$n"
		say "  $SCALE_ATTACHED attached"
		if [ -z "${kb0:-}" ]; then
			sleep 1
			kb0=$(meminfo_kernel_kb)
			kmem_snapshot "$T_TMP/kmem0.txt"
			counts0=$(bpf_counts)
			shared0=$(shared_prog_ids)
		fi
		scale_probe up "$half"
	done
	sleep 1
	kb1=$(meminfo_kernel_kb)
	kmem_snapshot "$T_TMP/kmem1.txt"
	counts1=$(bpf_counts)
	slots1=$(slots_used)
	fact scale_kmem_growth "$(kmem_growth "$T_TMP/kmem0.txt" "$T_TMP/kmem1.txt" "$((max - levels[0]))")"
	dir=$T_TMP/scale-snap
	mkdir -p "$dir"
	bpf_snapshot "$dir"
	# Objects the kernel gained for the last containers (every user of
	# the machine counts: noisy if someone else loads programs now).
	fact scale_objects "$(jq -nc --argjson a "$counts0" --argjson b "$counts1" \
		--argjson n "$((max - levels[0]))" --argjson s0 "$slots0" --argjson s1 "$slots1" --argjson max "$max" '{
		containers: $n, progs_delta: ($b.progs - $a.progs), maps_delta: ($b.maps - $a.maps),
		links_delta: ($b.links - $a.links), maps_per_container: (($b.maps - $a.maps) / $n),
		links_per_container: (($b.links - $a.links) / $n),
		slots_before: $s0, slots_at_top: $s1, slots_taken: ($s1 - $s0), slots_expected: $max}')"
	fact scale_memory "$(kind_memory s "$max" "$dir" | jq -c --argjson kb0 "$kb0" --argjson kb1 "$kb1" \
		--argjson m "$((max - levels[0]))" '. + {
		meminfo_delta_kb: ($kb1 - $kb0), meminfo_delta_containers: $m,
		meminfo_per_container_kb: (($kb1 - $kb0) / $m)}')"

	for ((i = ${#levels[@]} - 1; i >= 0; i--)); do
		scale_detach "${levels[i]}"
		say "  $SCALE_ATTACHED attached"
		scale_probe down "$((SCALE_PROBES - half))"
	done
	scale_detach 0
	sleep 1
	kb2=$(meminfo_kernel_kb)
	clean=$(cleanup_check s "$slots0" "$shared0" | jq -c --argjson kb "$((kb2 - kb0))" '. + {meminfo_delta_after_kb: $kb}')
	fact scale_cleanup "$clean"
	say "  detached all: $(jq -r '"pins left \(.pins_left), maps left \(.maps_left)/\(.maps_checked) (\(.maps_pooled) back in the pool of \(.slots_pooled) free slots), links left \(.links_left)/\(.links_checked), slots \(.slots_before) -> \(.slots_after), shared programs \(.shared_progs) -> \(.shared_progs_after) (same: \(.shared_progs_same)), builds \(.shared_builds)"' <<<"$clean")"
}

# ============================================================ 3b. rules

# N containers on the largest rule profile: kernel memory against one.
# Each container compiles the profile into rules maps of its own (the
# issue's "profiles stored once" would share them).
bench_rules() {
	local max=$RULES_SCALE kbz kb1 kbn kb2 dir slots0 shared0 one all clean
	say "rules: kernel memory of 1 and of $max containers on the $MAX_RULES-rule profile"
	scale_cgroups "$max"
	defer 'scale_detach 0 r >/dev/null 2>&1'
	slots0=$(slots_used)
	sleep 1
	kbz=$(meminfo_kernel_kb)
	scale_attach 1 r
	sleep 1
	kb1=$(meminfo_kernel_kb)
	shared0=$(shared_prog_ids)
	dir=$T_TMP/rules-1
	mkdir -p "$dir"
	bpf_snapshot "$dir"
	one=$(kind_memory r 1 "$dir")
	scale_attach "$max" r
	say "  ${ATTACHED[r]} attached"
	sleep 1
	kbn=$(meminfo_kernel_kb)
	dir=$T_TMP/rules-n
	mkdir -p "$dir"
	bpf_snapshot "$dir"
	all=$(kind_memory r "$max" "$dir")
	fact rules_memory "$(jq -nc --argjson one "$one" --argjson all "$all" --argjson kbz "$kbz" \
		--argjson kb1 "$kb1" --argjson kbn "$kbn" --argjson n "$max" '
		($one.shared.total_bytes_without_ringbuf) as $s1 | ($all.shared.total_bytes_without_ringbuf) as $sn
		| {containers: $n, one: $one, all: $all,
		   bytes_one: ($s1 + $one.total_bytes), bytes_all: ($sn + $all.total_bytes),
		   ratio: (($sn + $all.total_bytes) / ($s1 + $one.total_bytes)),
		   ratio_with_ringbuf: (($all.shared.total_bytes + $all.total_bytes) / ($one.shared.total_bytes + $one.total_bytes)),
		   meminfo_one_kb: ($kb1 - $kbz), meminfo_all_kb: ($kbn - $kbz),
		   meminfo_per_container_kb: (($kbn - $kb1) / ($n - 1 | if . < 1 then 1 else . end))}')"
	# The table: all that the hook holds in the kernel (bytes_memlock,
	# shared objects without the trace ring buffer) with 1 and N.
	rec rules kib_total "n=1" 1 "$(jq -nc --argjson o "$one" '($o.shared.total_bytes_without_ringbuf + $o.total_bytes) / 1024 * 10 | round / 10')"
	rec rules kib_total "n=$max" 1 "$(jq -nc --argjson o "$all" '($o.shared.total_bytes_without_ringbuf + $o.total_bytes) / 1024 * 10 | round / 10')"
	scale_detach 0 r
	sleep 1
	kb2=$(meminfo_kernel_kb)
	clean=$(cleanup_check r "$slots0" "$shared0" | jq -c --argjson kb "$((kb2 - kbz))" '. + {meminfo_delta_after_kb: $kb}')
	fact rules_cleanup "$clean"
	say "  detached all: $(jq -r '"pins left \(.pins_left), maps left \(.maps_left)/\(.maps_checked) (\(.maps_pooled) back in the pool of \(.slots_pooled) free slots), links left \(.links_left)/\(.links_checked), slots \(.slots_before) -> \(.slots_after), shared programs same: \(.shared_progs_same)"' <<<"$clean")"
}

# ============================================================= 4. datapath

label_of() { # RULES -> 0, 1k, 10k
	if [ "$1" -ge 1000 ] && [ $(($1 % 1000)) -eq 0 ]; then echo "$(($1 / 1000))k"; else echo "$1"; fi
}

declare -A DP_CG=()
NFT_OK=
NFT_PATH=
NFT_LEVEL=

# nft_ruleset FILE RULES PATH: the same policy as profile rRULES, for
# sockets of the cgroup PATH (as nft resolves it), in table inet ocbb.
nft_ruleset() {
	local file=$1 n=$2 path=$3
	{
		echo 'table inet ocbb {'
		echo '	set deny4 {'
		echo '		type ipv4_addr; flags interval;'
		if [ "$n" -gt 0 ]; then
			printf '\t\telements = { '
			head -n "$n" "$T_TMP/prefixes.txt" | paste -sd, | sed 's/,/, /g'
			echo '		}'
		fi
		echo '	}'
		echo '	chain out {'
		echo '		type filter hook output priority filter; policy accept;'
		printf '\t\tsocket cgroupv2 level %s "%s" ip daddr @deny4 drop\n' "$NFT_LEVEL" "$path"
		echo '	}'
		echo '}'
	} >"$file"
}

nft_load() { # RULES
	in_ns "$NS" nft -f "$T_TMP/nft-$1.nft" 2>"$T_TMP/nft.err" || bail "nft -f ($1 rules) in $NS" "$(cat "$T_TMP/nft.err")"
}

nft_unload() {
	in_ns "$NS" nft delete table inet ocbb 2>/dev/null
	return 0
}

# nft resolves the cgroupv2 path itself: relative to the cgroup2 mount,
# as documented, is tried first; on a hybrid host nft (1.0.x) looks it up
# under /sys/fs/cgroup, the v1 tmpfs, so the path relative to that is
# tried next.
nft_setup() {
	local rel tried='[]' cand err
	rel=${DP_CG[nft]#"$CG2_MNT"/}
	NFT_LEVEL=$(awk -F/ '{ print NF }' <<<"$rel")
	for cand in "$rel" "${DP_CG[nft]#/sys/fs/cgroup/}"; do
		[[ $cand == /* ]] && continue
		nft_ruleset "$T_TMP/nft-check.nft" 0 "$cand"
		if err=$(in_ns "$NS" nft -c -f "$T_TMP/nft-check.nft" 2>&1); then
			tried=$(jq -c --arg p "$cand" '. + [{path: $p, accepted: true}]' <<<"$tried")
			NFT_PATH=$cand
			break
		fi
		tried=$(jq -c --arg p "$cand" --arg e "$(head -1 <<<"$err")" '. + [{path: $p, accepted: false, error: $e}]' <<<"$tried")
	done
	fact nft_paths "$tried"
	[ -n "$NFT_PATH" ] || {
		say "warning: nft accepts no path for ${DP_CG[nft]}: the nft variants are skipped"
		return 1
	}
	local n
	for n in 0 "${RULE_COUNTS[@]}"; do
		nft_ruleset "$T_TMP/nft-$n.nft" "$n" "$NFT_PATH"
	done
	return 0
}

probe_from() { # CG ADDR: "ok" or "error NAME"
	in_ns_cg "$NS" "$1" "$NETBENCH" probe "$2" "$NB_PORT" 2>&1
}

# Both policies must be seen to work before anything is measured:
# 127.0.0.2 is the first prefix of every rule set; nothing listens there,
# so an allowed connect() is refused (RST) and a denied one is not.
verify_policies() {
	local checks='[]' got v n
	check_one() { # WHAT CG ADDR WANT(allowed|denied)
		got=$(probe_from "$2" "$3")
		case $got in
		ok | "error ECONNREFUSED") v=allowed ;;
		"error EPERM" | "error ETIMEDOUT") v=denied ;;
		*) v="?" ;;
		esac
		checks=$(jq -c --arg w "$1" --arg a "$3" --arg want "$4" --arg got "$got" --arg v "$v" \
			'. + [{what: $w, addr: $a, want: $want, got: $got, ok: ($v == $want)}]' <<<"$checks")
	}
	check_one "no programs" "${DP_CG[none]}" 127.0.0.2 allowed
	check_one "ours, default (no policy)" "${DP_CG[ours-0]}" 127.0.0.2 allowed
	for n in "${RULE_COUNTS[@]}"; do
		check_one "ours, $(label_of "$n") rules" "${DP_CG[ours-$(label_of "$n")]}" 127.0.0.2 denied
		check_one "ours, $(label_of "$n") rules" "${DP_CG[ours-$(label_of "$n")]}" 127.0.0.1 allowed
	done
	if [ -n "$NFT_PATH" ]; then
		nft_load 0
		check_one "nft, 0 rules" "${DP_CG[nft]}" 127.0.0.2 allowed
		nft_unload
		nft_load "$MAX_RULES"
		check_one "nft, $(label_of "$MAX_RULES") rules" "${DP_CG[nft]}" 127.0.0.2 denied
		check_one "nft, $(label_of "$MAX_RULES") rules" "${DP_CG[nft]}" 127.0.0.1 allowed
		check_one "nft, $(label_of "$MAX_RULES") rules, from another cgroup" "${DP_CG[none]}" 127.0.0.2 allowed
		nft_unload
	fi
	fact policy_checks "$checks"
	jq -e '[.[] | select(.what | startswith("ours") or . == "no programs") | .ok] | all' <<<"$checks" >/dev/null ||
		bail "our policy is enforced as configured" "$(jq -r '.[] | "\(.what) -> \(.addr): want \(.want), got \(.got)"' <<<"$checks")"
	if [ -n "$NFT_PATH" ]; then
		if jq -e '[.[] | select(.what | startswith("nft")) | .ok] | all' <<<"$checks" >/dev/null; then
			NFT_OK=1
		else
			say "warning: nft's socket cgroupv2 match does not enforce the policy here: nft variants skipped"
		fi
	fi
	fact nft_cgroup_match "$(jq -nc --arg p "$NFT_PATH" --arg l "$NFT_LEVEL" --arg ok "${NFT_OK:-}" \
		--arg mnt "$CG2_MNT" '{path: $p, level: ($l | tonumber? // null), cgroup2_mount: $mnt, works: ($ok == "1")}')"
}

DP_READY=
setup_datapath() {
	local pid n
	[ -n "$DP_READY" ] && return 0
	say "datapath setup: servers in netns $NS, test cgroups, attach default and ${RULE_COUNTS[*]}-rule profiles"
	bg_start pid "$T_TMP/iperf3-server.log" in_ns "$NS" taskset -c "$BENCH_CPU" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
	bg_start pid "$T_TMP/netbench-server.log" in_ns "$NS" taskset -c "$BENCH_CPU" "$NETBENCH" serve 127.0.0.1 "$NB_PORT" 7200
	wait_for 5 listening "$NS" "$IPERF_PORT" && wait_for 5 listening "$NS" "$NB_PORT" ||
		bail "servers listen in $NS"
	new_cgroup 'DP_CG[none]' dp-none
	new_cgroup 'DP_CG[ours-0]' dp-ours0
	attach_container "$T-dp-ours0" "${DP_CG[ours-0]}"
	for n in "${RULE_COUNTS[@]}"; do
		new_cgroup "DP_CG[ours-$(label_of "$n")]" "dp-ours$n"
		attach_container "$T-dp-ours$n" "${DP_CG[ours-$(label_of "$n")]}" "r$n"
	done
	new_cgroup 'DP_CG[nft]' dp-nft
	nft_setup
	verify_policies
	DP_READY=1
}

dp_variants() { # the variants of the datapath table
	local n
	echo none
	echo ours-0
	for n in "${RULE_COUNTS[@]}"; do echo "ours-$(label_of "$n")"; done
	if [ -n "$NFT_OK" ]; then
		echo nft-0
		for n in "${RULE_COUNTS[@]}"; do echo "nft-$(label_of "$n")"; done
	fi
}

cg_of() { # VARIANT
	case $1 in
	nft-*) echo "${DP_CG[nft]}" ;;
	*) echo "${DP_CG[$1]}" ;;
	esac
}

rules_of() { # VARIANT -> rule count (nft-10k -> 10000)
	local l=${1#*-}
	case $l in
	*k) echo "$((${l%k} * 1000))" ;;
	*) echo "$l" ;;
	esac
}

# with_variant VARIANT CMD...: CMD with the variant's nft ruleset loaded.
with_variant() {
	local v=$1 rc
	shift
	[[ $v == nft-* ]] && nft_load "$(rules_of "$v")"
	"$@"
	rc=$?
	[[ $v == nft-* ]] && nft_unload
	return "$rc"
}

run_stream() { # CG SECONDS: Gbit/s received
	local out
	for _ in 1 2; do
		out=$(in_ns_cg "$NS" "$1" taskset -c "$BENCH_CPU" timeout $(($2 + 20)) iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -t "$2" -J 2>&1)
		if jq -e '.end.sum_received.bits_per_second' >/dev/null 2>&1 <<<"$out"; then
			jq '.end.sum_received.bits_per_second / 1e9 * 1000 | round / 1000' <<<"$out"
			return 0
		fi
		sleep 1
	done
	say "warning: iperf3 failed: $(jq -r '.error // empty' <<<"$out" 2>/dev/null || head -2 <<<"$out")"
	return 1
}

run_rr() { # CG SECONDS: round trips per second
	local out
	out=$(in_ns_cg "$NS" "$1" taskset -c "$BENCH_CPU" timeout $(($2 + 20)) "$NETBENCH" rr 127.0.0.1 "$NB_PORT" "$2" 2>&1)
	jq -e '.rate' <<<"$out" 2>/dev/null || {
		say "warning: rr failed: $out"
		return 1
	}
}

run_crr() { # CG SECONDS: connect()s per second
	local out
	out=$(in_ns_cg "$NS" "$1" taskset -c "$BENCH_CPU" timeout $(($2 + 20)) "$NETBENCH" crr 127.0.0.1 "$NB_PORT" "$2" 2>&1)
	if ! jq -e '.rate' >/dev/null 2>&1 <<<"$out"; then
		say "warning: crr failed: $out"
		return 1
	fi
	jq -e '.errors == 0 and .slow == 0' >/dev/null <<<"$out" ||
		say "warning: connect loop had errors or stalls: $out"
	jq '.rate' <<<"$out"
}

dp_measure() { # VARIANT ROUND
	local v=$1 r=$2 cg x
	cg=$(cg_of "$v")
	x=$(run_stream "$cg" "$DP_SECONDS") && rec datapath stream_gbps "$v" "$r" "$x"
	x=$(run_rr "$cg" "$DP_SECONDS") && rec datapath rr_per_s "$v" "$r" "$x"
}

bench_datapath() {
	local r v order
	setup_datapath
	mapfile -t order < <(dp_variants)
	say "datapath: TCP stream (iperf3) and 1-byte request/response, ${DP_SECONDS}s each, variants: ${order[*]} ($DP_ROUNDS rounds)"
	run_stream "${DP_CG[none]}" 1 >/dev/null # warm-up
	for ((r = 1; r <= DP_ROUNDS; r++)); do
		mapfile -t order < <(dp_variants)
		mapfile -t order < <(rotated "$r" "${order[@]}")
		for v in "${order[@]}"; do
			with_variant "$v" dp_measure "$v" "$r"
		done
		say "  round $r/$DP_ROUNDS done"
	done
}

# ============================================================== 5. connect

conn_measure() { # VARIANT ROUND
	local x
	x=$(run_crr "$(cg_of "$1")" "$CONN_SECONDS") && rec connect connects_per_s "$1" "$2" "$x"
}

# prog_run_stats IDS: {"<id>": {"name", "run_time_ns", "run_cnt"}} now.
prog_run_stats() {
	bpftool -j prog show 2>/dev/null | jq -c --arg ids "$1" '
		($ids | split(" ") | map(select(. != "") | {key: ., value: true}) | from_entries) as $s
		| [.[] | select($s[.id | tostring]) | {key: (.id | tostring),
			value: {name, run_time_ns: (.run_time_ns // 0), run_cnt: (.run_cnt // 0)}}] | from_entries'
}

# In-situ cost per program run, from the kernel's own run-time stats
# (BPF_ENABLE_STATS, held for each measured load only): the one way to
# see the sock_addr programs, which cannot be test-run, and a profile's
# lookups, which a test run no longer reaches (section 7), and the share
# of the (single, shared) CPU that our programs take during each load.
# The programs are shared by all containers: their stats count every
# cgroup that runs them, and during the load only the measured one has
# traffic (the servers run in no attached cgroup).
insitu_stats() {
	local v id ids before after pid load t prog ns out='{}'
	for load in connect stream rr; do
		for v in ours-0 "ours-$(label_of "$MAX_RULES")"; do
			id=$T-dp-ours$(rules_of "$v")
			ids=$(bpf_snapshot_ids "$id")
			[ -n "$ids" ] || continue
			bg_start pid "$T_TMP/stats.log" "$PROGRUN" stats $((CONN_SECONDS + 15))
			wait_for 5 grep -q 'stats on' "$T_TMP/stats.log" || {
				say "warning: BPF_ENABLE_STATS failed: $(cat "$T_TMP/stats.log")"
				bg_stop "$pid"
				return 0
			}
			before=$(prog_run_stats "$ids")
			case $load in
			connect) timed t run_crr "$(cg_of "$v")" "$CONN_SECONDS" >/dev/null ;;
			stream) timed t run_stream "$(cg_of "$v")" "$CONN_SECONDS" >/dev/null ;;
			rr) timed t run_rr "$(cg_of "$v")" "$CONN_SECONDS" >/dev/null ;;
			esac
			after=$(prog_run_stats "$ids")
			bg_stop "$pid"
			out=$(jq -c --arg l "$load" --arg v "$v" --argjson b "$before" --argjson a "$after" \
				--argjson us "$t" '
				[$a | to_entries[] | .key as $k | .value as $x
				 | ($b[$k] // {run_time_ns: 0, run_cnt: 0}) as $y
				 | {prog: ($x.name | ltrimstr("ocb_")), runs: ($x.run_cnt - $y.run_cnt),
				    ns: ($x.run_time_ns - $y.run_time_ns)}
				 | .ns_per_run = (if .runs > 0 then (.ns / .runs | round) else null end)] as $p
				| .[$l][$v] = {progs: [$p[] | select(.runs > 0) | del(.ns)],
					wall_s: ($us / 1e6), prog_ns: ([$p[].ns] | add),
					cpu_share: (([$p[].ns] | add) / ($us * 1000) * 1e5 | round / 1e5)}' <<<"$out")
			# The table's rows: ns per run of each program that ran.
			while read -r prog ns; do
				rec insitu ns_per_run "$v/$prog/$load" 1 "$ns"
			done < <(jq -r --arg l "$load" --arg v "$v" \
				'.[$l][$v].progs[] | select(.ns_per_run != null) | "\(.prog) \(.ns_per_run)"' <<<"$out")
		done
	done
	fact insitu "$out"
}

# bpf_snapshot_ids ID: the program ids behind a container's pinned links.
bpf_snapshot_ids() {
	local l dir
	dir=$(pin_dir "$1")
	for l in "$dir"/*; do
		bpftool -j link show pinned "$l" 2>/dev/null | jq -r '.prog_id // empty' 2>/dev/null
	done | tr '\n' ' '
}

bench_connect() {
	local r v order variants=(none ours-0 "ours-$(label_of "$MAX_RULES")")
	setup_datapath
	[ -n "$NFT_OK" ] && variants+=("nft-$(label_of "$MAX_RULES")")
	say "connect(): connect+close loop, ${CONN_SECONDS}s each, variants: ${variants[*]} ($CONN_ROUNDS rounds)"
	run_crr "${DP_CG[none]}" 1 >/dev/null # warm-up
	for ((r = 1; r <= CONN_ROUNDS; r++)); do
		mapfile -t order < <(rotated "$r" "${variants[@]}")
		for v in "${order[@]}"; do
			with_variant "$v" conn_measure "$v" "$r"
		done
	done
	say "in-situ program cost (bpf run-time stats) during one more connect, stream and RR load each"
	insitu_stats
}

# =============================================================== 6. memory

bench_memory() {
	local dir=$T_TMP/mem mem n v shared
	setup_datapath
	say "kernel memory: bytes_memlock of each container's maps (and links), of its profile's tries, and of the shared programs and maps, once"
	mkdir -p "$dir"
	bpf_snapshot "$dir"
	mem=$(container_memory "$dir")
	for n in 0 "${RULE_COUNTS[@]}"; do
		v=ours-$(label_of "$n")
		jq -e --arg k "$T-dp-ours$n" 'has($k)' >/dev/null <<<"$mem" || bail "memory of $T-dp-ours$n found"
		jq -e --arg k "$T-dp-ours$n" '.[$k].shared_progs' >/dev/null <<<"$mem" ||
			say "warning: $T-dp-ours$n has links to programs that are not the shared ones"
		fact "memory_$v" "$(jq -c --arg k "$T-dp-ours$n" '.[$k] | del(.prog_ids, .link_ids, .map_ids, .cgroup_ids)' <<<"$mem")"
		# A container alone on its profile pays its tries too; a
		# further container of that profile pays its own maps only.
		rec memory kib_per_container "$v" 1 "$(jq --arg k "$T-dp-ours$n" '(.[$k].own_bytes + .[$k].tries_bytes) / 1024 * 10 | round / 10' <<<"$mem")"
		rec memory kib_own "$v" 1 "$(jq --arg k "$T-dp-ours$n" '.[$k].own_bytes / 1024 * 10 | round / 10' <<<"$mem")"
	done
	shared=$(shared_memory "$dir")
	fact memory_shared "$shared"
	rec memory kib_shared progs 1 "$(jq '.prog_bytes / 1024 * 10 | round / 10' <<<"$shared")"
	rec memory kib_shared maps 1 "$(jq '(.map_bytes - .ringbuf_bytes) / 1024 * 10 | round / 10' <<<"$shared")"
	rec memory kib_shared ringbuf 1 "$(jq '.ringbuf_bytes / 1024 * 10 | round / 10' <<<"$shared")"
}

# ================================================================ 7. progs

# The programs are shared: every container's links run the same ones,
# which find the container's maps through the cgroup they run for
# (cgroup storage `cgslot`). A test run gets a fresh, zeroed cgroup
# storage from the kernel, so slot 0, which no container has: the
# programs take their fail-closed path (no maps: deny, retval 0) and
# the test run cannot time a profile's lookups any more. It times that
# path, the cheapest a packet can take; a profile's cost per packet is
# the in-situ figure of section 3 (rows "in situ").
bench_progs() {
	local r item order items=(floor shared/ingress shared/egress) prog out dir retvals='{}' pid0 pid1
	setup_datapath
	dir=$(pin_dir "$T-dp-ours0")
	say "per-program cost: BPF_PROG_TEST_RUN, $PROG_REPEAT runs per sample ($PROG_ROUNDS rounds)"
	for ((r = 1; r <= PROG_ROUNDS; r++)); do
		mapfile -t order < <(rotated "$r" "${items[@]}")
		for item in "${order[@]}"; do
			prog=${item#*/}
			case $item in
			floor) out=$("$PROGRUN" floor "$PROG_REPEAT") ;;
			*) out=$("$PROGRUN" "$dir" "$prog" "$PROG_REPEAT") ;;
			esac
			if jq -e '.ok' >/dev/null 2>&1 <<<"$out"; then
				rec progs ns_per_run "$item" "$r" "$(jq .ns <<<"$out")"
				retvals=$(jq -c --arg i "$item" --argjson v "$(jq .retval <<<"$out")" '.[$i] = $v' <<<"$retvals")
			else
				say "warning: test run of $item: $out"
			fi
		done
	done
	fact progs_test_run_retval "$retvals"
	out='[]'
	for prog in connect4 connect6 sendmsg4 sendmsg6; do
		out=$(jq -c --argjson x "$("$PROGRUN" "$(pin_dir "$T-dp-ours$MAX_RULES")" "$prog" 1000)" '. + [$x]' <<<"$out")
	done
	fact progs_sock_addr_test_run "$out"
	# One program for all: the egress links of two containers run it.
	pid0=$(bpftool -j link show pinned "$(pin_dir "$T-dp-ours0")/egress" | jq .prog_id)
	pid1=$(bpftool -j link show pinned "$(pin_dir "$T-dp-ours$MAX_RULES")/egress" | jq .prog_id)
	mkdir -p "$T_TMP/progs"
	bpf_snapshot "$T_TMP/progs"
	fact progs_shared "$(shared_memory "$T_TMP/progs" | jq -c --argjson a "$pid0" --argjson b "$pid1" '{
		same_egress_program: ($a == $b and ([.prog_ids[] | select(. == $a)] | length) == 1),
		builds, progs: [.progs[] | {name, xlated, jited, verified_insns, bytes}]}')"
}

# ================================================================= main

machine_facts
say "mode $BENCH_MODE; sections: $BENCH_ONLY"
BENCH_T0=$SECONDS
for section in start hook scale rules datapath connect memory progs; do
	want "$section" || continue
	"bench_$section"
done
fact duration_s "$((SECONDS - BENCH_T0))"

mkdir -p "$RESULTS"
"$BENCH_DIR/report.sh" "$RAW" "$FACTS" "$RESULTS" || bail "write the report"
if [ "${BENCH_UPDATE_DOC:-}" = 1 ]; then
	"$BENCH_DIR/report.sh" --update-doc "$RESULTS/latest.md" "$OCB_TOP/BENCHMARKS.md" ||
		bail "update BENCHMARKS.md"
fi
say "done in $((SECONDS - BENCH_T0)) s; results in $RESULTS"
