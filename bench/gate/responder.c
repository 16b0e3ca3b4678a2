/*
 * responder: the tiny backend of bench/gate/run.sh. One thread, epoll, non-blocking.
 *
 *   responder PORT reply [MAX_SECONDS]   accept, write "ok\n", close (connection-rate backend)
 *   responder PORT hold  [MAX_SECONDS]   accept, write "ok\n", keep the connection open until
 *                                        the peer closes it (idle-connection backend)
 *
 * Listens on 127.0.0.1:PORT only. Exits by itself after MAX_SECONDS (default 900), so a
 * benchmark that dies never leaves it behind for long.
 * Build: gcc -O2 -o responder responder.c
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

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "reply") && strcmp(argv[2], "hold"))) {
        fprintf(stderr, "usage: responder PORT reply|hold [MAX_SECONDS]\n");
        return 2;
    }
    int holding = strcmp(argv[2], "hold") == 0;
    alarm(argc > 3 ? (unsigned)atoi(argv[3]) : 900);
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) {
        perror("responder: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static const char reply[] = "ok\n";
    struct epoll_event events[256];
    char sink[4096];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (write(c, reply, sizeof reply - 1) < 0 || !holding) {
                        close(c);
                        continue;
                    }
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            /* hold mode: anything readable is data to drop or the end of the connection */
            ssize_t r = read(fd, sink, sizeof sink);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                close(fd);
        }
    }
}
