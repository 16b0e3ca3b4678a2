/*
 * ppresponder: the backend of bench/gate/client-address.sh. One thread, epoll, non-blocking.
 *
 *   ppresponder ADDRESS PORT plain|proxy [MAX_SECONDS]
 *       plain: accept, write "ok\n", close (bench/gate/responder.c's reply mode).
 *       proxy: accept, read the PROXY protocol header (v1: through its "\r\n"; v2: its 16 bytes
 *              and the length they give), then write "ok\n" and close. Reading the header first
 *              is what a real backend does, and closing with it unread would reset the connection.
 * The first accepted connection's peer address is printed (FIRST_PEER a.b.c.d), and in proxy
 * mode the client address of the first header (FIRST_HEADER a.b.c.d), so the run shows what the
 * backend's accept() saw and what the header told it.
 * Exits by itself after MAX_SECONDS (default 900). Build: gcc -O2 -o ppresponder ppresponder.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536
static unsigned char have[MAXFD];
static unsigned char buf[MAXFD][232];

/* 1 when buf[fd] holds a whole header, 0 when more is needed, -1 when it is no header. */
static int complete(int fd)
{
    int n = have[fd];
    if (n >= 16 && memcmp(buf[fd], "\r\n\r\n\0\r\nQUIT\n", 12) == 0)
        return n >= 16 + (buf[fd][14] << 8 | buf[fd][15]) ? 1 : 0;
    if (n >= 6 && memcmp(buf[fd], "PROXY ", 6) == 0)
        return memmem(buf[fd], n, "\r\n", 2) ? 1 : (n >= 107 ? -1 : 0);
    return n >= 16 ? -1 : 0;
}

/* The client address a whole header gives (TCP4 only: the benchmark's client), printed once. */
static void say_header(int fd)
{
    static int said;
    char text[INET_ADDRSTRLEN] = "?";
    if (said)
        return;
    said = 1;
    if (buf[fd][0] == 'P')
        sscanf((const char *)buf[fd], "PROXY TCP4 %15s", text);
    else if (buf[fd][13] == 0x11)
        inet_ntop(AF_INET, buf[fd] + 16, text, sizeof text);
    printf("FIRST_HEADER %s\n", text);
    fflush(stdout);
}

static void reply(int fd)
{
    (void)!write(fd, "ok\n", 3);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[3], "plain") && strcmp(argv[3], "proxy"))) {
        fprintf(stderr, "usage: ppresponder ADDRESS PORT plain|proxy [MAX_SECONDS]\n");
        return 2;
    }
    int proxy = strcmp(argv[3], "proxy") == 0;
    alarm(argc > 4 ? (unsigned)atoi(argv[4]) : 900);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) {
        perror("ppresponder: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    int printed = 0;
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == ls) {
                struct sockaddr_in peer;
                socklen_t len = sizeof peer;
                int c;
                while ((c = accept4(ls, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (!printed) {
                        char text[INET_ADDRSTRLEN];
                        printf("FIRST_PEER %s\n", inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text));
                        fflush(stdout);
                        printed = 1;
                    }
                    if (!proxy || c >= MAXFD) {
                        reply(c);
                        continue;
                    }
                    have[c] = 0;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    len = sizeof peer;
                }
                continue;
            }
            ssize_t r = read(fd, buf[fd] + have[fd], sizeof buf[fd] - have[fd]);
            if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
                close(fd);
                continue;
            }
            if (r > 0)
                have[fd] += (unsigned char)r;
            int done = complete(fd);
            if (done != 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                if (done > 0) {
                    say_header(fd);
                    reply(fd);
                }
                else
                    close(fd);
            }
        }
    }
}
