#!/bin/bash
# config.json "on_error": a container whose profile cannot be loaded (here:
# its file is writable by others, so the hook does not trust it).
#  - "refuse" (and the default): prestart exits 1 with the reason; runc
#    does not start the container; nothing is left.
#  - "allow": prestart exits 0 with a warning on stderr naming the reason;
#    the container gets the default profile instead, or accounting only
#    without one: naming a broken profile never gives less than no
#    annotation would; runc starts the container.
. "$(dirname "$0")/../lib.sh"
test_init

CONF=$T_TMP/config
mkdir -p "$CONF/profiles" && chmod 755 "$CONF" "$CONF/profiles" || bail "create $CONF"
printf '%s\n' '{"egress": {"deny": ["127.0.0.2"]}}' >"$CONF/profiles/loose.json"
printf '%s\n' '{"egress": {"deny": ["127.0.0.2"]}}' >"$CONF/profiles/good.json"
chmod 644 "$CONF/profiles/good.json"
# Writable by others: the hook must not use it.
chmod 666 "$CONF/profiles/loose.json"
HOOK_ARGS+=(--config-dir "$CONF")
ANN='{"annotations":{"oci-cgroup-bpf-hook/profile":"loose"}}'
REASON='loose.json is writable by group or others'

set_on_error() { # refuse|allow|"" (no config.json)
	rm -f "$CONF/config.json"
	[ -z "$1" ] && return 0
	printf '{"on_error": "%s"}\n' "$1" >"$CONF/config.json" && chmod 644 "$CONF/config.json"
}

new_netns NS net
new_cgroup CG a
start_in_ns_cg PID "$NS" "$CG"

# ------------------------------------------------------ the hook by hand
for mode in "" refuse; do
	set_on_error "$mode"
	ID="$T.refuse${mode:+-$mode}"
	run_hook prestart "$ID" "$PID" created "$ANN"
	expect_refused "on_error ${mode:-(default)}: a profile that fails to load refuses" "$REASON"
	assert_nothing_left "on_error ${mode:-(default)}" "$ID" "$CG"
done

set_on_error allow
ID=$T.allow
run_hook prestart "$ID" "$PID" created "$ANN"
expect_hook_ok "on_error allow: a profile that fails to load still exits 0"
expect_match "  with a warning on stderr that names the reason" \
	"^oci-cgroup-bpf-hook: warning: container $T\\.allow: profile loose cannot be applied \\(on_error is allow\\): .*$REASON" \
	"$HOOK_ERR"
expect_match "  and says the container gets accounting only" "gets no policy, accounting only" "$HOOK_ERR"
check_attached "on_error allow, no default profile" "$ID" "$CG" >/dev/null
expect_eq "  no profile recorded" "" \
	"$(bpftool -j map dump pinned "$(pin_dir "$ID")/info" | jq -r '.[0].formatted.value.profile')"
run_hook poststop "$ID" 0 stopped
expect_hook_ok "  poststop"
assert_nothing_left "on_error allow" "$ID" "$CG"

# With a default profile, a broken or disallowed annotation falls back to
# it: an annotation cannot escape the default.
for bad in loose not-allowed 'Bad/Name'; do
	printf '{"on_error": "allow", "default_profile": "good", "allowed_profiles": ["good", "loose"]}\n' \
		>"$CONF/config.json"
	ID=$T.fallback-${bad//[^a-z]/}
	run_hook prestart "$ID" "$PID" created "{\"annotations\":{\"oci-cgroup-bpf-hook/profile\":\"$bad\"}}"
	expect_hook_ok "on_error allow, annotation '$bad': exits 0"
	expect_match "  and says the default applies" "gets the default profile good instead" "$HOOK_ERR"
	expect_eq "  the default profile is in force" good \
		"$(bpftool -j map dump pinned "$(pin_dir "$ID")/info" | jq -r '.[0].formatted.value.profile')"
	expect_eq "  its rule is in the map" 1 \
		"$(bpftool -j map dump pinned "$(pin_dir "$ID")/rules" | jq '[.[] | select(.formatted.key.gen == 0)] | length')"
	run_hook poststop "$ID" 0 stopped
	assert_nothing_left "fallback '$bad'" "$ID" "$CG"
done
set_on_error allow

# A profile that loads is used whatever on_error says.
ID=$T.good
run_hook prestart "$ID" "$PID" created '{"annotations":{"oci-cgroup-bpf-hook/profile":"good"}}'
expect_hook_ok "on_error allow: a good profile attaches"
expect_eq "  and prints nothing" "" "$HOOK_ERR$HOOK_OUT"
check_attached "on_error allow, good profile" "$ID" "$CG" >/dev/null
run_hook poststop "$ID" 0 stopped
assert_nothing_left "on_error allow, good profile" "$ID" "$CG"

# ------------------------------------------------------- with runc itself
# runc_with MODE NAME: a container with the loose profile; sets RUNC_RC.
runc_with() {
	local mode=$1 name=$2 bundle cid=$T.$2
	set_on_error "$mode"
	make_bundle bundle "$name" "$NS" prestart sh -c 'echo started; exec sleep 600'
	jq --arg p loose '.annotations["oci-cgroup-bpf-hook/profile"] = $p' "$bundle/config.json" \
		>"$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json" ||
		bail "annotate $bundle/config.json"
	defer_detach "$cid"
	trunc run -d --bundle "$bundle" "$cid" </dev/null >"$T_TMP/$name.log" 2>&1
	RUNC_RC=$?
	RUNC_LOG=$(cat "$T_TMP/$name.log")
}

runc_with refuse runc-refuse
expect_ne "runc, on_error refuse: the container does not start" 0 "$RUNC_RC" "$RUNC_LOG"
expect_match "  runc reports the hook's reason" "$REASON" "$RUNC_LOG"
expect_ne "  it is not running" running "$(runc_status "$T.runc-refuse")"
trunc delete -f "$T.runc-refuse" >/dev/null 2>&1
assert_nothing_left "runc, on_error refuse" "$T.runc-refuse" "$BUNDLE_CG"

runc_with allow runc-allow
expect_eq "runc, on_error allow: the container starts" 0 "$RUNC_RC" "$RUNC_LOG"
expect_eq "  it is running" running "$(runc_status "$T.runc-allow")"
expect_eq "  with our programs, accounting only" \
	"ocb_connect4 ocb_connect6 ocb_egress ocb_ingress ocb_sendmsg4 ocb_sendmsg6 ocb_sockopt " \
	"$(ocb_progs_on "$BUNDLE_CG" | tr '\n' ' ')"
check "runc kill" trunc kill "$T.runc-allow" KILL
wait_for 30 'test "$(runc_status "$T.runc-allow")" = stopped'
check "runc delete (runs poststop)" trunc delete "$T.runc-allow"
assert_nothing_left "runc, on_error allow" "$T.runc-allow" "$BUNDLE_CG"
done_testing
