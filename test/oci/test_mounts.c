#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "oci/container.h"
#include "oci/mounts.h"
#include "oci/spec.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

/* --- option table ------------------------------------------------------------------------- */

Test(mounts, opts_flags)
{
        struct skiff_mount_opts o;
        skiff_mount_opts_parse((char *[]){"ro", "nosuid", "nodev", "noexec", "relatime", "dirsync",
                                          "sync", "mand", "noatime", "nodiratime", "strictatime",
                                          "remount", NULL},
                               &o);
        cr_assert_eq(o.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME |
                                  MS_DIRSYNC | MS_SYNCHRONOUS | MS_MANDLOCK | MS_NOATIME |
                                  MS_NODIRATIME | MS_STRICTATIME | MS_REMOUNT);
        cr_assert_eq(o.clear, 0);
        cr_assert_null(o.data);
        cr_assert(!o.bind);
        skiff_mount_opts_clear(&o);

        /* Later options override earlier ones; the "off" spelling is remembered in clear. */
        skiff_mount_opts_parse((char *[]){"ro", "nosuid", "rw", "suid", "dev", "exec", "async",
                                          "nomand", "atime", "diratime", "norelatime",
                                          "nostrictatime", NULL},
                               &o);
        cr_assert_eq(o.flags, 0);
        cr_assert_eq(o.clear, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS |
                                  MS_MANDLOCK | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
                                  MS_STRICTATIME);
        skiff_mount_opts_clear(&o);

        skiff_mount_opts_parse((char *[]){"rw", "ro", NULL}, &o);
        cr_assert_eq(o.flags, MS_RDONLY);
        cr_assert_eq(o.clear, 0);
        skiff_mount_opts_clear(&o);

        skiff_mount_opts_parse(NULL, &o);
        cr_assert_eq(o.flags, 0);
        cr_assert_null(o.data);
        skiff_mount_opts_clear(&o);
}

Test(mounts, opts_propagation_and_bind)
{
        static const struct {
                const char *name;
                unsigned long want;
        } cases[] = {
            {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
            {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
            {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
            {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                struct skiff_mount_opts o;
                skiff_mount_opts_parse((char *[]){(char *)cases[i].name, NULL}, &o);
                cr_assert_eq(o.propagation, cases[i].want, "%s", cases[i].name);
                cr_assert_eq(o.flags, 0, "%s", cases[i].name);
                cr_assert_null(o.data, "%s", cases[i].name);
                skiff_mount_opts_clear(&o);
        }
        struct skiff_mount_opts o;
        skiff_mount_opts_parse((char *[]){"private", "rslave", NULL}, &o);
        cr_assert_eq(o.propagation, MS_SLAVE | MS_REC);
        skiff_mount_opts_clear(&o);

        skiff_mount_opts_parse((char *[]){"bind", "ro", NULL}, &o);
        cr_assert(o.bind);
        cr_assert(!o.recursive);
        cr_assert_eq(o.flags, MS_RDONLY);
        skiff_mount_opts_clear(&o);

        skiff_mount_opts_parse((char *[]){"rbind", NULL}, &o);
        cr_assert(o.bind);
        cr_assert(o.recursive);
        cr_assert_eq(o.flags, 0, "bind is not carried in flags");
        skiff_mount_opts_clear(&o);
}

Test(mounts, opts_data_and_special)
{
        struct skiff_mount_opts o;
        skiff_mount_opts_parse((char *[]){"mode=755", "nosuid", "size=65536k", "", "defaults",
                                          "newinstance", "tmpcopyup", "ptmxmode=0666", NULL},
                               &o);
        cr_assert_str_eq(o.data, "mode=755,size=65536k,newinstance,ptmxmode=0666");
        cr_assert_eq(o.flags, MS_NOSUID);
        cr_assert_null(o.unsupported);
        skiff_mount_opts_clear(&o);
        cr_assert_null(o.data);

        skiff_mount_opts_parse((char *[]){"ro", "idmap", "ridmap", NULL}, &o);
        cr_assert_str_eq(o.unsupported, "idmap");
        cr_assert_null(o.data);
        skiff_mount_opts_clear(&o);

        skiff_mount_opts_parse((char *[]){"rro", "rnosuid", "rnoatime", NULL}, &o);
        cr_assert_eq(o.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
        cr_assert_eq(o.attr_clr, MOUNT_ATTR__ATIME & ~MOUNT_ATTR_NOATIME);
        cr_assert_eq(o.flags, 0);
        skiff_mount_opts_clear(&o);

        skiff_mount_opts_parse((char *[]){"rro", "rrw", NULL}, &o);
        cr_assert_eq(o.attr_set, 0);
        cr_assert_eq(o.attr_clr, MOUNT_ATTR_RDONLY);
        skiff_mount_opts_clear(&o);
}

/* --- helpers for the mount tests ---------------------------------------------------------- */

static void need_root(void)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
}

/* A private mount namespace for this test process (criterion forks one per test). */
static void private_ns(void)
{
        need_root();
        if (unshare(CLONE_NEWNS) < 0)
                cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(errno));
        cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
}

static char *make_tmp(void)
{
        char tmpl[] = "/tmp/skiff-mnt-XXXXXX";
        cr_assert_not_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static void mkdirs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirs(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *p = xvasprintf(fmt, ap);
        va_end(ap);
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, NULL), 0, "mkdir %s", p);
}

static void write_file(const char *path, const char *s)
{
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "fopen %s", path);
        fputs(s, f);
        fclose(f);
}

/* Number of mount points at or below prefix in this namespace. */
static int mounts_under(const char *prefix)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_fs_read_file("/proc/self/mountinfo", 1u << 24, &buf, &len, NULL), 0);
        int n = 0;
        size_t pl = strlen(prefix);
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char mp[4096];
                if (sscanf(l, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, prefix, pl) == 0 &&
                    (mp[pl] == '/' || mp[pl] == '\0'))
                        n++;
        }
        return n;
}

static bool file_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool file_exists(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *p = xvasprintf(fmt, ap);
        va_end(ap);
        return access(p, F_OK) == 0;
}

/* --- rootfs mounts (host side) ------------------------------------------------------------ */

Test(mounts, rootfs_bind_and_sub_target)
{
        private_ns();
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *src = xasprintf("%s/src", tmp);
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        _cleanup_free_ char *hello = xasprintf("%s/hello", src);
        mkdirs("%s", src);
        mkdirs("%s", root);
        write_file(hello, "hi");

        struct skiff_rootfs_mount m[] = {
            {.type = "bind", .source = src, .options = (char *[]){"rbind", "ro", NULL}},
            {.type = "tmpfs",
             .source = "tmpfs",
             .target = "/sub/dir",
             .options = (char *[]){"size=1m", NULL}},
        };
        _cleanup_error_ skiff_err_t err = NULL;
        /* The read-only bind is mounted first, so sub/dir cannot be created in it. */
        int r = skiff_mounts_rootfs_mount(root, m, 2, &err);
        cr_assert_lt(r, 0);
        cr_assert(strstr(skiff_error_msg(err), "mount rootfs[1]: "), "%s", skiff_error_msg(err));
        cr_assert_eq(mounts_under(root), 0, "rollback left mounts");

        mkdirs("%s/sub/dir", src);
        skiff_error_free(&err);
        r = skiff_mounts_rootfs_mount(root, m, 2, &err);
        cr_assert_eq(r, 0, "%s", skiff_error_msg(err));
        cr_assert(file_exists("%s/hello", root));
        cr_assert_eq(mounts_under(root), 2);
        struct statfs sfs;
        _cleanup_free_ char *sub = xasprintf("%s/sub/dir", root);
        cr_assert_eq(statfs(sub, &sfs), 0);
        cr_assert_eq(sfs.f_type, TMPFS_MAGIC);
        _cleanup_free_ char *nf = xasprintf("%s/new", root);
        cr_assert_lt(open(nf, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), 0);
        cr_assert_eq(errno, EROFS);

        cr_assert_eq(skiff_mounts_rootfs_umount(root, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(mounts_under(root), 0);
        cr_assert(!file_exists("%s/hello", root));
        cr_assert_eq(skiff_mounts_rootfs_umount(root, &err), 0, "second umount is a no-op");
        _cleanup_free_ char *missing = xasprintf("%s/missing", tmp);
        cr_assert_eq(skiff_mounts_rootfs_umount(missing, &err), 0);
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

Test(mounts, rootfs_overlay_long_lowerdir)
{
        private_ns();
        _cleanup_free_ char *tmp = make_tmp();
        /* A long common parent, like containerd's snapshotter root. */
        _cleanup_free_ char *snap =
            xasprintf("%s/io.containerd.snapshotter.v1.overlayfs-with-a-rather-long-directory-name-"
                      "to-push-the-mount-data-beyond-one-page/snapshots",
                      tmp);
        enum { N = 100 };
        _cleanup_free_ char *lower = xstrdup("");
        for (int i = N; i >= 1; i--) {
                mkdirs("%s/%d/fs", snap, i);
                char *nl = xasprintf("%s%s%s/%d/fs", lower, lower[0] ? ":" : "", snap, i);
                free(lower);
                lower = nl;
        }
        _cleanup_free_ char *f1 = xasprintf("%s/1/fs/from-1", snap);
        _cleanup_free_ char *f100 = xasprintf("%s/%d/fs/from-100", snap, N);
        write_file(f1, "1");
        write_file(f100, "100");
        mkdirs("%s/upper/fs", snap);
        mkdirs("%s/upper/work", snap);
        _cleanup_free_ char *o_lower = xasprintf("lowerdir=%s", lower);
        _cleanup_free_ char *o_upper = xasprintf("upperdir=%s/upper/fs", snap);
        _cleanup_free_ char *o_work = xasprintf("workdir=%s/upper/work", snap);
        size_t total = strlen(o_lower) + strlen(o_upper) + strlen(o_work) + 10;
        cr_assert_gt(total, 4096, "the test must exceed a page (%zu)", total);
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        mkdirs("%s", root);

        char cwd_before[4096], cwd_after[4096];
        cr_assert_not_null(getcwd(cwd_before, sizeof(cwd_before)));
        struct skiff_rootfs_mount m = {
            .type = "overlay",
            .source = "overlay",
            .options = (char *[]){"index=off", o_work, o_upper, o_lower, NULL},
        };
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_mounts_rootfs_mount(root, &m, 1, &err);
        cr_assert_eq(r, 0, "%s", skiff_error_msg(err));
        cr_assert_not_null(getcwd(cwd_after, sizeof(cwd_after)));
        cr_assert_str_eq(cwd_before, cwd_after, "cwd changed");
        struct statfs sfs;
        cr_assert_eq(statfs(root, &sfs), 0);
        cr_assert_eq(sfs.f_type, OVERLAYFS_SUPER_MAGIC);
        cr_assert(file_exists("%s/from-1", root));
        cr_assert(file_exists("%s/from-100", root));
        _cleanup_free_ char *w = xasprintf("%s/written", root);
        write_file(w, "x");
        cr_assert(file_exists("%s/upper/fs/written", snap));

        cr_assert_eq(skiff_mounts_rootfs_umount(root, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(mounts_under(root), 0);
        cr_assert(!file_exists("%s/from-1", root));
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

Test(mounts, rootfs_unknown_type)
{
        private_ns();
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        mkdirs("%s/src", tmp);
        mkdirs("%s", root);
        _cleanup_free_ char *src = xasprintf("%s/src", tmp);
        struct skiff_rootfs_mount m[] = {
            {.type = "bind", .source = src, .options = (char *[]){"rbind", NULL}},
            {.type = "foofs", .source = "x", .options = NULL},
        };
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_mounts_rootfs_mount(root, m, 2, &err);
        cr_assert_eq(r, -EINVAL);
        cr_assert_str_eq(skiff_error_msg(err), "mount rootfs[1]: unknown mount type `foofs`");
        cr_assert_eq(mounts_under(root), 0, "the bind of rootfs[0] was not rolled back");

        skiff_error_free(&err);
        struct skiff_rootfs_mount idm = {
            .type = "bind", .source = src, .options = (char *[]){"rbind", "idmap", NULL}};
        cr_assert_eq(skiff_mounts_rootfs_mount(root, &idm, 1, &err), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(err), "mount rootfs[0]: option `idmap` is not supported");
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

/* --- full container rootfs ---------------------------------------------------------------- */

static const char *const applets[] = {"sh", "ls",   "cat", "mkdir", "touch",    "test",
                                      "[",  "grep", "wc",  "stat",  "readlink", "echo"};

static void make_busybox_rootfs(const char *root)
{
        mkdirs("%s/bin", root);
        mkdirs("%s/proc", root);
        mkdirs("%s/sys", root);
        mkdirs("%s/dev", root);
        mkdirs("%s/etc", root);
        _cleanup_free_ char *bb = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_fs_read_file("/bin/busybox", 64u << 20, &bb, &len, NULL), 0);
        _cleanup_free_ char *dst = xasprintf("%s/bin/busybox", root);
        _cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        cr_assert_geq(fd, 0);
        cr_assert_eq(skiff_fs_write_all(fd, bb, len), 0);
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(applets); i++) {
                _cleanup_free_ char *l = xasprintf("%s/bin/%s", root, applets[i]);
                cr_assert_eq(symlink("busybox", l), 0);
        }
}

static int report_fd = -1;

static void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(int code, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0)
                (void)!write(report_fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
        _exit(code);
}

#define CHECK(code, cond, ...)                                                                     \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        fail(code, __VA_ARGS__);                                                   \
        } while (0)

static void check_fs(int code, const char *path, long magic, bool ro)
{
        struct statfs sfs;
        struct statvfs sv;
        CHECK(code, statfs(path, &sfs) == 0 && statvfs(path, &sv) == 0, "statfs %s: %s", path,
              strerror(errno));
        CHECK(code, (long)sfs.f_type == magic, "%s: f_type 0x%lx, want 0x%lx", path,
              (long)sfs.f_type, magic);
        CHECK(code, !!(sv.f_flag & ST_RDONLY) == ro, "%s: read-only is %d, want %d", path,
              !!(sv.f_flag & ST_RDONLY), ro);
}

/* Runs in the container's pid 1 after setup_rootfs and finalize. */
static void container_checks(const char *tmp, bool cgroup_v2, const char *masked, bool acpi)
{
        char cwd[256];
        CHECK(20, getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0, "cwd is not /");
        CHECK(21, access("/bin/busybox", X_OK) == 0, "no /bin/busybox");
        _cleanup_free_ char *oldroot = xasprintf("%s/rootfs", tmp);
        CHECK(22, access(oldroot, F_OK) < 0 && errno == ENOENT, "old root still visible");

        /* read-only root */
        int fd = open("/newfile", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(23, fd < 0 && errno == EROFS, "writing / gave %s, want EROFS",
              fd < 0 ? strerror(errno) : "success");

        /* proc of the new pid namespace, masked and read-only paths */
        char self[32] = {0};
        CHECK(24, readlink("/proc/self", self, sizeof(self) - 1) > 0 && strcmp(self, "1") == 0,
              "/proc/self is `%s`, want 1", self);
        fd = open(masked, O_RDONLY | O_CLOEXEC);
        CHECK(25, fd >= 0, "open %s: %s", masked, strerror(errno));
        char b[16];
        ssize_t n = read(fd, b, sizeof(b));
        close(fd);
        CHECK(25, n == 0, "masked %s: read %zd bytes, want 0", masked, n);
        if (acpi) {
                check_fs(25, "/proc/acpi", TMPFS_MAGIC, true);
                CHECK(25, mkdir("/proc/acpi/x", 0755) < 0 && errno == EROFS, "/proc/acpi writable");
        }
        fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        CHECK(26, fd < 0 && errno == EROFS, "writing /proc/sys gave %s, want EROFS",
              fd < 0 ? strerror(errno) : "success");
        check_fs(27, "/proc", PROC_SUPER_MAGIC, false);

        /* /dev */
        struct stat st;
        CHECK(30,
              stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) &&
                  (st.st_mode & 07777) == 0666,
              "bad /dev/null");
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        CHECK(30, fd >= 0 && write(fd, "x", 1) == 1, "write /dev/null");
        close(fd);
        static const char *const names[] = {"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                                            "/dev/tty"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(names); i++)
                CHECK(31, stat(names[i], &st) == 0 && S_ISCHR(st.st_mode), "bad %s", names[i]);
        CHECK(32,
              stat("/dev/mydev", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 5) &&
                  (st.st_mode & 07777) == 0640 && st.st_uid == 1000 && st.st_gid == 1001,
              "bad /dev/mydev mode %o uid %u gid %u", st.st_mode, st.st_uid, st.st_gid);
        CHECK(33, stat("/dev/fifo", &st) == 0 && S_ISFIFO(st.st_mode), "bad /dev/fifo");
        char l[64] = {0};
        CHECK(34, readlink("/dev/ptmx", l, sizeof(l) - 1) > 0 && strcmp(l, "pts/ptmx") == 0,
              "/dev/ptmx -> `%s`", l);
        memset(l, 0, sizeof(l));
        CHECK(34, readlink("/dev/fd", l, sizeof(l) - 1) > 0 && strcmp(l, "/proc/self/fd") == 0,
              "/dev/fd -> `%s`", l);
        memset(l, 0, sizeof(l));
        CHECK(34,
              readlink("/dev/stderr", l, sizeof(l) - 1) > 0 && strcmp(l, "/proc/self/fd/2") == 0,
              "/dev/stderr -> `%s`", l);
        check_fs(35, "/dev", TMPFS_MAGIC, false);
        check_fs(35, "/dev/pts", DEVPTS_SUPER_MAGIC, false);
        check_fs(35, "/dev/mqueue", MQUEUE_MAGIC, false);
        check_fs(35, "/dev/shm", TMPFS_MAGIC, false);
        CHECK(36, access("/dev/pts/ptmx", F_OK) == 0, "no /dev/pts/ptmx");

        /* sysfs, cgroups */
        check_fs(40, "/sys", SYSFS_MAGIC, true);
        if (cgroup_v2) {
                check_fs(41, "/sys/fs/cgroup", CGROUP2_SUPER_MAGIC, true);
                CHECK(41, access("/sys/fs/cgroup/cgroup.procs", F_OK) == 0, "no cgroup.procs");
        } else {
                check_fs(41, "/sys/fs/cgroup", TMPFS_MAGIC, true);
                check_fs(42, "/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC, true);
                CHECK(42, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0,
                      "no memory.limit_in_bytes");
                CHECK(42, access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) == 0,
                      "no pids/cgroup.procs");
        }

        /* tmpfs and binds */
        check_fs(50, "/tmp", TMPFS_MAGIC, false);
        fd = open("/tmp/ok", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(50, fd >= 0, "create /tmp/ok: %s", strerror(errno));
        close(fd);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        CHECK(51,
              skiff_fs_read_file("/mnt/host/data", 4096, &data, &len, NULL) == 0 &&
                  strcmp(data, "from-host") == 0,
              "bad /mnt/host/data");
        struct statvfs sv;
        CHECK(51,
              statvfs("/mnt/host", &sv) == 0 && (sv.f_flag & ST_RDONLY) && (sv.f_flag & ST_NOSUID),
              "/mnt/host not ro,nosuid");
        CHECK(52, stat("/etc/hostfile", &st) == 0 && S_ISREG(st.st_mode), "no /etc/hostfile");
        free(data);
        data = NULL;
        CHECK(52,
              skiff_fs_read_file("/etc/hostfile", 4096, &data, &len, NULL) == 0 &&
                  strcmp(data, "file") == 0,
              "bad /etc/hostfile");
        /* /evil -> <tmp>/outside (absolute): the mount landed inside the rootfs. */
        _cleanup_free_ char *inside = xasprintf("%s/outside/sub", tmp);
        check_fs(53, inside, TMPFS_MAGIC, false);

        /* busybox sees the same world */
        pid_t pid = fork();
        CHECK(60, pid >= 0, "fork");
        if (pid == 0) {
                char *script = xasprintf(
                    "set -e; grep -q from-host /mnt/host/data; test -c /dev/null; "
                    "test \"$(cat %s | wc -c)\" = 0; ! touch /nope 2>/dev/null; "
                    "echo hi > /tmp/sh; test \"$(cat /tmp/sh)\" = hi; ls /dev/pts >/dev/null",
                    masked);
                execl("/bin/sh", "sh", "-c", script, (char *)NULL);
                _exit(127);
        }
        int ws = 0;
        CHECK(60, waitpid(pid, &ws, 0) == pid, "waitpid");
        CHECK(61, WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "busybox sh checks failed (status 0x%x)",
              ws);
}

/* Runs setup_rootfs + finalize + checks as pid 1 of fresh namespaces (unshare_flags) in a
 * grandchild; asserts that everything passed. */
static void run_container(const struct skiff_spec *spec, const char *root, int unshare_flags,
                          void (*checks)(void *), void *arg)
{
        int pfd[2];
        cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                close(pfd[0]);
                report_fd = pfd[1];
                CHECK(2, unshare(unshare_flags) == 0, "unshare: %s", strerror(errno));
                pid_t init = fork();
                CHECK(2, init >= 0, "fork");
                if (init == 0) {
                        skiff_err_t err = NULL;
                        if (skiff_mounts_setup_rootfs(spec, root, &err) < 0)
                                fail(3, "setup_rootfs: %s", skiff_error_msg(err));
                        if (skiff_mounts_finalize(spec, &err) < 0)
                                fail(4, "finalize: %s", skiff_error_msg(err));
                        checks(arg);
                        _exit(0);
                }
                int ws = 0;
                CHECK(2, waitpid(init, &ws, 0) == init, "waitpid");
                _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 100 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0));
        }
        close(pfd[1]);
        char msg[1024] = {0};
        (void)!read(pfd[0], msg, sizeof(msg) - 1);
        close(pfd[0]);
        int ws = 0;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert(WIFEXITED(ws), "child died: 0x%x", ws);
        cr_assert_eq(WEXITSTATUS(ws), 0, "container check %d failed: %s", WEXITSTATUS(ws), msg);
}

struct full_ctx {
        const char *tmp;
        bool cgroup_v2;
        const char *masked;
        bool acpi;
};

static void full_checks(void *arg)
{
        struct full_ctx *c = arg;
        container_checks(c->tmp, c->cgroup_v2, c->masked, c->acpi);
}

Test(mounts, setup_rootfs_full)
{
        need_root();
        if (access("/bin/busybox", X_OK) < 0)
                cr_skip_test("needs /bin/busybox (busybox-static)");
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        make_busybox_rootfs(root);
        mkdirs("%s/hostdir", tmp);
        _cleanup_free_ char *hostdir = xasprintf("%s/hostdir", tmp);
        _cleanup_free_ char *hostdata = xasprintf("%s/hostdir/data", tmp);
        _cleanup_free_ char *hostfile = xasprintf("%s/hostfile", tmp);
        write_file(hostdata, "from-host");
        write_file(hostfile, "file");
        _cleanup_free_ char *evil = xasprintf("%s/evil", root);
        _cleanup_free_ char *outside = xasprintf("%s/outside", tmp);
        cr_assert_eq(symlink(outside, evil), 0);

        struct statfs sfs;
        cr_assert_eq(statfs("/sys/fs/cgroup", &sfs), 0);
        bool cgroup_v2 = sfs.f_type == CGROUP2_SUPER_MAGIC;
        /* /proc/kcore is the classic masked path; kernels without it get another one that
         * has content when not masked. */
        const char *masked = NULL;
        static const char *const candidates[] = {"/proc/kcore", "/proc/timer_list", "/proc/keys"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(candidates) && !masked; i++)
                if (access(candidates[i], F_OK) == 0)
                        masked = candidates[i];
        if (!masked)
                cr_skip_test("no maskable /proc file");
        bool acpi = access("/proc/acpi", F_OK) == 0;

        struct skiff_spec_mount mounts[] = {
            {"/proc", "proc", "proc", (char *[]){"nosuid", "noexec", "nodev", NULL}},
            {"/dev", "tmpfs", "tmpfs",
             (char *[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL}},
            {"/dev/pts", "devpts", "devpts",
             (char *[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL}},
            {"/dev/shm", "tmpfs", "shm",
             (char *[]){"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}},
            {"/dev/mqueue", "mqueue", "mqueue", (char *[]){"nosuid", "noexec", "nodev", NULL}},
            {"/sys", "sysfs", "sysfs", (char *[]){"nosuid", "noexec", "nodev", "ro", NULL}},
            {"/sys/fs/cgroup", "cgroup", "cgroup",
             (char *[]){"nosuid", "noexec", "nodev", "relatime", "ro", NULL}},
            {"/tmp", "tmpfs", "tmpfs", (char *[]){"nosuid", "nodev", "mode=1777", NULL}},
            {"/mnt/host", "bind", hostdir, (char *[]){"rbind", "ro", "nosuid", NULL}},
            {"/etc/hostfile", NULL, hostfile, (char *[]){"bind", "ro", NULL}},
            {"/evil/sub", "tmpfs", "tmpfs", NULL},
        };
        struct skiff_spec_device devices[] = {
            {.path = "/dev/mydev",
             .type = 'c',
             .major = 1,
             .minor = 5,
             .has_file_mode = true,
             .file_mode = 0640,
             .has_uid = true,
             .uid = 1000,
             .has_gid = true,
             .gid = 1001},
            {.path = "/dev/fifo", .type = 'p'},
        };
        struct skiff_spec_namespace nss[] = {{SKIFF_NS_MOUNT, NULL}, {SKIFF_NS_PID, NULL}};
        struct skiff_spec spec = {
            .root_path = root,
            .root_readonly = true,
            .mounts = mounts,
            .n_mounts = SKIFF_ARRAY_SIZE(mounts),
            .linux_ =
                {
                    .namespaces = nss,
                    .n_namespaces = SKIFF_ARRAY_SIZE(nss),
                    .devices = devices,
                    .n_devices = SKIFF_ARRAY_SIZE(devices),
                    .rootfs_propagation = "rslave",
                    .masked_paths =
                        (char *[]){(char *)masked, "/proc/acpi", "/proc/does-not-exist", NULL},
                    .readonly_paths = (char *[]){"/proc/sys", "/proc/sysrq-trigger", NULL},
                },
        };

        struct full_ctx ctx = {tmp, cgroup_v2, masked, acpi};
        run_container(&spec, root, CLONE_NEWNS | CLONE_NEWPID, full_checks, &ctx);
        /* Nothing followed /evil out of the rootfs on the host. */
        cr_assert(!file_exists("%s", outside), "mount followed a symlink out of the rootfs");
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

Test(mounts, setup_rootfs_error_names_mount)
{
        need_root();
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        mkdirs("%s", root);
        struct skiff_spec_mount mounts[] = {
            {"/data", "bind", "/nonexistent-skiff-source", (char *[]){"rbind", NULL}},
        };
        struct skiff_spec spec = {.mounts = mounts, .n_mounts = 1};
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0)
                        _exit(2);
                skiff_err_t err = NULL;
                int r = skiff_mounts_setup_rootfs(&spec, root, &err);
                const char *want = "mount `/nonexistent-skiff-source` on `/data`: stat source "
                                   "`/nonexistent-skiff-source`: No such file or directory";
                _exit(r == -ENOENT && strcmp(skiff_error_msg(err), want) == 0 ? 0 : 1);
        }
        int ws = 0;
        cr_assert_eq(waitpid(pid, &ws, 0), pid);
        cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "status 0x%x", ws);
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

static void cgns_checks(void *arg)
{
        bool cgroup_v2 = *(bool *)arg;
        if (cgroup_v2) {
                check_fs(70, "/sys/fs/cgroup", CGROUP2_SUPER_MAGIC, true);
        } else {
                check_fs(70, "/sys/fs/cgroup", TMPFS_MAGIC, true);
                check_fs(71, "/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC, true);
                check_fs(71, "/sys/fs/cgroup/systemd", CGROUP_SUPER_MAGIC, true);
                CHECK(71, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0,
                      "no memory.limit_in_bytes");
        }
        /* /dev was not a spec mount: the default nodes were created in the rootfs itself. */
        struct stat st;
        CHECK(72, stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "no /dev/null");
        /* rootfsPropagation "rshared" is applied to the new root after pivot_root. */
        _cleanup_free_ char *mi = NULL;
        size_t len = 0;
        CHECK(73, skiff_fs_read_file("/proc/self/mountinfo", 1u << 20, &mi, &len, NULL) == 0,
              "read mountinfo");
        bool shared = false;
        char *save = NULL;
        for (char *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char mp[256], rest[1024];
                if (sscanf(l, "%*s %*s %*s %*s %255s %*s %1023[^\n]", mp, rest) == 2 &&
                    strcmp(mp, "/") == 0)
                        shared = strstr(rest, "shared:") != NULL;
        }
        CHECK(73, shared, "/ is not shared");
        int fd = open("/written", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(74, fd >= 0, "root.readonly is false, but creating /written: %s", strerror(errno));
        close(fd);
}

Test(mounts, setup_rootfs_cgroupns_rshared)
{
        need_root();
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        mkdirs("%s/proc", root);
        mkdirs("%s/sys", root);
        struct statfs sfs;
        cr_assert_eq(statfs("/sys/fs/cgroup", &sfs), 0);
        bool cgroup_v2 = sfs.f_type == CGROUP2_SUPER_MAGIC;
        struct skiff_spec_mount mounts[] = {
            {"/proc", "proc", "proc", NULL},
            {"/sys", "sysfs", "sysfs", (char *[]){"nosuid", "noexec", "nodev", "ro", NULL}},
            {"/sys/fs/cgroup", "cgroup", "cgroup", (char *[]){"nosuid", "ro", NULL}},
        };
        struct skiff_spec_namespace nss[] = {
            {SKIFF_NS_MOUNT, NULL}, {SKIFF_NS_PID, NULL}, {SKIFF_NS_CGROUP, NULL}};
        struct skiff_spec spec = {
            .mounts = mounts,
            .n_mounts = SKIFF_ARRAY_SIZE(mounts),
            .linux_ = {.namespaces = nss,
                       .n_namespaces = SKIFF_ARRAY_SIZE(nss),
                       .rootfs_propagation = "rshared"},
        };
        run_container(&spec, root, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP, cgns_checks,
                      &cgroup_v2);
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

Test(mounts, setup_rootfs_bad_propagation)
{
        need_root();
        struct skiff_spec spec = {.linux_ = {.rootfs_propagation = "sideways"}};
        _cleanup_error_ skiff_err_t err = NULL;
        /* Checked before anything is mounted, so this is safe in the test process. */
        cr_assert_eq(skiff_mounts_setup_rootfs(&spec, "/nonexistent", &err), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(err),
                         "`linux.rootfsPropagation`: unknown value `sideways`");
}

/* --- read-only binds and propagation ------------------------------------------------------ */

Test(mounts, rootfs_rbind_ro_top_only_rro_recursive)
{
        private_ns();
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *src = xasprintf("%s/src", tmp);
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        _cleanup_free_ char *sub = xasprintf("%s/src/sub", tmp);
        mkdirs("%s", sub);
        mkdirs("%s", root);
        cr_assert_eq(mount("tmpfs", sub, "tmpfs", 0, "size=1m"), 0);

        /* "ro" on an rbind: the top mount only (OCI/runc; CRI non-recursive read-only). */
        struct skiff_rootfs_mount m = {
            .type = "bind", .source = src, .options = (char *[]){"rbind", "ro", NULL}};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_mounts_rootfs_mount(root, &m, 1, &err), 0, "%s", skiff_error_msg(err));
        _cleanup_free_ char *top = xasprintf("%s/top", root);
        _cleanup_free_ char *below = xasprintf("%s/sub/below", root);
        cr_assert_lt(open(top, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), 0);
        cr_assert_eq(errno, EROFS);
        int fd = open(below, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0, "the submount became read-only: %s", strerror(errno));
        close(fd);
        cr_assert_eq(skiff_mounts_rootfs_umount(root, &err), 0, "%s", skiff_error_msg(err));

        /* "rro": the whole tree (mount_setattr, Linux >= 5.12). */
        struct skiff_rootfs_mount mr = {
            .type = "bind", .source = src, .options = (char *[]){"rbind", "ro", "rro", NULL}};
        int r = skiff_mounts_rootfs_mount(root, &mr, 1, &err);
        if (r == -ENOSYS)
                cr_skip_test("no mount_setattr");
        cr_assert_eq(r, 0, "%s", skiff_error_msg(err));
        _cleanup_free_ char *below2 = xasprintf("%s/sub/below2", root);
        cr_assert_lt(open(below2, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), 0);
        cr_assert_eq(errno, EROFS);
        cr_assert_eq(skiff_mounts_rootfs_umount(root, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(umount2(sub, MNT_DETACH), 0);
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}

/* Peer group ("shared:N") of the mount at mp in this namespace's mountinfo, 0 if none. */
static int shared_group_of(const char *mp)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (skiff_fs_read_file("/proc/self/mountinfo", 1u << 24, &buf, &len, NULL) < 0)
                return -1;
        int id = 0;
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char p[4096], rest[4096];
                if (sscanf(l, "%*s %*s %*s %*s %4095s %*s %4095[^\n]", p, rest) != 2 ||
                    strcmp(p, mp) != 0)
                        continue;
                const char *s = strstr(rest, "shared:");
                id = s ? atoi(s + 7) : 0; /* the last (topmost) mount at mp wins */
        }
        return id;
}

static void peer_checks(void *arg)
{
        int want = *(int *)arg;
        int got = shared_group_of("/mnt/vol");
        CHECK(80, got == want, "/mnt/vol is in peer group %d, not the host path's %d", got, want);
}

Test(mounts, setup_rootfs_rshared_bind_stays_peer_of_host)
{
        private_ns();
        _cleanup_free_ char *tmp = make_tmp();
        _cleanup_free_ char *root = xasprintf("%s/rootfs", tmp);
        _cleanup_free_ char *vol = xasprintf("%s/vol", tmp);
        mkdirs("%s/proc", root);
        mkdirs("%s", vol);
        /* A shared host path, like the one of a Bidirectional volume. */
        cr_assert_eq(mount(vol, vol, NULL, MS_BIND | MS_REC, NULL), 0);
        cr_assert_eq(mount(NULL, vol, NULL, MS_SHARED | MS_REC, NULL), 0);
        int group = shared_group_of(vol);
        cr_assert_gt(group, 0);
        struct skiff_spec_mount mounts[] = {
            {"/proc", "proc", "proc", NULL},
            {"/mnt/vol", "bind", vol, (char *[]){"rbind", "rshared", NULL}},
        };
        struct skiff_spec_namespace nss[] = {{SKIFF_NS_MOUNT, NULL}, {SKIFF_NS_PID, NULL}};
        struct skiff_spec spec = {
            .mounts = mounts,
            .n_mounts = SKIFF_ARRAY_SIZE(mounts),
            .linux_ = {.namespaces = nss,
                       .n_namespaces = SKIFF_ARRAY_SIZE(nss),
                       .rootfs_propagation = "rshared"},
        };
        /* Peers propagate both ways: mounts made under the host path show up in the container
         * and the other way round. */
        run_container(&spec, root, CLONE_NEWNS | CLONE_NEWPID, peer_checks, &group);
        cr_assert_eq(umount2(vol, MNT_DETACH), 0);
        cr_assert_eq(skiff_fs_rm_rf(tmp, NULL), 0);
}
