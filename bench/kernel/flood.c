/*
 * flood: a refusal flood from many loopback source addresses, for bench/kernel/flood.sh.
 *
 *   flood seed HOST PORT SOURCES
 *       Connects once from each of SOURCES addresses (127.1.0.1, 127.1.0.2, ...) to HOST:PORT
 *       (a trap service, which bans every source that connects) and reads until the peer closes
 *       (2 s timeout each). Prints: SEED ok=N err=N seconds=S
 *
 *   flood run HOST PORT SOURCES RATE SECONDS TIMEOUT_MS THREADS
 *       Starts connections to HOST:PORT at RATE attempts per second in all (paced, not a closed
 *       loop), each from the next source address in turn, for SECONDS. Connects are non-blocking
 *       and every attempt is abandoned after TIMEOUT_MS: a SYN the kernel drops (a source in the
 *       kernel's ban set) would otherwise keep a blocking client waiting for the kernel's SYN
 *       retries (1 s, 3 s, ...) and the flood would lose its rate of attempts. Each attempt ends as
 *         refused   the peer closed it (EOF or RST), i.e. the gate accepted and refused it,
 *                   or the connect was refused outright;
 *         dropped   no answer to the SYN within TIMEOUT_MS (the kernel dropped it);
 *         stalled   connected, but not closed by the peer within TIMEOUT_MS;
 *         error     anything else (socket, bind or connect errors: EADDRNOTAVAIL, EMFILE...);
 *         skipped   not started because the in-flight cap (RATE * TIMEOUT * 2 + 64) was reached.
 *       Prints: FLOOD attempts=N seconds=S attempts_per_s=R refused=N dropped=N stalled=N
 *               error=N skipped=N cpu_s=C
 *
 *   flood burn CORES SECONDS
 *       The control: no network at all, only CPU. Burns CORES of CPU (such as 0.35: 35 % of one
 *       core; above 1, over ceil(CORES) threads) for SECONDS, in busy spins within 10 ms periods
 *       (CPU the scheduler withheld is made up later), so that it takes from the other processes
 *       as much CPU as the flood generator did, spread over the window as the flood's is.
 *       Prints: BURN seconds=S cpu_s=C
 *
 * The sources start at 127.1.0.1, or at the IPv4 address in FLOOD_SOURCES_FROM (flood.sh's
 * FLOOD_NETNS=1 mode: 198.19.0.1, a range routed to the generator's own namespace).
 * Sources are bound with IP_BIND_ADDRESS_NO_PORT, so the port is chosen at connect time per
 * 4-tuple (1,000 sources x the ephemeral range: no port shortage). Every loop is bounded in time.
 * Build: gcc -O2 -Wall -pthread -I ../lib -o flood flood.c
 */
#include "load.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static long sources;
static double rate_per_thread, run_seconds, timeout_s;
static long cap_per_thread;
static atomic_long n_attempts, n_refused, n_dropped, n_stalled, n_error, n_skipped;

/* source number i (0-based) as FIRST + i; FIRST is 127.1.0.1 unless FLOOD_SOURCES_FROM says otherwise */
static struct in_addr first_source = {.s_addr = 0};

static struct in_addr source(long i)
{
    struct in_addr a = first_source;
    a.s_addr = htonl(ntohl(a.s_addr) + (unsigned)i);
    return a;
}

/* a non-blocking socket bound to source i with a connect under way; -1 on error */
static int start_connect(long i, int *connected)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = source(i)};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
        close(fd);
        return -1;
    }
    *connected = 0;
    if (connect(fd, (struct sockaddr *)&target, sizeof target) == 0)
        *connected = 1;
    else if (errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -2;
    }
    return fd;
}

static int seed(long count)
{
    long ok = 0, err = 0;
    double t0 = now();
    char buf[256];
    for (long i = 0; i < count && now() - t0 < 600; i++) {
        int fd = bounded_socket(2);
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = source(i)};
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 || connect(fd, (struct sockaddr *)&target, sizeof target) != 0) {
            err++;
            close(fd);
            continue;
        }
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            ;
        close(fd);
        if (n == 0 || errno == ECONNRESET)
            ok++;
        else
            err++;
    }
    printf("SEED ok=%ld err=%ld seconds=%.3f\n", ok, err, now() - t0);
    return err != 0;
}

struct slot {
    int fd;
    int connected;
    double deadline;
};

static void *worker(void *arg)
{
    long first = (long)arg; /* each thread starts at its own source and steps through all of them */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    /* a ring of in-flight attempts in start order: with one timeout for all, the oldest expires first */
    struct slot *ring = calloc((size_t)cap_per_thread, sizeof *ring);
    long head = 0, tail = 0; /* ring[head..tail) in flight (indices modulo cap) */
    long started = 0, next_source = first;
    double t0 = now(), end = t0 + run_seconds;
    struct epoll_event events[256];
    char buf[256];
    for (;;) {
        double t = now();
        if (t < end) {
            long due = (long)((t - t0) * rate_per_thread) - started;
            for (; due > 0; due--, started++) {
                atomic_fetch_add(&n_attempts, 1);
                if (tail - head >= cap_per_thread) {
                    atomic_fetch_add(&n_skipped, 1);
                    continue;
                }
                int connected;
                int fd = start_connect(next_source, &connected);
                next_source = (next_source + 1) % sources;
                if (fd == -2 && (errno == ECONNREFUSED || errno == ECONNRESET)) {
                    atomic_fetch_add(&n_refused, 1);
                    continue;
                }
                if (fd < 0) {
                    atomic_fetch_add(&n_error, 1);
                    continue;
                }
                struct slot *s = &ring[tail % cap_per_thread];
                s->fd = fd;
                s->connected = connected;
                s->deadline = t + timeout_s;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = (uint64_t)tail};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                tail++;
            }
        } else if (head == tail)
            break;
        int n = epoll_wait(ep, events, 256, 1);
        for (int k = 0; k < n; k++) {
            long idx = (long)events[k].data.u64;
            struct slot *s = &ring[idx % cap_per_thread];
            if (s->fd < 0)
                continue;
            uint32_t e = events[k].events;
            int err = 0;
            socklen_t len = sizeof err;
            if (!s->connected) {
                getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == ECONNREFUSED || err == ECONNRESET) {
                    atomic_fetch_add(&n_refused, 1);
                    goto done;
                }
                if (err != 0) {
                    atomic_fetch_add(&n_error, 1);
                    goto done;
                }
                if (e & EPOLLOUT) {
                    s->connected = 1;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)idx};
                    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
                }
            }
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(s->fd, buf, sizeof buf);
                if (r > 0)
                    continue; /* a banner: keep reading until the close */
                if (r == 0 || errno == ECONNRESET)
                    atomic_fetch_add(&n_refused, 1);
                else if (errno == EAGAIN)
                    continue;
                else
                    atomic_fetch_add(&n_error, 1);
                goto done;
            }
            continue;
        done:
            close(s->fd); /* close removes it from the epoll set */
            s->fd = -1;
        }
        /* expire the oldest attempts; finished slots at the head are just skipped */
        t = now();
        while (head < tail) {
            struct slot *s = &ring[head % cap_per_thread];
            if (s->fd >= 0) {
                if (s->deadline > t)
                    break;
                atomic_fetch_add(s->connected ? &n_stalled : &n_dropped, 1);
                close(s->fd);
                s->fd = -1;
            }
            head++;
        }
    }
    close(ep);
    free(ring);
    return NULL;
}

static int run(double rate, int threads)
{
    if (threads < 1 || threads > 64)
        threads = 4;
    rate_per_thread = rate / threads;
    cap_per_thread = (long)(rate_per_thread * timeout_s * 2) + 64;
    pthread_t tid[64];
    double t0 = now();
    for (int t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, worker, (void *)(long)(t * sources / threads));
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    double secs = now() - t0;
    double cpu = cpu_seconds();
    /* the rate of attempts over the pacing window (the last attempts' timeouts are not part of it) */
    printf("FLOOD attempts=%ld seconds=%.3f attempts_per_s=%.0f refused=%ld dropped=%ld stalled=%ld error=%ld skipped=%ld cpu_s=%.2f\n",
           (long)n_attempts, secs, n_attempts / run_seconds, (long)n_refused, (long)n_dropped, (long)n_stalled, (long)n_error,
           (long)n_skipped, cpu);
    return 0;
}

static double burn_duty, burn_seconds;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * One burner thread: in every 10 ms period it spins until its own CPU time is burn_duty of the
 * time since it started, then sleeps to the period's end. Time the scheduler did not give it is
 * made up in the next periods, as far as a whole period allows: the CPU it gets, not the CPU it
 * asks for, is what matches the flood generator's measured CPU.
 */
static void *burner(void *arg)
{
    (void)arg;
    const double period = 0.010;
    double t0 = now(), c0 = thread_cpu(), end = t0 + burn_seconds;
    volatile unsigned long spin = 0;
    for (double start = t0; start < end; start += period) {
        double stop = start + period;
        while (thread_cpu() - c0 < burn_duty * (now() - t0) && now() < stop)
            spin++;
        double rest = stop - now();
        if (rest > 0) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(rest * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static int burn(double cores, double seconds)
{
    if (cores <= 0 || cores > 64 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "flood: burn CORES must be in (0, 64], SECONDS in (0, 600]\n");
        return 2;
    }
    int threads = (int)ceil(cores);
    burn_duty = cores / threads;
    burn_seconds = seconds;
    pthread_t tid[64];
    double t0 = now();
    for (int t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, burner, NULL);
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    printf("BURN seconds=%.3f cpu_s=%.2f\n", now() - t0, cpu_seconds());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "burn") == 0)
        return burn(atof(argv[2]), atof(argv[3]));
    if (argc < 5) {
        fprintf(stderr, "usage: flood seed HOST PORT SOURCES\n"
                        "       flood run HOST PORT SOURCES RATE SECONDS TIMEOUT_MS THREADS\n"
                        "       flood burn CORES SECONDS\n");
        return 2;
    }
    const char *from = getenv("FLOOD_SOURCES_FROM");
    if (inet_pton(AF_INET, from && *from ? from : "127.1.0.1", &first_source) != 1) {
        fprintf(stderr, "flood: FLOOD_SOURCES_FROM is not an IPv4 address: %s\n", from);
        return 2;
    }
    if (set_target("flood", argv[2], argv[3]) != 0)
        return 2;
    sources = atol(argv[4]);
    if (sources < 1 || sources > 60000) {
        fprintf(stderr, "flood: SOURCES must be 1..60000\n");
        return 2;
    }
    if (strcmp(argv[1], "seed") == 0)
        return seed(sources);
    if (strcmp(argv[1], "run") == 0 && argc >= 9) {
        run_seconds = atof(argv[6]);
        timeout_s = atof(argv[7]) / 1000;
        if (run_seconds <= 0 || run_seconds > 600 || timeout_s <= 0 || timeout_s > 10) {
            fprintf(stderr, "flood: SECONDS must be in (0, 600], TIMEOUT_MS in (0, 10000]\n");
            return 2;
        }
        return run(atof(argv[5]), atoi(argv[8]));
    }
    fprintf(stderr, "flood: bad arguments\n");
    return 2;
}
