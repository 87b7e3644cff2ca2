#define _GNU_SOURCE
#include "berth_process.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <malloc.h>
#include <sched.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

pid_t berth_clone3(uint64_t flags, int *pidfd, int cgroup_fd) {
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (flags & CLONE_PIDFD) args.pidfd = (uint64_t)(uintptr_t)pidfd;
    if (flags & CLONE_INTO_CGROUP) args.cgroup = (uint64_t)cgroup_fd;
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int berth_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int berth_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }
int berth_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}
int berth_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}
int berth_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
void berth_sigfillset(sigset_t *set) { sigfillset(set); }
int berth_wifexited(int status) { return WIFEXITED(status); }
int berth_wexitstatus(int status) { return WEXITSTATUS(status); }
int berth_wifsignaled(int status) { return WIFSIGNALED(status); }
int berth_wtermsig(int status) { return WTERMSIG(status); }
char **berth_environ(void) { return environ; }
int berth_setgroups(size_t n, const gid_t *groups) { return setgroups(n, groups); }
int berth_execve(const char *path, char *const argv[], char *const envp[]) { return execve(path, argv, envp); }
int berth_personality(unsigned long persona) { return personality(persona); }

int berth_setns(int fd, int nstype) { return setns(fd, nstype); }
int berth_unshare(int flags) { return unshare(flags); }
int berth_setresuid(uid_t r, uid_t e, uid_t s) { return setresuid(r, e, s); }
int berth_setresgid(gid_t r, gid_t e, gid_t s) { return setresgid(r, e, s); }
int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int berth_sethostname(const char *name, size_t len) { return sethostname(name, len); }
int berth_power_off(void) { return reboot(RB_POWER_OFF); }
int berth_setdomainname(const char *name, size_t len) { return setdomainname(name, len); }
long berth_bpf(int cmd, void *attr, unsigned int size) { return syscall(SYS_bpf, cmd, attr, size); }
int berth_malloc_trim(void) { return malloc_trim(0); }

int berth_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
