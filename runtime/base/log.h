/* One logging sink: one logfmt line per event ("time=… level=… msg=\"…\" k=v"); the message has
 * `"`, `\`, newline, CR and tab escaped and other control characters replaced by `?`.
 * runtime/ code logs at most at debug level and returns errors instead. */
#ifndef SKIFF_BASE_LOG_H
#define SKIFF_BASE_LOG_H

enum skiff_log_level {
        SKIFF_LOG_ERROR = 0,
        SKIFF_LOG_WARN,
        SKIFF_LOG_INFO,
        SKIFF_LOG_DEBUG,
        _SKIFF_LOG_MAX,
};

/* Sets the sink fd (default 2) and the maximum level written (default INFO). The fd is not
 * owned. Writes are best-effort: a full or reader-less pipe loses the line, never blocks
 * (the caller should make the fd non-blocking) and never raises SIGPIPE. */
void skiff_log_set_fd(int fd);
void skiff_log_set_level(enum skiff_log_level level);
enum skiff_log_level skiff_log_get_level(void);
/* Static context appended to every line, e.g. "id=abc ns=k8s.io"; copied. */
void skiff_log_set_context(const char *ctx);

void skiff_log(enum skiff_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) skiff_log(SKIFF_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  skiff_log(SKIFF_LOG_WARN, __VA_ARGS__)
#define log_info(...)  skiff_log(SKIFF_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
        do {                                                                                       \
                if (skiff_log_get_level() >= SKIFF_LOG_DEBUG)                                      \
                        skiff_log(SKIFF_LOG_DEBUG, __VA_ARGS__);                                   \
        } while (0)

#endif
