#!/bin/bash
# Nested attachments keep their meaning (issue 15): the programs are
# shared by every container, yet where an outer cgroup (a pod) and a
# cgroup inside it (its container) both have our programs, both policies
# apply, each with its own counters and its own decisions kept with a
# socket:
#  - a connect is refused if either profile denies it, and counted by
#    the one that denied it; an address both allow works;
#  - a process of the pod (outside the container) gets only the pod's
#    policy;
#  - TCP replies of a connect both allowed pass the pod's "ingress
#    default deny": each level kept its own decision for the socket;
#  - a UDP peer the container's profile consented to but the pod's
#    refused is not let back in through the pod's ingress (the
#    container's reply admission is not the pod's);
#  - detaching the container leaves the pod's policy in force.
. "$(dirname "$0")/../lib.sh"
test_init
. "$OCB_TOP/tests/attack-lib.sh"

new_netns NS nest
for a in 127.0.0.1 127.0.0.2 127.0.0.3; do
	start_tcp_echo "$NS" "$a" 7001
done

profile pod '{"egress": {"default": "allow", "deny": ["127.0.0.2"]},
	"ingress": {"default": "deny"}}'
profile ctr '{"egress": {"default": "allow", "deny": ["127.0.0.3"]}}'
atk_write_config

# The pod's cgroup holds a process; the container's is its child.
new_cgroup POD pod
CTR=$POD/ctr
mkdir "$CTR" || bail "create $CTR"
start_in_ns_cg PPOD "$NS" "$POD"
start_in_ns_cg PCTR "$NS" "$CTR"
annot() { # PROFILE
	jq -nc --arg p "$1" '{annotations: {"oci-cgroup-bpf-hook/profile": $p}}'
}
run_hook prestart "$T.pod" "$PPOD" created "$(annot pod)"
expect_hook_ok "the pod attaches"
run_hook prestart "$T.ctr" "$PCTR" created "$(annot ctr)"
expect_hook_ok "its container attaches inside it"
check_attached "pod" "$T.pod" "$POD"
check_attached "container" "$T.ctr" "$CTR"
expect_eq "both run the same programs (loaded once)" \
	"$(link_info "$T.pod" ingress | jq -r .prog_id)" "$(link_info "$T.ctr" ingress | jq -r .prog_id)"

tcp_in() { # CG ADDR: the echo's answer, or the error
	tcp_client "$NS" "$1" "$2" 7001 hello 2>&1 | tr '\n' ' '
}

pod0=$(stats_sum "$T.pod")
ctr0=$(stats_sum "$T.ctr")
expect_match "container: TCP to 127.0.0.1 (both allow) works" "pong hello" "$(tcp_in "$CTR" 127.0.0.1)"
expect_match "container: TCP to 127.0.0.2 (the pod denies) is refused" \
	"Operation not permitted" "$(tcp_in "$CTR" 127.0.0.2)"
expect_match "container: TCP to 127.0.0.3 (the container denies) is refused" \
	"Operation not permitted" "$(tcp_in "$CTR" 127.0.0.3)"
pod1=$(stats_sum "$T.pod")
ctr1=$(stats_sum "$T.ctr")
expect_eq "the pod counted its one denial" 1 "$(stat_delta "$pod0" "$pod1" connects_denied)"
expect_eq "the container counted its one denial" 1 "$(stat_delta "$ctr0" "$ctr1" connects_denied)"
expect_gt "the pod counted the allowed connection's replies" \
	"$(stat_of "$pod1" ingress.packets_allowed)" "$(stat_of "$pod0" ingress.packets_allowed)"
expect_eq "the pod denied no reply (ingress default deny)" \
	"$(stat_of "$pod0" ingress.packets_denied)" "$(stat_of "$pod1" ingress.packets_denied)"

expect_match "pod process: TCP to 127.0.0.3 (only the container denies it) works" \
	"pong hello" "$(tcp_in "$POD" 127.0.0.3)"
expect_match "pod process: TCP to 127.0.0.2 is refused" \
	"Operation not permitted" "$(tcp_in "$POD" 127.0.0.2)"

# UDP: the container consents to 127.0.0.2, the pod does not.
script_start u in_ns_cg "$NS" "$CTR" "$NETTOOL" -b 127.0.0.1 -p 7301 udp-script 4
ns_script peer "$NS" -b 127.0.0.2 -p 7302 udp-script 4
expect_match "container: sendto 127.0.0.2 (the pod denies) fails with EPERM" \
	"^error EPERM" "$(script_ask u "sendto 127.0.0.2 7302 hi")"
expect_none "  and nothing arrived" peer
expect_match "the peer at 127.0.0.2 sends to the container's socket" \
	"^ok" "$(script_ask peer "sendto 127.0.0.1 7301 reply")"
expect_none "  the pod's ingress does not let it in (no consent of the pod's)" u
# The twin: a peer both allow answers, and the pod lets the answer in.
ns_script peer2 "$NS" -b 127.0.0.1 -p 7304 udp-script 4
expect_match "container: sendto 127.0.0.1:7304 (both allow) works" \
	"^ok" "$(script_ask u "sendto 127.0.0.1 7304 hi")"
expect_recv "  the peer got it" peer2 "^recv 127.0.0.1 7301 hi"
expect_match "  the peer answers" "^ok" "$(script_ask peer2 "sendto 127.0.0.1 7301 back")"
expect_recv "  the answer reaches the container through both policies" u "^recv 127.0.0.1 7304 back"

# The container goes; the pod's policy stays.
run_hook poststop "$T.ctr" 0 stopped
expect_hook_ok "the container detaches"
assert_nothing_left "container" "$T.ctr" "$CTR"
expect_match "pod process: TCP to 127.0.0.2 is still refused" \
	"Operation not permitted" "$(tcp_in "$POD" 127.0.0.2)"
# A pod stops after its containers: their cgroups are gone.
remove_cgroup "$CTR" || bail "remove the container's cgroup"
run_hook poststop "$T.pod" 0 stopped
expect_hook_ok "the pod detaches"
assert_nothing_left "pod" "$T.pod" "$POD"
done_testing
