#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "oci/seccomp.h"
#include "oci/spec.h"

SKIFF_DEFINE_CLEANUP(struct skiff_spec *, skiff_spec_free)
#define _cleanup_spec_ _cleanup_(skiff_spec_freep)

/* Parses a spec whose linux.seccomp is the given JSON object. */
static struct skiff_spec *spec_with_seccomp(const char *seccomp)
{
        _cleanup_free_ char *json = xasprintf("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
                                              "\"linux\":{\"seccomp\":%s}}",
                                              seccomp);
        struct skiff_spec *spec = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_parse(json, strlen(json), &spec, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert(spec->linux_.has_seccomp);
        return spec;
}

static int compile_error(const char *seccomp, char **msg)
{
        _cleanup_spec_ struct skiff_spec *spec = spec_with_seccomp(seccomp);
        _cleanup_error_ skiff_err_t err = NULL;
        void *ctx = NULL;
        int r = skiff_seccomp_compile(&spec->linux_.seccomp, &ctx, &err);
        if (r >= 0) {
                cr_assert_not_null(ctx);
                seccomp_release(ctx);
                return r;
        }
        cr_assert_null(ctx);
        *msg = xstrdup(skiff_error_msg(err));
        return r;
}

/* Runs body(arg) in a forked child after setting no_new_privs (so that no CAP_SYS_ADMIN is
 * needed) and loading spec's filter there; the child exits with body's result (0 = all checks
 * passed, else the number of the failed check; 100/101 = setup failed). */
static void run_filtered(const struct skiff_spec *spec, int (*body)(void *), void *arg)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(101);
                if (skiff_seccomp_load(&spec->linux_.seccomp, NULL) < 0)
                        _exit(100);
                _exit(body(arg));
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died with status %#x", status);
        cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
}

static char *temp_dir(void)
{
        char *dir = xstrdup("/tmp/skiff-test-seccomp-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        return dir;
}

static int check_mkdir_denied(void *arg)
{
        const char *dir = arg;
        char path[256];
        snprintf(path, sizeof(path), "%s/sub", dir);
        if (mkdir(path, 0755) == 0 || errno != EPERM)
                return 1;
        if (mkdirat(AT_FDCWD, path, 0755) == 0 || errno != EPERM)
                return 2;
        /* Other calls still work: create and remove a file in the same directory. */
        snprintf(path, sizeof(path), "%s/file", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return 3;
        if (write(fd, "x", 1) != 1)
                return 4;
        close(fd);
        if (unlink(path) < 0)
                return 5;
        if (getpid() <= 0)
                return 6;
        return 0;
}

Test(seccomp, errno_rule_denies_mkdir_only)
{
        _cleanup_spec_ struct skiff_spec *spec = spec_with_seccomp(
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
            "\"mkdirat\",\"no_such_syscall_in_any_kernel\"],\"action\":\"SCMP_ACT_ERRNO\","
            "\"errnoRet\":1}]}");
        _cleanup_free_ char *dir = temp_dir();
        /* Control: without the filter the same mkdir works. */
        _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
        cr_assert_eq(mkdir(sub, 0755), 0);
        cr_assert_eq(rmdir(sub), 0);
        run_filtered(spec, check_mkdir_denied, dir);
        cr_assert_eq(rmdir(dir), 0);
}

static int check_default_errno(void *arg)
{
        long want = *(const long *)arg;
        errno = 0;
        if (syscall(SYS_getppid) != -1 || errno != want)
                return 1;
        errno = 0;
        if (syscall(SYS_getuid) != -1 || errno != want)
                return 2;
        if (syscall(SYS_getpid) <= 0) /* allowed */
                return 3;
        return 0;
}

Test(seccomp, default_action_errno)
{
        /* Besides what the check needs, allow what a sanitizer runtime uses (memory mapping,
         * signals, futexes) so the test also works in the ASan+UBSan build. */
        const char *allow =
            "\"syscalls\":[{\"names\":[\"getpid\",\"exit\",\"exit_group\",\"write\","
            "\"rt_sigreturn\",\"mmap\",\"munmap\",\"mprotect\",\"madvise\",\"brk\","
            "\"futex\",\"rt_sigaction\",\"rt_sigprocmask\",\"sigaltstack\",\"gettid\","
            "\"getrandom\",\"prctl\",\"sched_yield\"],\"action\":\"SCMP_ACT_ALLOW\"}]";
        _cleanup_free_ char *with_ret = xasprintf(
            "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":%d,%s}", ENOSYS, allow);
        _cleanup_spec_ struct skiff_spec *spec = spec_with_seccomp(with_ret);
        long want = ENOSYS;
        run_filtered(spec, check_default_errno, &want);

        /* Without defaultErrnoRet, SCMP_ACT_ERRNO means EPERM. */
        _cleanup_free_ char *no_ret = xasprintf("{\"defaultAction\":\"SCMP_ACT_ERRNO\",%s}", allow);
        _cleanup_spec_ struct skiff_spec *spec2 = spec_with_seccomp(no_ret);
        want = EPERM;
        run_filtered(spec2, check_default_errno, &want);
}

static int check_args(void *arg)
{
        const char *dir = arg;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return 1;
        close(fd);
        if (socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) >= 0 || errno != EACCES)
                return 2;
        if (socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) >= 0 || errno != EACCES)
                return 3;
        char path[256];
        snprintf(path, sizeof(path), "%s/open", dir);
        if (mkdir(path, 0700) < 0) /* mode & 07 == 0: allowed */
                return 4;
        snprintf(path, sizeof(path), "%s/world", dir);
        if (mkdir(path, 0777) == 0 || errno != EPERM) /* mode & 07 == 07: denied */
                return 5;
        if (mkdirat(AT_FDCWD, path, 0707) == 0 || errno != EPERM)
                return 6;
        if (mkdirat(AT_FDCWD, path, 0770) < 0)
                return 7;
        /* Args on different indexes are ANDed: only AF_UNIX + SOCK_DGRAM is denied. */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return 8;
        close(sv[0]);
        close(sv[1]);
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0 || errno != EACCES)
                return 9;
        return 0;
}

Test(seccomp, argument_filters)
{
        /* Two args on the same index are separate rules (either matches), not an AND. */
        _cleanup_free_ char *profile = xasprintf(
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
            "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":%d,"
            "\"args\":[{\"index\":0,\"value\":%d,\"op\":\"SCMP_CMP_EQ\"},"
            "{\"index\":0,\"value\":%d,\"op\":\"SCMP_CMP_EQ\"}]},"
            "{\"names\":[\"socketpair\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":%d,"
            "\"args\":[{\"index\":0,\"value\":%d,\"op\":\"SCMP_CMP_EQ\"},"
            "{\"index\":1,\"value\":15,\"valueTwo\":%d,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
            "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\","
            "\"args\":[{\"index\":1,\"value\":7,\"valueTwo\":7,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
            "{\"names\":[\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\","
            "\"args\":[{\"index\":2,\"value\":7,\"valueTwo\":7,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
            EACCES, AF_INET, AF_INET6, EACCES, AF_UNIX, SOCK_DGRAM);
        _cleanup_spec_ struct skiff_spec *spec = spec_with_seccomp(profile);
        _cleanup_free_ char *dir = temp_dir();
        run_filtered(spec, check_args, dir);
        _cleanup_free_ char *a = xasprintf("%s/open", dir), *b = xasprintf("%s/world", dir);
        cr_assert_eq(rmdir(a), 0);
        cr_assert_eq(rmdir(b), 0);
        cr_assert_eq(rmdir(dir), 0);
}

Test(seccomp, compile_errors_name_the_field)
{
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL, *m5 = NULL;
        cr_assert_eq(compile_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
                                   "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_FOO\"]}",
                                   &m1),
                     -EINVAL);
        cr_assert_str_eq(m1, "linux.seccomp.architectures[1]: unknown architecture "
                             "`SCMP_ARCH_FOO`");
        cr_assert_eq(compile_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
                                   "[\"x86_64\"]}",
                                   &m2),
                     -EINVAL);
        cr_assert_str_eq(m2, "linux.seccomp.architectures[0]: unknown architecture `x86_64`");
        cr_assert_eq(compile_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":"
                                   "[\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_BOGUS\"]}",
                                   &m3),
                     -EINVAL);
        cr_assert_str_eq(m3, "linux.seccomp.flags[1]: unknown flag `SECCOMP_FILTER_FLAG_BOGUS`");
        cr_assert_eq(compile_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
                                   "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                                   &m4),
                     -EINVAL);
        cr_assert_str_eq(m4, "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY requires "
                             "`linux.seccomp.listenerPath`");
        cr_assert_eq(compile_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
                                   "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
                                   "\"errnoRet\":70000}]}",
                                   &m5),
                     -EINVAL);
        cr_assert_str_eq(m5, "linux.seccomp.syscalls[0]: errnoRet 70000 is out of range "
                             "(0-65535)");
        _cleanup_free_ char *m6 = NULL;
        cr_assert_eq(compile_error("{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":"
                                   "\"/run/seccomp.sock\"}",
                                   &m6),
                     -ENOTSUP);
        cr_assert_not_null(strstr(m6, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY"), "%s", m6);
}

Test(seccomp, compiles_multi_arch_profile_and_skips_unknown_names)
{
        char *msg = NULL;
        int r = compile_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":"
                              "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\","
                              "\"SCMP_ARCH_AARCH64\"],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
                              "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\",\"SECCOMP_FILTER_FLAG_TSYNC\"],"
                              "\"syscalls\":[{\"names\":[\"read\",\"write\",\"futex_waitv_2099\"],"
                              "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"ptrace\"],"
                              "\"action\":\"SCMP_ACT_ERRNO\"},{\"names\":[\"kexec_load\"],"
                              "\"action\":\"SCMP_ACT_KILL_PROCESS\"},{\"names\":[\"acct\"],"
                              "\"action\":\"SCMP_ACT_LOG\"},{\"names\":[\"uselib\"],"
                              "\"action\":\"SCMP_ACT_TRAP\"},{\"names\":[\"personality\"],"
                              "\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":5}]}",
                              &msg);
        cr_assert_eq(r, 0, "%s", msg ? msg : "");
        free(msg);
}

Test(seccomp, load_without_nnp_needs_cap_sys_admin)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
        _cleanup_spec_ struct skiff_spec *spec = spec_with_seccomp(
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
            "\"action\":\"SCMP_ACT_ERRNO\"}]}");
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                /* With CAP_SYS_ADMIN and without no_new_privs the load works... */
                if (fork() == 0)
                        _exit(skiff_seccomp_load(&spec->linux_.seccomp, NULL) < 0 ? 1 : 0);
                int st = 0;
                if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        _exit(5);
                /* ...and without CAP_SYS_ADMIN it needs no_new_privs. */
                struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
                struct __user_cap_data_struct data[2] = {{0}};
                if (syscall(SYS_capset, &hdr, data) < 0)
                        _exit(1);
                skiff_err_t err = NULL;
                int r = skiff_seccomp_load(&spec->linux_.seccomp, &err);
                if (r != -EACCES || !strstr(skiff_error_msg(err), "no_new_privs"))
                        _exit(2);
                skiff_error_free(&err);
                /* With no_new_privs it works without capabilities. */
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(3);
                if (skiff_seccomp_load(&spec->linux_.seccomp, NULL) < 0)
                        _exit(4);
                _exit(0);
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status));
        cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
}
