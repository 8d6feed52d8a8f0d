#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "oci/caps.h"
#include "oci/spec.h"

#define BIT(c) (UINT64_C(1) << (c))

Test(caps, plan_from_names)
{
        char *bounding[] = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", NULL};
        char *effective[] = {"CAP_KILL", NULL};
        char *ambient[] = {"CAP_NET_BIND_SERVICE", NULL};
        struct skiff_spec_caps c = {
            .bounding = bounding,
            .effective = effective,
            .permitted = bounding,
            .ambient = ambient,
        };
        struct skiff_caps_plan p;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_caps_plan_from_spec(&c, &p, &err), 0, "%s", skiff_error_msg(err));
        uint64_t want =
            BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SYS_ADMIN);
        cr_assert_eq(p.bounding, want);
        cr_assert_eq(p.permitted, want);
        cr_assert_eq(p.effective, BIT(CAP_KILL));
        cr_assert_eq(p.inheritable, 0);
        cr_assert_eq(p.ambient, BIT(CAP_NET_BIND_SERVICE));
}

Test(caps, unknown_name_names_the_set)
{
        char *good[] = {"CAP_CHOWN", NULL};
        char *bad[] = {"CAP_CHOWN", "CAP_FOO", NULL};
        char *numeric[] = {"5", NULL};
        struct skiff_caps_plan p;
        _cleanup_error_ skiff_err_t err = NULL;

        struct skiff_spec_caps c1 = {.bounding = bad, .effective = good};
        cr_assert_eq(skiff_caps_plan_from_spec(&c1, &p, &err), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(err),
                         "process.capabilities.bounding: unknown capability `CAP_FOO`");
        struct skiff_spec_caps c2 = {.bounding = good, .ambient = bad};
        cr_assert_eq(skiff_caps_plan_from_spec(&c2, &p, &err), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(err),
                         "process.capabilities.ambient: unknown capability `CAP_FOO`");
        struct skiff_spec_caps c3 = {.inheritable = numeric};
        cr_assert_eq(skiff_caps_plan_from_spec(&c3, &p, &err), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(err),
                         "process.capabilities.inheritable: unknown capability `5`");
}

Test(caps, last_cap_matches_proc)
{
        unsigned last = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_caps_last_cap(&last, &err), 0, "%s", skiff_error_msg(err));
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (skiff_fs_read_file("/proc/sys/kernel/cap_last_cap", 32, &buf, &len, NULL) < 0)
                cr_skip_test("no /proc/sys/kernel/cap_last_cap");
        cr_assert_eq(last, (unsigned)strtoul(buf, NULL, 10));
        cr_assert_geq(last, CAP_AUDIT_READ);
}

static void current_caps(struct skiff_caps_plan *p)
{
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        cr_assert_eq(syscall(SYS_capget, &hdr, d), 0);
        p->effective = d[0].effective | (uint64_t)d[1].effective << 32;
        p->permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
        p->inheritable = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
        p->bounding = 0;
        for (unsigned c = 0; c < 64; c++)
                if (prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) == 1)
                        p->bounding |= BIT(c);
        p->ambient = 0;
}

/* Value of a hex "Cap*:" line of /proc/self/status. */
static uint64_t status_caps(const char *key)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return UINT64_MAX;
        char line[256];
        size_t klen = strlen(key);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':')
                        return strtoull(line + klen + 1, NULL, 16);
        return UINT64_MAX;
}

static char *temp_file(void)
{
        char *path = xstrdup("/tmp/skiff-test-caps-XXXXXX");
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        close(fd);
        return path;
}

static void wait_ok(pid_t pid)
{
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died with status %#x", status);
        cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
}

static void require_root(void)
{
        struct skiff_caps_plan cur;
        current_caps(&cur);
        if (geteuid() != 0 || !(cur.effective & BIT(CAP_CHOWN)) ||
            !(cur.effective & BIT(CAP_SETPCAP)))
                cr_skip_test("needs root with CAP_CHOWN and CAP_SETPCAP");
}

Test(caps, dropping_chown_makes_chown_fail)
{
        require_root();
        _cleanup_free_ char *file = temp_file();
        /* Control: with CAP_CHOWN the chown works. */
        cr_assert_eq(chown(file, 1, 1), 0);
        cr_assert_eq(chown(file, 0, 0), 0);

        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct skiff_caps_plan p;
                current_caps(&p);
                p.bounding &= ~BIT(CAP_CHOWN);
                p.effective &= ~BIT(CAP_CHOWN);
                p.permitted &= ~BIT(CAP_CHOWN);
                p.inheritable &= ~BIT(CAP_CHOWN);
                if (skiff_caps_drop_bounding(&p, NULL) < 0)
                        _exit(1);
                if (skiff_caps_apply(&p, NULL) < 0)
                        _exit(2);
                if (chown(file, 1, 1) == 0 || errno != EPERM)
                        _exit(3);
                if (status_caps("CapBnd") & BIT(CAP_CHOWN))
                        _exit(4);
                if (status_caps("CapEff") & BIT(CAP_CHOWN))
                        _exit(5);
                if (!(status_caps("CapEff") & BIT(CAP_KILL)))
                        _exit(6); /* other capabilities are kept */
                _exit(0);
        }
        wait_ok(pid);
        struct stat st;
        cr_assert_eq(stat(file, &st), 0);
        cr_assert_eq(st.st_uid, 0);
        cr_assert_eq(unlink(file), 0);
}

Test(caps, ambient_raise_and_its_error)
{
        require_root();
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct skiff_caps_plan p;
                current_caps(&p);
                /* Ambient needs the cap in inheritable: without it, EPERM naming it. */
                p.inheritable = 0;
                p.ambient = BIT(CAP_NET_BIND_SERVICE);
                skiff_err_t err = NULL;
                if (skiff_caps_apply(&p, &err) != -EPERM)
                        _exit(1);
                if (strcmp(skiff_error_msg(err), "raise ambient capability "
                                                 "`CAP_NET_BIND_SERVICE`: Operation not "
                                                 "permitted") != 0)
                        _exit(2);
                skiff_error_free(&err);
                p.inheritable = BIT(CAP_NET_BIND_SERVICE);
                if (skiff_caps_apply(&p, NULL) < 0)
                        _exit(3);
                if (status_caps("CapAmb") != BIT(CAP_NET_BIND_SERVICE))
                        _exit(4);
                if (status_caps("CapInh") != BIT(CAP_NET_BIND_SERVICE))
                        _exit(5);
                _exit(0);
        }
        wait_ok(pid);
}

Test(caps, documented_order_keeps_caps_across_setuid)
{
        require_root();
        _cleanup_free_ char *file = temp_file();
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct skiff_caps_plan p = {
                    .bounding = BIT(CAP_CHOWN) | BIT(CAP_SETUID) | BIT(CAP_SETGID),
                    .effective = BIT(CAP_CHOWN),
                    .permitted = BIT(CAP_CHOWN),
                };
                if (skiff_caps_drop_bounding(&p, NULL) < 0)
                        _exit(1);
                if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        _exit(2);
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                        _exit(4);
                if (skiff_caps_apply(&p, NULL) < 0)
                        _exit(5);
                if (chown(file, 1, 1) < 0) /* CAP_CHOWN survived the uid change */
                        _exit(6);
                if (status_caps("CapPrm") != BIT(CAP_CHOWN))
                        _exit(7);
                _exit(0);
        }
        wait_ok(pid);
        struct stat st;
        cr_assert_eq(stat(file, &st), 0);
        cr_assert_eq(st.st_uid, 1);
        cr_assert_eq(unlink(file), 0);
}
