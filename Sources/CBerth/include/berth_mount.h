// Mounts: pivot_root (no glibc wrapper), openat2 with RESOLVE_IN_ROOT (to resolve paths inside a
// container root without following symlinks out of it), mknod/makedev.
#ifndef BERTH_MOUNT_H
#define BERTH_MOUNT_H
#include <stdint.h>
#include <sys/types.h>

/// pivot_root(2).
int berth_pivot_root(const char *new_root, const char *put_old);
/// openat2(2) with `resolve` flags (RESOLVE_IN_ROOT = 0x10, RESOLVE_NO_MAGICLINKS = 0x02,
/// RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08).
int berth_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
/// makedev(3) for mknod.
dev_t berth_makedev(unsigned int major, unsigned int minor);

/// syncfs(2): flush the filesystem that holds `fd` (glibc declares it only with _GNU_SOURCE).
int berth_syncfs(int fd);
#endif
