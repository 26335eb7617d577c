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
	memory) echo "4. Kernel memory per attached container (bytes_memlock, bpftool)" ;;
	scale) echo "5. Scale: the hook with N containers already attached" ;;
	progs) echo "6. Per-program cost: BPF_PROG_TEST_RUN, ns per run" ;;
	*) echo "$1" ;;
	esac
}

# Notes under the tables, from the facts (same text in both reports).
jq -r '
	def kib: . / 1024 * 10 | round / 10 | tostring + " KiB";
	def mib: . / 1048576 * 10 | round / 10 | tostring + " MiB";
	.facts as $f
	| (if $f["memory_ours-0"] then
		"memory, default profile: \($f["memory_ours-0"].progs) programs \($f["memory_ours-0"].prog_bytes | kib) + \($f["memory_ours-0"].maps) maps \($f["memory_ours-0"].map_bytes | kib) = \($f["memory_ours-0"].total_bytes | kib); by object: "
		+ ([$f["memory_ours-0"].detail[] | "\(.name) \(.bytes)"] | join(", ")) else empty end),
	  (if $f["memory_ours-10k"] then
		"memory, 10k-rule profile: programs \($f["memory_ours-10k"].prog_bytes | kib) + maps \($f["memory_ours-10k"].map_bytes | kib) = \($f["memory_ours-10k"].total_bytes | kib); by object: "
		+ ([$f["memory_ours-10k"].detail[] | select(.bytes > 1024) | "\(.name) \(.bytes)"] | join(", ")) else empty end),
	  (if $f.memory_shared then
		"shared by all containers, counted once: " + ([$f.memory_shared.maps[] | "\(.name) (\(.type), \(.bytes | mib))"] | join(", "))
		+ " = \($f.memory_shared.total_bytes | mib)" else empty end),
	  (if $f.scale_memory then
		"scale: \($f.scale_memory.containers) containers attached hold \($f.scale_memory.links) links, \($f.scale_memory.progs) programs, \($f.scale_memory.maps) maps: \($f.scale_memory.total_bytes | mib) of bytes_memlock (\($f.scale_memory.per_container_bytes | kib) each); /proc/meminfo Slab+VmallocUsed+Percpu grew by \($f.scale_memory.meminfo_delta_kb * 1024 | mib) for the last \($f.scale_memory.meminfo_delta_containers // "?") of them, \(($f.scale_memory.meminfo_per_container_kb // 0) * 1024 | kib) each (noisy: a shared machine)"
	   else empty end),
	  (if $f.scale_kmem_growth then
		"scale: biggest kernel memory growths per container (slabinfo, vmallocinfo; vmalloc sizes include guard pages; other users of the machine add noise): "
		+ ([$f.scale_kmem_growth[] | "\(.what) \(.bytes_per_container | kib)"] | join(", ")) else empty end),
	  (if $f.scale_cleanup then
		"scale: after detaching all: \($f.scale_cleanup.pins_left) pins, \($f.scale_cleanup.progs_left) of the \($f.scale_cleanup.progs_checked) programs and \($f.scale_cleanup.links_left) links left -> "
		+ (if $f.scale_cleanup.clean then "clean" else "NOT CLEAN" end) else empty end),
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
		"egress program size: " + ([$f.progs_egress_size | to_entries[] | "\(.key) \(.value.bytes_xlated) B xlated, \(.value.bytes_jited) B jited"] | join("; ")) else empty end)
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
