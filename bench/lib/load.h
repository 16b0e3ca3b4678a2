/*
 * load.h: what the load generators of bench/ share (connload.c for bench/gate/run.sh and
 * bench/kernel/flood.sh, flood.c for bench/kernel/flood.sh): the clock, the IPv4 target
 * from the command line, blocking sockets that never wait forever, and the process's own
 * CPU time. Static inline functions only (gcc -I bench/lib); a program uses what it needs.
 */
#ifndef GIFTWRAP_BENCH_LOAD_H
#define GIFTWRAP_BENCH_LOAD_H
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* HOST PORT from the command line into target; SIGPIPE ignored (a peer may close first). 0 or 2 (usage). */
static inline int set_target(const char *prog, const char *host, const char *port)
{
    signal(SIGPIPE, SIG_IGN);
    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
        fprintf(stderr, "%s: %s: not an IPv4 address\n", prog, host);
        return 2;
    }
    return 0;
}

/* a blocking TCP socket whose reads and writes give up after SECONDS; -1 on error */
static inline int bounded_socket(long seconds)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* user + system CPU seconds of this process so far (every thread) */
static inline double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

#endif
