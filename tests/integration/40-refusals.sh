#!/bin/bash
# Everything the hook must refuse. Each refusal exits non-zero with a line
# starting "oci-cgroup-bpf-hook:" and leaves nothing pinned or attached.
# The state names a real process in a test cgroup wherever it can, so a
# missing check would show up as an attach.
. "$(dirname "$0")/../lib.sh"
test_init

new_netns NS net
new_cgroup CG target
start_in_ns_cg PID "$NS" "$CG"
ID="$T.refused"
diag "target process $PID in $CG"

# ours_in_tree: the entries of the pin tree, the lock directory and the
# work directory that may be this test's: not another test's ids
# (ocbt-<other pid>...), not a running hook's work entry, not the state
# all containers share (the shared lock, the kernel facts cache).
ours_in_tree() {
	local live
	live=" $(_live_work)"
	find "$PIN_BASE" "$LOCK_DIR" "$WORK_DIR" -mindepth 1 -maxdepth 1 -printf '%p\n' 2>/dev/null |
		while IFS= read -r p; do
			n=${p##*/}
			case $n in
			"$T"[.%-]* | "$T") ;;
			ocbt-* | .shared | kernel-inet-flags) continue ;;
			esac
			[[ $live == *" $n "* ]] && continue
			printf '%s\n' "$p"
		done | LC_ALL=C sort
}
TREE_BEFORE=$(ours_in_tree)

# nothing_from DESC ID: no pins for ID (escaped, and raw in case the id
# escaped the tree), no lock file, nothing new in the pin tree, the lock
# or the work directory (ids such as '', '.', '..' name no directory of
# their own), nothing attached to the test cgroup.
nothing_from() {
	local desc=$1 id=$2 p bad=() new
	case $id in
	'' | . | ..) ;; # names of the directories themselves
	*) for p in "$(pin_dir "$id")" "$PIN_BASE/$id" "$LOCK_DIR/$id"; do
		[ -e "$p" ] && bad+=("exists: $p")
	done ;;
	esac
	new=$(comm -13 <(printf '%s\n' "$TREE_BEFORE") <(ours_in_tree))
	[ -n "$new" ] && bad+=("new in the pin tree, lock or work directory: $new")
	[ -n "$(ocb_progs_on "$CG")" ] && bad+=("attached to $CG: $(ocb_progs_on "$CG" | tr '\n' ' ')")
	if [ ${#bad[@]} -eq 0 ]; then
		ok "$desc: nothing pinned, locked or attached"
	else
		not_ok "$desc: nothing pinned, locked or attached" "${bad[@]}"
		# Keep one failure from failing every later case.
		case $id in */* | .* | '') ;; *) detach_quiet "$id" ;; esac
		TREE_BEFORE=$(ours_in_tree)
	fi
}

# refuse DESC REGEX STAGE ID: the hook, fed stdin, refuses.
refuse() {
	local desc=$1 re=$2 stage=$3 id=$4
	hook_stdin "$stage"
	expect_refused "$desc" "$re"
	nothing_from "$desc" "$id"
}

state() { # ID PID [STATUS] [EXTRA]
	hook_state "$1" "$2" "${3:-created}" "${4:-}"
}

# ------------------------------------------------------------ the input

refuse "invalid JSON" "not valid JSON" prestart "$ID" < <(printf '{"id": "%s", "pid": ' "$ID")
refuse "empty input" "no state on stdin" prestart "$ID" </dev/null
refuse "JSON that is not an object" "must be a JSON object" prestart "$ID" < <(echo '[]')
refuse "duplicate keys" "not valid JSON" prestart "$ID" < <(printf '{"id":"%s","id":"%s-2","pid":%d,"status":"created"}' "$ID" "$ID" "$PID")

# Exactly 1 MiB is the limit: one byte more is refused; far more too.
sized_state() { # ID SIZE: a valid state of exactly SIZE bytes
	local head tail pad
	head=$(printf '{"id":"%s","pid":%d,"status":"created","annotations":{"pad":"' "$1" "$PID")
	tail='"}}'
	pad=$(($2 - ${#head} - ${#tail}))
	{
		printf '%s' "$head"
		head -c "$pad" /dev/zero | tr '\0' a
		printf '%s' "$tail"
	}
}
sized_state "$ID" $((1024 * 1024 + 1)) >"$T_TMP/big.json"
expect_eq "oversized state is 1 MiB + 1 byte of valid JSON" "$((1024 * 1024 + 1)) valid" \
	"$(stat -c %s "$T_TMP/big.json") $(jq -e .id "$T_TMP/big.json" >/dev/null && echo valid)"
refuse "state of 1 MiB + 1 byte" "over 1048576 bytes" prestart "$ID" <"$T_TMP/big.json"
sized_state "$ID" $((8 * 1024 * 1024)) >"$T_TMP/huge.json"
refuse "state of 8 MiB" "over 1048576 bytes" prestart "$ID" <"$T_TMP/huge.json"
# The hook may stop reading early: a writer gets EPIPE, not a hang.
refuse "64 MiB of input on a pipe" "over 1048576 bytes" prestart "$ID" \
	< <(head -c $((64 * 1024 * 1024)) /dev/zero | tr '\0' ' '; state "$ID" "$PID")
sized_state "$ID.max" $((1024 * 1024)) >"$T_TMP/max.json"
defer_detach "$ID.max"
hook_stdin prestart <"$T_TMP/max.json"
expect_hook_ok "a state of exactly 1 MiB is accepted"
check_attached "1 MiB state" "$ID.max" "$CG"
run_hook poststop "$ID.max" 0 stopped
expect_hook_ok "poststop of the 1 MiB state's id"

# ---------------------------------------------------------------- the id

refuse "missing id" 'no string "id"' prestart "$ID" < <(jq -nc --argjson pid "$PID" '{pid: $pid, status: "created"}')
refuse "id that is a number" 'no string "id"' prestart "$ID" < <(jq -nc --argjson pid "$PID" '{id: 42, pid: $pid, status: "created"}')
refuse "empty id" "empty" prestart "" < <(state "" "$PID")
refuse "id ../x" "starts with '.'|contains '/'" prestart "../$T-x" < <(state "../$T-x" "$PID")
for p in "$BPFFS/$T-x" "/run/$T-x"; do
	[ -e "$p" ] && not_ok "id ../x escaped to $p" && rm -rf "$p"
done
refuse "id .hidden" "starts with '.'" prestart ".$T-hidden" < <(state ".$T-hidden" "$PID")
refuse "id .." "starts with '.'" prestart ".." < <(state ".." "$PID")
refuse "id a/b" "contains '/'" prestart "$T-a/b" < <(state "$T-a/b" "$PID")
refuse "id a/../b" "contains '/'" prestart "$T-a/../b" < <(state "$T-a/../b" "$PID")
for p in "$PIN_BASE/$T-a" "$LOCK_DIR/$T-a"; do
	[ -e "$p" ] && not_ok "id a/b created $p" && rm -rf "$p"
done
refuse "id with a control character (0x01)" "control character 0x01" prestart "$T-a$(printf '\001')b" < <(state "$T-a$(printf '\001')b" "$PID")
refuse "id with an escape sequence" "control character 0x1b" prestart "$T-a$(printf '\033')[31mb" < <(state "$T-a$(printf '\033')[31mb" "$PID")
refuse "id with DEL (0x7f)" "control character 0x7f" prestart "$T-a$(printf '\177')b" < <(state "$T-a$(printf '\177')b" "$PID")
refuse "id with a newline" "control character 0x0a" prestart "$T-a"$'\n'"b" < <(state "$T-a"$'\n'"b" "$PID")
refuse "id with a NUL byte" "NUL" prestart "$T-a" < <(printf '{"id":"%s\\u0000b","pid":%d,"status":"created"}' "$T-a" "$PID")
long=$T-$(head -c $((256 - ${#T} - 1)) /dev/zero | tr '\0' x)
refuse "id of 256 bytes" "256 bytes long" prestart "$long" < <(state "$long" "$PID")
# 255 bytes is allowed, if it still fits once dots are escaped.
max=$T-$(head -c $((255 - ${#T} - 1)) /dev/zero | tr '\0' x)
run_hook prestart "$max" "$PID" created
expect_hook_ok "id of 255 bytes is accepted"
expect_eq "  pinned under its own name" yes "$([ -d "$PIN_BASE/$max" ] && echo yes)"
run_hook poststop "$max" 0 stopped
expect_hook_ok "poststop of the 255-byte id"
assert_nothing_left "id of 255 bytes" "$max" "$CG"
dots=$T.$(head -c 120 /dev/zero | tr '\0' .)
refuse "id that is too long once its dots are escaped" "too long once its dots are escaped" prestart "$dots" < <(state "$dots" "$PID")

# --------------------------------------------------------------- the pid

refuse "missing pid" 'no positive "pid"' prestart "$ID" < <(state "$ID" -)
refuse "pid 0" 'no positive "pid"' prestart "$ID" < <(state "$ID" 0)
refuse "negative pid" "not a valid process id" prestart "$ID" < <(state "$ID" -1)
refuse "pid beyond 32 bits" "not a valid process id" prestart "$ID" < <(state "$ID" 4294967297)
refuse "pid that is a string" "must be an integer" prestart "$ID" < <(jq -nc --arg id "$ID" --arg pid "$PID" '{id: $id, pid: $pid, status: "created"}')
refuse "pid that is not an integer" "must be an integer" prestart "$ID" < <(jq -nc --arg id "$ID" --argjson pid "$PID.5" '{id: $id, pid: $pid, status: "created"}')
sh -c 'exit 0' &
gone=$!
wait "$gone"
if [ -e "/proc/$gone" ]; then
	skip "pid that does not exist" "pid $gone was reused"
else
	refuse "pid $gone that does not exist" "does not exist" prestart "$ID" < <(state "$ID" "$gone")
fi

# A process of ours in the cgroup v2 root (this shell may be there too).
bg_start ROOTPID "$T_TMP/rootsleep.log" sleep 600
[ "$(proc_cg2 "$ROOTPID")" = / ] || echo "$ROOTPID" >"$CG2_MNT/cgroup.procs"
expect_eq "a test process in the cgroup v2 root" / "$(proc_cg2 "$ROOTPID")"
refuse "process in the cgroup v2 root" "cgroup v2 root" prestart "$ID" < <(state "$ID" "$ROOTPID")
expect_eq "  nothing of ours on the cgroup v2 root" "" "$(ocb_progs_on "$CG2_MNT" | tr '\n' ' ')"
bg_stop "$ROOTPID"

# The hook itself in the container's cgroup, then in a child of it.
state "$ID" "$PID" >"$T_TMP/state.json"
HOOK_ERR=$(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
	"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/state.json" 2>&1 >/dev/null)
HOOK_RC=$?
expect_refused "hook in the container's own cgroup" "shares the hook's cgroup"
nothing_from "hook in the container's own cgroup" "$ID"
new_cgroup CHILD target/runtime
HOOK_ERR=$(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CHILD" \
	"$HOOK" "${HOOK_ARGS[@]}" prestart <"$T_TMP/state.json" 2>&1 >/dev/null)
HOOK_RC=$?
expect_refused "hook in a child of the container's cgroup" "shares the hook's cgroup .* ancestor"
nothing_from "hook in a child of the container's cgroup" "$ID"

# ------------------------------------------------------------ the stages

for stage in createContainer startContainer poststart prestop; do
	refuse "stage $stage" "stage $stage is not supported.*prestart.*createRuntime.*poststop" "$stage" "$ID" < <(state "$ID" "$PID" running)
done
refuse "unknown stage" "unknown stage or command 'bogus'; stages: prestart, createRuntime, poststop; commands: apply, trace, stats, list, show, gc, check" bogus "$ID" < <(state "$ID" "$PID")
expect_eq "  a usage error: exit 2, one line" "2 1" "$HOOK_RC $(printf '%s\n' "$HOOK_ERR" | wc -l)"
for st in creating created running; do
	refuse "no stage, status $st" 'no stage given.*not "stopped"' "" "$ID" < <(state "$ID" "$PID" "$st")
done
refuse "no stage, no status" 'no stage given' "" "$ID" < <(state "$ID" "$PID" | jq -c 'del(.status)')

# No stage with status "stopped" is a poststop.
run_hook prestart "$ID" "$PID" created
expect_hook_ok "prestart (before a stageless stop)"
check_attached "prestart" "$ID" "$CG"
cg_park "$CG"
hook_stdin "" < <(state "$ID" 0 stopped)
expect_hook_ok "no stage, status stopped: exits 0"
cg_unpark "$CG"
assert_nothing_left "no stage, status stopped" "$ID" "$CG"

# Usage errors exit 2.
"$HOOK" prestart extra </dev/null >/dev/null 2>"$T_TMP/err"
expect_eq "too many arguments exit 2" "2 yes" "$? $(grep -q '^oci-cgroup-bpf-hook: ' "$T_TMP/err" && echo yes)"
"$HOOK" --no-such-option </dev/null >/dev/null 2>"$T_TMP/err"
expect_eq "an unknown option exits 2" "2 yes" "$? $(grep -q '^oci-cgroup-bpf-hook: ' "$T_TMP/err" && echo yes)"
# One line each, naming what was wrong (getopt's own message is not
# printed beside ours).
usage_line() { # DESC REGEX ARGS...
	local desc=$1 re=$2 rc
	shift 2
	"$HOOK" "$@" </dev/null >/dev/null 2>"$T_TMP/err"
	rc=$?
	expect_eq "$desc: exit 2, one line" "2 1" "$rc $(wc -l <"$T_TMP/err")" "$(cat "$T_TMP/err")"
	expect_match "  it says what was wrong" "$re" "$(cat "$T_TMP/err")"
}
usage_line "an unknown long option" "^oci-cgroup-bpf-hook: unknown option '--no-such-option'; see --help$" --no-such-option
usage_line "an unknown short option" "^oci-cgroup-bpf-hook: unknown option '-x'; see --help$" -x
usage_line "an option without its value" "^oci-cgroup-bpf-hook: option '--bpffs' needs a value; see --help$" --bpffs
usage_line "an unknown command's option" "^oci-cgroup-bpf-hook list: unknown option '--bogus'; see 'list --help'$" list --bogus
usage_line "an unknown word" "^oci-cgroup-bpf-hook: unknown stage or command 'lsit'; stages: prestart, createRuntime, poststop; commands: .*list.*check" lsit

# ------------------------------------------------------------- privilege

# $HOOK is a copy in $T_TMP, which anyone can read (the tree may not be).
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
HOOK_WRAP=("${NOBODY[@]}")
refuse "non-root prestart" "must run as root" prestart "$ID" < <(state "$ID" "$PID")
refuse "non-root createRuntime" "must run as root" createRuntime "$ID" < <(state "$ID" "$PID")
HOOK_WRAP=(unshare -U -r)
refuse "prestart in a user namespace (unshare -U -r)" "user namespace" prestart "$ID" < <(state "$ID" "$PID")
HOOK_WRAP=()

# Poststop never fails a teardown: non-root gets exit 0 and a message,
# and the pins of a live container stay.
run_hook prestart "$ID" "$PID" created
expect_hook_ok "prestart (before a non-root poststop)"
before=$(link_ids "$ID")
HOOK_WRAP=("${NOBODY[@]}")
hook_stdin poststop < <(state "$ID" 0 stopped)
HOOK_WRAP=()
expect_eq "non-root poststop exits 0" 0 "$HOOK_RC"
expect_match "  and says it needs root" "^oci-cgroup-bpf-hook: .*root" "$HOOK_ERR"
expect_eq "  and leaves the pins alone" "$before" "$(link_ids "$ID")"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "root poststop"
assert_nothing_left "after the non-root poststop" "$ID" "$CG"

# A user namespace that maps every uid (only root can make one) passes
# the uid_map test; the kernel must still refuse, and nothing is left.
mkfifo "$T_TMP/go"
state "$ID" "$PID" >"$T_TMP/state.json"
unshare -U sh -c 'read x <"$1"; shift; exec "$@" prestart' sh "$T_TMP/go" "$HOOK" "${HOOK_ARGS[@]}" \
	<"$T_TMP/state.json" >/dev/null 2>"$T_TMP/err" &
upid=$!
defer "bg_stop $upid"
wait_for 5 'test "$(readlink /proc/$upid/ns/user)" != "$(readlink /proc/self/ns/user)"'
echo "0 0 4294967295" >"/proc/$upid/uid_map" && echo "0 0 4294967295" >"/proc/$upid/gid_map"
expect_eq "a user namespace with a full-range uid map" "0 0 4294967295" \
	"$(awk '{print $1, $2, $3}' "/proc/$upid/uid_map")"
echo go >"$T_TMP/go"
wait "$upid"
HOOK_RC=$?
HOOK_ERR=$(cat "$T_TMP/err")
expect_refused "prestart in a user namespace with a full-range uid map"
nothing_from "prestart in a user namespace with a full-range uid map" "$ID"

assert_nothing_left "end of refusals" "$ID" "$CG"
done_testing
