#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "oci/exec.h"

/* In a child: opens fds up to past 1024, marks from `from` on, and reports through its exit
 * status whether exactly the fds >= from are close-on-exec. */
static int check_in_child(int from)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int high = fcntl(0, F_DUPFD, 1500); /* above the old 1024 loop bound */
                int a = fcntl(0, F_DUPFD, 3), b = fcntl(0, F_DUPFD, 4), c = fcntl(0, F_DUPFD, 7);
                if (high < 1500 || a < 0 || b < 0 || c < 0)
                        _exit(10);
                if (skiff_exec_cloexec_fds(from, NULL) < 0)
                        _exit(11);
                int fds[] = {a, b, c, high};
                for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
                        int fl = fcntl(fds[i], F_GETFD);
                        if (fl < 0)
                                _exit(12);
                        if (((fl & FD_CLOEXEC) != 0) != (fds[i] >= from))
                                _exit(20 + (int)i);
                }
                int s = fcntl(2, F_GETFD);
                if (s < 0 || (s & FD_CLOEXEC))
                        _exit(30); /* stdio is never touched */
                _exit(0);
        }
        int st = 0;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st));
        return WEXITSTATUS(st);
}

Test(exec, cloexec_fds_marks_every_fd_from_the_given_one)
{
        cr_assert_eq(check_in_child(3), 0);
        cr_assert_eq(check_in_child(5), 0);
}
