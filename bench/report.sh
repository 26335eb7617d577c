#!/bin/bash
# bench/report.sh: turns the samples of bench/run.sh into the reports.
#
#   report.sh RAW.tsv FACTS.jsonl OUTDIR
#       writes OUTDIR/latest.json, a timestamped copy of it, latest.txt
#       (also printed), latest.md, datapath.dat and datapath.png
#   report.sh --update-doc LATEST.md BENCHMARKS.md
#       replaces the block between the bench:results markers
#   report.sh --from-json RESULTS.json OUTDIR
#       renders the reports again from a results document
set -u
set -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export LC_ALL=C

update_doc() { # LATEST.md DOC.md
	local md=$1 doc=$2 tmp
	grep -q '<!-- bench:results:begin -->' "$doc" && grep -q '<!-- bench:results:end -->' "$doc" || {
		echo "report: $doc has no bench:results markers" >&2
		return 1
	}
	tmp=$(mktemp "$doc.XXXXXX") || return 1
	awk -v md="$md" '
		/<!-- bench:results:begin -->/ { print; while ((getline l < md) > 0) print l; skip = 1; next }
		/<!-- bench:results:end -->/ { skip = 0 }
		!skip { print }' "$doc" >"$tmp" && chmod 644 "$tmp" && mv "$tmp" "$doc"
}

if [ "${1:-}" = --update-doc ]; then
	update_doc "$2" "$3"
	exit
fi

if [ "${1:-}" = --from-json ]; then
	JSON_IN=$2
	OUT=$3
else
	RAW=$1
	FACTS=$2
	OUT=$3
fi
mkdir -p "$OUT" || exit 1
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

if [ -z "${JSON_IN:-}" ]; then
	jq -cR 'split("\t")' "$RAW" >"$TMP/raw.jsonl" || exit 1
	jq -n --slurpfile raw "$TMP/raw.jsonl" --slurpfile facts "$FACTS" -f "$HERE/report.jq" >"$TMP/results.json" ||
		exit 1
	stamp=$(jq -r '.run.date // "unknown" | gsub("[:]"; "")' "$TMP/results.json")
	mode=$(jq -r '.run.mode // "unknown"' "$TMP/results.json")
	cp "$TMP/results.json" "$OUT/latest.json"
	cp "$TMP/results.json" "$OUT/$stamp-$mode.json"
else
	cp "$JSON_IN" "$TMP/results.json"
	[ "$(realpath "$JSON_IN")" = "$(realpath "$OUT/latest.json")" ] || cp "$JSON_IN" "$OUT/latest.json"
fi
R=$TMP/results.json

# ------------------------------------------------------------ table rows
# One TSV line a row: section, label, median, unit, spread, ratio text.
jq -r '
	def f: if . == null then "-" elif (. | fabs) >= 100 then (. * 10 | round / 10 | tostring)
		elif (. | fabs) >= 10 then (. * 100 | round / 100 | tostring)
		else (. * 1000 | round / 1000 | tostring) end;
	.table[]
	| [.section, .label,
	   (if .only_ratio then "~" else (.median | f) end),
	   (if .only_ratio then "~" else .unit end),
	   (if .only_ratio or .q1 == null then "~" else "\(.q1 | f)-\(.q3 | f), n=\(.n)" end),
	   (if .ratio == null then "~" else "x\(.ratio) vs \(.vs)"
	      + (if .ratio_q1 != null then " (\(.ratio_q1)-\(.ratio_q3))" else "" end)
	      + (if (.unit == "ms" or .unit == "ns") and .delta != null
	         then ", " + (if .delta >= 0 then "+" else "" end) + (.delta | f) + " " + .unit else "" end) end)]
	| @tsv' "$R" >"$TMP/rows.tsv"

# "~" stands for an empty field (read collapses adjacent tabs).
unfill() {
	[ "$med" = "~" ] && med=
	[ "$unit" = "~" ] && unit=
	[ "$spread" = "~" ] && spread=
	[ "$ratio" = "~" ] && ratio=
	return 0
}

section_title() {
	case $1 in
	start) echo "1. Container start: runc run of a busybox 'true' container" ;;
	hook) echo "1b. The hook alone, against a floor hook that only reads its stdin" ;;
	datapath) echo "2. Datapath: client in the test cgroup, server outside it, loopback of a private netns" ;;
	connect) echo "3. connect()+close() rate to a local listener" ;;
	memory) echo "4. Kernel memory (bytes_memlock, bpftool): each container's own maps, and what all containers share, once" ;;
	scale) echo "5. Scale: the hook with N containers already attached" ;;
	rules) echo "5b. Kernel memory (bytes_memlock) of N containers on the 10k-rule profile against one" ;;
	insitu) echo "6. Per-program cost in situ: the kernel's run-time stats during one load each" ;;
	progs) echo "7. Per-program cost: BPF_PROG_TEST_RUN, ns per run" ;;
	*) echo "$1" ;;
	esac
}

# Notes under the tables, from the facts (same text in both reports).
jq -r '
	def kib: . / 1024 * 10 | round / 10 | tostring + " KiB";
	def mib: . / 1048576 * 10 | round / 10 | tostring + " MiB";
	.facts as $f
	| def cmem($m; $what):
		if $m.prog_bytes != null then
			"memory, \($what): \($m.progs) programs \($m.prog_bytes | kib) + \($m.maps) maps \($m.map_bytes | kib) = \($m.total_bytes | kib); by object: "
			+ ([$m.detail[] | select(.bytes > 0) | "\(.name) \(.bytes)"] | join(", "))
		else
			"memory, \($what): \($m.links) links (no bytes_memlock) + \($m.maps) maps \($m.map_bytes | kib)"
			+ (if $m.own_bytes != null then
				" (its own \($m.own_bytes | kib), the tries of its profile \($m.tries_bytes | kib), pinned by \($m.tries_sharers) container\(if $m.tries_sharers == 1 then "" else "s" end))"
			   else "" end)
			+ "; by map: " + ([$m.detail[] | "\(.name) \(.bytes)"] | join(", "))
			+ "; its links run \($m.progs_behind_links) programs, "
			+ (if $m.shared_progs then "all of them the shared ones" else "\($m.own_progs) of them NOT the shared ones" end)
		end;
	  def cleanup($c; $what):
		if $c.progs_left != null then
			"\($what): after detaching all: \($c.pins_left) pins, \($c.progs_left) of the \($c.progs_checked) programs and \($c.links_left) links left -> "
			+ (if $c.clean then "clean" else "NOT CLEAN" end)
		else
			"\($what): after detaching all: \($c.pins_left) pins, \($c.maps_left) of their \($c.maps_checked) maps, \($c.links_left) of their \($c.links_checked) links and \($c.cgroup_links_left) cgroup links left, slots taken \($c.slots_before) before -> \($c.slots_after) after -> "
			+ (if $c.clean then "clean" else "NOT CLEAN" end)
			+ "; the shared programs: \($c.shared_progs) before, \($c.shared_progs_after) after, same set \($c.shared_progs_same), \($c.shared_progs_loaded) still loaded, \($c.shared_builds) build director\(if $c.shared_builds == 1 then "y" else "ies" end) -> "
			+ (if $c.shared_intact then "one set, as designed" else "NOT ONE SET" end)
		end;
	  (if $f["memory_ours-0"] then cmem($f["memory_ours-0"]; "default profile") else empty end),
	  (if $f["memory_ours-10k"] then cmem($f["memory_ours-10k"]; "10k-rule profile") else empty end),
	  (if $f.memory_shared then
		if $f.memory_shared.progs != null then
			"shared by all containers, counted once (build \($f.memory_shared.builds | join(", "))): \($f.memory_shared.progs | length) programs \($f.memory_shared.prog_bytes | kib) ("
			+ ([$f.memory_shared.progs[] | "\(.name | ltrimstr("ocb_")) \(.bytes)"] | join(", "))
			+ "); maps \(($f.memory_shared.map_bytes - $f.memory_shared.ringbuf_bytes) | kib) without the ring buffer ("
			+ ([$f.memory_shared.maps[] | select(.type != "ringbuf") | "\(.name) \(.bytes)"] | join(", "))
			+ "); trace ring buffer \($f.memory_shared.ringbuf_bytes | mib); total \($f.memory_shared.total_bytes | mib), \($f.memory_shared.total_bytes_without_ringbuf | kib) without the ring buffer"
		else
			"shared by all containers, counted once: " + ([$f.memory_shared.maps[] | "\(.name) (\(.type), \(.bytes | mib))"] | join(", "))
			+ " = \($f.memory_shared.total_bytes | mib)"
		end else empty end),
	  (if $f.scale_memory then
		if $f.scale_memory.prog_bytes != null then
			"scale: \($f.scale_memory.containers) containers attached hold \($f.scale_memory.links) links, \($f.scale_memory.progs) programs, \($f.scale_memory.maps) maps: \($f.scale_memory.total_bytes | mib) of bytes_memlock (\($f.scale_memory.per_container_bytes | kib) each)"
		else
			"scale: \($f.scale_memory.containers) containers attached hold \($f.scale_memory.links) links and \($f.scale_memory.maps) maps: \($f.scale_memory.total_bytes | mib) of bytes_memlock (\($f.scale_memory.per_container_bytes | kib) each); their links run \($f.scale_memory.progs_behind_links) programs, containers with programs of their own: \($f.scale_memory.containers_with_own_progs)"
		end
		+ "; /proc/meminfo Slab+VmallocUsed+Percpu grew by \($f.scale_memory.meminfo_delta_kb * 1024 | mib) for the last \($f.scale_memory.meminfo_delta_containers // "?") of them, \(($f.scale_memory.meminfo_per_container_kb // 0) * 1024 | kib) each (noisy: a shared machine)"
	   else empty end),
	  (if $f.scale_objects then
		"scale: for the last \($f.scale_objects.containers) containers the kernel gained \($f.scale_objects.progs_delta) programs, \($f.scale_objects.maps_delta) maps (\($f.scale_objects.maps_per_container * 100 | round / 100) each) and \($f.scale_objects.links_delta) links (\($f.scale_objects.links_per_container * 100 | round / 100) each), counting every user of the machine; slots taken at the top: \($f.scale_objects.slots_taken) for \($f.scale_objects.slots_expected) containers"
	   else empty end),
	  (if $f.scale_kmem_growth then
		"scale: biggest kernel memory growths per container (slabinfo, vmallocinfo; vmalloc sizes include guard pages; other users of the machine add noise): "
		+ ([$f.scale_kmem_growth[] | "\(.what) \(.bytes_per_container | kib)"] | join(", ")) else empty end),
	  (if $f.scale_cleanup then cleanup($f.scale_cleanup; "scale") else empty end),
	  (if $f.rules_memory then
		($f.rules_memory) as $r
		| "rules: one container on the 10k-rule profile holds \($r.one.total_bytes | kib) of maps (rules \($r.one.rules_bytes | kib)) beside \($r.one.shared.total_bytes_without_ringbuf | kib) shared (no ring buffer): \($r.bytes_one | kib); \($r.containers) containers hold \($r.all.total_bytes | mib) of maps ("
		  + (if $r.all.tries != null then "\($r.all.tries) distinct tries, \($r.all.tries_bytes | kib) in all, and their own maps, \($r.all.per_container_own_bytes | kib) each"
		     else "rules \($r.all.per_container_rules_bytes | kib) each" end)
		  + ") beside the same shared objects: \($r.bytes_all | mib), x\($r.ratio * 100 | round / 100) of one (x\($r.ratio_with_ringbuf * 100 | round / 100) counting the 16 MiB ring buffer on both sides); /proc/meminfo grew by \($r.meminfo_one_kb * 1024 | kib) for the first, \($r.meminfo_per_container_kb * 1024 | kib) for each further one"
	   else empty end),
	  (if $f.rules_cleanup then cleanup($f.rules_cleanup; "rules") else empty end),
	  (if $f.nft_cgroup_match then
		"nftables: socket cgroupv2 level \($f.nft_cgroup_match.level) \"\($f.nft_cgroup_match.path)\" (cgroup2 mounted at \($f.nft_cgroup_match.cgroup2_mount)); "
		+ ([$f.nft_paths[]? | "path \"\(.path)\": " + (if .accepted then "accepted" else "refused (\(.error))" end)] | join("; "))
		+ "; enforcement verified: \($f.nft_cgroup_match.works)" else empty end),
	  (if $f.policy_checks then
		"policy checks before measuring: " + ([$f.policy_checks[] | "\(.what) -> \(.addr): \(.got) (\(if .ok then "as expected" else "UNEXPECTED" end))"] | join("; ")) else empty end),
	  (if $f.insitu_connect_loop then
		"in-situ cost (kernel bpf run-time stats, during a connect() loop): "
		+ ([$f.insitu_connect_loop | to_entries[] | "\(.key): " + ([.value[] | select(.runs > 0) | "\(.prog) \(.ns_per_run) ns x \(.runs)"] | join(", "))] | join("; "))
	   else empty end),
	  (if $f.insitu then
		($f.insitu | to_entries[] | .key as $l
		 | "in-situ (kernel bpf run-time stats) during one \($l) load: "
		   + ([.value | to_entries[] | "\(.key): programs took \(.value.cpu_share * 100 * 100 | round / 100)% of the CPU ("
			+ ([.value.progs[] | "\(.prog) \(.ns_per_run) ns x \(.runs)"] | join(", ")) + ")"] | join("; ")))
	   else empty end),
	  (if $f.progs_sock_addr_test_run then
		"test run of sock_addr programs: " + ([$f.progs_sock_addr_test_run[] | "\(.prog) " + (if .ok then "\(.ns) ns" else .error end)] | join("; ")) else empty end),
	  (if $f.progs_egress_size then
		"egress program size: " + ([$f.progs_egress_size | to_entries[] | "\(.key) \(.value.bytes_xlated) B xlated, \(.value.bytes_jited) B jited"] | join("; ")) else empty end),
	  (if $f.progs_test_run_retval then
		"test runs returned: " + ([$f.progs_test_run_retval | to_entries[] | "\(.key) \(.value)"] | join(", "))
		+ " (the test run gives the programs a zeroed cgroup storage, slot 0, which no container has: 0 is their fail-closed deny)" else empty end),
	  (if $f.progs_shared then
		"shared programs (build \($f.progs_shared.builds | join(", "))): " + ([$f.progs_shared.progs[] | "\(.name | ltrimstr("ocb_")) \(.xlated) B xlated, \(.jited) B jited" + (if .verified_insns then ", \(.verified_insns) insns verified" else "" end)] | join("; "))
		+ "; the egress links of the allow-all and 10k-rule containers run one program: \($f.progs_shared.same_egress_program)" else empty end)
' "$R" >"$TMP/notes.txt"

jq -r '.targets[] | [(if .met == true then "MET" elif .met == false then "MISSED" else "n/a" end),
	.name, (.value | tostring), .goal, (.margin | tostring)] | @tsv' "$R" >"$TMP/targets.tsv"

machine_line=$(jq -r '.machine as $m | .run as $r | "\($m.cpu // "?"), \($m.cores // "?") cores, \($m.memory // "?"), \($m.virtualization // "" | if . == "" then "" else . + ", " end)kernel \($m.kernel // "?"), \($m.cgroup // "?"); \($r.mode // "?") run of \($r.date // "?") (\($r.commit // "?")), load average at start \($r.loadavg_at_start // "?"), took \(.duration_s // "?") s"' "$R")
tools_line=$(jq -r '.machine | "\(.runc // "?"); \(.iperf3 // "?"); \(.nft // "?"); \(.bpftool // "?")"' "$R")

# ------------------------------------------------------------------ text
{
	echo "oci-cgroup-bpf-hook benchmarks"
	echo "$machine_line"
	echo "tools: $tools_line"
	echo "median, interquartile range and sample count; ratios are medians of per-round ratios (interleaved A/B)"
	prev=
	while IFS=$'\t' read -r sec label med unit spread ratio; do
		unfill
		if [ "$sec" != "$prev" ]; then
			printf '\n%s\n' "$(section_title "$sec")"
			prev=$sec
		fi
		printf '  %-52s %10s %-7s %-24s %s\n' "$label" "$med" "$unit" "$spread" "$ratio"
	done <"$TMP/rows.tsv"
	printf '\nTargets\n'
	while IFS=$'\t' read -r met name value goal margin; do
		printf '  %-7s %-60s %-8s (goal %s)\n' "$met" "$name" "$value" "$goal"
	done <"$TMP/targets.tsv"
	printf '\nNotes\n'
	sed 's/^/  - /' "$TMP/notes.txt"
} >"$OUT/latest.txt"
cat "$OUT/latest.txt"

# -------------------------------------------------------------- markdown
{
	echo "Machine: $machine_line."
	echo
	echo "Tools: $tools_line."
	echo
	echo "Medians with interquartile range and sample count; a ratio is the median of the per-round ratios of two variants measured in the same rounds (interleaved), with its interquartile range."
	prev=
	while IFS=$'\t' read -r sec label med unit spread ratio; do
		unfill
		if [ "$sec" != "$prev" ]; then
			printf '\n**%s**\n\n| | median | unit | IQR, n | ratio |\n|---|---:|---|---|---|\n' "$(section_title "$sec")"
			prev=$sec
		fi
		printf '| %s | %s | %s | %s | %s |\n' "$label" "$med" "$unit" "$spread" "$ratio"
	done <"$TMP/rows.tsv"
	printf '\n**Targets**\n\n| | target | measured | goal | margin |\n|---|---|---:|---|---:|\n'
	while IFS=$'\t' read -r met name value goal margin; do
		printf '| %s | %s | %s | %s | %s |\n' "$met" "$name" "$value" "$goal" "$margin"
	done <"$TMP/targets.tsv"
	printf '\n**Notes from the run**\n\n'
	sed 's/^/- /' "$TMP/notes.txt"
	if [ -s "$OUT/datapath.dat" ] || command -v gnuplot >/dev/null 2>&1; then
		printf '\n![Throughput and request rate against rule count](bench/results/datapath.png)\n'
	fi
} >"$OUT/latest.md"

# ------------------------------------------------------------------ plot
jq -r '.samples.datapath as $d
	| [.table[] | select(.section == "datapath" and .vs == "none")] as $rows
	| def s($m; $v): $d[$m][$v] // {};
	  def c($x): if $x.median == null then "NaN NaN NaN" else "\($x.median) \($x.q1) \($x.q3)" end;
	  def r($m; $v): ([$rows[] | select(.metric == $m and .variant == $v)] | first // {}) as $x
	    | if $x.ratio == null then "NaN NaN NaN" else "\($x.ratio) \($x.ratio_q1 // $x.ratio) \($x.ratio_q3 // $x.ratio)" end;
	  ["0", "1k", "10k"] | to_entries[] | .key as $i | .value as $n
	  | "\($i) \($n) " + c(s("stream_gbps"; "ours-\($n)")) + " " + c(s("stream_gbps"; "nft-\($n)"))
	    + " " + c(s("stream_gbps"; "none")) + " " + c(s("rr_per_s"; "ours-\($n)"))
	    + " " + c(s("rr_per_s"; "nft-\($n)")) + " " + c(s("rr_per_s"; "none"))
	    + " " + r("stream_gbps"; "ours-\($n)") + " " + r("stream_gbps"; "nft-\($n)")
	    + " " + r("rr_per_s"; "ours-\($n)") + " " + r("rr_per_s"; "nft-\($n)")' "$R" >"$OUT/datapath.dat"
if command -v gnuplot >/dev/null 2>&1 && jq -e '.samples.datapath' "$R" >/dev/null; then
	title=$(jq -r '"\(.machine.cpu // "?"), \(.machine.cores // "?") cores, kernel \(.machine.kernel // "?"), \(.run.mode // "?") run \(.run.date // "")"' "$R")
	gnuplot <<EOF || echo "report: gnuplot failed" >&2
set terminal pngcairo size 1200,900 font "sans,10"
set output "$OUT/datapath.png"
set multiplot layout 2,2 title "oci-cgroup-bpf-hook vs nftables, same egress deny policy (random prefixes), loopback in a netns, client and server on one CPU\n$title"
set xrange [-0.3:2.3]
set xtics ("0 (allow-all)" 0, "1k" 1, "10k" 2)
set xlabel "rules"
set grid ytics
set key bottom left
set title "TCP stream (iperf3): median and IQR"
set ylabel "Gbit/s"
set yrange [0:*]
plot "$OUT/datapath.dat" using 1:3:4:5 with yerrorlines lw 2 pt 7 title "ours", \
     "" using 1:6:7:8 with yerrorlines lw 2 pt 5 title "nftables", \
     "" using 1:9 with lines dt 2 lw 2 lc rgb "black" title "no programs"
set title "TCP 1-byte request/response: median and IQR"
set ylabel "transactions/s"
plot "$OUT/datapath.dat" using 1:12:13:14 with yerrorlines lw 2 pt 7 title "ours", \
     "" using 1:15:16:17 with yerrorlines lw 2 pt 5 title "nftables", \
     "" using 1:18 with lines dt 2 lw 2 lc rgb "black" title "no programs"
set yrange [0.8:1.2]
set ylabel "ratio to no programs"
set title "TCP stream: median and IQR of per-round ratios to no programs"
plot "$OUT/datapath.dat" using 1:21:22:23 with yerrorlines lw 2 pt 7 title "ours", \
     "" using 1:24:25:26 with yerrorlines lw 2 pt 5 title "nftables", \
     1 with lines dt 2 lw 2 lc rgb "black" title "no programs", \
     0.97 with lines dt 3 lc rgb "gray40" title "97%", \
     0.95 with lines dt 4 lc rgb "gray60" title "95%"
set title "TCP RR: median and IQR of per-round ratios to no programs"
plot "$OUT/datapath.dat" using 1:27:28:29 with yerrorlines lw 2 pt 7 title "ours", \
     "" using 1:30:31:32 with yerrorlines lw 2 pt 5 title "nftables", \
     1 with lines dt 2 lw 2 lc rgb "black" title "no programs", \
     0.97 with lines dt 3 lc rgb "gray40" title "97%", \
     0.95 with lines dt 4 lc rgb "gray60" title "95%"
unset multiplot
EOF
fi
exit 0
