/*
 * tests/bench/checkfloor.c: the kernel's floor for the director's tcp checks (issue 9 part 8).
 * Does what one tcp check of CheckLoop does, in C, with nothing else: socket(SOCK_NONBLOCK),
 * SO_LINGER {1,0}, connect, poll for POLLOUT, SO_ERROR, close (a reset). N targets
 * (ADDR:PORT0 .. PORT0+N-1), each once per INTERVAL_MS, started in batches every STEP_MS as the
 * daemon does, for SECONDS. Prints "cpu_percent checks failures" from getrusage: the CPU any
 * checker must spend here (on loopback it includes the real server's half of each handshake).
 *
 *   checkfloor ADDR PORT0 N INTERVAL_MS STEP_MS SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT_MAX 4096

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: checkfloor ADDR PORT0 N INTERVAL_MS STEP_MS SECONDS\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "checkfloor: bad address %s\n", argv[1]);
        return 2;
    }
    int port0 = atoi(argv[2]), n = atoi(argv[3]);
    double interval = atof(argv[4]) / 1000, step = atof(argv[5]) / 1000, seconds = atof(argv[6]);
    if (n <= 0 || n > INFLIGHT_MAX || interval <= 0 || step <= 0) {
        fprintf(stderr, "checkfloor: bad arguments\n");
        return 2;
    }
    static struct pollfd fds[INFLIGHT_MAX];
    int inflight = 0, next = 0;
    long checks = 0, failures = 0;
    struct linger lg = {1, 0};
    double t0 = now_s(), tick = t0;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    while (now_s() - t0 < seconds) {
        /* start every target due by now: target i is due at t0 + i * interval / n + k * interval */
        double t = now_s();
        while (t0 + (double)next * interval / n <= t && inflight < INFLIGHT_MAX) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) { perror("socket"); return 1; }
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            sa.sin_port = htons((unsigned short)(port0 + next % n));
            next++;
            checks++;
            if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) { close(fd); continue; }
            if (errno != EINPROGRESS) { failures++; close(fd); continue; }
            fds[inflight].fd = fd;
            fds[inflight].events = POLLOUT;
            inflight++;
        }
        tick += step;
        double wait = tick - now_s();
        int ms = wait > 0 ? (int)(wait * 1000 + 0.999) : 0;
        do {
            int k = poll(fds, (nfds_t)inflight, inflight ? ms : 0);
            if (k <= 0) break;
            for (int i = inflight - 1; i >= 0; i--) {
                if (!fds[i].revents) continue;
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == EINPROGRESS) continue;
                if (err) failures++;
                close(fds[i].fd);
                fds[i] = fds[--inflight];
            }
            wait = tick - now_s();
            ms = wait > 0 ? (int)(wait * 1000 + 0.999) : 0;
        } while (ms > 0);
        if (inflight == 0 && ms > 0) usleep((useconds_t)ms * 1000);
    }
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec)
               + (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    printf("%.2f %ld %ld\n", cpu / (now_s() - t0) * 100, checks, failures);
    return 0;
}
