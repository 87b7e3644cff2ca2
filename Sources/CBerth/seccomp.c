#define _GNU_SOURCE
#include "berth_seccomp.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int berth_seccomp_set_filter(unsigned int flags, const struct sock_filter *insns, unsigned short len) {
    struct sock_fprog prog = { .len = len, .filter = (struct sock_filter *)insns };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int berth_seccomp_prctl_filter(const struct sock_filter *insns, unsigned short len) {
    struct sock_fprog prog = { .len = len, .filter = (struct sock_filter *)insns };
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/// Writes all of `buf` with raw write(2) calls (async-signal-safe).
static void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return; }
        p += w;
        n -= (size_t)w;
    }
}

int berth_seccomp_selftest(const struct sock_filter *insns, unsigned short len, unsigned int flags,
                           long nr, const unsigned long args[6], struct berth_seccomp_outcome *out) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        // Child: raw system calls only, then _exit.
        struct berth_seccomp_outcome r;
        memset(&r, 0, sizeof(r));
        close(fds[0]);
        if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
            r.stage = 1;
            r.err = errno;
        } else if (berth_seccomp_set_filter(flags, insns, len) != 0) {
            r.stage = 2;
            r.err = errno;
        } else {
            errno = 0;
            r.ret = syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
            r.err = r.ret == -1 ? errno : 0;
        }
        write_all(fds[1], &r, sizeof(r));
        _exit(0);
    }
    close(fds[1]);
    memset(out, 0, sizeof(*out));
    size_t got = 0;
    while (got < sizeof(*out)) {
        ssize_t n = read(fds[0], (char *)out + got, sizeof(*out) - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (got < sizeof(*out)) {
        memset(out, 0, sizeof(*out));
        out->stage = 3;
    }
    out->wait_status = status;
    return 0;
}
