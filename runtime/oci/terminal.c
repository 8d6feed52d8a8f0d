#include "oci/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int skiff_terminal_set_size(int fd, uint32_t rows, uint32_t cols, skiff_err_t *err)
{
        struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        if (rows > 0xffff || cols > 0xffff)
                return skiff_error_set(err, EINVAL, "console size %ux%u out of range", rows, cols);
        if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
                return skiff_error_set_errno(err, errno, "set console size");
        return 0;
}

int skiff_terminal_open(uint32_t rows, uint32_t cols, int *ret_master, int *ret_slave,
                        skiff_err_t *err)
{
        _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return skiff_error_set_errno(err, errno, "open `/dev/ptmx`");
        int unlock = 0;
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return skiff_error_set_errno(err, errno, "unlock pty");
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return skiff_error_set_errno(err, errno, "open pty slave");
        if (rows || cols) {
                int r = skiff_terminal_set_size(master, rows, cols, err);
                if (r < 0)
                        return r;
        }
        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

static int bind_console(int master, skiff_err_t *err)
{
        unsigned ptn = 0;
        if (ioctl(master, TIOCGPTN, &ptn) < 0)
                return skiff_error_set_errno(err, errno, "get pty number");
        char src[64];
        snprintf(src, sizeof(src), "/dev/pts/%u", ptn);
        struct stat st;
        if (lstat("/dev/console", &st) < 0) {
                if (errno != ENOENT)
                        return skiff_error_set_errno(err, errno, "stat `/dev/console`");
                int fd = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                              0600);
                if (fd < 0)
                        return skiff_error_set_errno(err, errno, "create `/dev/console`");
                close(fd);
        } else if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
                return skiff_error_set(err, EINVAL, "`/dev/console` is not a file");
        }
        if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
                return skiff_error_set_errno(err, errno, "mount `%s` on `/dev/console`", src);
        return 0;
}

int skiff_terminal_setup_slave(int master, int slave, bool console, skiff_err_t *err)
{
        if (setsid() < 0 && errno != EPERM) /* EPERM: already a session leader */
                return skiff_error_set_errno(err, errno, "setsid");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return skiff_error_set_errno(err, errno, "make the pty the controlling terminal");
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return skiff_error_set_errno(err, errno, "dup pty to fd %d", i);
        if (console)
                return bind_console(master, err);
        return 0;
}
