// Process creation and control: clone3 (fork-like, into new namespaces), pidfds, prctl, close_range.
// Why C: clone3/pidfd_* have no glibc wrappers and syscall(2) and prctl(2) are variadic.
#ifndef BERTH_PROCESS_H
#define BERTH_PROCESS_H
#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
#include <linux/sched.h>
#include <linux/prctl.h>
#include <linux/capability.h>
#include <sys/signalfd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <spawn.h>

/// setns(2), unshare(2), setresuid(2), setresgid(2), pipe2(2): GNU extensions the Swift Glibc
/// module does not export.
int berth_setns(int fd, int nstype);
/// Adds "close every descriptor from `from` up" to spawn file actions (glibc >= 2.34's
/// posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module does not expose).
int berth_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int berth_unshare(int flags);
int berth_setresuid(uid_t r, uid_t e, uid_t s);
int berth_setresgid(gid_t r, gid_t e, gid_t s);
int berth_pipe2(int fds[2], int flags);
int berth_sethostname(const char *name, size_t len);
int berth_setdomainname(const char *name, size_t len);
/// reboot(2) with RB_POWER_OFF: a VM guest's PID 1 (the guest agent) powering off
/// (<sys/reboot.h> is not in Swift's Glibc module).
int berth_power_off(void);

/// Fork-like clone3: the child returns 0 and runs on a copy of the caller's stack, so the caller
/// must be single-threaded. `flags` are CLONE_NEW* (and CLONE_PIDFD, CLONE_INTO_CGROUP).
/// `pidfd` receives a pidfd when CLONE_PIDFD is set; `cgroup_fd` is used with CLONE_INTO_CGROUP.
/// Returns the child pid in the parent, 0 in the child, -1 with errno on failure.
pid_t berth_clone3(uint64_t flags, int *pidfd, int cgroup_fd);

/// pidfd_open(2).
int berth_pidfd_open(pid_t pid);
/// pidfd_send_signal(2) without siginfo.
int berth_pidfd_send_signal(int pidfd, int sig);
/// prctl(2) with its four trailing arguments explicit.
int berth_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
/// close_range(2).
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags);
/// fcntl(fd, F_GETFD/F_SETFD/F_GETFL/F_SETFL, arg).
int berth_fcntl_int(int fd, int cmd, int arg);
/// The sigset with every signal, for sigprocmask/signalfd.
void berth_sigfillset(sigset_t *set);
/// `WIFEXITED` & co. as functions.
int berth_wifexited(int status);
int berth_wexitstatus(int status);
int berth_wifsignaled(int status);
int berth_wtermsig(int status);
/// `environ`, for passing our environment through.
char **berth_environ(void);
/// setgroups(2) (glibc's is fine but needs grp.h's size_t signature; kept here for one import).
int berth_setgroups(size_t n, const gid_t *groups);
/// execve with a fallback: returns only on failure, with errno.
int berth_execve(const char *path, char *const argv[], char *const envp[]);
/// personality(2).
int berth_personality(unsigned long persona);
/// malloc_trim(0): hands freed heap pages back to the kernel (the monitor calls it once set-up
/// garbage is freed, since its private memory is paid once per container).
int berth_malloc_trim(void);
/// bpf(2) (no glibc wrapper): used to load and attach cgroup v2 device programs.
long berth_bpf(int cmd, void *attr, unsigned int size);
/// The raw seccomp filter load lives in berth_seccomp.h.
#endif
