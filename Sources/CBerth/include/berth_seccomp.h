// Seccomp filters: loading a classic BPF program, and a fork-based self-test of one.
// Why C: seccomp(2) has no glibc wrapper and syscall(2)/prctl(2) are variadic; the self-test forks,
// and only C can promise the child runs nothing but async-signal-safe raw system calls (a Swift
// child of a multi-threaded parent could deadlock on a lock held by another thread at fork time).
#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, &{len, insns}) for the calling thread (all threads
/// with SECCOMP_FILTER_FLAG_TSYNC). Returns 0, or -1 with errno. Needs no_new_privs or
/// CAP_SYS_ADMIN in the caller's user namespace.
int berth_seccomp_set_filter(unsigned int flags, const struct sock_filter *insns, unsigned short len);

/// prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &{len, insns}): the pre-3.17 way, without flags.
int berth_seccomp_prctl_filter(const struct sock_filter *insns, unsigned short len);

/// What a self-test child did.
struct berth_seccomp_outcome {
    /// 0: the syscall ran; 1: prctl(PR_SET_NO_NEW_PRIVS) failed; 2: loading the filter failed;
    /// 3: the child ended without reporting (killed, e.g. by SIGSYS).
    int stage;
    /// The syscall's return value (stage 0).
    long ret;
    /// errno after the syscall when it returned -1, or of the failed stage.
    int err;
    /// The raw wait status of the child.
    int wait_status;
};

/// Forks a child that sets no_new_privs, loads the filter with `flags`, makes the raw system
/// call `nr` with `args`, reports the result through a pipe and exits. Waits for the child.
/// The child runs only raw system calls, so the caller may be multi-threaded.
/// Returns 0 with `*out` filled, or -1 with errno if fork/pipe/wait failed.
int berth_seccomp_selftest(const struct sock_filter *insns, unsigned short len, unsigned int flags,
                           long nr, const unsigned long args[6], struct berth_seccomp_outcome *out);
#endif
