// Network interfaces: ioctl is variadic and `struct ifreq` lives in <net/if.h>, which the Swift
// Glibc module does not export; the one interface ioctl Berth needs is here.
#ifndef BERTH_NET_H
#define BERTH_NET_H

/// Sets IFF_UP on the interface `name` of the calling thread's network namespace
/// (SIOCGIFFLAGS + SIOCSIFFLAGS on an AF_INET datagram socket). Needs CAP_NET_ADMIN in the
/// namespace's owning user namespace. Returns 0, or -1 with errno.
int berth_link_set_up(const char *name);
#endif
