# shellcheck shell=bash
# tests/attack-lib.sh: helpers of the bypass tests (integration/82-*, 84-*),
# which attack the policy from inside real runc containers. Source it after
# lib.sh and test_init:
#
#     . "$(dirname "$0")/../lib.sh"; test_init; . "$OCB_TOP/tests/attack-lib.sh"
#
# - atk_config: a config directory with the profiles a test writes;
# - atk_container: a running container with a profile and capabilities,
#   nettool mounted at /tmp/nettool;
# - scripts: a nettool udp-script (in a container or a netns) driven one
#   command line at a time, so a test controls timing without sleeps;
# - a peer netns joined by veth, and nft counters in any test netns.

NETTOOL=$OCB_TOP/build/nettool
[ -x "$NETTOOL" ] || bail "build/nettool exists" "build it: make build/nettool"
# Our own copy, mounted read-only into the containers: others may rebuild
# build/nettool while this runs.
ATK_TOOLS=$T_TMP/tools
mkdir -p "$ATK_TOOLS" && cp "$NETTOOL" "$ATK_TOOLS/nettool" && chmod 755 "$ATK_TOOLS" "$ATK_TOOLS/nettool" ||
	bail "copy nettool to $ATK_TOOLS"
NETTOOL=$ATK_TOOLS/nettool

# ---------------------------------------------------------------- config

CFG=$T_TMP/config
mkdir -p "$CFG/profiles" && chmod 755 "$CFG" "$CFG/profiles" || bail "create $CFG"
HOOK_ARGS+=(--config-dir "$CFG")
# Set once a container start showed that this hook does not know
# "privileged_network" (hooks before that setting).
ATK_NO_PRIVNET=

profile() { # NAME JSON
	printf '%s\n' "$2" >"$CFG/profiles/$1.json" && chmod 644 "$CFG/profiles/$1.json" ||
		bail "write profile $1"
}

# atk_write_config: config.json allowing every profile written so far;
# containers holding CAP_NET_RAW or CAP_NET_ADMIN start ("warn").
atk_write_config() {
	local names
	names=$(cd "$CFG/profiles" && ls -- *.json | sed 's/\.json$//' | jq -R . | jq -sc .)
	jq -n --argjson p "$names" --arg nopriv "$ATK_NO_PRIVNET" \
		'{allowed_profiles: $p} + (if $nopriv == "" then {privileged_network: "warn"} else {} end)' \
		>"$CFG/config.json" && chmod 644 "$CFG/config.json" || bail "write $CFG/config.json"
}

# ------------------------------------------------------------ containers

# atk_container VAR NAME NS PROFILE [CAP...]: a running container (sleep)
# in NS with the profile annotation and runc's default capabilities plus
# CAP...; nettool at /tmp/nettool. Sets VAR to its id; RUN_ERR on failure.
atk_container() {
	local var=$1 name=$2 ns=$3 prof=$4 bundle cid log caps
	shift 4
	caps=$(printf '%s\n' "$@" | jq -R . | jq -sc 'map(select(. != ""))')
	make_bundle bundle "$name" "$ns" prestart sleep 3600
	jq --arg p "$prof" --argjson caps "$caps" --arg tools "$ATK_TOOLS" '
		.annotations["oci-cgroup-bpf-hook/profile"] = $p
		| .process.capabilities |= with_entries(.value += $caps)
		| .mounts += [{destination: "/tmp", type: "bind", source: $tools,
			       options: ["rbind", "ro"]}]' \
		"$bundle/config.json" >"$bundle/c.json" && mv "$bundle/c.json" "$bundle/config.json" ||
		bail "edit $bundle/config.json"
	cid="$T.$name"
	defer_detach "$cid"
	log=$T_TMP/$name.run.log
	atk_write_config
	if ! trunc run -d --bundle "$bundle" "$cid" </dev/null >"$log" 2>&1; then
		RUN_ERR=$(cat "$log")
		if [ -z "$ATK_NO_PRIVNET" ] && grep -Eq 'unknown key .{0,2}privileged_network' "$log"; then
			diag "this hook does not know \"privileged_network\": left out of config.json"
			ATK_NO_PRIVNET=1
			trunc delete -f "$cid" >/dev/null 2>&1
			atk_write_config
			trunc run -d --bundle "$bundle" "$cid" </dev/null >"$log" 2>&1 || {
				RUN_ERR=$(cat "$log")
				return 1
			}
		else
			return 1
		fi
	fi
	printf -v "$var" '%s' "$cid"
}

# in_ctr CID ARGS...: nettool inside the container.
in_ctr() {
	timeout 20 runc --root "$RUNC_ROOT" exec "$1" /tmp/nettool "${@:2}" 2>&1
}

# denied_sum JSON: what the policy denied, however it did (a stats_sum).
denied_sum() {
	jq '.connects_denied + .sends_denied + .egress.packets_denied' <<<"$1"
}

# sink VAR NS ADDR PORT: a TCP server in NS (outside any container) that
# logs a line "conn ADDR PORT" per connection; VAR gets the log. conns LOG
# counts them.
sink() {
	local var=$1 log=$T_TMP/sink-${3//:/_}-$4.log
	bg_start _pid "$log" in_ns "$2" "$NETTOOL" tcp-sink "$3" "$4"
	wait_for 5 grep -q '^listening' "$log" || bail "TCP sink on $3:$4" "$(cat "$log")"
	printf -v "$var" '%s' "$log"
}
conns() {
	grep -c '^conn ' "$1"
}

stat_delta() { # BEFORE AFTER FIELD
	echo $(($(stat_of "$2" "$3") - $(stat_of "$1" "$3")))
}

# ---------------------------------------------------------------- scripts

declare -A _ATK_IN=() _ATK_OUT=()

# script_start NAME CMD...: runs CMD (a `nettool udp-script`) with stdin
# and stdout on FIFOs and waits for its "ready" line.
script_start() {
	local name=$1 dir=$T_TMP/script-$1 pid fin fout line
	shift
	mkdir -p "$dir" && mkfifo "$dir/in" "$dir/out" || bail "FIFOs for script $name"
	(
		_T_EXEC=1
		if declare -F "$1" >/dev/null; then "$@"; else exec "$@"; fi
	) <"$dir/in" >"$dir/out" 2>"$dir/err" &
	pid=$!
	defer "bg_stop $pid"
	exec {fin}>"$dir/in"
	exec {fout}<"$dir/out"
	_ATK_IN[$name]=$fin
	_ATK_OUT[$name]=$fout
	read -r -t 20 -u "$fout" line
	[ "$line" = ready ] || bail "script $name is ready" "got: $line" "$(cat "$dir/err")"
}

# script_ask NAME LINE: sends one command, prints its one-line answer.
script_ask() {
	local line=
	printf '%s\n' "$2" >&"${_ATK_IN[$1]}"
	read -r -t 20 -u "${_ATK_OUT[$1]}" line
	printf '%s\n' "${line:-no answer}"
}

# ctr_script NAME CID ARGS...: a udp-script in a container.
ctr_script() {
	local name=$1 cid=$2
	shift 2
	script_start "$name" runc --root "$RUNC_ROOT" exec "$cid" /tmp/nettool "$@"
}

# ns_script NAME NS ARGS...: a udp-script in a test netns, outside any
# container's cgroup (a peer).
ns_script() {
	local name=$1 ns=$2
	shift 2
	script_start "$name" in_ns "$ns" "$NETTOOL" "$@"
}

# expect_recv DESC NAME REGEX: NAME's next datagram (within 1.5 s) matches.
expect_recv() {
	expect_match "$1" "$3" "$(script_ask "$2" "recv 1500")"
}

# expect_none DESC NAME: nothing reaches NAME within 0.5 s.
expect_none() {
	expect_eq "$1" none "$(script_ask "$2" "recv 500")"
}

# ---------------------------------------------------------- network setup

# new_peer VAR NAME NS: a network namespace $T-NAME joined to NS by a veth
# pair, ocb0 in NS and ocb1 in the peer, both up. Addresses are the
# caller's.
new_peer() {
	local var=$1 name=$2 ns=$3 peer
	new_netns peer "$name"
	ip link add ocb0 netns "$ns" type veth peer name ocb1 netns "$peer" ||
		bail "veth pair between $ns and $peer"
	ip -n "$ns" link set ocb0 up && ip -n "$peer" link set ocb1 up || bail "veth up"
	printf -v "$var" '%s' "$peer"
}

# nft_counter NS NAME MATCH...: counts, in NS, the packets matching MATCH
# as they come in (prerouting, before anything can drop them).
nft_counter() {
	local ns=$1 name=$2
	shift 2
	if ! in_ns "$ns" nft list table inet ocbt >/dev/null 2>&1; then
		in_ns "$ns" nft add table inet ocbt &&
			in_ns "$ns" nft add chain inet ocbt pre \
				'{ type filter hook prerouting priority -300; policy accept; }' ||
			bail "nft table in $ns"
	fi
	in_ns "$ns" nft add rule inet ocbt pre "$@" counter comment "\"$name\"" ||
		bail "nft counter $name in $ns: $*"
}

# nft_packets NS NAME: the packets counted so far.
nft_packets() {
	in_ns "$1" nft -j list chain inet ocbt pre | jq -r --arg n "$2" '
		[.nftables[] | .rule? | select(.comment == $n) | .expr[] | .counter? | .packets
		 | select(. != null)] | first // "none"'
}

# ------------------------------------------------------------------ trace

_trace_readers() {
	bpftool -j map dump pinned "$BPFFS/oci-cgroup-bpf-hook-events/v1/trace_ctl" 2>/dev/null |
		jq '.[0].formatted.value.readers // 0'
}

# trace_start LOG ID: `trace --json ID` in the background.
trace_start() {
	local before
	before=$(_trace_readers)
	bg_start ATK_TRACE_PID "$1" "$HOOK" "${HOOK_ARGS[@]}" trace --json "$2"
	wait_for 5 '[ "$(_trace_readers)" -gt "${before:-0}" ]' || bail "trace started" "$(cat "$1")"
}

# trace_stop: ends it, with time for the last events to be read.
trace_stop() {
	sleep 0.3
	kill -INT "$ATK_TRACE_PID" 2>/dev/null
	wait_for 5 "! kill -0 $ATK_TRACE_PID"
}
