#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "oci/sync.h"

Test(sync, message_with_fd_and_text)
{
        int sp[2];
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_sync_pair(sp, &e), 0);
        cr_assert(fcntl(sp[0], F_GETFD) & FD_CLOEXEC);
        int p[2];
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(skiff_sync_send(sp[1], SKIFF_SYNC_CONSOLE, 7, "hi", p[1]), 0);
        struct skiff_sync_msg m;
        int fd = -1;
        cr_assert_eq(skiff_sync_recv(sp[0], &m, &fd, &e), 0);
        cr_assert_eq(m.type, SKIFF_SYNC_CONSOLE);
        cr_assert_eq(m.value, 7);
        cr_assert_str_eq(m.text, "hi");
        cr_assert_geq(fd, 0);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "passed fds arrive close-on-exec");
        cr_assert_eq(write(fd, "x", 1), 1);
        char c = 0;
        cr_assert_eq(read(p[0], &c, 1), 1);
        cr_assert_eq(c, 'x');
        close(fd);
        close(p[0]);
        close(p[1]);
        close(sp[0]);
        close(sp[1]);
}

Test(sync, expect_reports_child_error_and_eof)
{
        int sp[2];
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_sync_pair(sp, &e), 0);
        skiff_err_t child = NULL;
        skiff_error_set(&child, EACCES, "mount `proc` on `/proc`: Permission denied");
        cr_assert_eq(skiff_sync_send_error(sp[1], child), 0);
        skiff_error_free(&child);
        struct skiff_sync_msg m;
        int r = skiff_sync_expect(sp[0], SKIFF_SYNC_READY, &m, NULL, "container init", &e);
        cr_assert_eq(r, -EACCES);
        cr_assert_str_eq(skiff_error_msg(e), "mount `proc` on `/proc`: Permission denied");
        skiff_error_free(&e);

        cr_assert_eq(skiff_sync_send(sp[1], SKIFF_SYNC_GO, 0, NULL, -1), 0);
        r = skiff_sync_expect(sp[0], SKIFF_SYNC_READY, &m, NULL, "container init", &e);
        cr_assert_eq(r, -EPROTO);
        cr_assert(strstr(skiff_error_msg(e), "unexpected sync message `go`"), "%s",
                  skiff_error_msg(e));
        skiff_error_free(&e);

        close(sp[1]);
        r = skiff_sync_expect(sp[0], SKIFF_SYNC_READY, &m, NULL, "container init", &e);
        cr_assert_eq(r, -EPROTO);
        cr_assert(strstr(skiff_error_msg(e), "container init: exited during setup"), "%s",
                  skiff_error_msg(e));
        skiff_error_free(&e);
        cr_assert_eq(skiff_sync_recv(sp[0], &m, NULL, &e), 0);
        cr_assert_eq(m.type, SKIFF_SYNC_EOF);
        close(sp[0]);
}

Test(sync, long_text_is_truncated_not_overflowed)
{
        int sp[2];
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_sync_pair(sp, &e), 0);
        char big[SKIFF_SYNC_TEXT_MAX * 2];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cr_assert_eq(skiff_sync_send(sp[1], SKIFF_SYNC_ERROR, EIO, big, -1), 0);
        struct skiff_sync_msg m;
        cr_assert_eq(skiff_sync_recv(sp[0], &m, NULL, &e), 0);
        cr_assert_eq(strlen(m.text), SKIFF_SYNC_TEXT_MAX - 1);
        close(sp[0]);
        close(sp[1]);
}
