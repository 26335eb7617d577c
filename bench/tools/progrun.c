// SPDX-License-Identifier: GPL-2.0
/*
 * progrun: per-program cost with BPF_PROG_TEST_RUN.
 *
 *   progrun PINDIR PROG REPEAT [DADDR]
 *       runs the program behind the link pinned at PINDIR/PROG REPEAT
 *       times in the kernel (one BPF_PROG_TEST_RUN) and prints one JSON
 *       object with the average ns per run
 *   progrun floor REPEAT
 *       the same for a trivial cgroup_skb program (return 1) loaded here:
 *       the cost of the test-run loop itself
 *   progrun stats SECONDS
 *       holds BPF_ENABLE_STATS (run_time_ns and run_cnt of every program)
 *       for SECONDS at most, or until killed; the kernel turns the stats
 *       off again when this process exits
 *
 * cgroup_skb programs get a crafted IPv4 TCP segment 127.0.0.1:40000 ->
 * DADDR:5201 (DADDR defaults to 127.0.0.1; egress looks DADDR up, ingress
 * the source). sock_addr programs (connect4/6, sendmsg4/6) are tried with
 * a struct bpf_sock_addr context; kernels without test-run support for
 * them answer with an error, which is reported as is.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPEAT 100000000u

struct pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	unsigned char payload[64];
} __attribute__((packed));

static void build_packet(struct pkt *p, const char *daddr)
{
	memset(p, 0, sizeof(*p));
	p->eth.h_proto = htons(ETH_P_IP);
	p->ip.version = 4;
	p->ip.ihl = 5;
	p->ip.ttl = 64;
	p->ip.protocol = IPPROTO_TCP;
	p->ip.tot_len = htons(sizeof(*p) - sizeof(p->eth));
	p->ip.saddr = htonl(0x7f000001);
	if (inet_pton(AF_INET, daddr, &p->ip.daddr) != 1) {
		fprintf(stderr, "progrun: bad address %s\n", daddr);
		exit(2);
	}
	p->tcp.source = htons(40000);
	p->tcp.dest = htons(5201);
	p->tcp.doff = 5;
	p->tcp.ack = 1;
}

/* 524 is the kernel's internal ENOTSUPP: no test run for this type. */
static const char *err_name(int err)
{
	return err == 524 ? "ENOTSUPP: the kernel has no BPF_PROG_TEST_RUN for this program type"
			  : strerror(err);
}

static void report(const char *name, const char *type, int err, __u32 retval, __u32 duration,
		   unsigned int repeat)
{
	if (err)
		printf("{\"prog\":\"%s\",\"type\":\"%s\",\"ok\":false,\"errno\":%d,\"error\":\"%s\"}\n",
		       name, type, -err, err_name(-err));
	else
		printf("{\"prog\":\"%s\",\"type\":\"%s\",\"ok\":true,\"ns\":%u,\"retval\":%u,"
		       "\"repeat\":%u}\n",
		       name, type, duration, retval, repeat);
}

static int run_skb(int prog_fd, const char *daddr, unsigned int repeat, __u32 *retval,
		   __u32 *duration)
{
	struct pkt p;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &p, .data_size_in = sizeof(p),
		    .repeat = (int)repeat);
	int err;

	build_packet(&p, daddr);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*retval = opts.retval;
	*duration = opts.duration;
	return 0;
}

static int run_sock_addr(int prog_fd, const char *daddr, int v6, unsigned int repeat, __u32 *retval,
			 __u32 *duration)
{
	struct bpf_sock_addr ctx = { 0 };
	unsigned char dummy[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .data_in = dummy, .data_size_in = sizeof(dummy), .repeat = (int)repeat);
	struct in_addr a4;
	int err;

	if (inet_pton(AF_INET, daddr, &a4) != 1)
		return -EINVAL;
	ctx.user_family = v6 ? AF_INET6 : AF_INET;
	ctx.user_port = htons(5201);
	ctx.family = ctx.user_family;
	ctx.type = SOCK_STREAM;
	ctx.protocol = IPPROTO_TCP;
	if (v6) {
		ctx.user_ip6[2] = htonl(0xffff);
		ctx.user_ip6[3] = a4.s_addr;
	} else {
		ctx.user_ip4 = a4.s_addr;
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*retval = opts.retval;
	*duration = opts.duration;
	return 0;
}

static unsigned int parse_repeat(const char *s)
{
	unsigned long v = strtoul(s, NULL, 10);

	if (v == 0 || v > MAX_REPEAT) {
		fprintf(stderr, "progrun: REPEAT must be 1..%u\n", MAX_REPEAT);
		exit(2);
	}
	return (unsigned int)v;
}

static int floor_prog(unsigned int repeat)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_CGROUP_INET_EGRESS);
	__u32 retval = 0, duration = 0;
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, "ocbb_floor", "GPL", insns, 2, &lo);
	if (fd < 0) {
		report("floor", "cgroup_skb", -errno, 0, 0, repeat);
		return 1;
	}
	err = run_skb(fd, "127.0.0.1", repeat, &retval, &duration);
	close(fd);
	report("floor", "cgroup_skb", err, retval, duration, repeat);
	return err ? 1 : 0;
}

static int hold_stats(double seconds)
{
	int fd;

	if (!(seconds > 0) || seconds > 600) {
		fprintf(stderr, "progrun: stats SECONDS must be in (0, 600]\n");
		return 2;
	}
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		fprintf(stderr, "progrun: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	printf("stats on\n");
	fflush(stdout);
	{
		struct timespec ts = { .tv_sec = (time_t)seconds,
				       .tv_nsec =
					       (long)((seconds - (double)(time_t)seconds) * 1e9) };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link_info link = { 0 };
	struct bpf_prog_info prog = { 0 };
	__u32 len = sizeof(link), retval = 0, duration = 0;
	const char *daddr = "127.0.0.1", *type = "?";
	char path[4096];
	unsigned int repeat;
	int lfd, pfd, err;

	if (argc == 3 && !strcmp(argv[1], "floor"))
		return floor_prog(parse_repeat(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "stats"))
		return hold_stats(strtod(argv[2], NULL));
	if (argc != 4 && argc != 5) {
		fprintf(stderr,
			"usage: progrun PINDIR PROG REPEAT [DADDR] | progrun floor REPEAT | progrun stats SECONDS\n");
		return 2;
	}
	repeat = parse_repeat(argv[3]);
	if (argc == 5)
		daddr = argv[4];
	snprintf(path, sizeof(path), "%s/%s", argv[1], argv[2]);
	lfd = bpf_obj_get(path);
	if (lfd < 0 || bpf_obj_get_info_by_fd(lfd, &link, &len)) {
		report(argv[2], type, -errno, 0, 0, repeat);
		return 1;
	}
	close(lfd);
	pfd = bpf_prog_get_fd_by_id(link.prog_id);
	len = sizeof(prog);
	if (pfd < 0 || bpf_obj_get_info_by_fd(pfd, &prog, &len)) {
		report(argv[2], type, -errno, 0, 0, repeat);
		return 1;
	}
	switch (prog.type) {
	case BPF_PROG_TYPE_CGROUP_SKB:
		type = "cgroup_skb";
		err = run_skb(pfd, daddr, repeat, &retval, &duration);
		break;
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
		type = "cgroup_sock_addr";
		err = run_sock_addr(pfd, daddr, strchr(argv[2], '6') != NULL, repeat, &retval,
				    &duration);
		break;
	default:
		type = "other";
		err = -EOPNOTSUPP;
	}
	close(pfd);
	report(argv[2], type, err, retval, duration, repeat);
	return 0;
}
