// CBerth: the C that Swift cannot express (raw syscalls, variadic calls, CMSG macros, ioctls).
// No policy lives here: each function is one kernel call or one idiom, documented where declared.
#ifndef CBERTH_H
#define CBERTH_H
#include "berth_process.h"
#include "berth_mount.h"
#include "berth_caps.h"
#include "berth_tty.h"
#include "berth_socket.h"
#include "berth_seccomp.h"
#include "berth_xattr.h"
#include "berth_net.h"
#include "berth_netlink.h"
#endif
