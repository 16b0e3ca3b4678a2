/*
 * segcount: counts the TCP segments of a proxied load on loopback, by leg, direction and kind,
 * for bench/gate/segments.sh. Meant for a private network namespace (`unshare -n`), where
 * nothing else talks on lo; it does not filter addresses, only ports. Leaves starting the load
 * and the proxies, and dividing by anything but the connections it saw, to the script.
 *
 *   segcount PROXY_PORT BACKEND_PORT
 *       Captures on lo (an AF_PACKET socket; each segment once, as it is received) until
 *       SIGINT or SIGTERM, then prints one line per direction:
 *         SEG dir=c>p conns=N total=X syn=X data=X datafin=X fin=X rst=X ack=X dupack=X
 *       c>p client to proxy, p>c proxy to client, p>b proxy to backend, b>p backend to proxy.
 *       conns: the leg's connections (SYNs without ACK, i.e. connection attempts); the counts
 *       X are per connection of that leg. data: with payload, no FIN; datafin: payload and FIN
 *       in one segment; fin: FIN alone; ack: no payload, no flag but ACK, acknowledging more
 *       than the direction's previous segment did; dupack: the same without anything new
 *       acknowledged (a window update or a duplicate); first_fin: how often this direction's
 *       FIN was its connection's first, i.e. its sender closed actively and is the side of
 *       that leg left in TIME_WAIT (an RST aside). Then
 *         DROPS n=N (segments the kernel dropped before we read them: the counts are short)
 *       Prints "ready" on stderr once capturing.
 *   SEGCOUNT_PRINT=N  also prints the first N segments seen (time, direction, flags, length).
 *
 * Build: gcc -O2 -Wall -o segcount segcount.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { C2P, P2C, P2B, B2P, DIRS };
enum { SYN, DATA, DATAFIN, FIN, RST, ACK, DUPACK, KINDS };
static const char *dir_name[DIRS] = {"c>p", "p>c", "p>b", "b>p"};
static const char *kind_name[KINDS] = {"syn", "data", "datafin", "fin", "rst", "ack", "dupack"};

static long counts[DIRS][KINDS];
static long conns[2]; /* client leg, backend leg */
static long first_fin[DIRS];
static volatile sig_atomic_t stopping;

/* The last acknowledgement each (source port, destination port) sent: open addressing by the pair. */
#define SLOTS (1u << 18)
static struct { uint32_t key, ack; } acks[SLOTS];
/* Per connection, keyed by the port that is not the proxy's or the backend's (and the leg): a FIN seen yet. */
static struct { uint32_t key, fin; } flows[SLOTS];

static uint32_t *last_ack(uint32_t key)
{
    uint32_t i = (key * 2654435761u) & (SLOTS - 1);
    while (acks[i].key != 0 && acks[i].key != key)
        i = (i + 1) & (SLOTS - 1);
    acks[i].key = key;
    return &acks[i].ack;
}

static uint32_t *fin_seen(uint32_t key)
{
    uint32_t i = (key * 2654435761u) & (SLOTS - 1);
    while (flows[i].key != 0 && flows[i].key != key)
        i = (i + 1) & (SLOTS - 1);
    flows[i].key = key;
    return &flows[i].fin;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void count(const uint8_t *p, size_t len, unsigned proxy, unsigned backend, long *print, double t0)
{
    if (len < sizeof(struct iphdr) || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP)
        return;
    size_t ihl = (size_t)(p[0] & 15) * 4, total = (size_t)p[2] << 8 | p[3];
    if (len < ihl + 20)
        return;
    const uint8_t *t = p + ihl;
    unsigned sport = (unsigned)t[0] << 8 | t[1], dport = (unsigned)t[2] << 8 | t[3];
    uint32_t ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
    size_t doff = (size_t)(t[12] >> 4) * 4;
    unsigned flags = t[13];
    size_t payload = total > ihl + doff ? total - ihl - doff : 0;
    int dir = dport == proxy ? C2P : sport == proxy ? P2C : dport == backend ? P2B : sport == backend ? B2P : -1;
    if (dir < 0)
        return;
    int kind;
    uint32_t *prev = last_ack(sport << 16 | dport);
    uint32_t *fin = fin_seen((dir == C2P || dir == P2B ? sport : dport) | (dir >= P2B ? 1u << 16 : 0));
    if ((flags & TH_SYN) && !(flags & TH_ACK))
        *fin = 0; /* a new connection, maybe on a port used before */
    else if ((flags & TH_FIN) && !*fin) {
        *fin = 1;
        first_fin[dir]++;
    }
    if (flags & TH_SYN) {
        kind = SYN;
        if (!(flags & TH_ACK))
            conns[dir >= P2B]++;
    } else if (flags & TH_RST)
        kind = RST;
    else if (payload > 0)
        kind = flags & TH_FIN ? DATAFIN : DATA;
    else if (flags & TH_FIN)
        kind = FIN;
    else
        kind = ack != *prev ? ACK : DUPACK;
    *prev = ack;
    counts[dir][kind]++;
    if (*print > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        fprintf(stderr, "%10.6f %s %5u>%-5u %s%s%s%s%s len=%zu\n", ts.tv_sec + ts.tv_nsec / 1e9 - t0, dir_name[dir], sport, dport,
                flags & TH_SYN ? "S" : "", flags & TH_FIN ? "F" : "", flags & TH_RST ? "R" : "", flags & TH_PUSH ? "P" : "",
                flags & TH_ACK ? "." : "", payload);
        --*print;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: segcount PROXY_PORT BACKEND_PORT\n");
        return 2;
    }
    unsigned proxy = (unsigned)atoi(argv[1]), backend = (unsigned)atoi(argv[2]);
    long print = getenv("SEGCOUNT_PRINT") ? atol(getenv("SEGCOUNT_PRINT")) : 0;
    int s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (s < 0) {
        perror("segcount: socket(AF_PACKET)");
        return 1;
    }
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = (int)if_nametoindex("lo")};
    int big = 64 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    /* a signal between the check of `stopping` and the next recvfrom must not block it for ever */
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (ll.sll_ifindex == 0 || bind(s, (struct sockaddr *)&ll, sizeof ll) != 0) {
        perror("segcount: bind to lo");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = ts.tv_sec + ts.tv_nsec / 1e9;
    fprintf(stderr, "ready\n");
    uint8_t buf[256];
    for (;;) {
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        /* once stopping, only what is queued already */
        ssize_t n = recvfrom(s, buf, sizeof buf, MSG_TRUNC | (stopping ? MSG_DONTWAIT : 0), (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (stopping && (errno == EAGAIN || errno == EINTR))
                break;
            if (errno == EAGAIN || errno == EINTR)
                continue;
            perror("segcount: recvfrom");
            return 1;
        }
        /* lo hands every segment to packet sockets twice: as sent (OUTGOING) and as received */
        if (from.sll_pkttype == PACKET_OUTGOING)
            continue;
        count(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf, proxy, backend, &print, t0);
    }
    struct tpacket_stats st;
    socklen_t sl = sizeof st;
    if (getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &st, &sl) != 0)
        st.tp_drops = 0;
    for (int d = 0; d < DIRS; d++) {
        long c = conns[d >= P2B];
        long all = 0;
        for (int k = 0; k < KINDS; k++)
            all += counts[d][k];
        printf("SEG dir=%s conns=%ld total=%.2f", dir_name[d], c, c ? (double)all / c : 0.0);
        for (int k = 0; k < KINDS; k++)
            printf(" %s=%.2f", kind_name[k], c ? (double)counts[d][k] / c : 0.0);
        printf(" first_fin=%.2f\n", c ? (double)first_fin[d] / c : 0.0);
    }
    printf("DROPS n=%u\n", st.tp_drops);
    return 0;
}
