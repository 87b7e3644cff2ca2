#define _GNU_SOURCE
#include "berth_mount.h"
#include <linux/openat2.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

int berth_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int berth_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

dev_t berth_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }

int berth_syncfs(int fd) { return (int)syscall(SYS_syncfs, fd); }
