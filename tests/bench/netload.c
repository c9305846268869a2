/*
 * tests/bench/netload.c: traffic for the director benchmark (issue 9 part 8), no dependencies.
 *
 *   netload serve ADDR PORT            accept on ADDR:PORT, read and discard until the peer closes
 *                                      or resets, close; one epoll thread (a sink and an acceptor)
 *   netload bulk ADDR PORT SECONDS     one connection, write 64 KiB blocks for SECONDS: prints MB/s
 *                                      (1e6 bytes) as acknowledged by the kernel (a final shutdown
 *                                      and wait for the server's close makes every byte count)
 *   netload cps ADDR PORT SECONDS      new connections one after another (connect, then close with a
 *                                      reset: no TIME_WAIT) for SECONDS: prints connections/s and failures
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_MAX 256
#define BLOCK (64 * 1024)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sockaddr_in addr_of(const char *a, const char *p)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(p))};
    if (inet_pton(AF_INET, a, &sa.sin_addr) != 1) {
        fprintf(stderr, "netload: bad address %s\n", a);
        exit(2);
    }
    return sa;
}

static int serve(struct sockaddr_in sa)
{
    int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 4096)) { perror("netload: bind/listen"); return 1; }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[EVENTS_MAX];
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    static char buf[BLOCK];
    for (;;) {
        int n = epoll_wait(ep, evs, EVENTS_MAX, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, buf, sizeof buf);
                if (r > 0) continue;
                if (r < 0 && errno == EAGAIN) break;
                close(fd); /* end of stream or reset */
                break;
            }
        }
    }
}

static int bulk(struct sockaddr_in sa, double seconds)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) { perror("netload: connect"); return 1; }
    static char buf[BLOCK];
    memset(buf, 'x', sizeof buf);
    double t0 = now_s();
    long long sent = 0;
    while (now_s() - t0 < seconds) {
        ssize_t w = write(fd, buf, sizeof buf);
        if (w <= 0) { perror("netload: write"); return 1; }
        sent += w;
    }
    shutdown(fd, SHUT_WR);
    char c;
    while (read(fd, &c, 1) > 0) {} /* the server closes after reading everything */
    double t = now_s() - t0;
    close(fd);
    printf("%.1f\n", (double)sent / t / 1e6);
    return 0;
}

static int cps(struct sockaddr_in sa, double seconds)
{
    struct linger lg = {1, 0};
    long ok = 0, failed = 0;
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) { perror("netload: socket"); return 1; }
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) ok++; else failed++;
        close(fd);
    }
    printf("%.0f %ld\n", (double)ok / (now_s() - t0), failed);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && !strcmp(argv[1], "serve")) return serve(addr_of(argv[2], argv[3]));
    if (argc == 5 && !strcmp(argv[1], "bulk")) return bulk(addr_of(argv[2], argv[3]), atof(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "cps")) return cps(addr_of(argv[2], argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: netload serve ADDR PORT | bulk ADDR PORT SECONDS | cps ADDR PORT SECONDS\n");
    return 2;
}
