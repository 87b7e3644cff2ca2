#define _GNU_SOURCE
#include "berth_net.h"
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int berth_link_set_up(const char *name) {
    struct ifreq req;
    memset(&req, 0, sizeof(req));
    if (strlen(name) >= sizeof(req.ifr_name)) { errno = ENAMETOOLONG; return -1; }
    strcpy(req.ifr_name, name);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    int r = ioctl(s, SIOCGIFFLAGS, &req);
    if (r == 0 && !(req.ifr_flags & IFF_UP)) {
        req.ifr_flags |= IFF_UP;
        r = ioctl(s, SIOCSIFFLAGS, &req);
    }
    int e = errno;
    close(s);
    errno = e;
    return r;
}
