/*
 * tests/bench/failclient.c: the failover benchmark's client (run inside the client namespace).
 * Built by run-bench.sh with `cc -O2 -o $TMP/failclient failclient.c`.
 *
 *   failclient IP PORT INTERVAL_US TIMEOUT_MS MAX_MS UNTIL_NAME
 *
 * Every INTERVAL_US (absolute schedule on CLOCK_MONOTONIC) it opens a new TCP connection to
 * IP:PORT, whether or not earlier ones have finished: attempts overlap, up to MAX_INFLIGHT at once,
 * each given TIMEOUT_MS to connect and read its answer to EOF. An attempt whose SYN went to a box
 * that no longer holds the VIP simply times out; the attempts started after it are unaffected, so
 * the time of an answer is known to within INTERVAL_US plus the round trip, however long the
 * service was unreachable. The answer is stripped to its first word: the name of the node that
 * served it.
 * Output (stdout, line-buffered; times are CLOCK_REALTIME ns, comparable with `date +%s%N`):
 *   "first NS NAME"                     the first answer (the caller waits for it before acting)
 *   "switch LAST_NS LAST_NAME NEW_NS UNTIL_NAME ATTEMPTS FAILED"
 *        LAST = the last answer from a node other than UNTIL_NAME, NEW = the first one from
 *        UNTIL_NAME (both the moment the answer was complete); ATTEMPTS/FAILED count the attempts
 *        that ended in between (exit 0)
 *   "timeout ATTEMPTS FAILED"           no answer from UNTIL_NAME within MAX_MS (exit 1)
 * With FAILCLIENT_TRACE set, every attempt that ends also prints "attempt START_NS END_NS NAME"
 * (NAME "-" when it failed) on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 1024

struct slot {
    int fd;                 /* -1 when free */
    long long started;      /* CLOCK_REALTIME ns */
    int connected;
    long long deadline;     /* CLOCK_MONOTONIC ns */
    size_t len;
    char buf[128];
};

static struct slot slots[MAX_INFLIGHT];

static long long now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void finish(int ep, struct slot *s) {
    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
}

/* Starts one attempt in a free slot; 0 on success, -1 when it failed at once (counted as failed). */
static int start(int ep, const struct sockaddr_in *sa, long long timeout_ns) {
    int i;
    for (i = 0; i < MAX_INFLIGHT && slots[i].fd >= 0; i++) {}
    if (i == MAX_INFLIGHT) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* RST on close: no TIME_WAIT pile-up */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    if (r < 0 && errno != EINPROGRESS) { close(fd); return -1; }
    struct slot *s = &slots[i];
    s->fd = fd;
    s->connected = r == 0;
    s->started = now_ns(CLOCK_REALTIME);
    s->deadline = now_ns(CLOCK_MONOTONIC) + timeout_ns;
    s->len = 0;
    struct epoll_event ev = {.events = r == 0 ? EPOLLIN : EPOLLOUT, .data.u32 = (unsigned)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { close(fd); s->fd = -1; return -1; }
    return 0;
}

/*
 * Advances slot I after an epoll event. Returns 1 when the attempt ended with an answer (NAME
 * filled), -1 when it ended without one, 0 while it goes on.
 */
static int advance(int ep, int i, char *name, size_t cap) {
    struct slot *s = &slots[i];
    if (!s->connected) {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { finish(ep, s); return -1; }
        s->connected = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        return 0;
    }
    for (;;) {
        if (s->len + 1 >= sizeof s->buf) break;
        ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - 1 - s->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n <= 0) break;
        s->len += (size_t)n;
    }
    s->buf[s->len] = 0;
    size_t k = 0;
    while (k < s->len && s->buf[k] > ' ') k++;
    s->buf[k] = 0;
    int ok = k > 0;
    if (ok) snprintf(name, cap, "%s", s->buf);
    finish(ep, s);
    return ok ? 1 : -1;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: failclient IP PORT INTERVAL_US TIMEOUT_MS MAX_MS UNTIL_NAME\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) { fprintf(stderr, "bad IP\n"); return 2; }
    long long interval = atoll(argv[3]) * 1000LL;
    long long timeout = atoll(argv[4]) * 1000000LL;
    long long end = now_ns(CLOCK_MONOTONIC) + atoll(argv[5]) * 1000000LL;
    const char *until = argv[6];
    if (interval <= 0 || timeout <= 0) { fprintf(stderr, "INTERVAL_US and TIMEOUT_MS must be positive\n"); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < MAX_INFLIGHT; i++) slots[i].fd = -1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { perror("epoll_create1"); return 2; }

    char name[128], last_name[128] = "-";
    long long last_ns = 0, next = now_ns(CLOCK_MONOTONIC);
    long attempts = 0, failed = 0;
    int first = 1;
    int trace = getenv("FAILCLIENT_TRACE") != NULL;
    struct epoll_event evs[64];
    while (now_ns(CLOCK_MONOTONIC) < end) {
        long long now = now_ns(CLOCK_MONOTONIC);
        while (next <= now) {
            if (start(ep, &sa, timeout) < 0) { attempts++; failed++; }
            next += interval;
        }
        /* Expire attempts past their deadline (a SYN into a box without the VIP never answers). */
        for (int i = 0; i < MAX_INFLIGHT; i++)
            if (slots[i].fd >= 0 && slots[i].deadline <= now) {
                if (trace) fprintf(stderr, "attempt %lld %lld -\n", slots[i].started, now_ns(CLOCK_REALTIME));
                finish(ep, &slots[i]); attempts++; failed++;
            }
        long long wait_ns = next - now_ns(CLOCK_MONOTONIC);
        if (wait_ns < 0) wait_ns = 0;
        struct timespec wait = {.tv_sec = wait_ns / 1000000000LL, .tv_nsec = wait_ns % 1000000000LL};
        int n = epoll_pwait2(ep, evs, 64, &wait, NULL);
        if (n < 0 && errno != EINTR) { perror("epoll_pwait2"); return 2; }
        if (n < 0) n = 0;
        for (int k = 0; k < n; k++) {
            long long started = slots[evs[k].data.u32].started;
            int r = advance(ep, (int)evs[k].data.u32, name, sizeof name);
            if (r == 0) continue;
            long long t = now_ns(CLOCK_REALTIME);
            if (trace) fprintf(stderr, "attempt %lld %lld %s\n", started, t, r > 0 ? name : "-");
            attempts++;
            if (r < 0) { failed++; continue; }
            if (first) { printf("first %lld %s\n", t, name); first = 0; }
            if (strcmp(name, until) == 0 && last_ns) {
                printf("switch %lld %s %lld %s %ld %ld\n", last_ns, last_name, t, name, attempts, failed);
                return 0;
            }
            if (strcmp(name, until) != 0) {
                last_ns = t;
                snprintf(last_name, sizeof last_name, "%s", name);
                attempts = 0; failed = 0;
            }
        }
    }
    printf("timeout %ld %ld\n", attempts, failed);
    return 1;
}
