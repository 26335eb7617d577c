# bench/report.jq: raw samples and facts -> the results document.
#
# Input: null. $raw: [[section, metric, variant, round, value], ...] (all
# strings, from bench/run.sh's TSV); $facts: [{key, value}, ...].
# Output: the document written to bench/results/latest.json; its "table"
# and "targets" are what the text and Markdown reports print.

def num: if type == "string" then tonumber else . end;

def median:
  sort | length as $n
  | if $n == 0 then null
    elif $n % 2 == 1 then .[($n - 1) / 2]
    else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;

# Quartiles by the median-of-halves rule (enough for a spread column).
def q1: sort | .[0:((length + 1) / 2 | floor)] | median;
def q3: sort | .[(length / 2 | floor):] | median;

def r3: if . == null then null else (. * 1000 | round) / 1000 end;
def r1: if . == null then null else (. * 10 | round) / 10 end;

def stats:
  [.[].value] as $v
  | {n: ($v | length), median: ($v | median), q1: ($v | q1), q3: ($v | q3),
     min: ($v | min), max: ($v | max),
     samples: [.[] | {round, value}]};

($facts | map({key, value}) | from_entries) as $F

# samples[section][metric][variant] = stats
| ($raw | map({section: .[0], metric: .[1], variant: .[2], round: .[3], value: (.[4] | num)})) as $S
| (reduce ($S | group_by([.section, .metric, .variant])[]) as $g ({};
     setpath([$g[0].section, $g[0].metric, $g[0].variant]; $g | stats))) as $samples

# ratio of A to B: the median of the per-round ratios when both were
# measured in the same rounds (interleaved), else the ratio of medians.
| def ratio($sec; $met; $a; $b):
    ($samples[$sec][$met][$a]) as $A | ($samples[$sec][$met][$b]) as $B
    | if $A == null or $B == null or $B.median == 0 then null
      else
        ([$A.samples[] as $x | $B.samples[] | select(.round == $x.round and .value != 0)
          | [$x.value / .value, $x.value - .value]]) as $pr
        | if ($pr | length) >= 3 and ($A.samples | length) == ($B.samples | length)
          then {ratio: ([$pr[][0]] | median), q1: ([$pr[][0]] | q1), q3: ([$pr[][0]] | q3),
                delta: ([$pr[][1]] | median), paired: ($pr | length)}
          else {ratio: ($A.median / $B.median), delta: ($A.median - $B.median), paired: 0} end
      end;

# One table row.
def row($sec; $lab; $met; $var; $unit; $vs):
    ($samples[$sec][$met][$var]) as $s
    | if $s == null then empty else
        {section: $sec, label: $lab, metric: $met, variant: $var, unit: $unit,
         median: $s.median, q1: $s.q1, q3: $s.q3, n: $s.n}
        + (if $vs == null then {} else
             (ratio($sec; $met; $var; $vs)) as $r
             | if $r == null then {} else {vs: $vs, ratio: ($r.ratio | r3),
                 ratio_q1: ($r.q1 | r3), ratio_q3: ($r.q3 | r3), delta: ($r.delta | r3)} end end)
      end;

# A comparison only: its ratio, shown without repeating the median.
def cmp($sec; $lab; $met; $var; $unit; $vs):
  row($sec; $lab; $met; $var; $unit; $vs) | select(.ratio != null) | .only_ratio = true;

($F.run.params.scale_levels // []) as $levels
| ($levels | max) as $nmax
| def rules_label: if . == "0" then "allow-all (no rules)" else . + " rules" end;
def dp_label($v):
    if $v == "none" then "no programs"
    elif ($v | startswith("ours-")) then "ours, " + ($v | ltrimstr("ours-") | rules_label)
    else "nftables, " + ($v | ltrimstr("nft-") | rules_label) end;
def dp_order: ["none", "ours-0", "ours-1k", "ours-10k", "nft-0", "nft-1k", "nft-10k"];

[
    row("start"; "runc run, no hooks"; "runc_run_ms"; "none"; "ms"; null),
    row("start"; "runc run, floor hooks"; "runc_run_ms"; "floor"; "ms"; "none"),
    row("start"; "runc run, our hooks (another container of the profile runs)"; "runc_run_ms"; "ours"; "ms"; "none"),
    cmp("start"; "runc run, our hooks vs floor hooks"; "runc_run_ms"; "ours"; "ms"; "floor"),
    row("start"; "runc run, our hooks, the profile's only container"; "runc_run_ms"; "ours-alone"; "ms"; "none"),
    cmp("start"; "runc run, our hooks, the profile's only container, vs floor hooks"; "runc_run_ms"; "ours-alone"; "ms"; "floor"),
    row("hook"; "prestart, floor hook"; "prestart_ms"; "floor"; "ms"; null),
    row("hook"; "prestart, ours (default: no policy; another container of it runs)"; "prestart_ms"; "ours"; "ms"; "floor"),
    row("hook"; "prestart, ours (10k-rule profile; another container of it runs)"; "prestart_ms"; "ours-10k"; "ms"; "floor"),
    row("hook"; "prestart, ours, a profile's only container (compiles it)"; "prestart_ms"; "last"; "ms"; "floor"),
    row("hook"; "prestart, ours, first container on a fresh bpffs (loads the shared programs)"; "prestart_ms"; "cold"; "ms"; "floor"),
    row("hook"; "poststop, floor hook"; "poststop_ms"; "floor"; "ms"; null),
    row("hook"; "poststop, ours (default)"; "poststop_ms"; "ours"; "ms"; "floor"),
    row("hook"; "poststop, ours (10k-rule profile)"; "poststop_ms"; "ours-10k"; "ms"; "floor"),
    row("hook"; "poststop, ours, a profile's last container (frees it)"; "poststop_ms"; "last"; "ms"; "floor"),
    (dp_order[] as $v | row("datapath"; "TCP stream, " + dp_label($v); "stream_gbps"; $v; "Gbit/s";
       (if $v == "none" then null else "none" end))),
    (dp_order[] as $v | row("datapath"; "TCP 1-byte RR, " + dp_label($v); "rr_per_s"; $v; "trans/s";
       (if $v == "none" then null else "none" end))),
    (["0", "1k", "10k"][] as $n
     | cmp("datapath"; "TCP stream, ours vs nftables, " + ($n | rules_label); "stream_gbps"; "ours-" + $n; "Gbit/s"; "nft-" + $n),
       cmp("datapath"; "TCP 1-byte RR, ours vs nftables, " + ($n | rules_label); "rr_per_s"; "ours-" + $n; "trans/s"; "nft-" + $n)),
    (dp_order[] as $v | row("connect"; "connect()+close, " + dp_label($v); "connects_per_s"; $v; "conn/s";
       (if $v == "none" then null else "none" end))),
    cmp("connect"; "connect()+close, ours vs nftables, 10k rules"; "connects_per_s"; "ours-10k"; "conn/s"; "nft-10k"),
    (["ours-0", "ours-1k", "ours-10k"][] as $v | ($v | ltrimstr("ours-") | if . == "0" then "default (no policy)" else . + "-rule profile" end) as $p
     | row("memory"; "per container alone on its profile (its maps and its profile's tries), " + $p;
           "kib_per_container"; $v; "KiB"; null),
       row("memory"; "per further container of the same profile (its own maps), " + $p;
           "kib_own"; $v; "KiB"; null)),
    row("memory"; "shared by all containers, once: the programs"; "kib_shared"; "progs"; "KiB"; null),
    row("memory"; "shared by all containers, once: their maps (outer maps, cgslot, .rodata, ...)"; "kib_shared"; "maps"; "KiB"; null),
    row("memory"; "shared by all containers, once: the trace ring buffer"; "kib_shared"; "ringbuf"; "KiB"; null),
    ($levels[] as $n | row("scale"; "prestart with \($n) attached"; "prestart_ms"; "n=\($n)"; "ms";
       (if $n == $levels[0] then null else "n=\($levels[0])" end))),
    ($levels[] as $n | row("scale"; "poststop with \($n) attached"; "poststop_ms"; "n=\($n)"; "ms";
       (if $n == $levels[0] then null else "n=\($levels[0])" end))),
    (($F.run.params.rules_scale // null) as $rn
     | row("rules"; "1 container on the 10k-rule profile, with the shared objects (no ring buffer)"; "kib_total"; "n=1"; "KiB"; null),
       (if $rn != null then row("rules"; "\($rn) containers on the 10k-rule profile, with the shared objects"; "kib_total"; "n=\($rn)"; "KiB"; "n=1") else empty end)),
    (["0", "10k"][] as $n
     | row("insitu"; "in situ, egress, per packet, RR load, " + ($n | rules_label); "ns_per_run"; "ours-\($n)/egress/rr"; "ns"; null),
       row("insitu"; "in situ, ingress, per packet, RR load, " + ($n | rules_label); "ns_per_run"; "ours-\($n)/ingress/rr"; "ns"; null),
       row("insitu"; "in situ, egress, per packet, stream load, " + ($n | rules_label); "ns_per_run"; "ours-\($n)/egress/stream"; "ns"; null),
       row("insitu"; "in situ, connect4, per connect, " + ($n | rules_label); "ns_per_run"; "ours-\($n)/connect4/connect"; "ns"; null)),
    row("progs"; "test run, floor (return 1)"; "ns_per_run"; "floor"; "ns"; null),
    row("progs"; "test run, ingress, no container's slot (fail-closed path)"; "ns_per_run"; "shared/ingress"; "ns"; "floor"),
    row("progs"; "test run, egress, no container's slot (fail-closed path)"; "ns_per_run"; "shared/egress"; "ns"; "floor")
  ] as $table

# Targets of the issue: value, target, met.
| def target($name; $goal; $cmp; $limit; $value; $why):
    {name: $name, goal: $goal, value: ($value | r3), limit: $limit,
     met: (if $value == null then null elif $cmp == "<=" then $value <= $limit else $value >= $limit end),
     margin: (if $value == null then null else ($value - $limit | r3) end), measured_as: $why};
def rat($sec; $met; $a; $b): (ratio($sec; $met; $a; $b) // {}).ratio;

($samples.scale.prestart_ms // {}) as $sp
| [
    target("hook adds <=5% to runc run"; "runc run with hooks / without <= 1.05"; "<="; 1.05;
      rat("start"; "runc_run_ms"; "ours"; "none"); "median of per-round ratios, interleaved"),
    target("runc run with our hooks <= 1.03x with two floor hooks"; "ours / floor <= 1.03"; "<="; 1.03;
      rat("start"; "runc_run_ms"; "ours"; "floor"); "median of per-round ratios, interleaved"),
    target("prestart <= 2x the floor hook (default profile)"; "ours / floor <= 2"; "<="; 2;
      rat("hook"; "prestart_ms"; "ours"; "floor"); "median of per-round ratios, interleaved"),
    target("poststop <= 1.5x the floor hook (default profile)"; "ours / floor <= 1.5"; "<="; 1.5;
      rat("hook"; "poststop_ms"; "ours"; "floor"); "median of per-round ratios, interleaved"),
    target("allow-all: TCP stream >= 97% of no programs"; ">= 0.97"; ">="; 0.97;
      rat("datapath"; "stream_gbps"; "ours-0"; "none"); "median of per-round ratios"),
    target("allow-all: TCP RR >= 97% of no programs"; ">= 0.97"; ">="; 0.97;
      rat("datapath"; "rr_per_s"; "ours-0"; "none"); "median of per-round ratios"),
    target("10k rules: TCP stream >= 95% of no programs"; ">= 0.95"; ">="; 0.95;
      rat("datapath"; "stream_gbps"; "ours-10k"; "none"); "median of per-round ratios"),
    target("10k rules: TCP RR >= 95% of no programs"; ">= 0.95"; ">="; 0.95;
      rat("datapath"; "rr_per_s"; "ours-10k"; "none"); "median of per-round ratios"),
    target("10k rules: TCP stream at or above nftables"; "ours / nft >= 1.0"; ">="; 1.0;
      rat("datapath"; "stream_gbps"; "ours-10k"; "nft-10k"); "median of per-round ratios"),
    target("10k rules: TCP RR at or above nftables"; "ours / nft >= 1.0"; ">="; 1.0;
      rat("datapath"; "rr_per_s"; "ours-10k"; "nft-10k"); "median of per-round ratios"),
    target("10k rules: connect() rate >= 95% of no programs"; ">= 0.95"; ">="; 0.95;
      rat("connect"; "connects_per_s"; "ours-10k"; "none"); "median of per-round ratios"),
    target("kernel memory per container (default profile) <= 8 KiB beyond the shared programs"; "<= 8 KiB"; "<="; 8;
      ($samples.memory.kib_per_container["ours-0"].median); "bytes_memlock of the maps pinned in its directory, its profile's tries whole (links have none)"),
    (($F.run.params.rules_scale // null) as $rn
     | target("\($rn // "N") containers on the 10k-rule profile <= 1.5x the kernel memory of one"; "<= 1.5"; "<="; 1.5;
      (($samples.rules.kib_total // {}) as $k | if $k["n=\($rn)"] and $k["n=1"] then $k["n=\($rn)"].median / $k["n=1"].median else null end);
      "bytes_memlock: shared objects (no ring buffer) + the containers' maps (a shared trie once), N against 1")),
    target("prestart at \($nmax) attached within 1.1x of at \($levels[0] // 1)"; "<= 1.1"; "<="; 1.1;
      (if $sp["n=\($nmax)"] and $sp["n=\($levels[0])"] then $sp["n=\($nmax)"].median / $sp["n=\($levels[0])"].median else null end);
      "ratio of medians (probes going up and coming down)")
  ] as $targets

| {
    schema: "oci-cgroup-bpf-hook/bench/1",
    run: $F.run,
    machine: $F.machine,
    duration_s: $F.duration_s,
    table: $table,
    targets: $targets,
    facts: ($F | del(.run, .machine, .duration_s)),
    samples: $samples
  }
