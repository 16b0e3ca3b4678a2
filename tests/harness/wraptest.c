/*
 * wraptest - differential test oracle for Giftwrap.
 *
 * Evaluates access requests with the system's real libwrap (Debian
 * tcp_wrappers 7.6.q) and prints, per request, the verdict, the rule that
 * matched and every message libwrap sent to syslog.
 *
 * Usage: wraptest [--nofork] [--jobs N] [--timeout SECONDS] [--verbose-options]
 *                 ALLOW_FILE DENY_FILE
 *
 * Input (stdin), one request per line, 7 TAB-separated fields:
 *   daemon client_name client_addr user server_name server_addr server_port
 * "-" means "not known" (the attribute is not set); server_port 0 or "-"
 * means unknown. A client_name "?" means "look it up as tcpd does": libwrap's
 * own sock_hostname() on the client address, through the system resolver
 * (run it in a private mount namespace with its own /etc/hosts).
 *
 * Output (stdout), exactly one line per input line, flushed:
 *   VERDICT <TAB> MATCH <TAB> WARNINGS
 * VERDICT  granted | denied      hosts_access() returned 1 | 0
 *          twist                 the process was replaced by a twist command
 *                                (or exited without returning a verdict)
 *          timeout               the evaluation exceeded the time limit
 *          crash                 the child died from a signal (see WARNINGS)
 *          error                 the input line was malformed (see WARNINGS)
 * MATCH    FILE:LINE taken from libwrap's own "matched:  %s line %d" debug
 *          message (hosts_access_verbose = 2), or "-".
 * WARNINGS every other syslog message of the request, in order, joined with
 *          " | " (tabs, CR and LF replaced by spaces), or "-".
 *          Messages "option:   KEY VALUE" that libwrap logs only because of
 *          verbose mode are left out unless --verbose-options is given.
 *
 * See tests/harness/README.md for details.
 */
#define _GNU_SOURCE
#define INET6 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <tcpd.h>

#define CLIENT_PORT 40000

/* Globals owned by libwrap that we reset in --nofork mode. */
extern int allow_severity;
extern int deny_severity;

static int report_fd = -1;      /* fork mode: pipe to the parent */
static pid_t eval_pid = -1;     /* process that runs hosts_access() */
static int nofork = 0;
static int verbose_options = 0;
static unsigned timeout_sec = 5;

/* ---------- small growable string ---------- */

struct sbuf {
    char   *s;
    size_t  len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t  cap = b->cap ? b->cap : 256;

        while (b->len + n + 1 > cap)
            cap *= 2;
        if ((b->s = realloc(b->s, cap)) == NULL) {
            perror("wraptest: realloc");
            _exit(2);
        }
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_adds(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_reset(struct sbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = 0;
}

/* ---------- per-request result (built in the parent or in-process) ------- */

static char verdict[32];
static struct sbuf match_buf;   /* FILE:LINE */
static struct sbuf warn_buf;    /* msg | msg | ... */

static void result_reset(void)
{
    verdict[0] = 0;
    sb_reset(&match_buf);
    sb_reset(&warn_buf);
}

static void add_warning(const char *msg)
{
    if (warn_buf.len)
        sb_adds(&warn_buf, " | ");
    sb_adds(&warn_buf, msg);
}

/*
 * One record: a type letter and a sanitized message (no TAB/CR/LF).
 * M = matched FILE:LINE, W = warning, O = verbose option trace,
 * V = verdict, T = twist exec.
 */
static void handle_record(char type, const char *msg)
{
    switch (type) {
    case 'M':
        sb_reset(&match_buf);
        sb_adds(&match_buf, msg);
        break;
    case 'W':
        add_warning(msg);
        break;
    case 'O':
        if (verbose_options)
            add_warning(msg);
        break;
    case 'V':
        snprintf(verdict, sizeof(verdict), "%s", msg);
        break;
    case 'T':
        if (verdict[0] == 0)
            snprintf(verdict, sizeof(verdict), "twist");
        break;
    }
}

static void emit_record(char type, const char *msg)
{
    if (report_fd >= 0) {
        struct sbuf rec = {0};
        char    t[2] = {type, 0};
        ssize_t n;
        size_t  off = 0;

        sb_adds(&rec, t);
        sb_adds(&rec, msg);
        sb_adds(&rec, "\n");
        while (off < rec.len) {
            n = write(report_fd, rec.s + off, rec.len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t) n;
        }
        free(rec.s);
    } else {
        handle_record(type, msg);
    }
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r')
            *s = ' ';
}

/* ---------- syslog capture (overrides libc; libwrap uses the _chk forms) -- */

static void capture(const char *fmt, va_list ap)
{
    char   *msg = NULL;
    int     saved_errno = errno;
    static const char matched[] = "matched:  ";
    static const char option[] = "option:   ";

    errno = saved_errno;                        /* for %m */
    if (vasprintf(&msg, fmt, ap) < 0 || msg == NULL)
        return;
    sanitize(msg);
    if (strncmp(msg, matched, sizeof(matched) - 1) == 0) {
        /* "matched:  FILE line N" -> "FILE:N" */
        char   *body = msg + sizeof(matched) - 1;
        char   *p = NULL, *q;

        for (q = strstr(body, " line "); q; q = strstr(q + 1, " line "))
            p = q;
        if (p) {
            struct sbuf m = {0};

            sb_add(&m, body, (size_t) (p - body));
            sb_adds(&m, ":");
            sb_adds(&m, p + 6);
            emit_record('M', m.s);
            free(m.s);
        } else {
            emit_record('W', msg);
        }
    } else if (strncmp(msg, option, sizeof(option) - 1) == 0) {
        emit_record('O', msg);
    } else {
        emit_record('W', msg);
    }
    free(msg);
    errno = saved_errno;
}

void    vsyslog(int pri, const char *fmt, va_list ap)
{
    (void) pri;
    capture(fmt, ap);
}

void    syslog(int pri, const char *fmt, ...)
{
    va_list ap;

    (void) pri;
    va_start(ap, fmt);
    capture(fmt, ap);
    va_end(ap);
}

void    __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
    (void) pri;
    (void) flag;
    capture(fmt, ap);
}

void    __syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;

    (void) pri;
    (void) flag;
    va_start(ap, fmt);
    capture(fmt, ap);
    va_end(ap);
}

void    openlog(const char *ident, int option, int facility)
{
    (void) ident;
    (void) option;
    (void) facility;
}

void    closelog(void)
{
}

/* ---------- execl interception (twist) ---------- */

static sigjmp_buf nofork_jmp;
static int nofork_jmp_armed = 0;

/*
 * libwrap runs "twist" as execl("/bin/sh", "sh", "-c", cmd, 0) in the
 * process that called hosts_access(). We report it and end the evaluation
 * without running the command. execl() calls from other processes (spawn,
 * aclexec children) are passed on to execv().
 */
int     execl(const char *path, const char *arg, ...)
{
    char   *argv[64];
    int     argc = 0;
    va_list ap;

    argv[argc++] = (char *) arg;
    va_start(ap, arg);
    while (argc < 63 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;

    if (getpid() == eval_pid) {
        emit_record('T', "twist");
        if (nofork && nofork_jmp_armed)
            siglongjmp(nofork_jmp, 1);
        _exit(0);
    }
    return execv(path, argv);
}

/* ---------- request evaluation ---------- */

#define NFIELDS 7

static int is_unknown(const char *s)
{
    return strcmp(s, "-") == 0;
}

static int parse_sockaddr(const char *addr, unsigned port,
                          struct sockaddr_storage *ss)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;

    memset(ss, 0, sizeof(*ss));
    if (addr && inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((unsigned short) port);
        return 1;
    }
    if (addr && inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((unsigned short) port);
        return 1;
    }
    return 0;
}

/* Run hosts_access() in the current process; returns 1/0. */
static int evaluate(char **f, int fd)
{
    struct request_info req;
    static struct sockaddr_storage csa, ssa;
    const char *daemon = f[0], *cname = f[1], *caddr = f[2], *user = f[3];
    const char *sname = f[4], *saddr = f[5], *sport = f[6];
    unsigned port = 0;

    if (!is_unknown(sport))
        port = (unsigned) strtoul(sport, NULL, 10);

    request_init(&req, RQ_FILE, fd,
                 RQ_USER, is_unknown(user) ? STRING_UNKNOWN : user, 0);
    if (!is_unknown(daemon))
        request_set(&req, RQ_DAEMON, daemon, 0);
    if (!is_unknown(cname) && strcmp(cname, "?") != 0)
        request_set(&req, RQ_CLIENT_NAME, cname, 0);
    if (!is_unknown(caddr))
        request_set(&req, RQ_CLIENT_ADDR, caddr, 0);
    if (!is_unknown(sname))
        request_set(&req, RQ_SERVER_NAME, sname, 0);
    if (!is_unknown(saddr))
        request_set(&req, RQ_SERVER_ADDR, saddr, 0);
    if (!is_unknown(caddr) && parse_sockaddr(caddr, CLIENT_PORT, &csa))
        request_set(&req, RQ_CLIENT_SIN, (struct sockaddr *) &csa, 0);
    if (strcmp(cname, "?") == 0)
        req.hostname = sock_hostname;   /* what sock_methods() installs */
    /*
     * libwrap only looks at the server sockaddr for its port (numeric daemon
     * patterns); no sockaddr means "port unknown" (as with hosts_ctl()), so
     * set one only when the port is known. Its address part is irrelevant
     * to matching (verified), 0.0.0.0 stands in when none parses.
     */
    if (port != 0) {
        if (is_unknown(saddr) || !parse_sockaddr(saddr, port, &ssa))
            parse_sockaddr("0.0.0.0", port, &ssa);
        request_set(&req, RQ_SERVER_SIN, (struct sockaddr *) &ssa, 0);
    }

    return hosts_access(&req);
}

static int shared_fd = -1;      /* RQ_FILE for children: socketpair end */
static int shared_peer = -1;    /* other end, drained by the parent */
static int devnull_fd = -1;

/* The "client connection" handed to libwrap as RQ_FILE. */
static void make_client_socket(void)
{
    int     sv[2];

    if (shared_peer >= 0)
        close(shared_peer);
    shared_peer = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
        /* libwrap's twist dup()s it onto 0-2, so RQ_FILE must survive exec */
        shared_fd = sv[0];
        fcntl(shared_fd, F_SETFD, 0);
        shared_peer = sv[1];
        fcntl(shared_peer, F_SETFL, O_NONBLOCK);
    } else {
        shared_fd = devnull_fd;
    }
}

static void child_run(char **f, int wfd)
{
    report_fd = wfd;
    eval_pid = getpid();
    /* Keep libwrap (and exit()) away from the harness's stdin/stdout. */
    dup2(devnull_fd, 0);
    dup2(devnull_fd, 1);
    alarm(timeout_sec);
    emit_record('V', evaluate(f, shared_fd) ? "granted" : "denied");
    _exit(0);
}

static void parse_records(char *buf)
{
    char   *line = buf, *nl;

    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = 0;
        if (*line)
            handle_record(line[0], line + 1);
        line = nl + 1;
    }
}

/* In-flight children, completed (and printed) strictly in input order. */
struct slot {
    pid_t   pid;
    int     fd;
};

static struct slot *slots;
static int nslots, slot_head, slot_count;
static int jobs = 4;

static void print_result(void)
{
    printf("%s\t%s\t%s\n", verdict,
           match_buf.len ? match_buf.s : "-",
           warn_buf.len ? warn_buf.s : "-");
    fflush(stdout);
}

static void drain_peer(void)
{
    char    tmp[8192];

    /* Throw away whatever banners/twist wrote to the client socket. */
    while (shared_peer >= 0 && read(shared_peer, tmp, sizeof(tmp)) > 0)
        /* void */ ;
}

static void finish_oldest(void)
{
    struct slot *sl = &slots[slot_head];
    struct sbuf in = {0};
    char    tmp[8192];
    ssize_t n;
    int     status = 0;

    result_reset();
    for (;;) {
        n = read(sl->fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        sb_add(&in, tmp, (size_t) n);
    }
    close(sl->fd);
    while (waitpid(sl->pid, &status, 0) < 0 && errno == EINTR)
        /* void */ ;
    slot_head = (slot_head + 1) % nslots;
    slot_count--;
    if (in.s)
        parse_records(in.s);
    free(in.s);
    drain_peer();

    if (verdict[0] == 0) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            snprintf(verdict, sizeof(verdict), "timeout");
        } else if (WIFSIGNALED(status)) {
            char    msg[128];

            snprintf(verdict, sizeof(verdict), "crash");
            snprintf(msg, sizeof(msg), "wraptest: child killed by signal %d (%s)",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
            add_warning(msg);
        } else {
            /* exited without a verdict: the process was replaced/ended */
            snprintf(verdict, sizeof(verdict), "twist");
        }
    }
    print_result();
}

static void finish_all(void)
{
    while (slot_count > 0)
        finish_oldest();
}

static void run_forked(char **f)
{
    int     p[2];
    pid_t   pid;

    if (slot_count == nslots)
        finish_oldest();
    fflush(stdout);
    if (pipe2(p, O_CLOEXEC) < 0) {
        perror("wraptest: pipe");
        exit(2);
    }
    pid = fork();
    if (pid < 0) {
        perror("wraptest: fork");
        exit(2);
    }
    if (pid == 0) {
        close(p[0]);
        child_run(f, p[1]);
    }
    close(p[1]);
    slots[(slot_head + slot_count) % nslots] = (struct slot) {pid, p[0]};
    slot_count++;
}

static int saved_std[3] = {-1, -1, -1};

static void run_nofork(char **f)
{
    int     v, i;

    result_reset();
    eval_pid = getpid();
    /* Undo libwrap state that would otherwise leak between requests. */
    resident = -1;
    allow_severity = LOG_INFO;
    deny_severity = LOG_WARNING;
    if (sigsetjmp(nofork_jmp, 1) == 0) {
        nofork_jmp_armed = 1;
        v = evaluate(f, shared_fd);
        nofork_jmp_armed = 0;
        handle_record('V', v ? "granted" : "denied");
    } else {
        /* twist dup()ed the client fd onto 0, 1 and 2: put ours back. */
        nofork_jmp_armed = 0;
        for (i = 0; i < 3; i++)
            if (saved_std[i] >= 0)
                dup2(saved_std[i], i);
        /* ... and closed the client fd itself. */
        if (fcntl(shared_fd, F_GETFD) < 0)
            make_client_socket();
        handle_record('T', "twist");
    }
    drain_peer();
    print_result();
}

static void usage(void)
{
    fprintf(stderr,
            "usage: wraptest [--nofork] [--jobs N] [--timeout SEC] "
            "[--verbose-options] ALLOW_FILE DENY_FILE < requests\n"
            "request line: daemon<TAB>client_name<TAB>client_addr<TAB>user"
            "<TAB>server_name<TAB>server_addr<TAB>server_port ('-' = unknown)\n");
    exit(2);
}

int     main(int argc, char **argv)
{
    char   *line = NULL;
    size_t  cap = 0;
    ssize_t len;
    int     i;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--nofork") == 0) {
            nofork = 1;
        } else if (strcmp(argv[i], "--verbose-options") == 0) {
            verbose_options = 1;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout_sec = (unsigned) strtoul(argv[++i], NULL, 10);
            if (timeout_sec == 0)
                usage();
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            jobs = atoi(argv[++i]);
            if (jobs < 1 || jobs > 256)
                usage();
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            usage();
        }
    }
    if (argc - i != 2)
        usage();
    hosts_allow_table = argv[i];
    hosts_deny_table = argv[i + 1];
    hosts_access_verbose = 2;
    signal(SIGPIPE, SIG_IGN);

    if ((devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        perror("wraptest: /dev/null");
        return 2;
    }
    make_client_socket();
    for (i = 0; i < 3; i++)
        saved_std[i] = fcntl(i, F_DUPFD_CLOEXEC, 10);
    nslots = jobs;
    if ((slots = calloc((size_t) nslots, sizeof(*slots))) == NULL)
        return 2;

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        char   *f[NFIELDS];
        char   *p = line;
        int     n = 0;

        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        f[n++] = p;
        while ((p = strchr(p, '\t')) != NULL) {
            *p++ = 0;
            if (n == NFIELDS) {
                n++;
                break;
            }
            f[n++] = p;
        }
        if (n != NFIELDS) {
            finish_all();
            result_reset();
            snprintf(verdict, sizeof(verdict), "error");
            add_warning(n < NFIELDS ? "wraptest: too few fields"
                        : "wraptest: too many fields");
            print_result();
        } else if (nofork) {
            run_nofork(f);
        } else {
            run_forked(f);
        }
    }
    finish_all();
    free(line);
    return 0;
}
