#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/error.h"
#include "shim/reaper.h"
#include "shim/stdio.h"

static uv_loop_t loop;
static uv_timer_t keepalive;
static struct skiff_reaper *reaper;
static char dir[64];
static char p_in[128], p_out[128], p_err[128];

static void keepalive_cb(uv_timer_t *t)
{
}

static void setup(void)
{
        signal(SIGPIPE, SIG_IGN);
        alarm(20); /* a blocking open must fail the test, not hang it */
        strcpy(dir, "/tmp/skiff-stdio-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(p_in, sizeof(p_in), "%s/in", dir);
        snprintf(p_out, sizeof(p_out), "%s/out", dir);
        snprintf(p_err, sizeof(p_err), "%s/err", dir);
        cr_assert_eq(mkfifo(p_in, 0600), 0);
        cr_assert_eq(mkfifo(p_out, 0600), 0);
        cr_assert_eq(mkfifo(p_err, 0600), 0);
        cr_assert_eq(uv_loop_init(&loop), 0);
        cr_assert_eq(uv_timer_init(&loop, &keepalive), 0);
        cr_assert_eq(uv_timer_start(&keepalive, keepalive_cb, 5, 5), 0);
        cr_assert_eq(skiff_reaper_new(&loop, &reaper), 0);
}

static void teardown(void)
{
        skiff_reaper_close(reaper);
        uv_close((uv_handle_t *)&keepalive, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)!system(cmd); /* best-effort cleanup */
}

TestSuite(stdio, .init = setup, .fini = teardown);

static void run_until(bool *flag)
{
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (!*flag) {
                uv_run(&loop, UV_RUN_ONCE);
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > 5)
                        break;
        }
}

static void run_for_ms(int ms)
{
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                uv_run(&loop, UV_RUN_NOWAIT);
                clock_gettime(CLOCK_MONOTONIC, &now);
                long el =
                    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                if (el >= ms)
                        break;
                usleep(1000);
        }
}

static void set_flag(void *data)
{
        *(bool *)data = true;
}

static void ready_cb(int status, void *data)
{
        cr_assert_eq(status, 0);
        *(bool *)data = true;
}

static struct skiff_stdio *open_ok(const char *in, const char *out, const char *err, bool term)
{
        struct skiff_stdio_config cfg = {
            .id = "c1", .ns = "default", .in = in, .out = out, .err = err, .terminal = term};
        struct skiff_stdio *s = NULL;
        skiff_err_t e = NULL;
        int r = skiff_stdio_open(&loop, reaper, &cfg, &s, &e);
        cr_assert_eq(r, 0, "open: %s", skiff_error_msg(e));
        return s;
}

/* Reads what is available on a non-blocking fd within ms milliseconds; returns bytes read and
 * sets *eof when the writer side closed. */
static size_t read_some(int fd, char *buf, size_t cap, int ms, bool *eof)
{
        size_t got = 0;
        *eof = false;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        while (got < cap && poll(&pfd, 1, ms) > 0) {
                ssize_t n = read(fd, buf + got, cap - got);
                if (n == 0) {
                        *eof = true;
                        break;
                }
                if (n < 0)
                        break;
                got += (size_t)n;
        }
        return got;
}

Test(stdio, fifos_open_before_the_client_without_blocking)
{
        struct skiff_stdio *s = open_ok(p_in, p_out, p_err, false);
        /* The client side now opens too, in any order, without blocking or ENXIO. */
        int cin = open(p_in, O_WRONLY | O_NONBLOCK);
        cr_assert_geq(cin, 0, "stdin writer: %s", strerror(errno));
        int cout = open(p_out, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(cout, 0);
        struct skiff_stdio_fds fds = skiff_stdio_child_fds(s);
        cr_assert_geq(fds.in, 0);
        cr_assert_geq(fds.out, 0);
        cr_assert_geq(fds.err, 0);
        /* What the process gets is blocking. */
        cr_assert_eq(fcntl(fds.in, F_GETFL) & O_NONBLOCK, 0);
        cr_assert_eq(fcntl(fds.out, F_GETFL) & O_NONBLOCK, 0);
        cr_assert_eq(fcntl(fds.err, F_GETFL) & O_NONBLOCK, 0);
        /* Zero copy: the process's stdout is the FIFO itself. */
        cr_assert_eq(write(fds.out, "hello", 5), 5);
        char buf[16];
        bool eof;
        cr_assert_eq(read_some(cout, buf, sizeof(buf), 500, &eof), 5);
        cr_assert_eq(memcmp(buf, "hello", 5), 0);
        cr_assert_eq(write(cin, "x", 1), 1);
        cr_assert_eq(read(fds.in, buf, 1), 1);
        cr_assert_eq(buf[0], 'x');
        close(cin);
        close(cout);
        skiff_stdio_free(s);
}

Test(stdio, close_io_releases_the_extra_writer_so_the_reader_sees_eof)
{
        struct skiff_stdio *s = open_ok(p_in, "", "", false);
        int cin = open(p_in, O_WRONLY | O_NONBLOCK);
        cr_assert_geq(cin, 0);
        struct skiff_stdio_fds fds = skiff_stdio_child_fds(s);
        cr_assert_eq(fds.out, -1, "empty stdout must be /dev/null");
        cr_assert_eq(fds.err, -1);
        int child_in = dup(fds.in); /* what the process would hold */
        skiff_stdio_child_started(s);
        cr_assert_eq(write(cin, "ab", 2), 2);
        close(cin); /* the client is done, but the shim's extra writer keeps stdin open */
        char buf[8];
        cr_assert_eq(read(child_in, buf, sizeof(buf)), 2);
        struct pollfd pfd = {.fd = child_in, .events = POLLIN};
        cr_assert_eq(poll(&pfd, 1, 100), 0, "reader saw EOF before CloseIO");
        skiff_stdio_close_stdin(s);
        cr_assert_eq(poll(&pfd, 1, 1000), 1);
        cr_assert_eq(read(child_in, buf, sizeof(buf)), 0, "no EOF after CloseIO");
        skiff_stdio_close_stdin(s); /* idempotent */
        close(child_in);
        skiff_stdio_free(s);
}

Test(stdio, exit_closes_the_write_ends_so_the_client_sees_eof)
{
        int cout = open(p_out, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(cout, 0);
        struct skiff_stdio *s = open_ok("", p_out, p_err, false);
        int child_out = dup(skiff_stdio_child_fds(s).out);
        skiff_stdio_child_started(s);
        cr_assert_eq(write(child_out, "bye", 3), 3);
        close(child_out); /* the process exits */
        char buf[16];
        bool eof = false;
        cr_assert_eq(read_some(cout, buf, sizeof(buf), 100, &eof), 3);
        cr_assert(!eof, "EOF while the shim still holds the FIFO");
        bool drained = false;
        skiff_stdio_process_exited(s, 1000, set_flag, &drained);
        run_until(&drained);
        cr_assert(drained);
        cr_assert(skiff_stdio_drained(s));
        read_some(cout, buf, sizeof(buf), 1000, &eof);
        cr_assert(eof, "client never saw EOF");
        close(cout);
        skiff_stdio_free(s);
}

Test(stdio, file_uri_appends_to_a_created_file_for_stdout_and_stderr)
{
        char uri[256], path[200];
        snprintf(path, sizeof(path), "%s/logs/sub/c1.log", dir);
        snprintf(uri, sizeof(uri), "file://%s", path);
        int fd = -1;
        struct skiff_stdio *s = open_ok("", uri, uri, false);
        struct skiff_stdio_fds fds = skiff_stdio_child_fds(s);
        cr_assert_eq(fds.in, -1);
        cr_assert_geq(fds.out, 0);
        cr_assert_geq(fds.err, 0);
        cr_assert(fcntl(fds.out, F_GETFL) & O_APPEND);
        cr_assert_eq(write(fds.out, "out\n", 4), 4);
        cr_assert_eq(write(fds.err, "err\n", 4), 4);
        skiff_stdio_free(s);
        /* Reopening appends. */
        s = open_ok("", uri, "", false);
        cr_assert_eq(write(skiff_stdio_child_fds(s).out, "more\n", 5), 5);
        skiff_stdio_free(s);
        fd = open(path, O_RDONLY);
        cr_assert_geq(fd, 0);
        char buf[64] = {0};
        cr_assert_eq(read(fd, buf, sizeof(buf) - 1), 13);
        cr_assert_str_eq(buf, "out\nerr\nmore\n");
        close(fd);
}

Test(stdio, uri_parsing)
{
        enum skiff_stdio_scheme sc;
        char *path = NULL, *query = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_stdio_parse_uri("/run/x/fifo", &sc, &path, &query, &err), 0);
        cr_assert_eq(sc, SKIFF_STDIO_FIFO);
        cr_assert_str_eq(path, "/run/x/fifo");
        cr_assert_null(query);
        free(path);
        cr_assert_eq(
            skiff_stdio_parse_uri("binary:///usr/bin/my%20log?a=1&b", &sc, &path, &query, &err), 0);
        cr_assert_eq(sc, SKIFF_STDIO_BINARY);
        cr_assert_str_eq(path, "/usr/bin/my log");
        cr_assert_str_eq(query, "a=1&b");
        free(path);
        free(query);
        cr_assert_eq(skiff_stdio_parse_uri("file://relative/x", &sc, &path, &query, &err), -EINVAL);
        cr_assert_not_null(strstr(skiff_error_msg(err), "absolute"));
        skiff_error_free(&err);
        cr_assert_eq(skiff_stdio_parse_uri("tcp://1.2.3.4", &sc, &path, &query, &err), -EINVAL);
        cr_assert_not_null(strstr(skiff_error_msg(err), "unknown scheme"));
        skiff_error_free(&err);
}

Test(stdio, missing_fifo_is_an_error_naming_the_path)
{
        char missing[160];
        snprintf(missing, sizeof(missing), "%s/nope", dir);
        struct skiff_stdio_config cfg = {.out = missing};
        struct skiff_stdio *s = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_stdio_open(&loop, reaper, &cfg, &s, &err), -ENOENT);
        cr_assert_not_null(strstr(skiff_error_msg(err), missing));
        skiff_error_free(&err);
}

Test(stdio, terminal_copies_between_pty_and_fifos_and_never_opens_stderr)
{
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                cr_skip_test("no pty: %s", strerror(errno));
        cr_assert_eq(grantpt(master), 0);
        cr_assert_eq(unlockpt(master), 0);
        int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
        cr_assert_geq(slave, 0);
        struct termios tio;
        cr_assert_eq(tcgetattr(slave, &tio), 0);
        cfmakeraw(&tio);
        cr_assert_eq(tcsetattr(slave, TCSANOW, &tio), 0);

        /* stderr points at a FIFO nobody will ever read: opening it would hang or fail. */
        int cout = open(p_out, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(cout, 0);
        struct skiff_stdio *s = open_ok(p_in, p_out, p_err, true);
        struct skiff_stdio_fds fds = skiff_stdio_child_fds(s);
        cr_assert_eq(fds.in, -1);
        cr_assert_eq(fds.out, -1);
        cr_assert_eq(fds.err, -1);
        int cin = open(p_in, O_WRONLY | O_NONBLOCK);
        cr_assert_geq(cin, 0);
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_stdio_attach_console(s, master, &err), 0);
        cr_assert_eq(skiff_stdio_resize(s, 100, 40, &err), 0);
        struct winsize ws;
        cr_assert_eq(ioctl(slave, TIOCGWINSZ, &ws), 0);
        cr_assert_eq(ws.ws_col, 100);
        cr_assert_eq(ws.ws_row, 40);

        cr_assert_eq(write(slave, "from-pty", 8), 8);
        cr_assert_eq(write(cin, "to-pty", 6), 6);
        run_for_ms(200);
        char buf[64];
        bool eof;
        cr_assert_eq(read_some(cout, buf, sizeof(buf), 500, &eof), 8);
        cr_assert_eq(memcmp(buf, "from-pty", 8), 0);
        struct pollfd pfd = {.fd = slave, .events = POLLIN};
        cr_assert_eq(poll(&pfd, 1, 1000), 1);
        cr_assert_eq(read(slave, buf, sizeof(buf)), 6);
        cr_assert_eq(memcmp(buf, "to-pty", 6), 0);

        /* The process writes its last words and exits: they are drained, then EOF. */
        cr_assert_eq(write(slave, "tail", 4), 4);
        close(slave);
        bool drained = false;
        skiff_stdio_process_exited(s, 2000, set_flag, &drained);
        run_until(&drained);
        cr_assert(drained);
        size_t n = read_some(cout, buf, sizeof(buf), 1000, &eof);
        cr_assert_eq(n, 4);
        cr_assert_eq(memcmp(buf, "tail", 4), 0);
        cr_assert(eof);
        close(cin);
        close(cout);
        skiff_stdio_free(s);
}

Test(stdio, binary_logger_gets_pipes_on_fds_3_4_and_is_reaped)
{
        char script[160], outfile[160], uri[400];
        snprintf(script, sizeof(script), "%s/logger.sh", dir);
        snprintf(outfile, sizeof(outfile), "%s/logged", dir);
        FILE *f = fopen(script, "w");
        cr_assert_not_null(f);
        /* Records its env and args, signals readiness by closing fd 5, then copies fd 3. */
        fprintf(f, "#!/bin/sh\necho \"$CONTAINER_ID $CONTAINER_NAMESPACE $1 $#\" > \"$2\"\n"
                   "exec 5>&-\ncat <&3 >> \"$2\"\ncat <&4 >> \"$2\"\n");
        fclose(f);
        cr_assert_eq(chmod(script, 0755), 0);
        snprintf(uri, sizeof(uri), "binary://%s?path=%s", script, outfile);

        struct skiff_stdio *s = open_ok("", uri, "", false);
        bool ready = false;
        cr_assert_eq(skiff_stdio_wait_ready(s, ready_cb, &ready), 0);
        run_until(&ready);
        cr_assert(ready);
        struct skiff_stdio_fds fds = skiff_stdio_child_fds(s);
        cr_assert_geq(fds.out, 0);
        cr_assert_geq(fds.err, 0);
        int out = dup(fds.out), errfd = dup(fds.err);
        skiff_stdio_child_started(s);
        cr_assert_eq(write(out, "line1\n", 6), 6);
        cr_assert_eq(write(errfd, "line2\n", 6), 6);
        close(out);
        close(errfd);
        bool drained = false;
        skiff_stdio_process_exited(s, 1000, set_flag, &drained);
        run_until(&drained);
        /* The logger exits on EOF; give it time, then check what it wrote. */
        char buf[256] = {0};
        for (int i = 0; i < 200; i++) {
                run_for_ms(10);
                int fd = open(outfile, O_RDONLY);
                if (fd < 0)
                        continue;
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n > 0 && strstr(buf, "line2"))
                        break;
        }
        cr_assert_str_eq(buf, "c1 default path 2\nline1\nline2\n");
        skiff_stdio_free(s);
        run_for_ms(100);
        cr_assert_eq(skiff_reaper_cached(reaper), 0, "logger exit not claimed");
}
