// Terminals: ioctl is variadic, so each tty ioctl Berth uses has a function here.
#ifndef BERTH_TTY_H
#define BERTH_TTY_H
#include <sys/types.h>

/// Unlocks a pty master and returns its slave number (TIOCSPTLCK + TIOCGPTN), or -1.
int berth_pty_unlock(int master);
/// Opens the slave of a master without a path lookup (TIOCGPTPEER), or -1.
int berth_pty_peer(int master, int flags);
/// Makes `fd` the controlling terminal of the calling session (TIOCSCTTY).
int berth_set_ctty(int fd);
/// Sets / gets the window size (TIOCSWINSZ / TIOCGWINSZ).
int berth_set_winsize(int fd, unsigned short rows, unsigned short cols);
int berth_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
/// Puts a terminal into raw mode, saving the old settings in `saved` (sizeof(struct termios)
/// bytes, see berth_termios_size); restore with berth_tty_restore.
int berth_termios_size(void);
int berth_tty_make_raw(int fd, void *saved);
int berth_tty_restore(int fd, const void *saved);
#endif
