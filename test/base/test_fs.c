#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"

/* Every test gets a fresh directory; criterion runs init, the test and fini in one child. */
static char tmp[] = "/tmp/skiff-test-fs-XXXXXX";

/* Turns CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER on or off in the effective set. */
static bool set_dac_caps(bool on)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0)
                return false;
        const uint32_t bits =
            (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER);
        if (on)
                d[0].effective |= bits & d[0].permitted;
        else
                d[0].effective &= ~bits;
        return syscall(SYS_capset, &h, d) == 0;
}

/* Independent of the module under test: chmods directories open before descending. */
static void remove_tree(const char *p)
{
        struct stat st;
        if (lstat(p, &st) < 0)
                return;
        if (!S_ISDIR(st.st_mode)) {
                (void)unlink(p);
                return;
        }
        (void)chmod(p, 0700);
        DIR *d = opendir(p);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        _cleanup_free_ char *c = xasprintf("%s/%s", p, de->d_name);
                        remove_tree(c);
                }
                closedir(d);
        }
        (void)rmdir(p);
}

static void setup(void)
{
        strcpy(tmp, "/tmp/skiff-test-fs-XXXXXX");
        cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
        (void)set_dac_caps(true);
        remove_tree(tmp);
}

TestSuite(fs, .init = setup, .fini = teardown, .timeout = 30);

/* Criterion does not run .fini for a skipped test, so clean up first. */
#define SKIP(...)                                                                                  \
        do {                                                                                       \
                teardown();                                                                        \
                cr_skip_test(__VA_ARGS__);                                                         \
        } while (0)

/* Returns "<tmp>/<rel>"; caller frees. */
static char *tpath(const char *rel)
{
        return xasprintf("%s/%s", tmp, rel);
}

static void put_file(const char *path, const void *data, size_t len, mode_t mode)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
        cr_assert_eq(write(fd, data, len), (ssize_t)len);
        cr_assert_eq(close(fd), 0);
}

/* Reads a small file without the module under test; returns its length. */
static size_t get_file(const char *path, char *buf, size_t cap)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
        ssize_t n = read(fd, buf, cap);
        cr_assert_geq(n, 0);
        close(fd);
        return (size_t)n;
}

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        cr_assert_not_null(d, "opendir %s", dir);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static size_t count_fds(void)
{
        return count_entries("/proc/self/fd");
}

static bool exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "stat %s", path);
        return st.st_mode & 07777;
}

/* Makes permission bits binding for this (forked) test process, or skips the test. */
static void require_dac_enforced(void)
{
        if (geteuid() == 0 && !set_dac_caps(false))
                SKIP("cannot drop CAP_DAC_OVERRIDE");
        _cleanup_free_ char *probe = tpath("dac-probe");
        _cleanup_free_ char *inside = tpath("dac-probe/x");
        cr_assert_eq(mkdir(probe, 0500), 0);
        int fd = open(inside, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
                close(fd);
                SKIP("permission bits are not enforced for this process");
        }
        cr_assert_eq(errno, EACCES);
        cr_assert_eq(rmdir(probe), 0);
}

static void assert_msg_names(skiff_err_t err, const char *what)
{
        cr_assert_not_null(err);
        cr_assert_not_null(strstr(skiff_error_msg(err), what), "error `%s` does not name `%s`",
                           skiff_error_msg(err), what);
}

/* --- skiff_fs_read_file / _at / skiff_fs_read_fd ------------------------------------------- */

Test(fs, read_file_returns_contents_nul_terminated_with_length)
{
        _cleanup_free_ char *p = tpath("f");
        put_file(p, "a\0b\n", 4, 0644);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        size_t len = 99;
        cr_assert_eq(skiff_fs_read_file(p, 100, &out, &len, &err), 0);
        cr_assert_null(err);
        cr_assert_eq(len, 4);
        cr_assert_eq(memcmp(out, "a\0b\n", 4), 0);
        cr_assert_eq(out[4], '\0');
}

Test(fs, read_file_of_empty_file_returns_empty_string)
{
        _cleanup_free_ char *p = tpath("empty");
        put_file(p, "", 0, 0644);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        size_t len = 99;
        cr_assert_eq(skiff_fs_read_file(p, 100, &out, &len, &err), 0);
        cr_assert_not_null(out);
        cr_assert_str_eq(out, "");
        cr_assert_eq(len, 0);
}

static void check_size_cap(size_t max, size_t size)
{
        _cleanup_free_ char *p = tpath("sized");
        _cleanup_free_ char *data = xmalloc(size + 1);
        for (size_t i = 0; i < size; i++)
                data[i] = (char)('a' + i % 26);
        put_file(p, data, size, 0644);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(p, max, &out, &len, &err);
        if (size <= max) {
                cr_assert_eq(r, 0, "max %zu size %zu: %s", max, size, skiff_error_msg(err));
                cr_assert_eq(len, size);
                cr_assert_eq(memcmp(out, data, size), 0);
                cr_assert_eq(out[size], '\0');
        } else {
                cr_assert_eq(r, -EFBIG, "max %zu size %zu: r=%d", max, size, r);
                cr_assert_null(out, "no buffer is handed out on failure");
                assert_msg_names(err, p);
        }
}

Test(fs, read_file_accepts_exactly_max_bytes)
{
        static const size_t sizes[] = {1, 10, 4095, 4096, 4097, 5000, 8192, 100000};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(sizes); i++)
                check_size_cap(sizes[i], sizes[i]);
}

Test(fs, read_file_rejects_one_byte_over_max_with_efbig_naming_the_file)
{
        static const size_t sizes[] = {1, 10, 4095, 4096, 4097, 5000, 8192, 100000};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(sizes); i++)
                check_size_cap(sizes[i], sizes[i] + 1);
        check_size_cap(100, 100000);
}

Test(fs, read_file_with_zero_max_accepts_only_an_empty_file)
{
        check_size_cap(0, 0);
        check_size_cap(0, 1);
}

Test(fs, read_file_with_size_max_as_the_cap_reads_a_large_file)
{
        check_size_cap(SIZE_MAX, 5000);
}

Test(fs, read_file_of_missing_file_returns_enoent_naming_the_path)
{
        _cleanup_free_ char *p = tpath("missing");
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_file(p, 100, &out, NULL, &err), -ENOENT);
        cr_assert_null(out);
        cr_assert_eq(err->errnum, ENOENT);
        assert_msg_names(err, p);
}

Test(fs, read_file_of_directory_returns_eisdir_naming_the_path)
{
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_file(tmp, 100, &out, NULL, &err), -EISDIR);
        cr_assert_null(out);
        assert_msg_names(err, tmp);
}

Test(fs, read_file_without_read_permission_returns_eacces)
{
        require_dac_enforced();
        _cleanup_free_ char *p = tpath("secret");
        put_file(p, "x", 1, 0200);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_file(p, 100, &out, NULL, &err), -EACCES);
        assert_msg_names(err, p);
}

Test(fs, read_file_at_resolves_relative_to_dirfd)
{
        _cleanup_free_ char *sub = tpath("sub");
        _cleanup_free_ char *p = tpath("sub/f");
        cr_assert_eq(mkdir(sub, 0755), 0);
        put_file(p, "hello", 5, 0644);
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dfd, 0);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_fs_read_file_at(dfd, "sub/f", 100, &out, &len, &err), 0);
        cr_assert_str_eq(out, "hello");
        cr_assert_eq(len, 5);
        skiff_error_free(&err);
        free(TAKE_PTR(out));
        cr_assert_eq(skiff_fs_read_file_at(dfd, "sub/nope", 100, &out, &len, &err), -ENOENT);
        assert_msg_names(err, "sub/nope");
}

/* Callers pass NULL for len when they only need the string (e.g. runtime/oci/caps.c). */
Test(fs, read_file_accepts_null_len)
{
        _cleanup_free_ char *p = tpath("f");
        put_file(p, "abc", 3, 0644);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_file(p, 10, &out, NULL, &err), 0);
        cr_assert_str_eq(out, "abc");
}

Test(fs, read_file_closes_its_fd_on_success_and_failure)
{
        _cleanup_free_ char *p = tpath("f");
        _cleanup_free_ char *missing = tpath("missing");
        put_file(p, "0123456789", 10, 0644);
        size_t before = count_fds();
        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *out = NULL;
                _cleanup_error_ skiff_err_t err = NULL;
                cr_assert_eq(skiff_fs_read_file(p, 100, &out, NULL, &err), 0);
                free(TAKE_PTR(out));
                cr_assert_eq(skiff_fs_read_file(p, 5, &out, NULL, &err), -EFBIG);
                cr_assert_eq(skiff_fs_read_file(missing, 5, &out, NULL, &err), -ENOENT);
        }
        cr_assert_eq(count_fds(), before);
}

struct feeder {
        int fd;
        const char *data;
        size_t len;
        size_t chunk;
};

/* Writes data to fd in chunks, pausing between them so the reader sees short reads. */
static void *feed(void *arg)
{
        struct feeder *f = arg;
        for (size_t off = 0; off < f->len;) {
                size_t n = f->len - off < f->chunk ? f->len - off : f->chunk;
                ssize_t w = write(f->fd, f->data + off, n);
                if (w <= 0)
                        break;
                off += (size_t)w;
                usleep(1000);
        }
        close(f->fd);
        return NULL;
}

Test(fs, read_fd_reads_a_stream_larger_than_its_first_buffer)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        size_t n = 100000;
        _cleanup_free_ char *data = xmalloc(n);
        for (size_t i = 0; i < n; i++)
                data[i] = (char)(i * 7);
        struct feeder f = {.fd = p[1], .data = data, .len = n, .chunk = 10000};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, feed, &f), 0);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        size_t len = 0;
        int r = skiff_fs_read_fd(p[0], 1u << 20, &out, &len, &err);
        pthread_join(t, NULL);
        close(p[0]);
        cr_assert_eq(r, 0, "%s", skiff_error_msg(err));
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(out, data, n), 0);
        cr_assert_eq(out[n], '\0');
}

Test(fs, read_fd_stops_at_the_cap_on_an_endless_stream)
{
        _cleanup_close_ int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_fd(fd, 1u << 16, &out, NULL, &err), -EFBIG);
        cr_assert_null(out);
        cr_assert_eq(err->errnum, EFBIG);
}

Test(fs, read_fd_on_a_closed_fd_returns_ebadf)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        close(p[1]);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_fd(p[0], 10, &out, NULL, &err), -EBADF);
        cr_assert_null(out);
        cr_assert_eq(err->errnum, EBADF);
}

/* --- skiff_fs_read_full / skiff_fs_write_all ------------------------------------------------ */

Test(fs, read_full_collects_exactly_len_bytes_across_short_reads)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        static const char msg[] = "0123456789abcdefghij";
        struct feeder f = {.fd = p[1], .data = msg, .len = 20, .chunk = 3};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, feed, &f), 0);
        char buf[16] = {0};
        ssize_t r = skiff_fs_read_full(p[0], buf, 16);
        pthread_join(t, NULL);
        cr_assert_eq(r, 16);
        cr_assert_eq(memcmp(buf, msg, 16), 0);
        char rest[8];
        cr_assert_eq(read(p[0], rest, sizeof(rest)), 4, "nothing past len was consumed");
        close(p[0]);
}

Test(fs, read_full_returns_a_short_count_at_eof)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(write(p[1], "abc", 3), 3);
        close(p[1]);
        char buf[10];
        cr_assert_eq(skiff_fs_read_full(p[0], buf, sizeof(buf)), 3);
        cr_assert_eq(memcmp(buf, "abc", 3), 0);
        cr_assert_eq(skiff_fs_read_full(p[0], buf, sizeof(buf)), 0);
        close(p[0]);
}

Test(fs, read_full_on_a_bad_fd_returns_ebadf)
{
        char buf[4];
        cr_assert_eq(skiff_fs_read_full(-1, buf, sizeof(buf)), -EBADF);
}

struct drainer {
        int fd;
        char *buf;
        size_t cap;
        size_t got;
};

static void *drain(void *arg)
{
        struct drainer *d = arg;
        for (;;) {
                ssize_t r = read(d->fd, d->buf + d->got, d->cap - d->got);
                if (r <= 0)
                        break;
                d->got += (size_t)r;
        }
        return NULL;
}

Test(fs, write_all_delivers_every_byte_of_a_large_buffer)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        size_t n = 1u << 20;
        _cleanup_free_ char *data = xmalloc(n);
        _cleanup_free_ char *got = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
                data[i] = (char)(i % 251);
        struct drainer d = {.fd = p[0], .buf = got, .cap = n + 1};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, drain, &d), 0);
        int r = skiff_fs_write_all(p[1], data, n);
        close(p[1]);
        pthread_join(t, NULL);
        close(p[0]);
        cr_assert_eq(r, 0);
        cr_assert_eq(d.got, n);
        cr_assert_eq(memcmp(got, data, n), 0);
}

static void on_alarm(int sig)
{
        (void)sig;
}

static void *slow_drain(void *arg)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGALRM);
        pthread_sigmask(SIG_BLOCK, &set, NULL); /* the writer must take the signals */
        struct drainer *d = arg;
        for (;;) {
                size_t want = d->cap - d->got < 4096 ? d->cap - d->got : 4096;
                ssize_t r = read(d->fd, d->buf + d->got, want);
                if (r <= 0)
                        break;
                d->got += (size_t)r;
                usleep(50);
        }
        return NULL;
}

Test(fs, write_all_survives_signal_interruptions_and_short_writes)
{
        struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
        cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        size_t n = 4u << 20;
        _cleanup_free_ char *data = xmalloc(n);
        _cleanup_free_ char *got = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
                data[i] = (char)(i % 253);
        struct drainer d = {.fd = p[0], .buf = got, .cap = n + 1};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, slow_drain, &d), 0);
        struct itimerval it = {.it_interval = {0, 500}, .it_value = {0, 500}};
        cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
        int r = skiff_fs_write_all(p[1], data, n);
        struct itimerval off = {0};
        cr_assert_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
        close(p[1]);
        pthread_join(t, NULL);
        close(p[0]);
        cr_assert_eq(r, 0, "r=%d", r);
        cr_assert_eq(d.got, n);
        cr_assert_eq(memcmp(got, data, n), 0);
}

Test(fs, write_all_to_a_pipe_without_reader_returns_epipe)
{
        signal(SIGPIPE, SIG_IGN);
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        cr_assert_eq(skiff_fs_write_all(p[1], "x", 1), -EPIPE);
        close(p[1]);
}

Test(fs, write_all_on_a_bad_fd_returns_ebadf)
{
        cr_assert_eq(skiff_fs_write_all(-1, "x", 1), -EBADF);
}

Test(fs, write_all_of_zero_bytes_succeeds_without_writing)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        cr_assert_eq(skiff_fs_write_all(p[1], "", 0), 0);
        char c;
        cr_assert_eq(read(p[0], &c, 1), -1, "nothing was written");
        cr_assert_eq(errno, EAGAIN);
        close(p[0]);
        close(p[1]);
}

/* --- skiff_fs_write_file_atomic --------------------------------------------------------------- */

Test(fs, write_file_atomic_creates_file_with_contents_and_exact_mode)
{
        _cleanup_free_ char *p = tpath("new");
        umask(077);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_file_atomic(p, "hello\n", 6, 0644, false, &err), 0);
        cr_assert_null(err);
        char buf[32];
        cr_assert_eq(get_file(p, buf, sizeof(buf)), 6);
        cr_assert_eq(memcmp(buf, "hello\n", 6), 0);
        cr_assert_eq(mode_of(p), 0644, "mode is applied despite the umask");
        cr_assert_eq(count_entries(tmp), 1, "no temp file is left behind");
}

Test(fs, write_file_atomic_replaces_the_file_instead_of_rewriting_it)
{
        _cleanup_free_ char *p = tpath("state.json");
        _cleanup_free_ char *alias = tpath("old-inode");
        put_file(p, "old contents, long", 18, 0600);
        cr_assert_eq(link(p, alias), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_file_atomic(p, "new", 3, 0640, true, &err), 0);
        char buf[32];
        cr_assert_eq(get_file(p, buf, sizeof(buf)), 3, "no leftover bytes from the old file");
        cr_assert_eq(memcmp(buf, "new", 3), 0);
        cr_assert_eq(mode_of(p), 0640);
        cr_assert_eq(get_file(alias, buf, sizeof(buf)), 18, "the old inode is untouched");
        cr_assert_eq(memcmp(buf, "old contents, long", 18), 0);
        cr_assert_eq(count_entries(tmp), 2, "no temp file is left behind");
}

Test(fs, write_file_atomic_of_zero_bytes_creates_an_empty_file)
{
        _cleanup_free_ char *p = tpath("empty");
        put_file(p, "something", 9, 0644);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_file_atomic(p, "", 0, 0600, true, &err), 0);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        cr_assert_eq(st.st_size, 0);
        cr_assert_eq(st.st_mode & 07777, 0600);
}

Test(fs, write_file_atomic_accepts_a_path_without_directory)
{
        cr_assert_eq(chdir(tmp), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_file_atomic("rel.txt", "r", 1, 0644, false, &err), 0, "%s",
                     skiff_error_msg(err));
        _cleanup_free_ char *p = tpath("rel.txt");
        char buf[4];
        cr_assert_eq(get_file(p, buf, sizeof(buf)), 1);
        cr_assert_eq(buf[0], 'r');
        cr_assert_eq(count_entries(tmp), 1);
}

Test(fs, write_file_atomic_in_a_missing_directory_returns_enoent_naming_it)
{
        _cleanup_free_ char *dir = tpath("nodir");
        _cleanup_free_ char *p = tpath("nodir/file");
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_file_atomic(p, "x", 1, 0644, false, &err), -ENOENT);
        cr_assert_eq(err->errnum, ENOENT);
        /* The message names the temp file, which is inside the target's directory. */
        assert_msg_names(err, dir);
        assert_msg_names(err, "file");
        cr_assert(!exists(dir));
}

Test(fs, write_file_atomic_failing_rename_leaves_no_temp_file)
{
        _cleanup_free_ char *p = tpath("target");
        _cleanup_free_ char *inner = tpath("target/keep");
        cr_assert_eq(mkdir(p, 0755), 0);
        put_file(inner, "k", 1, 0644);
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_fs_write_file_atomic(p, "data", 4, 0644, false, &err);
        cr_assert_eq(r, -EISDIR, "r=%d", r);
        cr_assert_eq(err->errnum, EISDIR);
        assert_msg_names(err, p);
        cr_assert(exists(inner), "the directory in the way is untouched");
        cr_assert_eq(count_entries(tmp), 1, "the temp file was removed");
}

Test(fs, write_file_atomic_failing_write_leaves_no_temp_file_and_keeps_the_old_file)
{
        _cleanup_free_ char *p = tpath("target");
        put_file(p, "old", 3, 0644);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit saved, small;
        cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
        small = saved;
        small.rlim_cur = 16;
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
        char big[4096];
        memset(big, 'n', sizeof(big));
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_fs_write_file_atomic(p, big, sizeof(big), 0644, false, &err);
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
        cr_assert_eq(r, -EFBIG, "r=%d", r);
        cr_assert_eq(err->errnum, EFBIG);
        assert_msg_names(err, tmp);
        char buf[8];
        cr_assert_eq(get_file(p, buf, sizeof(buf)), 3);
        cr_assert_eq(memcmp(buf, "old", 3), 0);
        cr_assert_eq(count_entries(tmp), 1, "the temp file was removed");
}

Test(fs, write_file_atomic_in_a_read_only_directory_returns_eacces)
{
        require_dac_enforced();
        _cleanup_free_ char *dir = tpath("ro");
        _cleanup_free_ char *p = tpath("ro/file");
        cr_assert_eq(mkdir(dir, 0555), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_file_atomic(p, "x", 1, 0644, false, &err), -EACCES);
        assert_msg_names(err, dir);
        cr_assert_eq(count_entries(dir), 0);
}

Test(fs, write_file_atomic_closes_its_fd)
{
        _cleanup_free_ char *p = tpath("f");
        _cleanup_free_ char *bad = tpath("nodir/f");
        _cleanup_free_ char *dir = tpath("dir");
        cr_assert_eq(mkdir(dir, 0755), 0);
        size_t before = count_fds();
        for (int i = 0; i < 3; i++) {
                _cleanup_error_ skiff_err_t err = NULL;
                cr_assert_eq(skiff_fs_write_file_atomic(p, "x", 1, 0644, true, &err), 0);
                cr_assert_eq(skiff_fs_write_file_atomic(dir, "x", 1, 0644, false, &err), -EISDIR);
                cr_assert_eq(skiff_fs_write_file_atomic(bad, "x", 1, 0644, false, &err), -ENOENT);
        }
        cr_assert_eq(count_fds(), before);
}

/* --- skiff_fs_write_string / _at ------------------------------------------------------------- */

Test(fs, write_string_sets_a_proc_knob)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_string("/proc/self/comm", "skiff-knob", &err), 0, "%s",
                     skiff_error_msg(err));
        char buf[32];
        size_t n = get_file("/proc/self/comm", buf, sizeof(buf));
        cr_assert_eq(n, 11);
        cr_assert_eq(memcmp(buf, "skiff-knob\n", 11), 0);
}

Test(fs, write_string_rejected_by_the_kernel_returns_its_errno_naming_path_and_value)
{
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_string("/proc/self/oom_score_adj", "bogus", &err), -EINVAL);
        cr_assert_eq(err->errnum, EINVAL);
        assert_msg_names(err, "/proc/self/oom_score_adj");
        assert_msg_names(err, "bogus");
}

Test(fs, write_string_sends_the_whole_string_to_a_fifo)
{
        _cleanup_free_ char *p = tpath("fifo");
        cr_assert_eq(mkfifo(p, 0600), 0);
        _cleanup_close_ int rd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        cr_assert_geq(rd, 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_string(p, "+cpu +memory", &err), 0);
        char buf[64];
        cr_assert_eq(read(rd, buf, sizeof(buf)), 12);
        cr_assert_eq(memcmp(buf, "+cpu +memory", 12), 0);
}

Test(fs, write_string_does_not_create_a_missing_file)
{
        _cleanup_free_ char *p = tpath("absent");
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_string(p, "1", &err), -ENOENT);
        cr_assert_eq(err->errnum, ENOENT);
        assert_msg_names(err, p);
        cr_assert(!exists(p));
}

Test(fs, write_string_at_resolves_relative_to_dirfd)
{
        _cleanup_free_ char *p = tpath("knob");
        put_file(p, "", 0, 0644);
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dfd, 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_write_string_at(dfd, "knob", "max", &err), 0);
        char buf[8];
        cr_assert_eq(get_file(p, buf, sizeof(buf)), 3);
        cr_assert_eq(memcmp(buf, "max", 3), 0);
        cr_assert_eq(skiff_fs_write_string_at(dfd, "nope", "max", &err), -ENOENT);
        assert_msg_names(err, "nope");
}

/* --- skiff_fs_mkdir_p --------------------------------------------------------------------------
 */

Test(fs, mkdir_p_creates_every_missing_component_with_mode)
{
        umask(0);
        _cleanup_free_ char *p = tpath("a/b/c");
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(p, 0750, &err), 0, "%s", skiff_error_msg(err));
        static const char *const made[] = {"a", "a/b", "a/b/c"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(made); i++) {
                _cleanup_free_ char *m = tpath(made[i]);
                struct stat st;
                cr_assert_eq(stat(m, &st), 0, "%s", m);
                cr_assert(S_ISDIR(st.st_mode));
                cr_assert_eq(st.st_mode & 07777, 0750, "%s", m);
        }
}

Test(fs, mkdir_p_of_existing_directories_succeeds_and_keeps_their_mode)
{
        _cleanup_free_ char *a = tpath("a");
        _cleanup_free_ char *p = tpath("a/b");
        cr_assert_eq(mkdir(a, 0700), 0);
        cr_assert_eq(mkdir(p, 0700), 0);
        cr_assert_eq(chmod(p, 0711), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, &err), 0);
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, &err), 0);
        cr_assert_eq(skiff_fs_mkdir_p(tmp, 0755, &err), 0);
        cr_assert_eq(skiff_fs_mkdir_p("/", 0755, &err), 0);
        cr_assert_null(err);
        cr_assert_eq(mode_of(a), 0700);
        cr_assert_eq(mode_of(p), 0711);
}

Test(fs, mkdir_p_of_existing_directories_needs_no_write_permission)
{
        require_dac_enforced();
        _cleanup_free_ char *ro = tpath("ro");
        _cleanup_free_ char *p = tpath("ro/a/b");
        _cleanup_free_ char *a = tpath("ro/a");
        cr_assert_eq(mkdir(ro, 0755), 0);
        cr_assert_eq(mkdir(a, 0755), 0);
        cr_assert_eq(mkdir(p, 0755), 0);
        cr_assert_eq(chmod(a, 0555), 0);
        cr_assert_eq(chmod(ro, 0555), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, &err), 0, "%s", skiff_error_msg(err));
}

Test(fs, mkdir_p_accepts_trailing_and_repeated_slashes)
{
        _cleanup_free_ char *p = xasprintf("%s//x///y/", tmp);
        _cleanup_free_ char *y = tpath("x/y");
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, &err), 0, "%s", skiff_error_msg(err));
        struct stat st;
        cr_assert_eq(stat(y, &st), 0);
        cr_assert(S_ISDIR(st.st_mode));
}

Test(fs, mkdir_p_of_a_relative_path_creates_it_under_the_cwd)
{
        cr_assert_eq(chdir(tmp), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p("r1/r2", 0755, &err), 0, "%s", skiff_error_msg(err));
        _cleanup_free_ char *p = tpath("r1/r2");
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        cr_assert(S_ISDIR(st.st_mode));
}

Test(fs, mkdir_p_through_a_regular_file_returns_enotdir_naming_the_path)
{
        _cleanup_free_ char *f = tpath("file");
        _cleanup_free_ char *p = tpath("file/sub/dir");
        put_file(f, "", 0, 0644);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, &err), -ENOTDIR);
        cr_assert_eq(err->errnum, ENOTDIR);
        assert_msg_names(err, f);
}

Test(fs, mkdir_p_of_an_existing_regular_file_returns_enotdir_naming_it)
{
        _cleanup_free_ char *f = tpath("file");
        put_file(f, "", 0, 0644);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(f, 0755, &err), -ENOTDIR);
        assert_msg_names(err, f);
}

Test(fs, mkdir_p_under_a_read_only_directory_returns_eacces_naming_the_path)
{
        require_dac_enforced();
        _cleanup_free_ char *ro = tpath("ro");
        _cleanup_free_ char *p = tpath("ro/new/deeper");
        _cleanup_free_ char *first = tpath("ro/new");
        cr_assert_eq(mkdir(ro, 0555), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_mkdir_p(p, 0755, &err), -EACCES);
        assert_msg_names(err, first);
        cr_assert(!exists(first));
}

/* --- skiff_fs_rm_rf / _at ----------------------------------------------------------------------
 */

Test(fs, rm_rf_of_a_missing_path_succeeds)
{
        _cleanup_free_ char *p = tpath("missing/deeper");
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(p, &err), 0);
        cr_assert_null(err);
}

Test(fs, rm_rf_removes_a_single_file)
{
        _cleanup_free_ char *p = tpath("f");
        put_file(p, "x", 1, 0644);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(p, &err), 0);
        cr_assert(!exists(p));
}

/* tmp/top: files, a fifo, a dangling symlink, nested and empty directories. */
static char *make_tree(void)
{
        static const char *const dirs[] = {"top", "top/a", "top/a/b", "top/a/b/c", "top/empty"};
        static const char *const files[] = {"top/f", "top/a/f", "top/a/b/f", "top/a/b/c/f"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *d = tpath(dirs[i]);
                cr_assert_eq(mkdir(d, 0755), 0);
        }
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *f = tpath(files[i]);
                put_file(f, "data", 4, 0644);
        }
        _cleanup_free_ char *fifo = tpath("top/a/fifo");
        _cleanup_free_ char *dangling = tpath("top/a/b/dangling");
        cr_assert_eq(mkfifo(fifo, 0600), 0);
        cr_assert_eq(symlink("/nonexistent/skiff", dangling), 0);
        return tpath("top");
}

Test(fs, rm_rf_removes_a_nested_tree)
{
        _cleanup_free_ char *top = make_tree();
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(top, &err), 0, "%s", skiff_error_msg(err));
        cr_assert(!exists(top));
        cr_assert_eq(count_entries(tmp), 0);
}

Test(fs, rm_rf_does_not_follow_symlinks)
{
        _cleanup_free_ char *outside = tpath("outside");
        _cleanup_free_ char *precious = tpath("outside/precious");
        _cleanup_free_ char *top = tpath("top");
        _cleanup_free_ char *inner_link = tpath("top/link");
        _cleanup_free_ char *toplink = tpath("toplink");
        cr_assert_eq(mkdir(outside, 0755), 0);
        put_file(precious, "p", 1, 0644);
        cr_assert_eq(mkdir(top, 0755), 0);
        cr_assert_eq(symlink(outside, inner_link), 0);
        cr_assert_eq(symlink(outside, toplink), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(top, &err), 0);
        cr_assert_eq(skiff_fs_rm_rf(toplink, &err), 0);
        cr_assert(!exists(top));
        cr_assert(!exists(toplink), "the link itself is removed");
        cr_assert(exists(precious), "the link's target is untouched");
}

Test(fs, rm_rf_removes_a_nested_read_only_tree)
{
        require_dac_enforced();
        _cleanup_free_ char *top = make_tree();
        /* Inner modes first: once a directory is 0000 we cannot chmod below it. */
        static const struct {
                const char *path;
                mode_t mode;
        } modes[] = {
            {"top/a/b/c/f", 0400}, {"top/a/b/c", 0500}, {"top/a/b", 0000},
            {"top/a", 0300},       {"top/empty", 0000}, {"top", 0555},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(modes); i++) {
                _cleanup_free_ char *p = tpath(modes[i].path);
                cr_assert_eq(chmod(p, modes[i].mode), 0, "chmod %s", p);
        }
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(top, &err), 0, "%s", skiff_error_msg(err));
        cr_assert(!exists(top));
}

Test(fs, rm_rf_failure_returns_errno_naming_the_path)
{
        require_dac_enforced();
        _cleanup_free_ char *ro = tpath("ro");
        _cleanup_free_ char *f = tpath("ro/f");
        cr_assert_eq(mkdir(ro, 0755), 0);
        put_file(f, "x", 1, 0644);
        cr_assert_eq(chmod(ro, 0555), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(f, &err), -EACCES);
        cr_assert_eq(err->errnum, EACCES);
        assert_msg_names(err, f);
        cr_assert(exists(f));
}

Test(fs, rm_rf_failure_deep_in_a_tree_names_the_entry)
{
        require_dac_enforced();
        if (geteuid() != 0)
                SKIP("needs root to hand a directory to another user");
        _cleanup_free_ char *top = tpath("top");
        _cleanup_free_ char *foreign = tpath("top/foreign");
        _cleanup_free_ char *f = tpath("top/foreign/stuck");
        cr_assert_eq(mkdir(top, 0755), 0);
        cr_assert_eq(mkdir(foreign, 0755), 0);
        put_file(f, "x", 1, 0644);
        cr_assert_eq(chmod(foreign, 0555), 0);
        cr_assert_eq(chown(foreign, 65534, 65534), 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(top, &err), -EACCES);
        cr_assert_eq(err->errnum, EACCES);
        assert_msg_names(err, "stuck");
        cr_assert(exists(f));
}

Test(fs, rm_rf_at_removes_relative_to_dirfd)
{
        _cleanup_free_ char *top = make_tree();
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dfd, 0);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf_at(dfd, "top", &err), 0, "%s", skiff_error_msg(err));
        cr_assert(!exists(top));
        cr_assert_eq(skiff_fs_rm_rf_at(dfd, "top", &err), 0, "a second removal is a no-op");
}

Test(fs, rm_rf_closes_every_directory_it_opens)
{
        size_t before = count_fds();
        _cleanup_free_ char *top = make_tree();
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_rm_rf(top, &err), 0);
        cr_assert_eq(count_fds(), before);
}

/* --- skiff_parse_u64 / skiff_parse_i64 ---------------------------------------------------------
 */

Test(fs, parse_u64_accepts_the_full_range)
{
        static const struct {
                const char *s;
                uint64_t v;
        } ok[] = {
            {"0", 0}, {"7", 7}, {"007", 7}, {"4096", 4096}, {"18446744073709551615", UINT64_MAX},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(ok); i++) {
                uint64_t v = 1;
                cr_assert_eq(skiff_parse_u64(ok[i].s, &v), 0, "`%s`", ok[i].s);
                cr_assert_eq(v, ok[i].v, "`%s`", ok[i].s);
        }
}

Test(fs, parse_u64_rejects_signs_spaces_and_trailing_garbage)
{
        static const char *const bad[] = {"",    "+1",   "-1",  "-0",  " 1",  "1 ",
                                          "1\n", "0x10", "1.0", "1e3", "abc", "12a"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bad); i++) {
                uint64_t v = 0;
                cr_assert_eq(skiff_parse_u64(bad[i], &v), -EINVAL, "`%s`", bad[i]);
        }
        uint64_t v = 0;
        cr_assert_eq(skiff_parse_u64(NULL, &v), -EINVAL);
}

Test(fs, parse_u64_rejects_overflow_with_erange)
{
        static const char *const big[] = {"18446744073709551616", "18446744073709551620",
                                          "99999999999999999999", "100000000000000000000000"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(big); i++) {
                uint64_t v = 0;
                cr_assert_eq(skiff_parse_u64(big[i], &v), -ERANGE, "`%s`", big[i]);
        }
}

Test(fs, parse_i64_accepts_both_extremes)
{
        static const struct {
                const char *s;
                int64_t v;
        } ok[] = {
            {"0", 0},
            {"-0", 0},
            {"-1", -1},
            {"123", 123},
            {"9223372036854775807", INT64_MAX},
            {"-9223372036854775807", -INT64_MAX},
            {"-9223372036854775808", INT64_MIN},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(ok); i++) {
                int64_t v = 1;
                cr_assert_eq(skiff_parse_i64(ok[i].s, &v), 0, "`%s`", ok[i].s);
                cr_assert_eq(v, ok[i].v, "`%s`", ok[i].s);
        }
}

Test(fs, parse_i64_rejects_values_out_of_range_with_erange)
{
        static const char *const big[] = {"9223372036854775808", "-9223372036854775809",
                                          "18446744073709551615", "-18446744073709551616"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(big); i++) {
                int64_t v = 0;
                cr_assert_eq(skiff_parse_i64(big[i], &v), -ERANGE, "`%s`", big[i]);
        }
}

Test(fs, parse_i64_rejects_malformed_input_with_einval)
{
        static const char *const bad[] = {"", "-", "--1", "+1", "- 1", "1-", " -1", "-1 ", "-x"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bad); i++) {
                int64_t v = 0;
                cr_assert_eq(skiff_parse_i64(bad[i], &v), -EINVAL, "`%s`", bad[i]);
        }
        int64_t v = 0;
        cr_assert_eq(skiff_parse_i64(NULL, &v), -EINVAL);
}

/* --- skiff_fd_set_nonblock / skiff_fd_set_cloexec ----------------------------------------------
 */

Test(fs, fd_set_nonblock_turns_o_nonblock_on_and_off)
{
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
        cr_assert_eq(skiff_fd_set_nonblock(p[0], true), 0);
        cr_assert_neq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
        cr_assert_eq(skiff_fd_set_nonblock(p[0], true), 0, "setting it twice is fine");
        char c;
        cr_assert_eq(read(p[0], &c, 1), -1, "an empty pipe does not block");
        cr_assert_eq(errno, EAGAIN);
        cr_assert_eq(skiff_fd_set_nonblock(p[0], false), 0);
        cr_assert_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
        close(p[0]);
        close(p[1]);
}

Test(fs, fd_set_cloexec_turns_fd_cloexec_on_and_off)
{
        int p[2];
        cr_assert_eq(pipe2(p, 0), 0);
        cr_assert_eq(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
        cr_assert_eq(skiff_fd_set_cloexec(p[0], true), 0);
        cr_assert_neq(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
        cr_assert_eq(skiff_fd_set_cloexec(p[0], true), 0);
        cr_assert_eq(skiff_fd_set_cloexec(p[0], false), 0);
        cr_assert_eq(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
        close(p[0]);
        close(p[1]);
}

Test(fs, fd_flag_setters_on_a_bad_fd_return_ebadf)
{
        cr_assert_eq(skiff_fd_set_nonblock(-1, true), -EBADF);
        cr_assert_eq(skiff_fd_set_cloexec(-1, true), -EBADF);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(skiff_fd_set_nonblock(fd, false), -EBADF);
        cr_assert_eq(skiff_fd_set_cloexec(fd, false), -EBADF);
}
