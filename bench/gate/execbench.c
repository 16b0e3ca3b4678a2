/*
 * execbench: start-to-exit time of a wrapper with a real TCP connection on fds 0, 1, 2,
 * as inetd would start it.
 *
 *   execbench COUNT :: LABEL PATH ARGV0 [ARGS...] :: LABEL PATH ARGV0 [ARGS...] ...
 *
 * Makes one loopback TCP connection (client and accepted end). Then COUNT rounds; in
 * each round every command once, in turn (so load changes hit all alike): fork, dup2
 * the accepted socket onto 0, 1 and 2, execv(PATH, ARGV), and wait for the exit. The
 * time is from just before fork() to waitpid() returning. A non-zero exit is a failure
 * and is counted. Anything the commands write to the socket is drained and counted.
 * Prints per command: runs, failures, mean, median, p90, min (microseconds).
 * Build: gcc -O2 -o execbench execbench.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_COMMANDS 8

struct command {
    const char *label;
    const char *path;
    char **argv;
    double *times;
    long failures;
    long output_bytes;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[2], "::") != 0) {
        fprintf(stderr, "usage: execbench COUNT :: LABEL PATH ARGV0 [ARGS...] [:: ...]\n");
        return 2;
    }
    long count = atol(argv[1]);
    struct command cmds[MAX_COMMANDS];
    int ncmds = 0;
    for (int i = 2; i < argc;) {
        if (strcmp(argv[i], "::") != 0 || ncmds == MAX_COMMANDS) {
            fprintf(stderr, "execbench: bad command list near '%s'\n", argv[i]);
            return 2;
        }
        int j = i + 1;
        while (j < argc && strcmp(argv[j], "::") != 0)
            j++;
        if (j - i < 4) {
            fprintf(stderr, "execbench: a command needs LABEL PATH ARGV0\n");
            return 2;
        }
        struct command *c = &cmds[ncmds++];
        c->label = argv[i + 1];
        c->path = argv[i + 2];
        c->argv = calloc(j - i - 2, sizeof(char *));
        for (int k = i + 3; k < j; k++)
            c->argv[k - i - 3] = argv[k];
        c->times = calloc(count, sizeof(double));
        c->failures = c->output_bytes = 0;
        i = j;
    }

    /* one loopback connection; the accepted end is what the wrappers get */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &alen)) {
        perror("execbench: listen");
        return 1;
    }
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(client, (struct sockaddr *)&a, sizeof a)) {
        perror("execbench: connect");
        return 1;
    }
    int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
        perror("execbench: accept");
        return 1;
    }
    fcntl(client, F_SETFL, O_NONBLOCK);
    char sink[4096], first[200] = "";

    for (long r = 0; r < count; r++) {
        for (int k = 0; k < ncmds; k++) {
            struct command *c = &cmds[k];
            double t0 = now();
            pid_t pid = fork();
            if (pid == 0) {
                dup2(conn, 0);
                dup2(conn, 1);
                dup2(conn, 2);
                execv(c->path, c->argv);
                _exit(127);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            c->times[r] = now() - t0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                c->failures++;
            ssize_t n;
            while ((n = read(client, sink, sizeof sink)) > 0) {
                if (!first[0])
                    snprintf(first, sizeof first, "%s: %.*s", c->label, (int)(n < 150 ? n : 150), sink);
                c->output_bytes += n;
            }
        }
    }
    for (int k = 0; k < ncmds; k++) {
        struct command *c = &cmds[k];
        double sum = 0;
        for (long r = 0; r < count; r++)
            sum += c->times[r];
        qsort(c->times, count, sizeof(double), cmp_double);
        printf("EXEC label=%s runs=%ld failures=%ld output_bytes=%ld mean_us=%.0f median_us=%.0f p90_us=%.0f min_us=%.0f\n",
               c->label, count, c->failures, c->output_bytes, sum / count * 1e6, c->times[count / 2] * 1e6,
               c->times[count * 9 / 10] * 1e6, c->times[0] * 1e6);
    }
    if (first[0])
        printf("NOTE first output on the socket: %s\n", first);
    return 0;
}
