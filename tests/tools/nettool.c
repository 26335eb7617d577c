// SPDX-License-Identifier: GPL-2.0
/*
 * nettool: the socket calls the policy tests make from inside a
 * container, built static so it runs in a busybox rootfs. Prints one
 * line: "ok ..." or "error ERRNO-NAME N (M ms)", and exits 0 or 1.
 *
 *   nettool [OPTS] tcp ADDR PORT     connect(), send a line, read the answer
 *   nettool [OPTS] udp-connect ADDR PORT    connect() a UDP socket, send, read
 *   nettool [OPTS] udp-sendto ADDR PORT [N [SIZE]]  N unconnected sendto()s
 *   nettool ping ADDR                one ICMP echo over a ping socket
 *   nettool listen PORT [6]          tcp-sink on every address (IPv6 with "6")
 *   nettool raw                      create a raw IPv4 socket
 *   nettool packet                   create an AF_PACKET socket
 *   nettool [OPTS] tcp-sink ADDR PORT   accept TCP connections forever; one line
 *                                    "conn ADDR PORT" each, answers "hello"
 *   nettool [OPTS] tfo ADDR PORT     TCP Fast Open: sendto(MSG_FASTOPEN), read
 *   nettool [OPTS] uring-connect ADDR PORT   TCP connect() through io_uring
 *   nettool [OPTS] uring-sendto ADDR PORT    UDP sendmsg() through io_uring
 *   nettool ipproto PROTO ADDR PORT  raw socket of IP protocol PROTO (132 SCTP,
 *                                    33 DCCP) sending one crafted header with
 *                                    destination port PORT (CAP_NET_RAW)
 *   nettool raw6 KIND SRC DST PORT   IPV6_HDRINCL packet (CAP_NET_RAW), KIND:
 *       hbhfrag  hop-by-hop (16 bytes) + fragment (offset 0, M=0) + UDP to PORT
 *       frag2    a non-first fragment whose payload looks like UDP to PORT
 *       udp      plain UDP to PORT
 *   nettool raw4 KIND SRC DST PORT   IP_HDRINCL packet, KIND frag2 or udp
 *   nettool [OPTS] sockopt 4|6 LEVEL NAME [VALUE]   one setsockopt() (int VALUE,
 *                                    default 1) on a new UDP socket of that
 *                                    family -> "ok" | "error ..."; LEVEL ip,
 *                                    ipv6 or socket; NAME freebind,
 *                                    transparent, tos, tclass, v6only,
 *                                    reuseaddr (or numbers)
 *   nettool [OPTS] spoof OPT SRC DST PORT TEXT   a UDP datagram to DST:PORT
 *                                    whose source is SRC (need not be ours):
 *                                    setsockopt OPT (freebind or transparent,
 *                                    of the family's level), then sendmsg()
 *                                    with an IP_PKTINFO / IPV6_PKTINFO source
 *                                    -> "ok sent (OPT ok)" or "error ... (OPT
 *                                    ok|ERRNO)"; sends even if OPT failed
 *   nettool icmp-sink 4|6            raw ICMP socket: one line per ICMP error
 *                                    that arrives, "icmp TYPE CODE FROM TO
 *                                    TEXT", TEXT the quoted UDP payload
 *   nettool [OPTS] udp-script 4|6    one UDP socket driven by stdin, one
 *                                    answer line per command line:
 *       connect ADDR PORT            -> ok connected | error ...
 *       send TEXT                    send() on the connected socket
 *       sendto ADDR PORT TEXT        sendto()
 *       cmsg KIND TEXT               sendmsg() without a name, with ancillary
 *                                    data KIND: pktinfo, tos (IPv4), pktinfo6,
 *                                    tclass (IPv6)
 *       cmsgto KIND ADDR PORT TEXT   the same with a name
 *       mmsg ADDR PORT ADDR PORT TEXT   one sendmmsg() of two datagrams ->
 *                                    "ok sent N" | "error ... sent N"
 *       recv MS                      -> "recv ADDR PORT TEXT" | "none"
 *       local                        -> "local ADDR PORT"
 *       broadcast                    setsockopt SO_BROADCAST
 *       mcast-if ADDR                setsockopt IP_MULTICAST_IF
 *       join GROUP ADDR              IP_ADD_MEMBERSHIP on the interface of ADDR
 *
 * OPTS (before the mode):
 *   -b ADDR   bind to ADDR first      -p PORT   bind to local PORT
 *   -r HOP[,HOP...]  carry a source route: IPv4 IP_OPTIONS LSRR, IPv6
 *             IPV6_RTHDR segment routing header (type 4); HOP first
 *   -s        IPv4 strict source route (SSRR) instead of LSRR
 *   -P udplite  datagram sockets are UDP-Lite (IPPROTO_UDPLITE)
 *   -t MS     timeouts (default 2000)
 *   -3        sockopt and spoof: setsockopt() through the 32-bit compat
 *             system call (int $0x80, x86-64 only), as an i386 program would
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_PACKET
#define AF_PACKET 17
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef IP_FREEBIND
#define IP_FREEBIND 15
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static struct timespec t0;
static const char *opt_bind;
static int opt_port;
static char *opt_route;
static int opt_strict;
static int opt_dgram_proto;
static int opt_timeout = 2000;
static int opt_compat;

static long elapsed_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EAGAIN: return "EAGAIN";
	case EINPROGRESS: return "EINPROGRESS";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case ENOBUFS: return "ENOBUFS";
	case EINVAL: return "EINVAL";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ECONNRESET: return "ECONNRESET";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENOSYS: return "ENOSYS";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	}
	return "EOTHER";
}

static int fail(int e)
{
	printf("error %s %d (%ld ms)\n", errno_name(e), e, elapsed_ms());
	return 1;
}

static socklen_t make_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)port);
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		return sizeof(*in6);
	}
	fprintf(stderr, "bad address %s\n", host);
	exit(2);
}

static void fmt_sa(const struct sockaddr_storage *ss, char *buf, size_t size, int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)size);
		*port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)size);
		*port = ntohs(a->sin6_port);
	}
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* -r: IPv4 loose/strict source route, IPv6 segment routing header. */
static int set_route(int fd, int family)
{
	unsigned char buf[8 + 16 * 9] = { 0 };
	char hops[256], *h, *save = NULL;
	struct in6_addr a6[8];
	struct in_addr a4[9];
	int n = 0, i;

	snprintf(hops, sizeof(hops), "%s", opt_route);
	for (h = strtok_r(hops, ",", &save); h && n < 8; h = strtok_r(NULL, ",", &save), n++)
		if (family == AF_INET ? inet_pton(AF_INET, h, &a4[n]) != 1
				      : inet_pton(AF_INET6, h, &a6[n]) != 1) {
			fprintf(stderr, "bad hop %s\n", h);
			exit(2);
		}
	if (family == AF_INET) {
		buf[0] = opt_strict ? 0x89 : 0x83; /* IPOPT_SSRR, IPOPT_LSRR */
		buf[1] = (unsigned char)(3 + 4 * n);
		buf[2] = 4;
		for (i = 0; i < n; i++)
			memcpy(&buf[3 + 4 * i], &a4[i], 4);
		return setsockopt(fd, IPPROTO_IP, IP_OPTIONS, buf, (socklen_t)((3 + 4 * n + 3) & ~3));
	}
	/* segments[0] is the final destination (the kernel fills it in);
	 * segments[segments_left] is the first hop. */
	buf[0] = 0;
	buf[1] = (unsigned char)(2 * (n + 1));
	buf[2] = 4; /* IPV6_SRCRT_TYPE_4 */
	buf[3] = (unsigned char)n;
	buf[4] = (unsigned char)n;
	for (i = 0; i < n; i++)
		memcpy(&buf[8 + 16 * (n - i)], &a6[i], 16);
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, buf, (socklen_t)(8 + 16 * (n + 1)));
}

/* A socket with the -b, -p and -r options applied; -1 with errno set. */
static int open_sock(int family, int type, int proto)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (type == SOCK_DGRAM && !proto && opt_dgram_proto)
		proto = opt_dgram_proto;
	fd = socket(family, type, proto);
	if (fd < 0)
		return -1;
	set_timeout(fd, opt_timeout);
	if (opt_bind || opt_port) {
		len = make_addr(opt_bind ? opt_bind : family == AF_INET ? "0.0.0.0" : "::", opt_port,
				&ss);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len))
			return -1;
	}
	if (opt_route && set_route(fd, family))
		return -1;
	return fd;
}

/* Reads the server's one-line answer and prints "ok ANSWER". */
static int print_answer(int fd)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return fail(errno);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("ok %s (%ld ms)\n", buf, elapsed_ms());
	return 0;
}

/* connect() then one exchange; @type SOCK_STREAM or SOCK_DGRAM. */
static int exchange(int type, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	int fd = open_sock(ss.ss_family, type, 0);

	if (fd < 0)
		return fail(errno);
	if (connect(fd, (struct sockaddr *)&ss, len))
		return fail(errno);
	if (send(fd, "ping\n", 5, 0) < 0)
		return fail(errno);
	return print_answer(fd);
}

static int sendto_n(const char *host, int port, int count, int size)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	char *payload = calloc(1, (size_t)size + 1);
	int fd = open_sock(ss.ss_family, SOCK_DGRAM, 0), i, sent = 0, err = 0;

	if (fd < 0 || !payload)
		return fail(errno);
	memset(payload, 'x', (size_t)size);
	for (i = 0; i < count; i++) {
		if (sendto(fd, payload, (size_t)size, 0, (struct sockaddr *)&ss, len) < 0)
			err = errno;
		else
			sent++;
	}
	if (err)
		return printf("error %s %d sent %d of %d (%ld ms)\n", errno_name(err), err, sent,
			      count, elapsed_ms()), 1;
	printf("ok sent %d (%ld ms)\n", sent, elapsed_ms());
	return 0;
}

static int ping(const char *host)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, 0, &ss);
	int v6 = ss.ss_family == AF_INET6;
	struct icmphdr h = { .type = ICMP_ECHO };
	struct icmp6_hdr h6 = { .icmp6_type = ICMP6_ECHO_REQUEST };
	char buf[256];
	int fd = socket(ss.ss_family, SOCK_DGRAM, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);

	if (fd < 0)
		return fail(errno);
	set_timeout(fd, 1500);
	if (sendto(fd, v6 ? (void *)&h6 : (void *)&h, v6 ? sizeof(h6) : sizeof(h), 0,
		   (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	if (recv(fd, buf, sizeof(buf), 0) < 0)
		return fail(errno);
	printf("ok echo reply (%ld ms)\n", elapsed_ms());
	return 0;
}

/* Every accepted connection is one line "conn ADDR PORT". */
static int tcp_sink(const char *host, int port)
{
	struct sockaddr_storage ss, peer;
	socklen_t len = make_addr(host, port, &ss), plen;
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, 0), c, pport;
	char buf[256], name[INET6_ADDRSTRLEN];
	ssize_t n;

	if (fd < 0)
		return fail(errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64))
		return fail(errno);
	printf("listening %s %d\n", host, port);
	for (;;) {
		plen = sizeof(peer);
		c = accept(fd, (struct sockaddr *)&peer, &plen);
		if (c < 0)
			continue;
		fmt_sa(&peer, name, sizeof(name), &pport);
		printf("conn %s %d\n", name, pport);
		set_timeout(c, 1000);
		n = recv(c, buf, sizeof(buf) - 1, 0);
		if (n > 0 && send(c, "hello\n", 6, 0) < 0)
			perror("send");
		close(c);
	}
}

/* TCP Fast Open: the connect happens inside sendto(). */
static int tfo(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	int fd = open_sock(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return fail(errno);
	if (sendto(fd, "ping\n", 5, MSG_FASTOPEN, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	return print_answer(fd);
}

/* One io_uring operation, submitted and waited for; returns its result. */
static int uring_one(const struct io_uring_sqe *want)
{
	struct io_uring_params p;
	unsigned int *sq_tail, *sq_array, *sq_mask, *cq_head, *cq_tail, *cq_mask, idx;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	size_t sq_sz, cq_sz;
	char *sq, *cq;
	int fd, res;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return -errno;
	sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP && cq_sz > sq_sz)
		sq_sz = cq_sz;
	sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = p.features & IORING_FEAT_SINGLE_MMAP
		     ? sq
		     : mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
			    IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		return -errno;
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sqes == MAP_FAILED)
		return -errno;
	sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned int *)(sq + p.sq_off.array);
	cq_head = (unsigned int *)(cq + p.cq_off.head);
	cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	idx = *sq_tail & *sq_mask;
	sqes[idx] = *want;
	sq_array[idx] = idx;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		return -EAGAIN;
	res = cqes[*cq_head & *cq_mask].res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
	close(fd);
	return res;
}

static int uring(int tcp, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	struct io_uring_sqe sqe;
	struct iovec iov = { "ping\n", 5 };
	struct msghdr msg = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov,
			      .msg_iovlen = 1 };
	int fd = open_sock(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0), res;

	if (fd < 0)
		return fail(errno);
	memset(&sqe, 0, sizeof(sqe));
	sqe.fd = fd;
	if (tcp) {
		sqe.opcode = IORING_OP_CONNECT;
		sqe.addr = (unsigned long)&ss;
		sqe.off = len;
	} else {
		sqe.opcode = IORING_OP_SENDMSG;
		sqe.addr = (unsigned long)&msg;
		sqe.len = 1;
	}
	res = uring_one(&sqe);
	if (res < 0)
		return fail(-res);
	if (!tcp)
		return printf("ok sent %d (%ld ms)\n", res, elapsed_ms()), 0;
	if (send(fd, "ping\n", 5, 0) < 0)
		return fail(errno);
	return print_answer(fd);
}

/* ---------------------------------------------------------- crafted packets */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An 8-byte UDP header and @plen bytes of payload, checksummed for a
 * pseudo header of @src/@dst (@alen 4 or 16). */
static size_t build_udp(unsigned char *u, const void *src, const void *dst, size_t alen,
			int port, const char *payload)
{
	size_t plen = strlen(payload), len = 8 + plen;
	uint32_t sum = 0;
	uint16_t c;

	u[0] = 0x9c; /* source port 40000 */
	u[1] = 0x40;
	u[2] = (unsigned char)(port >> 8);
	u[3] = (unsigned char)port;
	u[4] = (unsigned char)(len >> 8);
	u[5] = (unsigned char)len;
	u[6] = u[7] = 0;
	memcpy(u + 8, payload, plen);
	sum = csum_add(sum, src, alen);
	sum = csum_add(sum, dst, alen);
	sum += IPPROTO_UDP + (uint32_t)len;
	sum = csum_add(sum, u, len);
	c = csum_fold(sum);
	if (!c)
		c = 0xffff;
	u[6] = (unsigned char)(c >> 8);
	u[7] = (unsigned char)c;
	return len;
}

static int raw6(const char *kind, const char *src, const char *dst, int port)
{
	unsigned char pkt[256] = { 0 }, *p = pkt + 40;
	struct sockaddr_storage ss;
	socklen_t slen = make_addr(dst, 0, &ss);
	struct in6_addr s6, d6;
	size_t len;
	int fd, one = 1;

	if (inet_pton(AF_INET6, src, &s6) != 1 || inet_pton(AF_INET6, dst, &d6) != 1)
		return fprintf(stderr, "bad address\n"), 2;
	pkt[0] = 0x60;
	pkt[7] = 64;
	memcpy(pkt + 8, &s6, 16);
	memcpy(pkt + 24, &d6, 16);
	if (!strcmp(kind, "hbhfrag")) {
		/* Hop-by-hop, 16 bytes: one unknown skippable option (0x1e)
		 * whose data byte at offset 8 of the header reads as
		 * "no next header" to a parser that takes the hop-by-hop
		 * header for 8 bytes long. */
		pkt[6] = 0; /* IPPROTO_HOPOPTS */
		p[0] = 44;  /* IPPROTO_FRAGMENT */
		p[1] = 1;   /* (1 + 1) * 8 bytes */
		p[2] = 0x1e;
		p[3] = 12;
		p[8] = 59; /* IPPROTO_NONE */
		p += 16;
		p[0] = IPPROTO_UDP; /* fragment header: offset 0, M=0 */
		p[4] = 0x12;
		p[7] = 0x34;
		p += 8;
		p += build_udp(p, &s6, &d6, 16, port, "hbhfrag\n");
	} else if (!strcmp(kind, "frag2")) {
		pkt[6] = 44;
		p[0] = IPPROTO_UDP;
		p[2] = 0; /* offset 1 (8 bytes), M=0 */
		p[3] = 1 << 3;
		p[7] = 0x56;
		p += 8;
		/* Payload that reads as a UDP header to PORT. */
		p[0] = 0x9c;
		p[1] = 0x40;
		p[2] = (unsigned char)(port >> 8);
		p[3] = (unsigned char)port;
		p[5] = 16;
		p += 16;
	} else if (!strcmp(kind, "udp")) {
		pkt[6] = IPPROTO_UDP;
		p += build_udp(p, &s6, &d6, 16, port, "rawudp\n");
	} else {
		return fprintf(stderr, "unknown kind %s\n", kind), 2;
	}
	len = (size_t)(p - pkt);
	pkt[4] = (unsigned char)((len - 40) >> 8);
	pkt[5] = (unsigned char)(len - 40);
	fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return fail(errno);
	setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one));
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, slen) < 0)
		return fail(errno);
	printf("ok sent %zu bytes (%ld ms)\n", len, elapsed_ms());
	return 0;
}

static int raw4(const char *kind, const char *src, const char *dst, int port)
{
	unsigned char pkt[128] = { 0 }, *p = pkt + 20;
	struct sockaddr_storage ss;
	socklen_t slen = make_addr(dst, 0, &ss);
	struct in_addr s4, d4;
	size_t len;
	int fd;

	if (inet_pton(AF_INET, src, &s4) != 1 || inet_pton(AF_INET, dst, &d4) != 1)
		return fprintf(stderr, "bad address\n"), 2;
	pkt[0] = 0x45;
	pkt[5] = 0x77; /* id */
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &s4, 4);
	memcpy(pkt + 16, &d4, 4);
	if (!strcmp(kind, "frag2")) {
		pkt[7] = 1; /* offset 1 (8 bytes), MF=0 */
		p[0] = 0x9c;
		p[1] = 0x40;
		p[2] = (unsigned char)(port >> 8);
		p[3] = (unsigned char)port;
		p[5] = 16;
		p += 16;
	} else if (!strcmp(kind, "udp")) {
		p += build_udp(p, &s4, &d4, 4, port, "rawudp\n");
	} else {
		return fprintf(stderr, "unknown kind %s\n", kind), 2;
	}
	len = (size_t)(p - pkt);
	pkt[2] = (unsigned char)(len >> 8);
	pkt[3] = (unsigned char)len;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return fail(errno);
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, slen) < 0)
		return fail(errno);
	printf("ok sent %zu bytes (%ld ms)\n", len, elapsed_ms());
	return 0;
}

/* A raw socket of @proto: the kernel writes the IP header, we the rest:
 * source port 40000, destination @port, then zeros (an SCTP common header
 * and INIT chunk, or a DCCP request, as far as the ports go). */
static int ipproto(int proto, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, 0, &ss);
	unsigned char h[32] = { 0x9c, 0x40, (unsigned char)(port >> 8), (unsigned char)port };
	int fd = socket(ss.ss_family, SOCK_RAW, proto);

	if (fd < 0)
		return fail(errno);
	if (proto == 132) {
		h[12] = 1; /* INIT */
		h[15] = 20;
	} else if (proto == 33) {
		h[4] = 4; /* data offset, 32-bit words */
		h[8] = 0x03; /* type request, X=1 */
	}
	if (sendto(fd, h, sizeof(h), 0, (struct sockaddr *)&ss, len) < 0)
		return fail(errno);
	printf("ok sent (%ld ms)\n", elapsed_ms());
	return 0;
}

/* ------------------------------------------------------- socket options */

/* setsockopt(), or with -3 the i386 system call (366) through int $0x80:
 * the kernel then takes it for a compat call. */
static int do_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
#if defined(__x86_64__)
	static void *low;
	long ret;

	if (!opt_compat)
		return setsockopt(fd, level, name, val, len);
	/* The compat call sees 32-bit pointers: the value below 4 GiB. */
	if (!low) {
		low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			   -1, 0);
		if (low == MAP_FAILED) {
			low = NULL;
			return -1;
		}
	}
	memcpy(low, val, len);
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(366L), "b"((long)fd), "c"((long)level), "d"((long)name),
			   "S"((long)(unsigned long)low), "D"((long)len)
			 : "memory", "cc", "r8", "r9", "r10", "r11");
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return 0;
#else
	if (opt_compat) {
		errno = ENOSYS;
		return -1;
	}
	return setsockopt(fd, level, name, val, len);
#endif
}

static int opt_number(const char *name, int family, int level_only)
{
	static const struct {
		const char *name;
		int v4, v6;
	} names[] = {
		{ "ip", IPPROTO_IP, IPPROTO_IP },
		{ "ipv6", IPPROTO_IPV6, IPPROTO_IPV6 },
		{ "socket", SOL_SOCKET, SOL_SOCKET },
		{ "freebind", IP_FREEBIND, IPV6_FREEBIND },
		{ "transparent", IP_TRANSPARENT, IPV6_TRANSPARENT },
		{ "tos", IP_TOS, IP_TOS },
		{ "tclass", IPV6_TCLASS, IPV6_TCLASS },
		{ "v6only", IPV6_V6ONLY, IPV6_V6ONLY },
		{ "reuseaddr", SO_REUSEADDR, SO_REUSEADDR },
	};
	size_t i;
	char *end;
	long n = strtol(name, &end, 10);

	if (*name && !*end)
		return (int)n;
	for (i = level_only ? 0 : 3; i < (level_only ? 3 : sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i].name))
			return family == AF_INET6 ? names[i].v6 : names[i].v4;
	fprintf(stderr, "unknown %s %s\n", level_only ? "level" : "option", name);
	exit(2);
}

/* @family the socket's; for NAME, the level's family decides: ip
 * freebind is IP_FREEBIND on an IPv6 socket too. */
static int sockopt_mode(int family, const char *level, const char *name, int value)
{
	int fd = socket(family, SOCK_DGRAM, 0), lvl = opt_number(level, family, 1);

	if (fd < 0)
		return fail(errno);
	if (do_setsockopt(fd, lvl, opt_number(name, lvl == IPPROTO_IPV6 ? AF_INET6 : AF_INET, 0),
			  &value, sizeof(value)))
		return fail(errno);
	printf("ok (%ld ms)\n", elapsed_ms());
	return 0;
}

static int spoof(const char *opt, const char *src, const char *dst, int port, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(dst, port, &ss);
	int v6 = ss.ss_family == AF_INET6, one = 1, fd, oerr = 0;
	char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))], oname[32];
	struct iovec iov = { (void *)text, strlen(text) };
	struct msghdr msg = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov,
			      .msg_iovlen = 1, .msg_control = cbuf };
	struct cmsghdr *c;
	union {
		struct in6_pktinfo p6;
		struct in_pktinfo p4;
	} pi;
	size_t plen;

	fd = open_sock(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return fail(errno);
	if (do_setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
			  opt_number(opt, v6 ? AF_INET6 : AF_INET, 0), &one, sizeof(one)))
		oerr = errno;
	snprintf(oname, sizeof(oname), "%s %s", opt, oerr ? errno_name(oerr) : "ok");
	memset(cbuf, 0, sizeof(cbuf));
	memset(&pi, 0, sizeof(pi));
	if (inet_pton(ss.ss_family, src, v6 ? (void *)&pi.p6.ipi6_addr : (void *)&pi.p4.ipi_spec_dst) !=
	    1)
		return fprintf(stderr, "bad address %s\n", src), 2;
	plen = v6 ? sizeof(pi.p6) : sizeof(pi.p4);
	msg.msg_controllen = CMSG_SPACE(plen);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	c->cmsg_type = v6 ? IPV6_PKTINFO : IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(plen);
	memcpy(CMSG_DATA(c), &pi, plen);
	if (sendmsg(fd, &msg, 0) < 0)
		return printf("error %s %d (%s) (%ld ms)\n", errno_name(errno), errno, oname,
			      elapsed_ms()),
		       1;
	printf("ok sent (%s) (%ld ms)\n", oname, elapsed_ms());
	return 0;
}

/* Every ICMP error this netns receives: "icmp TYPE CODE FROM TO TEXT". */
static int icmp_sink(int family)
{
	int v6 = family == AF_INET6, one = 1, fd, type, code, port;
	unsigned char buf[2048], *q;
	char cbuf[256], from[INET6_ADDRSTRLEN], to[INET6_ADDRSTRLEN], text[64];
	struct sockaddr_storage ss;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n, qlen;
	size_t i;

	fd = socket(family, SOCK_RAW, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0)
		return fail(errno);
	if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)))
		return fail(errno);
	printf("listening\n");
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &ss;
		msg.msg_namelen = sizeof(ss);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		n = recvmsg(fd, &msg, 0);
		if (n < 0)
			continue;
		strcpy(to, "?");
		if (v6) {
			/* The ICMPv6 message; the quoted IPv6 header, then UDP. */
			q = buf;
			for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
				if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
					inet_ntop(AF_INET6,
						  &((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr, to,
						  sizeof(to));
			if (n < 8 || q[0] >= 128) /* informational */
				continue;
			type = q[0];
			code = q[1];
			q += 8 + 40 + 8;
			qlen = n - (8 + 40 + 8);
		} else {
			/* The IPv4 header, ICMP, the quoted IPv4 header, UDP. */
			size_t ihl = (size_t)(buf[0] & 0xf) * 4, qihl;

			if (n < (ssize_t)ihl + 8 + 20)
				continue;
			inet_ntop(AF_INET, buf + 16, to, sizeof(to));
			q = buf + ihl;
			type = q[0];
			code = q[1];
			if (type == ICMP_ECHO || type == ICMP_ECHOREPLY)
				continue;
			qihl = (size_t)(q[8] & 0xf) * 4;
			q += 8 + qihl + 8;
			qlen = n - (ssize_t)(ihl + 8 + qihl + 8);
		}
		for (i = 0; qlen > 0 && i < (size_t)qlen && i < sizeof(text) - 1; i++)
			text[i] = (q[i] > ' ' && q[i] < 127) ? (char)q[i] : '.';
		text[i] = '\0';
		fmt_sa(&ss, from, sizeof(from), &port);
		printf("icmp %d %d %s %s %s\n", type, code, from, to, i ? text : "-");
	}
}

/* ------------------------------------------------------------ udp-script */

static int add_cmsg(struct msghdr *msg, char *cbuf, size_t cap, const char *kind)
{
	/* An all-zero pktinfo: no source address, no interface. */
	static const struct {
		const char *name;
		int level, type;
		size_t len;
	} kinds[] = {
		{ "pktinfo", IPPROTO_IP, IP_PKTINFO, sizeof(struct in_pktinfo) },
		{ "tos", IPPROTO_IP, IP_TOS, sizeof(int) },
		{ "pktinfo6", IPPROTO_IPV6, IPV6_PKTINFO, sizeof(struct in6_pktinfo) },
		{ "tclass", IPPROTO_IPV6, IPV6_TCLASS, sizeof(int) },
	};
	struct cmsghdr *c;
	int tos = 0x10;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i].name))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return -1;
	memset(cbuf, 0, cap);
	msg->msg_control = cbuf;
	msg->msg_controllen = cap;
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = kinds[i].level;
	c->cmsg_type = kinds[i].type;
	c->cmsg_len = CMSG_LEN(kinds[i].len);
	if (kinds[i].len == sizeof(int)) /* TOS and traffic class */
		memcpy(CMSG_DATA(c), &tos, sizeof(tos));
	msg->msg_controllen = c->cmsg_len;
	return 0;
}

static void script_cmd(int fd, int family, char *line)
{
	char *argv[8] = { 0 }, *save = NULL, *w, cbuf[64], name[INET6_ADDRSTRLEN], buf[512];
	struct sockaddr_storage ss, ss2;
	socklen_t len, len2;
	struct iovec iov;
	struct msghdr msg;
	int argc = 0, r, port;
	ssize_t n;

	for (w = strtok_r(line, " \n", &save); w && argc < 8; w = strtok_r(NULL, " \n", &save))
		argv[argc++] = w;
	if (!argc)
		return;
	memset(&msg, 0, sizeof(msg));
	if (!strcmp(argv[0], "connect") && argc == 3) {
		len = make_addr(argv[1], atoi(argv[2]), &ss);
		if (connect(fd, (struct sockaddr *)&ss, len))
			fail(errno);
		else
			printf("ok connected\n");
	} else if (!strcmp(argv[0], "send") && argc == 2) {
		if (send(fd, argv[1], strlen(argv[1]), 0) < 0)
			fail(errno);
		else
			printf("ok sent\n");
	} else if (!strcmp(argv[0], "sendto") && argc == 4) {
		len = make_addr(argv[1], atoi(argv[2]), &ss);
		if (sendto(fd, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&ss, len) < 0)
			fail(errno);
		else
			printf("ok sent\n");
	} else if ((!strcmp(argv[0], "cmsg") && argc == 3) ||
		   (!strcmp(argv[0], "cmsgto") && argc == 5)) {
		if (argc == 5) {
			msg.msg_namelen = make_addr(argv[2], atoi(argv[3]), &ss);
			msg.msg_name = &ss;
		}
		iov.iov_base = argv[argc - 1];
		iov.iov_len = strlen(argv[argc - 1]);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (add_cmsg(&msg, cbuf, sizeof(cbuf), argv[1]))
			printf("error bad cmsg kind\n");
		else if (sendmsg(fd, &msg, 0) < 0)
			fail(errno);
		else
			printf("ok sent\n");
	} else if (!strcmp(argv[0], "mmsg") && argc == 6) {
		struct mmsghdr mm[2];
		struct iovec iv[2];

		memset(mm, 0, sizeof(mm));
		len = make_addr(argv[1], atoi(argv[2]), &ss);
		len2 = make_addr(argv[3], atoi(argv[4]), &ss2);
		iv[0].iov_base = iv[1].iov_base = argv[5];
		iv[0].iov_len = iv[1].iov_len = strlen(argv[5]);
		mm[0].msg_hdr = (struct msghdr){ .msg_name = &ss, .msg_namelen = len,
						 .msg_iov = &iv[0], .msg_iovlen = 1 };
		mm[1].msg_hdr = (struct msghdr){ .msg_name = &ss2, .msg_namelen = len2,
						 .msg_iov = &iv[1], .msg_iovlen = 1 };
		r = sendmmsg(fd, mm, 2, 0);
		if (r < 0)
			printf("error %s %d sent 0\n", errno_name(errno), errno);
		else if (r < 2) /* the error of the failing message comes next */
			printf("error %s sent %d\n",
			       sendmmsg(fd, &mm[r], 2 - r, 0) < 0 ? errno_name(errno) : "none", r);
		else
			printf("ok sent %d\n", r);
	} else if (!strcmp(argv[0], "recv") && argc == 2) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		len = sizeof(ss);
		if (poll(&pfd, 1, atoi(argv[1])) <= 0) {
			printf("none\n");
			return;
		}
		n = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&ss, &len);
		if (n < 0) {
			fail(errno);
			return;
		}
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fmt_sa(&ss, name, sizeof(name), &port);
		printf("recv %s %d %s\n", name, port, buf);
	} else if (!strcmp(argv[0], "local") && argc == 1) {
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		fmt_sa(&ss, name, sizeof(name), &port);
		printf("local %s %d\n", name, port);
	} else if (!strcmp(argv[0], "broadcast") && argc == 1) {
		r = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &r, sizeof(r)))
			fail(errno);
		else
			printf("ok\n");
	} else if (!strcmp(argv[0], "mcast-if") && argc == 2 && family == AF_INET) {
		struct in_addr a;

		inet_pton(AF_INET, argv[1], &a);
		if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof(a)))
			fail(errno);
		else
			printf("ok\n");
	} else if (!strcmp(argv[0], "join") && argc == 3 && family == AF_INET) {
		struct ip_mreq m;

		inet_pton(AF_INET, argv[1], &m.imr_multiaddr);
		inet_pton(AF_INET, argv[2], &m.imr_interface);
		if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)))
			fail(errno);
		else
			printf("ok\n");
	} else {
		printf("error unknown command %s\n", argv[0]);
	}
}

static int udp_script(int family)
{
	char line[512];
	int fd = open_sock(family, SOCK_DGRAM, 0);

	if (fd < 0)
		return fail(errno);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "quit", 4))
			break;
		script_cmd(fd, family, line);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (argc > 2 && argv[1][0] == '-' && argv[1][1] && !argv[1][2]) {
		switch (argv[1][1]) {
		case 'b': opt_bind = argv[2]; break;
		case 'p': opt_port = atoi(argv[2]); break;
		case 'r': opt_route = argv[2]; break;
		case 't': opt_timeout = atoi(argv[2]); break;
		case 'P':
			if (strcmp(argv[2], "udplite"))
				return fprintf(stderr, "-P: only udplite\n"), 2;
			opt_dgram_proto = IPPROTO_UDPLITE;
			break;
		case 's':
			opt_strict = 1;
			argv++, argc--;
			continue;
		case '3':
			opt_compat = 1;
			argv++, argc--;
			continue;
		default:
			fprintf(stderr, "unknown option %s\n", argv[1]);
			return 2;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc == 4 && !strcmp(argv[1], "tcp"))
		return exchange(SOCK_STREAM, argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "udp-connect"))
		return exchange(SOCK_DGRAM, argv[2], atoi(argv[3]));
	if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "udp-sendto"))
		return sendto_n(argv[2], atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 1,
				argc > 5 ? atoi(argv[5]) : 16);
	if (argc == 3 && !strcmp(argv[1], "ping"))
		return ping(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "listen"))
		return tcp_sink(argc > 3 ? "::" : "0.0.0.0", atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "tcp-sink"))
		return tcp_sink(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "tfo"))
		return tfo(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "uring-connect"))
		return uring(1, argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "uring-sendto"))
		return uring(0, argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "ipproto"))
		return ipproto(atoi(argv[2]), argv[3], atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "raw6"))
		return raw6(argv[2], argv[3], argv[4], atoi(argv[5]));
	if (argc == 6 && !strcmp(argv[1], "raw4"))
		return raw4(argv[2], argv[3], argv[4], atoi(argv[5]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "sockopt"))
		return sockopt_mode(!strcmp(argv[2], "6") ? AF_INET6 : AF_INET, argv[3], argv[4],
				    argc > 5 ? atoi(argv[5]) : 1);
	if (argc == 7 && !strcmp(argv[1], "spoof"))
		return spoof(argv[2], argv[3], argv[4], atoi(argv[5]), argv[6]);
	if (argc == 3 && !strcmp(argv[1], "icmp-sink"))
		return icmp_sink(!strcmp(argv[2], "6") ? AF_INET6 : AF_INET);
	if (argc == 3 && !strcmp(argv[1], "udp-script"))
		return udp_script(!strcmp(argv[2], "6") ? AF_INET6 : AF_INET);
	if (argc == 2 && (!strcmp(argv[1], "raw") || !strcmp(argv[1], "packet"))) {
		fd = !strcmp(argv[1], "raw") ? socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) :
					       socket(AF_PACKET, SOCK_RAW, 0);
		if (fd < 0)
			return fail(errno);
		printf("ok socket (%ld ms)\n", elapsed_ms());
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of nettool.c\n");
	return 2;
}
