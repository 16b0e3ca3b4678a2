/*
 * connload: bounded TCP client load for bench/gate/run.sh.
 *
 *   connload run  HOST PORT COUNT THREADS MAX_SECONDS
 *       THREADS blocking workers share COUNT short connections: connect, read the
 *       reply until EOF, close. Stops at COUNT connections or after MAX_SECONDS,
 *       whichever comes first. A connection counts as done only if it delivered at
 *       least one byte (a proxy that refuses and closes at once is an error, not a
 *       fast connection). Prints one line:
 *       RESULT ok=N err_connect=N err_read=N err_empty=N seconds=S rate=R p50_us=.. p90_us=.. p99_us=..
 *
 *   connload hold HOST PORT COUNT MAX_SECONDS
 *       Opens COUNT connections one after the other, reads the greeting of each (at
 *       least one byte: the whole path to the backend is up), prints
 *       HELD ok=N err=N seconds=S, then keeps them open and idle until MAX_SECONDS
 *       have passed or SIGTERM arrives; then closes them and prints CLOSED.
 *
 * Every socket has 5 s send/receive timeouts, so nothing waits forever.
 * Build: gcc -O2 -Wall -pthread -I ../lib -o connload connload.c
 */
#include "load.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

static long total;
static double deadline;
static double *latency; /* seconds, per claimed index; < 0 when the connection failed */
static atomic_long next_index, ok, err_connect, err_read, err_empty;

static int open_connection(void)
{
    int fd = bounded_socket(5);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *worker(void *arg)
{
    (void)arg;
    char buf[512];
    for (;;) {
        long i = atomic_fetch_add(&next_index, 1);
        if (i >= total)
            break;
        double t0 = now();
        if (t0 > deadline)
            break;
        int fd = open_connection();
        if (fd < 0) {
            atomic_fetch_add(&err_connect, 1);
            continue;
        }
        ssize_t n;
        long got = 0;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            got += n;
        close(fd);
        if (n < 0)
            atomic_fetch_add(&err_read, 1);
        else if (got == 0)
            atomic_fetch_add(&err_empty, 1);
        else {
            latency[i] = now() - t0;
            atomic_fetch_add(&ok, 1);
        }
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(long count, int threads, double max_seconds)
{
    total = count;
    latency = malloc(sizeof(double) * count);
    if (!latency)
        return 1;
    for (long i = 0; i < count; i++)
        latency[i] = -1;
    pthread_t tid[256];
    if (threads < 1 || threads > 256)
        threads = 4;
    double t0 = now();
    deadline = t0 + max_seconds;
    for (int t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, worker, NULL);
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    double secs = now() - t0;
    long k = 0;
    for (long i = 0; i < count; i++)
        if (latency[i] >= 0)
            latency[k++] = latency[i];
    qsort(latency, k, sizeof(double), cmp_double);
    double p50 = k ? latency[k * 50 / 100] : 0, p90 = k ? latency[k * 90 / 100] : 0, p99 = k ? latency[k * 99 / 100] : 0;
    printf("RESULT ok=%ld err_connect=%ld err_read=%ld err_empty=%ld seconds=%.3f rate=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f\n",
           (long)ok, (long)err_connect, (long)err_read, (long)err_empty, secs, ok / secs, p50 * 1e6, p90 * 1e6, p99 * 1e6);
    free(latency);
    return 0;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int hold(long count, double max_seconds)
{
    int *fds = malloc(sizeof(int) * count);
    if (!fds)
        return 1;
    long held = 0, errors = 0;
    double t0 = now();
    char buf[64];
    for (long i = 0; i < count && now() - t0 < max_seconds + 30; i++) {
        int fd = open_connection();
        if (fd < 0) {
            errors++;
            continue;
        }
        if (read(fd, buf, sizeof buf) <= 0) {
            errors++;
            close(fd);
            continue;
        }
        fds[held++] = fd;
    }
    printf("HELD ok=%ld err=%ld seconds=%.3f\n", held, errors, now() - t0);
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    double until = now() + max_seconds;
    while (!stop && now() < until) {
        struct timespec ts = {.tv_nsec = 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (long i = 0; i < held; i++)
        close(fds[i]);
    printf("CLOSED %ld\n", held);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: connload run HOST PORT COUNT THREADS MAX_SECONDS\n"
                        "       connload hold HOST PORT COUNT MAX_SECONDS\n");
        return 2;
    }
    if (set_target("connload", argv[2], argv[3]) != 0)
        return 2;
    long count = atol(argv[4]);
    if (count < 1)
        count = 1;
    if (strcmp(argv[1], "run") == 0 && argc >= 7)
        return run(count, atoi(argv[5]), atof(argv[6]));
    if (strcmp(argv[1], "hold") == 0 && argc >= 6)
        return hold(count, atof(argv[5]));
    fprintf(stderr, "connload: bad arguments\n");
    return 2;
}
