#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum skiff_log_level log_level = SKIFF_LOG_INFO;
static char log_ctx[256];

/* write(2) to a pipe or file without SIGPIPE when the reader is gone: SIGPIPE is blocked for the
 * call, and one it raised is consumed unless it was already pending. Best effort. */
static void write_nosigpipe(int fd, const char *buf, size_t len)
{
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0) {
                (void)!write(fd, buf, len);
                return;
        }
        sigset_t pending;
        bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
        if (write(fd, buf, len) < 0 && errno == EPIPE && !was_pending) {
                static const struct timespec zero = {0};
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                        ;
        }
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static const char *const level_names[_SKIFF_LOG_MAX] = {
    [SKIFF_LOG_ERROR] = "error",
    [SKIFF_LOG_WARN] = "warning",
    [SKIFF_LOG_INFO] = "info",
    [SKIFF_LOG_DEBUG] = "debug",
};

void skiff_log_set_fd(int fd)
{
        log_fd = fd;
}

void skiff_log_set_level(enum skiff_log_level level)
{
        log_level = level;
}

enum skiff_log_level skiff_log_get_level(void)
{
        return log_level;
}

void skiff_log_set_context(const char *ctx)
{
        snprintf(log_ctx, sizeof(log_ctx), "%s", ctx ? ctx : "");
}

void skiff_log(enum skiff_log_level level, const char *fmt, ...)
{
        if (level > log_level || log_fd < 0)
                return;
        int saved = errno;
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        /* Escape quotes, backslashes, newlines, CR and tab so one event stays one line; other
         * control characters become `?`. */
        char esc[2048];
        size_t j = 0;
        for (size_t i = 0; msg[i] && j + 2 < sizeof(esc); i++) {
                char ch = msg[i];
                if (ch == '"' || ch == '\\') {
                        esc[j++] = '\\';
                        esc[j++] = ch;
                } else if (ch == '\n' || ch == '\r' || ch == '\t') {
                        esc[j++] = '\\';
                        esc[j++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
                } else if ((unsigned char)ch < 0x20 || ch == 0x7f) {
                        esc[j++] = '?'; /* other control characters: never raw in a log line */
                } else {
                        esc[j++] = ch;
                }
        }
        esc[j] = '\0';

        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char line[2600];
        int n =
            snprintf(line, sizeof(line),
                     "time=\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\" level=%s msg=\"%s\"%s%s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000, level_names[level], esc, log_ctx[0] ? " " : "", log_ctx);
        if (n > (int)sizeof(line))
                n = sizeof(line);
        struct stat st;
        if (fstat(log_fd, &st) == 0 && S_ISSOCK(st.st_mode))
                (void)!send(log_fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        else
                write_nosigpipe(log_fd, line, (size_t)n);
        errno = saved;
}
