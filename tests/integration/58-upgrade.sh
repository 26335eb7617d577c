#!/bin/bash
# Two builds of the hook side by side (an upgrade while containers run,
# issue 15): each loads its own programs once, in a directory of its own;
# a container keeps the programs it was attached with; the new build
# detaches the old build's containers; `gc` removes a build's programs
# only once no link uses them. The second build is this tree built again
# with another OCB_BUILD_SALT (the same programs, another build id).
. "$(dirname "$0")/../lib.sh"
test_init
. "$OCB_TOP/tests/attack-lib.sh"

B2=$T_TMP/b2
make -s -C "$OCB_TOP" BUILD="$B2" OCB_BUILD_SALT="upgrade-$T" "$B2/oci-cgroup-bpf-hook" \
	>"$T_TMP/make.log" 2>&1 || bail "build the hook again with another build id" "$(cat "$T_TMP/make.log")"
HOOK_OLD=$HOOK
HOOK_NEW=$B2/oci-cgroup-bpf-hook

new_netns NS upgrade
start_tcp_echo "$NS" 127.0.0.2 7001
profile deny2 '{"egress": {"default": "allow", "deny": ["127.0.0.2"]}}'
atk_write_config
annot='{"annotations": {"oci-cgroup-bpf-hook/profile": "deny2"}}'
new_cgroup CGX old
new_cgroup CGY new
start_in_ns_cg PX "$NS" "$CGX"
start_in_ns_cg PY "$NS" "$CGY"

builds() { ls "$PROGS_DIR" 2>/dev/null | sort | tr '\n' ' '; }
before=$(builds)
run_hook prestart "$T.x" "$PX" created "$annot"
expect_hook_ok "the old build attaches x"
HOOK=$HOOK_NEW
run_hook prestart "$T.y" "$PY" created "$annot"
expect_hook_ok "the new build attaches y"
check_attached "x (old build)" "$T.x" "$CGX"
check_attached "y (new build)" "$T.y" "$CGY"
old_build=$(bpftool -j map dump pinned "$(pin_dir "$T.x")/info" | jq -r '.[0].formatted.value.build')
new_build=$(bpftool -j map dump pinned "$(pin_dir "$T.y")/info" | jq -r '.[0].formatted.value.build')
expect_ne "x and y were attached by two builds" "$old_build" "$new_build"
check "each build's programs are loaded once, in a directory of its own" \
	test -d "$PROGS_DIR/$old_build" -a -d "$PROGS_DIR/$new_build"
expect_ne "x and y run different programs" \
	"$(link_info "$T.x" ingress | jq -r .prog_id)" "$(link_info "$T.y" ingress | jq -r .prog_id)"
for c in X Y; do
	cg=CG$c
	out=$(tcp_client "$NS" "${!cg}" 127.0.0.2 7001 hello 2>&1)
	expect_match "${c,,}: its profile holds (127.0.0.2 refused)" "Operation not permitted" "$out"
done

out=$("$HOOK_NEW" "${HOOK_ARGS[@]}" gc 2>&1)
expect_eq "gc of the new build exits 0" 0 "$?" "$out"
check "  it keeps the old build's programs: x's links use them" test -d "$PROGS_DIR/$old_build"
expect_match "  x is still enforced" "Operation not permitted" \
	"$(tcp_client "$NS" "$CGX" 127.0.0.2 7001 hello 2>&1)"

# The package is upgraded: the new build runs x's poststop.
run_hook poststop "$T.x" 0 stopped
expect_hook_ok "the new build detaches x, attached by the old one"
out=$("$HOOK_NEW" "${HOOK_ARGS[@]}" gc 2>&1)
expect_match "gc removes the old build's programs once no link uses them" \
	"removed programs .*$old_build" "$out"
check "  its directory is gone" test ! -d "$PROGS_DIR/$old_build"
check "  the new build's stays (y uses it)" test -d "$PROGS_DIR/$new_build"
run_hook poststop "$T.y" 0 stopped
expect_hook_ok "y detaches"
assert_nothing_left "x" "$T.x" "$CGX"
assert_nothing_left "y" "$T.y" "$CGY"
# The new build's programs are this test's: unload them (nothing uses
# them; the tree's own build runs gc for the next test).
HOOK=$HOOK_OLD
"$HOOK" "${HOOK_ARGS[@]}" gc >/dev/null 2>&1
check "the second build's programs are unloaded by the first build's gc" test ! -d "$PROGS_DIR/$new_build"
diag "builds before: ${before:-none}; after: $(builds)"
done_testing
