// SPDX-License-Identifier: GPL-2.0
/*
 * netbench: the TCP request/response and connect() rate loads of the
 * benchmarks, over loopback inside a network namespace the benchmark
 * made. Every loop is bounded in time and count.
 *
 *   netbench serve ADDR PORT MAX_SECONDS
 *       echo server (epoll, one thread) for both loads; exits after
 *       MAX_SECONDS at the latest
 *   netbench rr ADDR PORT SECONDS
 *       one connection, 1-byte request and 1-byte response, as many
 *       round trips as fit in SECONDS (netperf TCP_RR-like)
 *   netbench crr ADDR PORT SECONDS
 *       socket() + connect() + close() as often as fits in SECONDS; the
 *       close is abortive (SO_LINGER 0) so no TIME_WAIT piles up
 *   netbench probe ADDR PORT
 *       one connect() (1.5 s at most); prints "ok" or "error ENAME":
 *       EPERM, refused by a socket hook; ETIMEDOUT, the SYN was dropped;
 *       ECONNREFUSED, it reached the stack and nobody listens there
 *
 * The clients print one JSON object on stdout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENT_SECONDS 600
#define MAX_SERVER_SECONDS 7200
#define MAX_OPS 500000000ull

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in parse_addr(const char *addr, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	long p = strtol(port, NULL, 10);

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || p <= 0 || p > 65535) {
		fprintf(stderr, "netbench: bad address %s:%s\n", addr, port);
		exit(2);
	}
	sa.sin_port = htons((unsigned short)p);
	return sa;
}

static double parse_seconds(const char *s, double max)
{
	double v = strtod(s, NULL);

	if (!(v > 0) || v > max) {
		fprintf(stderr, "netbench: seconds must be in (0, %g]\n", max);
		exit(2);
	}
	return v;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int serve(struct sockaddr_in sa, double max_seconds)
{
	struct epoll_event ev, evs[64];
	double deadline = now() + max_seconds;
	char buf[65536];
	int one = 1, lfd, ep;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	if (listen(lfd, 65535))
		die("listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("epoll_ctl");
	while (now() < deadline) {
		int n = epoll_wait(ep, evs, 64, 1000), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					set_nodelay(c);
					ev.events = EPOLLIN;
					ev.data.fd = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev))
						close(c);
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(fd, buf, sizeof(buf)), off = 0;

				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && errno == EAGAIN)
					break;
				if (r <= 0) {
					close(fd); /* leaves the epoll set with it */
					break;
				}
				while (off < r) {
					ssize_t w = write(fd, buf + off, (size_t)(r - off));

					if (w < 0 && (errno == EINTR || errno == EAGAIN))
						continue;
					if (w < 0)
						break;
					off += w;
				}
				if (off < r) {
					close(fd);
					break;
				}
			}
		}
	}
	return 0;
}

static int connect_to(struct sockaddr_in sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int rr(struct sockaddr_in sa, double seconds)
{
	unsigned long long n = 0;
	double t0, t1, deadline;
	char c = 'x';
	int fd = connect_to(sa);

	if (fd < 0)
		die("connect");
	set_nodelay(fd);
	t0 = now();
	deadline = t0 + seconds;
	t1 = t0;
	while (n < MAX_OPS) {
		if (write(fd, &c, 1) != 1)
			die("write");
		if (read(fd, &c, 1) != 1)
			die("read");
		n++;
		if (!(n & 63) && (t1 = now()) >= deadline)
			break;
	}
	t1 = now();
	close(fd);
	printf("{\"transactions\":%llu,\"seconds\":%.6f,\"rate\":%.1f}\n", n, t1 - t0,
	       (double)n / (t1 - t0));
	return 0;
}

static int crr(struct sockaddr_in sa, double seconds)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	unsigned long long n = 0, errors = 0, slow = 0;
	double t0, t1, deadline, max_lat = 0;
	int last_err = 0;

	t0 = now();
	deadline = t0 + seconds;
	t1 = t0;
	while (n < MAX_OPS && t1 < deadline) {
		double a = t1;
		int fd = connect_to(sa);

		t1 = now();
		if (t1 - a > max_lat)
			max_lat = t1 - a;
		if (t1 - a > 0.2)
			slow++;
		if (fd < 0) {
			last_err = errno;
			if (++errors > 1000)
				break;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		n++;
	}
	t1 = now();
	printf("{\"connects\":%llu,\"errors\":%llu,\"last_error\":\"%s\",\"slow\":%llu,"
	       "\"max_latency_ms\":%.3f,\"seconds\":%.6f,\"rate\":%.1f}\n",
	       n, errors, last_err ? strerror(last_err) : "", slow, max_lat * 1e3, t1 - t0,
	       (double)n / (t1 - t0));
	return errors > 1000 ? 1 : 0;
}

/* A connect() that gives up after 1.5 s: a SYN that a firewall drops
 * would otherwise be retransmitted for minutes. */
static int probe(struct sockaddr_in sa)
{
	struct pollfd pfd = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		err = 0;
	else if (errno != EINPROGRESS)
		err = errno;
	else {
		pfd.fd = fd;
		if (poll(&pfd, 1, 1500) != 1)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
	}
	close(fd);
	if (!err) {
		printf("ok\n");
		return 0;
	}
	printf("error %s\n", err == EPERM	   ? "EPERM"
			     : err == ECONNREFUSED ? "ECONNREFUSED"
			     : err == ETIMEDOUT	   ? "ETIMEDOUT"
						   : strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "serve"))
		return serve(parse_addr(argv[2], argv[3]),
			     parse_seconds(argv[4], MAX_SERVER_SECONDS));
	if (argc == 5 && !strcmp(argv[1], "rr"))
		return rr(parse_addr(argv[2], argv[3]), parse_seconds(argv[4], MAX_CLIENT_SECONDS));
	if (argc == 5 && !strcmp(argv[1], "crr"))
		return crr(parse_addr(argv[2], argv[3]),
			   parse_seconds(argv[4], MAX_CLIENT_SECONDS));
	if (argc == 4 && !strcmp(argv[1], "probe"))
		return probe(parse_addr(argv[2], argv[3]));
	fprintf(stderr, "usage: netbench serve ADDR PORT MAX_SECONDS\n"
			"       netbench rr|crr ADDR PORT SECONDS\n"
			"       netbench probe ADDR PORT\n");
	return 2;
}
