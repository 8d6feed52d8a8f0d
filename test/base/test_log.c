#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

/* Each test runs in its own process, so the sink's static state starts fresh. */
static int sink[2] = {-1, -1};

/* Points the log at a non-blocking pipe whose read end is sink[0]. */
static void pipe_sink(void)
{
        cr_assert_eq(pipe2(sink, O_CLOEXEC | O_NONBLOCK), 0);
        skiff_log_set_fd(sink[1]);
}

/* Everything written to the sink so far, NUL-terminated in buf. */
static size_t drain(char *buf, size_t cap)
{
        size_t n = 0;
        for (;;) {
                ssize_t r = read(sink[0], buf + n, cap - 1 - n);
                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = '\0';
        return n;
}

static size_t count_char(const char *s, char c)
{
        size_t n = 0;
        for (; *s; s++)
                n += *s == c;
        return n;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void assert_matches(const char *line, const char *pattern)
{
        regex_t re;
        cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0, "%s", pattern);
        int r = regexec(&re, line, 0, NULL, 0);
        regfree(&re);
        cr_assert_eq(r, 0, "`%s` does not match `%s`", line, pattern);
}

Test(log, a_line_is_logfmt_with_utc_time_level_and_message)
{
        pipe_sink();
        log_info("hello %d", 42);
        char buf[4096];
        drain(buf, sizeof(buf));
        assert_matches(buf, "^time=\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                            "\\.[0-9]{6}Z\" level=info msg=\"hello 42\"\n$");
}

Test(log, each_level_is_written_with_its_name)
{
        pipe_sink();
        skiff_log_set_level(SKIFF_LOG_DEBUG);
        log_error("e");
        log_warn("w");
        log_info("i");
        log_debug("d");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert_eq(count_char(buf, '\n'), 4, "%s", buf);
        const char *e = strstr(buf, " level=error msg=\"e\"\n");
        const char *w = strstr(buf, " level=warning msg=\"w\"\n");
        const char *i = strstr(buf, " level=info msg=\"i\"\n");
        const char *d = strstr(buf, " level=debug msg=\"d\"\n");
        cr_assert(e && w && i && d, "%s", buf);
        cr_assert(e < w && w < i && i < d, "lines come out in order");
}

Test(log, the_default_level_is_info)
{
        cr_assert_eq(skiff_log_get_level(), SKIFF_LOG_INFO);
        pipe_sink();
        log_debug("hidden");
        log_info("shown");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert_null(strstr(buf, "hidden"));
        cr_assert_not_null(strstr(buf, "msg=\"shown\""));
}

Test(log, messages_above_the_level_are_dropped)
{
        pipe_sink();
        skiff_log_set_level(SKIFF_LOG_WARN);
        cr_assert_eq(skiff_log_get_level(), SKIFF_LOG_WARN);
        log_info("dropped");
        log_warn("kept-warn");
        log_error("kept-error");
        skiff_log_set_level(SKIFF_LOG_ERROR);
        log_warn("dropped-too");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert_eq(count_char(buf, '\n'), 2, "%s", buf);
        cr_assert_null(strstr(buf, "dropped"));
        cr_assert_not_null(strstr(buf, "kept-warn"));
        cr_assert_not_null(strstr(buf, "kept-error"));
}

static int evaluated;
static int side_effect(void)
{
        return ++evaluated;
}

Test(log, log_debug_does_not_evaluate_its_arguments_below_debug)
{
        pipe_sink();
        log_debug("%d", side_effect());
        cr_assert_eq(evaluated, 0);
        skiff_log_set_level(SKIFF_LOG_DEBUG);
        log_debug("%d", side_effect());
        cr_assert_eq(evaluated, 1);
}

Test(log, quotes_backslashes_and_newlines_are_escaped_to_keep_one_line)
{
        pipe_sink();
        log_warn("say \"hi\"\nC:\\dir");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert_eq(count_char(buf, '\n'), 1, "%s", buf);
        cr_assert(ends_with(buf, " msg=\"say \\\"hi\\\"\\nC:\\\\dir\"\n"), "%s", buf);
}

Test(log, carriage_returns_tabs_and_control_characters_are_not_written_raw)
{
        pipe_sink();
        log_warn("a\rb\tc\x1b[31md\x7f");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert(ends_with(buf, " msg=\"a\\rb\\tc?[31md?\"\n"), "%s", buf);
}

Test(log, the_context_follows_the_message)
{
        pipe_sink();
        skiff_log_set_context("id=abc ns=k8s.io");
        log_info("started");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert(ends_with(buf, " msg=\"started\" id=abc ns=k8s.io\n"), "%s", buf);
}

Test(log, the_context_is_copied)
{
        pipe_sink();
        char ctx[] = "pod=one";
        skiff_log_set_context(ctx);
        strcpy(ctx, "pod=two");
        log_info("x");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert(ends_with(buf, " msg=\"x\" pod=one\n"), "%s", buf);
}

Test(log, an_empty_or_null_context_adds_nothing)
{
        pipe_sink();
        skiff_log_set_context("id=abc");
        skiff_log_set_context("");
        log_info("a");
        skiff_log_set_context("id=abc");
        skiff_log_set_context(NULL);
        log_info("b");
        char buf[4096];
        drain(buf, sizeof(buf));
        cr_assert_not_null(strstr(buf, " msg=\"a\"\n"), "%s", buf);
        cr_assert(ends_with(buf, " msg=\"b\"\n"), "%s", buf);
        cr_assert_null(strstr(buf, "id=abc"));
}

Test(log, a_very_long_message_is_cut_but_stays_one_line)
{
        pipe_sink();
        skiff_log_set_context("id=ctx");
        char msg[8000];
        memset(msg, '"', sizeof(msg) - 1);
        msg[sizeof(msg) - 1] = '\0';
        log_error("%s", msg);
        char buf[16384];
        size_t n = drain(buf, sizeof(buf));
        cr_assert_gt(n, 1024, "most of the message is kept");
        cr_assert_eq(count_char(buf, '\n'), 1, "one line");
        cr_assert(ends_with(buf, "\\\"\" id=ctx\n"),
                  "the last escape is whole and the quote is closed: %s", buf + n - 40);
}

Test(log, a_full_non_blocking_pipe_loses_the_line_without_blocking, .timeout = 10)
{
        pipe_sink();
        char fill[4096];
        memset(fill, 'f', sizeof(fill));
        while (write(sink[1], fill, sizeof(fill)) > 0)
                ;
        cr_assert_eq(errno, EAGAIN);
        log_error("lost");
        char buf[1 << 17];
        drain(buf, sizeof(buf));
        cr_assert_null(strstr(buf, "lost"));
}

Test(log, a_socket_sink_whose_peer_is_gone_does_not_raise_sigpipe)
{
        signal(SIGPIPE, SIG_DFL);
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        close(sv[1]);
        skiff_log_set_fd(sv[0]);
        log_error("nobody listens");
        log_error("still alive");
        close(sv[0]);
}

Test(log, a_pipe_sink_whose_reader_is_gone_does_not_raise_sigpipe)
{
        signal(SIGPIPE, SIG_DFL);
        pipe_sink();
        close(sink[0]);
        log_error("nobody listens");
}

Test(log, a_socket_sink_gets_the_same_line)
{
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        skiff_log_set_fd(sv[0]);
        log_warn("via socket");
        char buf[1024];
        ssize_t n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
        cr_assert_gt(n, 0);
        buf[n] = '\0';
        assert_matches(buf, "^time=\"[^\"]+\" level=warning msg=\"via socket\"\n$");
        close(sv[0]);
        close(sv[1]);
}
