// SPDX-License-Identifier: GPL-2.0
/*
 * nettool: the socket calls the policy tests make from inside a
 * container, built static so it runs in a busybox rootfs. Prints one
 * line: "ok ..." or "error ERRNO-NAME (N ms)", and exits 0 or 1.
 *
 *   nettool tcp ADDR PORT            connect(), send a line, read the answer
 *   nettool udp-connect ADDR PORT    connect() a UDP socket, send, read
 *   nettool udp-sendto ADDR PORT [N [SIZE]]  N unconnected sendto()s
 *   nettool ping ADDR                one ICMP echo over a ping socket
 *   nettool listen PORT              accept one TCP connection, answer it
 *   nettool raw                      create a raw IPv4 socket
 *   nettool packet                   create an AF_PACKET socket
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_PACKET
#define AF_PACKET 17
#endif

static struct timespec t0;

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
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
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

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* connect() then one exchange; @type SOCK_STREAM or SOCK_DGRAM. */
static int exchange(int type, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	char buf[256];
	ssize_t n;
	int fd = socket(ss.ss_family, type, 0);

	if (fd < 0)
		return fail(errno);
	set_timeout(fd, 2000);
	if (connect(fd, (struct sockaddr *)&ss, len))
		return fail(errno);
	if (send(fd, "ping\n", 5, 0) < 0)
		return fail(errno);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return fail(errno);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("ok %s (%ld ms)\n", buf, elapsed_ms());
	return 0;
}

static int sendto_n(const char *host, int port, int count, int size)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(host, port, &ss);
	char *payload = calloc(1, (size_t)size + 1);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0), i, sent = 0, err = 0;

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

static int listen_once(int port, int v6)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(v6 ? "::" : "0.0.0.0", port, &ss);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, 0), c;
	char buf[256];
	ssize_t n;

	if (fd < 0)
		return fail(errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 8))
		return fail(errno);
	printf("listening %d\n", port);
	fflush(stdout);
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		n = recv(c, buf, sizeof(buf) - 1, 0);
		if (n > 0 && send(c, "hello\n", 6, 0) < 0)
			perror("send");
		close(c);
	}
}

int main(int argc, char **argv)
{
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
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
		return listen_once(atoi(argv[2]), argc > 3);
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
