/*
 * The peer of the Giftwrap benchmarks: the real libwrap hosts_access() (Debian's
 * libwrap0), called in a loop on the same table files, without fork and without
 * any lookup (client name and user are given as "unknown", as the C# side does).
 *
 *   bench_hosts_access ALLOW DENY DAEMON CLIENT_ADDR ITERATIONS [LABEL]
 *
 * Prints the verdict of the first call, then the mean wall-clock time per decision
 * over ITERATIONS calls (CLOCK_MONOTONIC), after a short warm-up. Each iteration
 * fills a fresh request_info (request_init), as a daemon does per connection; the
 * cost of request_init alone is printed too, so it can be subtracted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <tcpd.h>

/* libwrap expects the program to define these. */
int allow_severity = LOG_INFO;
int deny_severity = LOG_WARNING;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fill(struct request_info *req, const char *daemon, const char *client)
{
    request_init(req,
                 RQ_DAEMON, daemon,
                 RQ_CLIENT_ADDR, client,
                 RQ_CLIENT_NAME, "unknown",
                 RQ_USER, "unknown",
                 0);
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
    fill(&req, daemon, client);
    int verdict = hosts_access(&req);

    /* Warm-up: page cache, stdio buffers, branch predictors. */
    long warm = iterations / 10 > 0 ? iterations / 10 : 1;
    int sink = 0;
    for (long i = 0; i < warm; i++) {
        fill(&req, daemon, client);
        sink += hosts_access(&req);
    }

    double t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
        fill(&req, daemon, client);
        sink += hosts_access(&req);
    }
    double t1 = now_ns();

    /* request_init alone, to show how little of the figure it is. */
    long init_iterations = 1000000;
    double t2 = now_ns();
    for (long i = 0; i < init_iterations; i++) {
        fill(&req, daemon, client);
        sink += req.daemon[0];
    }
    double t3 = now_ns();

    double per = (t1 - t0) / (double)iterations;
    printf("libwrap %-18s %s@%-15s %s  mean %.1f ns/decision (%.3f us) over %ld calls; request_init alone %.1f ns  [sink %d]\n",
           label, daemon, client, verdict ? "granted" : "refused",
           per, per / 1000.0, iterations, (t3 - t2) / (double)init_iterations, sink != 0);
    return 0;
}
