/*
 * tests/bench/failclient.c: the failover benchmark's client loop (run inside the client namespace).
 * Built by run-bench.sh with `cc -O2 -o $TMP/failclient failclient.c`.
 *
 *   failclient IP PORT INTERVAL_MS CONNECT_TIMEOUT_MS MAX_MS UNTIL_NAME
 *
 * Every INTERVAL_MS (absolute schedule on CLOCK_MONOTONIC; an attempt that overruns its slot
 * is followed immediately by the next one) it opens a new TCP connection to IP:PORT
 * (non-blocking connect, at most CONNECT_TIMEOUT_MS), reads the answer until EOF (at most
 * 20 ms) and strips it to its first word: the name of the node that served it.
 * Output (stdout, line-buffered; times are CLOCK_REALTIME ns, comparable with `date +%s%N`):
 *   "first NS NAME"                     the first answer (the caller waits for it before acting)
 *   "switch LAST_NS LAST_NAME NEW_NS UNTIL_NAME ATTEMPTS FAILED"
 *        LAST = the last answer from a node other than UNTIL_NAME, NEW = the first one from
 *        UNTIL_NAME; ATTEMPTS/FAILED count connections in between (exit 0)
 *   "timeout ATTEMPTS FAILED"           no answer from UNTIL_NAME within MAX_MS (exit 1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One attempt: 0 and NAME filled on an answer, -1 otherwise. */
static int attempt(const struct sockaddr_in *sa, int cto_ms, char *name, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* RST on close: no TIME_WAIT pile-up */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    if (r < 0 && errno != EINPROGRESS) { close(fd); return -1; }
    if (r < 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, cto_ms) <= 0) { close(fd); return -1; }
        int err = 0; socklen_t l = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { close(fd); return -1; }
    }
    char buf[128];
    size_t len = 0;
    long long deadline = now_ns(CLOCK_MONOTONIC) + 20000000LL; /* 20 ms: a connection caught mid-switchover must not hide the gap */
    for (;;) {
        long long left = (deadline - now_ns(CLOCK_MONOTONIC)) / 1000000LL;
        if (left <= 0 || len + 1 >= sizeof buf) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) break;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    size_t i = 0;
    while (i < len && buf[i] > ' ') i++;
    buf[i] = 0;
    if (i == 0) return -1;
    snprintf(name, cap, "%s", buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: failclient IP PORT INTERVAL_MS CONNECT_TIMEOUT_MS MAX_MS UNTIL_NAME\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) { fprintf(stderr, "bad IP\n"); return 2; }
    long long interval = atoll(argv[3]) * 1000000LL;
    int cto = atoi(argv[4]);
    long long end = now_ns(CLOCK_MONOTONIC) + atoll(argv[5]) * 1000000LL;
    const char *until = argv[6];
    setvbuf(stdout, NULL, _IOLBF, 0);
    char name[128], last_name[128] = "-";
    long long last_ns = 0, next = now_ns(CLOCK_MONOTONIC);
    long attempts = 0, failed = 0;
    int first = 1;
    while (now_ns(CLOCK_MONOTONIC) < end) {
        int ok = attempt(&sa, cto, name, sizeof name) == 0;
        long long t = now_ns(CLOCK_REALTIME);
        attempts++;
        if (!ok) failed++;
        if (ok && first) { printf("first %lld %s\n", t, name); first = 0; }
        if (ok && strcmp(name, until) == 0 && last_ns) {
            printf("switch %lld %s %lld %s %ld %ld\n", last_ns, last_name, t, name, attempts, failed);
            return 0;
        }
        if (ok && strcmp(name, until) != 0) {
            last_ns = t;
            snprintf(last_name, sizeof last_name, "%s", name);
            attempts = 0; failed = 0;
        }
        next += interval;
        long long now = now_ns(CLOCK_MONOTONIC);
        if (next > now) {
            struct timespec ts = {.tv_sec = (next - now) / 1000000000LL, .tv_nsec = (next - now) % 1000000000LL};
            nanosleep(&ts, NULL);
        } else {
            next = now;
        }
    }
    printf("timeout %ld %ld\n", attempts, failed);
    return 1;
}
