// Capabilities: capget/capset (glibc has no wrapper; libcap is not worth a dependency for two calls).
#ifndef BERTH_CAPS_H
#define BERTH_CAPS_H
#include <stdint.h>
#include <sys/types.h>

/// Sets effective, permitted and inheritable sets (64-bit masks, _LINUX_CAPABILITY_VERSION_3)
/// of the calling thread.
int berth_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable);
/// Reads the calling thread's sets.
int berth_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);
/// The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap), or -1.
int berth_cap_last_cap(void);
#endif
