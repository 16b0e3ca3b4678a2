/*
 * Fail2ban's side of bench/bans-local: libwrap's hosts_access() (Debian's libwrap0) on a
 * hosts.deny that Fail2ban's hostsdeny action has grown, one call per connection, no
 * fork and no lookups (client name and user "unknown", as the Giftwrap side).
 * Adapted from bench/libwrap/bench_hosts_access.c; this copy also reports the peak RSS.
 *
 *   hosts_access_loop ALLOW DENY DAEMON CLIENT_ADDR ITERATIONS [LABEL]
 *
 * Prints the verdict of the first call, then the mean wall-clock time per decision over
 * ITERATIONS calls (CLOCK_MONOTONIC) after a warm-up of ITERATIONS/10 (at least 1),
 * and the process's peak resident set (getrusage ru_maxrss).
 */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <sys/resource.h>
#include <tcpd.h>

int allow_severity = LOG_INFO;
int deny_severity = LOG_WARNING;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int decide(struct request_info *req, const char *daemon, const char *client)
{
    request_init(req, RQ_DAEMON, daemon, RQ_CLIENT_ADDR, client,
                 RQ_CLIENT_NAME, "unknown", RQ_USER, "unknown", 0);
    return hosts_access(req);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s ALLOW DENY DAEMON CLIENT_ADDR ITERATIONS [LABEL]\n", argv[0]);
        return 2;
    }
    const char *daemon = argv[3], *client = argv[4];
    long iterations = atol(argv[5]);
    const char *label = argc > 6 ? argv[6] : client;
    if (iterations <= 0) {
        fprintf(stderr, "ITERATIONS must be positive\n");
        return 2;
    }
    hosts_allow_table = argv[1];
    hosts_deny_table = argv[2];

    struct request_info req;
    int verdict = decide(&req, daemon, client);
    int sink = 0;
    long warm = iterations / 10 > 0 ? iterations / 10 : 1;
    for (long i = 0; i < warm; i++)
        sink += decide(&req, daemon, client);
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++)
        sink += decide(&req, daemon, client);
    double per = (now_ns() - t0) / (double)iterations;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("libwrap %-20s %s@%-15s %s  mean %.1f us/decision over %ld calls; peak RSS %.1f MB  [sink %d]\n",
           label, daemon, client, verdict ? "granted" : "refused", per / 1000.0, iterations,
           ru.ru_maxrss / 1024.0, sink != 0);
    return 0;
}
