#define _GNU_SOURCE
#include "berth_tty.h"
#include <sys/ioctl.h>
#include <termios.h>

int berth_pty_unlock(int master) {
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return -1;
    int n = 0;
    if (ioctl(master, TIOCGPTN, &n) < 0) return -1;
    return n;
}
int berth_pty_peer(int master, int flags) { return ioctl(master, TIOCGPTPEER, flags); }
int berth_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = { rows, cols, 0, 0 };
    return ioctl(fd, TIOCSWINSZ, &ws);
}
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}
int berth_termios_size(void) { return (int)sizeof(struct termios); }
int berth_tty_make_raw(int fd, void *saved) {
    struct termios t;
    if (tcgetattr(fd, &t) < 0) return -1;
    *(struct termios *)saved = t;
    cfmakeraw(&t);
    return tcsetattr(fd, TCSANOW, &t);
}
int berth_tty_restore(int fd, const void *saved) { return tcsetattr(fd, TCSANOW, (const struct termios *)saved); }
