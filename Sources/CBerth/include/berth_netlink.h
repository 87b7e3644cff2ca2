// rtnetlink: the kernel's uapi message layouts and constants (nlmsghdr, ifinfomsg, ifaddrmsg,
// rtmsg, IFLA_*/IFA_*/RTA_*, VETH_INFO_PEER, rtnl_link_stats64). Why here: the Swift Glibc module
// does not export <linux/netlink.h> and friends. Header only: BerthSystem's `Netlink` encodes and
// decodes the messages itself, these give it the numbers and lets tests check the layouts.
// <linux/if.h> is deliberately not included: it clashes with glibc's <net/if.h>, which the Glibc
// module exports (IFF_UP comes from there).
#ifndef BERTH_NETLINK_H
#define BERTH_NETLINK_H
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#endif
