/*
 * tests/bench/benchtool.c: the benchmark's fast control-socket client (no process spawn per poll).
 * Built by run-bench.sh with `cc -O2 -o $TMP/benchtool benchtool.c`.
 *
 *   benchtool query SOCK JSONLINE [TIMEOUT_MS]
 *       send one line, print the one-line answer; exit 1 on error/timeout (default 2000 ms).
 *
 *   benchtool wait START_NS TIMEOUT_MS INTERVAL_MS STATE SOCK [SOCK...]
 *       poll every SOCK with {"cmd":"status"} every INTERVAL_MS (absolute schedule) until each
 *       one's .peer.state == STATE. START_NS is a CLOCK_REALTIME stamp (date +%s%N). Prints one
 *       line per SOCK, in argument order: "<elapsed_ms since START_NS, 3 decimals> <polls>" or
 *       "timeout <polls>"; exit 0 if all reached STATE, 1 otherwise. The elapsed time is taken
 *       when the answer that first shows STATE has been read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Send LINE (newline appended) to the Unix socket PATH, read one line into BUF. 0 on success. */
static int query(const char *path, const char *line, char *buf, size_t cap, int timeout_ms) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) { close(fd); errno = ENAMETOOLONG; return -1; }
    strcpy(sa.sun_path, path);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
    size_t n = strlen(line);
    char *msg = malloc(n + 2);
    if (!msg) { close(fd); return -1; }
    memcpy(msg, line, n);
    msg[n] = '\n';
    msg[n + 1] = 0;
    ssize_t w = write(fd, msg, n + 1);
    free(msg);
    if (w != (ssize_t)(n + 1)) { close(fd); return -1; }
    size_t len = 0;
    long long deadline = now_ns(CLOCK_MONOTONIC) + (long long)timeout_ms * 1000000LL;
    for (;;) {
        if (len + 1 >= cap) break;
        long long left = (deadline - now_ns(CLOCK_MONOTONIC)) / 1000000LL;
        if (left <= 0) { close(fd); errno = ETIMEDOUT; return -1; }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { close(fd); errno = ETIMEDOUT; return -1; }
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
        buf[len] = 0;
        if (memchr(buf, '\n', len)) break;
    }
    close(fd);
    buf[len] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    return len > 0 ? 0 : -1;
}

/* .peer.state out of a compact status line: the first "state":"..." after "peer":{ */
static int peer_state(const char *json, char *out, size_t cap) {
    const char *p = strstr(json, "\"peer\":{");
    if (!p) return -1;
    p = strstr(p, "\"state\":\"");
    if (!p) return -1;
    p += 9;
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < cap) { out[i] = p[i]; i++; }
    out[i] = 0;
    return 0;
}

static int cmd_query(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: benchtool query SOCK JSONLINE [TIMEOUT_MS]\n"); return 2; }
    int t = argc > 4 ? atoi(argv[4]) : 2000;
    static char buf[1 << 16];
    if (query(argv[2], argv[3], buf, sizeof buf, t) != 0) {
        fprintf(stderr, "benchtool: query %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    puts(buf);
    return 0;
}

static int cmd_wait(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: benchtool wait START_NS TIMEOUT_MS INTERVAL_MS STATE SOCK...\n");
        return 2;
    }
    long long start = atoll(argv[2]);
    long long timeout_ns = atoll(argv[3]) * 1000000LL;
    long long interval_ns = (long long)(atof(argv[4]) * 1e6);
    const char *want = argv[5];
    int n = argc - 6;
    char **socks = argv + 6;
    double *got = calloc((size_t)n, sizeof *got);
    int *done = calloc((size_t)n, sizeof *done);
    long polls = 0;
    static char buf[1 << 16];
    char st[32];
    if (!got || !done) return 1;
    long long mono0 = now_ns(CLOCK_MONOTONIC), next = mono0;
    int remaining = n;
    while (remaining > 0 && now_ns(CLOCK_MONOTONIC) - mono0 < timeout_ns) {
        polls++;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            if (query(socks[i], "{\"cmd\":\"status\"}", buf, sizeof buf, 1000) != 0) continue;
            if (peer_state(buf, st, sizeof st) == 0 && strcmp(st, want) == 0) {
                got[i] = (now_ns(CLOCK_REALTIME) - start) / 1e6;
                done[i] = 1;
                remaining--;
            }
        }
        next += interval_ns;
        long long d = next - now_ns(CLOCK_MONOTONIC);
        if (d > 0) {
            struct timespec ts = {.tv_sec = d / 1000000000LL, .tv_nsec = d % 1000000000LL};
            nanosleep(&ts, NULL);
        } else {
            next = now_ns(CLOCK_MONOTONIC);
        }
    }
    for (int i = 0; i < n; i++) {
        if (done[i]) printf("%.3f %ld\n", got[i], polls);
        else printf("timeout %ld\n", polls);
    }
    return remaining == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "query") == 0) return cmd_query(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "wait") == 0) return cmd_wait(argc, argv);
    fprintf(stderr, "usage: benchtool query SOCK JSONLINE [TIMEOUT_MS] | wait START_NS TIMEOUT_MS INTERVAL_MS STATE SOCK...\n");
    return 2;
}
