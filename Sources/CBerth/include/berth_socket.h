// Unix sockets: passing file descriptors (SCM_RIGHTS needs the CMSG_* macros).
#ifndef BERTH_SOCKET_H
#define BERTH_SOCKET_H
#include <sys/types.h>

/// Sends `len` bytes and one file descriptor over a unix socket. Returns bytes sent or -1.
ssize_t berth_send_fd(int sock, int fd, const void *data, size_t len);
/// Receives up to `len` bytes and at most one file descriptor (stored in *fd, else -1).
ssize_t berth_recv_fd(int sock, void *data, size_t len, int *fd);
/// Connects a new SOCK_STREAM unix socket to `path` (CLOEXEC). Returns the fd or -1.
int berth_unix_connect(const char *path);
/// Creates a listening SOCK_STREAM unix socket at `path` (CLOEXEC). Returns the fd or -1.
int berth_unix_listen(const char *path, int backlog);
/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC (a GNU extension the Swift Glibc module does not
/// export). Returns the connection or -1 (EAGAIN when none is pending on a non-blocking listener).
int berth_accept_nonblocking(int listener);
#endif
