/* skiff agent: the DaemonSet's long-running container. One thread, one poll(2) loop: serves
 * Prometheus text on /metrics and /healthz, and runs slow work in one forked worker at a time —
 * GC (on a schedule, and whenever the store outgrows the size budget), a store size scan, and the
 * prefetch of the references listed in a mounted file. Workers report one JSON line per result
 * over a pipe. Logs are logfmt lines on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/agent_metrics.h"
#include "cli/cli.h"
#include "cli/httpd.h"
#include "cli/nodestats.h"
#include "store/config.h"
#include "store/gc.h"
#include "store/store.h"

#define PREFETCH_ROOT_DIR "prefetch"
#define PREFETCH_MAX      (1 << 20)

enum job { JOB_NONE, JOB_SCAN, JOB_GC, JOB_PREFETCH, _JOB_MAX };
/* NULL-terminated: job_names + JOB_SCAN lists the workers. */
static const char *const job_names[_JOB_MAX + 1] = {"none", "scan", "gc", "prefetch", NULL};

struct agent {
        const char *listen;
        const char *config_path; /* NULL: default */
        int64_t gc_interval_ms;
        int64_t scan_interval_ms;
        const char *prefetch_file;
        char *self;
        struct skiff_config *cfg;
        struct skiff_httpd *httpd;
        int sigfd;
        bool stop;

        /* the one worker */
        enum job job;
        pid_t pid;
        int fd;
        struct skiff_strbuf out;
        int64_t job_started_ms;
        bool want[_JOB_MAX];
        int64_t next_gc_ms, next_scan_ms, next_prefetch_check_ms;
        uint8_t prefetch_digest[SKIFF_SHA256_LEN];
        bool prefetch_seen;

        /* metrics owned by the agent (m.max_size is the GC size budget) */
        struct skiff_agent_metrics m;
        uint64_t worker_crashes;
};

static int64_t now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* logfmt: alog("info", "gc finished", "deleted", "3", NULL). Values are quoted when needed. */
static void alog(const char *level, const char *msg, ...)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        skiff_strbuf_printf(&sb, "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=",
                            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                            tm.tm_sec, ts.tv_nsec / 1000000, level);
        va_list ap;
        va_start(ap, msg);
        const char *k = NULL, *v = msg;
        for (;;) {
                if (k)
                        skiff_strbuf_printf(&sb, " %s=", k);
                bool quote = !*v || strpbrk(v, " \"=\\\n\t") != NULL;
                if (quote)
                        skiff_strbuf_putc(&sb, '"');
                for (const char *p = v; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                skiff_strbuf_putc(&sb, '\\');
                        if (*p == '\n')
                                skiff_strbuf_puts(&sb, "\\n");
                        else
                                skiff_strbuf_putc(&sb, *p);
                }
                if (quote)
                        skiff_strbuf_putc(&sb, '"');
                k = va_arg(ap, const char *);
                if (!k)
                        break;
                v = va_arg(ap, const char *);
                if (!v)
                        v = "";
        }
        va_end(ap);
        skiff_strbuf_putc(&sb, '\n');
        (void)!write(STDERR_FILENO, sb.buf, sb.len); /* best effort, like every log sink */
        skiff_strbuf_free(&sb);
}

static char *u64s(uint64_t v)
{
        return xasprintf("%llu", (unsigned long long)v);
}

/* ---- workers ------------------------------------------------------------------------------ */

static void emit(int fd, struct skiff_json_gen *g)
{
        _cleanup_free_ char *line = NULL;
        size_t len = 0;
        if (skiff_json_gen_finish(g, &line, &len, NULL) < 0)
                return;
        line = xrealloc(line, len + 2);
        line[len++] = '\n';
        (void)!skiff_fs_write_all(fd, line, len); /* the parent may be gone */
}

static void emit_error(int fd, int r, const char *msg)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_bool(g, "ok", false);
        skiff_json_gen_kv_i64(g, "errno", -r);
        skiff_json_gen_kv_string(g, "message", msg);
        skiff_json_gen_map_close(g);
        emit(fd, g);
}

static int work_scan(struct agent *a, int fd)
{
        _cleanup_free_ char *dir = skiff_path_join(a->cfg->store_root, "narinfo");
        _cleanup_closedir_ DIR *d = opendir(dir);
        uint64_t paths = 0, bytes = 0;
        if (!d && errno != ENOENT) {
                _cleanup_free_ char *m = xasprintf("open `%s`: %s", dir, strerror(errno));
                emit_error(fd, -errno, m);
                return 1;
        }
        struct dirent *de;
        while (d && (de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n < 9 || strcmp(de->d_name + n - 8, ".narinfo") != 0)
                        continue;
                _cleanup_free_ char *p = skiff_path_join(dir, de->d_name), *buf = NULL;
                _cleanup_error_ skiff_err_t err = NULL;
                if (skiff_fs_read_file(p, 1 << 20, &buf, NULL, &err) < 0)
                        continue;
                paths++;
                const char *s = strstr(buf, "\nNarSize: ");
                uint64_t v = 0;
                if (s) {
                        s += 10;
                        _cleanup_free_ char *num = xstrndup(s, strcspn(s, "\r\n"));
                        if (skiff_parse_u64(num, &v) == 0)
                                bytes += v;
                }
        }
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_bool(g, "ok", true);
        skiff_json_gen_kv_u64(g, "paths", paths);
        skiff_json_gen_kv_u64(g, "bytes", bytes);
        skiff_json_gen_map_close(g);
        emit(fd, g);
        return 0;
}

static int work_gc(struct agent *a, int fd)
{
        struct skiff_gc_opts o = {.max_size = a->m.max_size};
        struct skiff_gc_result res = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = skiff_gc_run(a->cfg, &o, &res, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0) {
                emit_error(fd, r, err->msg);
                return 1;
        }
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_bool(g, "ok", true);
        skiff_json_gen_kv_u64(g, "total", res.total);
        skiff_json_gen_kv_u64(g, "live", res.live);
        skiff_json_gen_kv_u64(g, "deleted", res.deleted);
        skiff_json_gen_kv_u64(g, "freed", res.freed);
        skiff_json_gen_kv_u64(g, "size_after", res.size_after);
        skiff_json_gen_string(g, "seconds");
        skiff_json_gen_double(g, (double)(t1.tv_sec - t0.tv_sec) +
                                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        skiff_json_gen_map_close(g);
        emit(fd, g);
        return 0;
}

/* A GC root name for a prefetch line: readable, unique (hash suffix), one path component. */
static char *prefetch_root(const char *line)
{
        uint8_t d[SKIFF_SHA256_LEN];
        char hex[2 * SKIFF_SHA256_LEN + 1];
        skiff_sha256_oneshot(line, strlen(line), d);
        skiff_hex_encode(d, 6, hex);
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        skiff_strbuf_puts(&sb, PREFETCH_ROOT_DIR "/");
        const char *base = strrchr(line, '/') && line[0] == '/' ? strrchr(line, '/') + 1 : line;
        for (size_t i = 0; base[i] && i < 80; i++) {
                char c = base[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
                skiff_strbuf_putc(&sb, ok && !(i == 0 && c == '.') ? c : '_');
        }
        skiff_strbuf_printf(&sb, "-%s", hex);
        return skiff_strbuf_take(&sb);
}

static char **prefetch_lines(const char *buf)
{
        _cleanup_strv_ char **raw = skiff_strv_split(buf, "\n", true);
        char **out = xcalloc(1, sizeof(char *));
        for (size_t i = 0; raw[i]; i++) {
                char *s = raw[i];
                s[strcspn(s, "#")] = '\0';
                while (*s == ' ' || *s == '\t')
                        s++;
                size_t n = strlen(s);
                while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                        s[--n] = '\0';
                if (n && !skiff_strv_contains(out, s))
                        skiff_strv_push(&out, s);
        }
        return out;
}

static int run_realize(struct agent *a, const char *line, const char *root)
{
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char *argv[9];
                size_t n = 0;
                argv[n++] = a->self;
                argv[n++] = (char *)"realize";
                if (a->config_path) {
                        argv[n++] = (char *)"--config";
                        argv[n++] = (char *)a->config_path;
                }
                argv[n++] = (char *)"--root";
                argv[n++] = (char *)root;
                argv[n++] = (char *)"--";
                argv[n++] = (char *)line;
                argv[n] = NULL;
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull >= 0)
                        (void)dup2(devnull, STDOUT_FILENO); /* progress is not needed */
                execv(a->self, argv);
                _exit(127);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int work_prefetch(struct agent *a, int fd)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        if (skiff_fs_read_file(a->prefetch_file, PREFETCH_MAX, &buf, NULL, &err) < 0) {
                emit_error(fd, -err->errnum, err->msg);
                return 1;
        }
        _cleanup_strv_ char **lines = prefetch_lines(buf);
        _cleanup_strv_ char **roots = NULL;
        for (size_t i = 0; lines[i]; i++) {
                _cleanup_free_ char *root = prefetch_root(lines[i]);
                int status = run_realize(a, lines[i], root);
                skiff_strv_push(&roots, root);
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_bool(g, "ok", status == 0);
                skiff_json_gen_kv_string(g, "ref", lines[i]);
                skiff_json_gen_kv_i64(g, "status", status);
                skiff_json_gen_map_close(g);
                emit(fd, g);
        }
        /* Drop the roots of references no longer listed, so GC may collect them. */
        _cleanup_free_ char *dir = xasprintf("%s/roots/" PREFETCH_ROOT_DIR, a->cfg->store_root);
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        _cleanup_strv_ char **stale = NULL;
        while (d && (de = readdir(d))) {
                if (!skiff_path_is_component(de->d_name))
                        continue;
                _cleanup_free_ char *name = xasprintf(PREFETCH_ROOT_DIR "/%s", de->d_name);
                if (!skiff_strv_contains(roots, name))
                        skiff_strv_push(&stale, name);
        }
        if (stale) {
                _cleanup_store_ struct skiff_store *s = NULL;
                if (skiff_store_open(a->cfg, &s, &err) < 0) {
                        emit_error(fd, -err->errnum, err->msg);
                        return 1;
                }
                for (size_t i = 0; stale[i]; i++)
                        if (skiff_store_root_remove(s, stale[i], &err) < 0) {
                                emit_error(fd, -err->errnum, err->msg);
                                skiff_error_free(&err);
                        }
        }
        return 0;
}

static void start_job(struct agent *a, enum job job)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                alog("error", "cannot start worker", "job", job_names[job], "error",
                     strerror(errno), NULL);
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                alog("error", "cannot start worker", "job", job_names[job], "error",
                     strerror(errno), NULL);
                close(p[0]);
                close(p[1]);
                return;
        }
        if (pid == 0) {
                close(p[0]);
                sigset_t all;
                sigfillset(&all);
                sigprocmask(SIG_UNBLOCK, &all, NULL);
                int r = job == JOB_SCAN ? work_scan(a, p[1])
                        : job == JOB_GC ? work_gc(a, p[1])
                                        : work_prefetch(a, p[1]);
                _exit(r);
        }
        close(p[1]);
        (void)skiff_fd_set_nonblock(p[0], true);
        a->job = job;
        a->pid = pid;
        a->fd = p[0];
        a->job_started_ms = now_ms();
        a->want[job] = false;
        skiff_strbuf_reset(&a->out);
}

static void count_error(struct agent *a, int64_t errnum)
{
        a->m.agent_errors[skiff_nodestats_reason((int)errnum)]++;
}

static void job_result(struct agent *a, skiff_jv *v)
{
        bool ok = false;
        (void)skiff_json_bool(skiff_json_get(v, "ok"), &ok);
        if (!ok) {
                int64_t e = EIO;
                (void)skiff_json_i64(skiff_json_get(v, "errno"), &e);
                const char *m = skiff_json_str(skiff_json_get(v, "message"));
                const char *ref = skiff_json_str(skiff_json_get(v, "ref"));
                if (a->job == JOB_PREFETCH && ref) {
                        a->m.prefetch[1]++;
                        count_error(a, EIO);
                        int64_t st = 0;
                        (void)skiff_json_i64(skiff_json_get(v, "status"), &st);
                        _cleanup_free_ char *sts = u64s((uint64_t)st);
                        alog("warning", "prefetch failed", "ref", ref, "exit_status", sts, NULL);
                        return;
                }
                count_error(a, e);
                if (a->job == JOB_GC)
                        a->m.gc_runs[1]++;
                alog("error", "worker failed", "job", job_names[a->job], "error", m ? m : "?",
                     NULL);
                return;
        }
        if (a->job == JOB_SCAN) {
                (void)skiff_json_u64(skiff_json_get(v, "paths"), &a->m.store_paths);
                (void)skiff_json_u64(skiff_json_get(v, "bytes"), &a->m.store_bytes);
                a->m.have_size = true;
                if (a->m.max_size && a->m.store_bytes > a->m.max_size && !a->want[JOB_GC]) {
                        _cleanup_free_ char *b = u64s(a->m.store_bytes), *m = u64s(a->m.max_size);
                        alog("info", "store over its size budget: scheduling gc", "size_bytes", b,
                             "budget_bytes", m, NULL);
                        a->want[JOB_GC] = true;
                }
        } else if (a->job == JOB_GC) {
                uint64_t del = 0, freed = 0, after = 0, total = 0;
                (void)skiff_json_u64(skiff_json_get(v, "deleted"), &del);
                (void)skiff_json_u64(skiff_json_get(v, "freed"), &freed);
                (void)skiff_json_u64(skiff_json_get(v, "size_after"), &after);
                (void)skiff_json_u64(skiff_json_get(v, "total"), &total);
                (void)skiff_json_double(skiff_json_get(v, "seconds"), &a->m.gc_last_seconds);
                a->m.gc_runs[0]++;
                a->m.gc_deleted += del;
                a->m.gc_freed += freed;
                a->m.gc_last = time(NULL);
                a->m.store_bytes = after;
                a->m.store_paths = total - del;
                a->m.have_size = true;
                _cleanup_free_ char *ds = u64s(del), *fs = u64s(freed), *as = u64s(after);
                alog("info", "gc finished", "deleted", ds, "freed_bytes", fs, "size_bytes", as,
                     NULL);
        } else if (a->job == JOB_PREFETCH) {
                a->m.prefetch[0]++;
                alog("info", "prefetched", "ref", skiff_json_str(skiff_json_get(v, "ref")), NULL);
        }
}

static void job_finished(struct agent *a, int status)
{
        char *save = NULL;
        for (char *line = strtok_r(a->out.buf ? a->out.buf : (char[]){""}, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                _cleanup_json_ struct skiff_json *doc = NULL;
                _cleanup_error_ skiff_err_t err = NULL;
                if (skiff_json_parse(line, strlen(line), &doc, &err) < 0)
                        continue;
                job_result(a, skiff_json_root(doc));
        }
        if (WIFSIGNALED(status)) {
                a->worker_crashes++;
                count_error(a, EIO);
                char sig[16];
                snprintf(sig, sizeof(sig), "%d", WTERMSIG(status));
                alog("error", "worker killed", "job", job_names[a->job], "signal", sig, NULL);
        }
        if (a->job == JOB_GC)
                a->want[JOB_SCAN] = true; /* refresh the size right away */
        close(a->fd);
        a->fd = -EBADF;
        a->job = JOB_NONE;
        a->pid = 0;
}

static void reap(struct agent *a)
{
        int status;
        pid_t p;
        while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
                if (p != a->pid)
                        continue;
                /* Drain what is left in the pipe before handling the results. */
                char buf[4096];
                ssize_t n;
                while ((n = read(a->fd, buf, sizeof(buf))) > 0)
                        skiff_strbuf_append(&a->out, buf, (size_t)n);
                job_finished(a, status);
        }
}

/* ---- prefetch file changes ---------------------------------------------------------------- */

static void check_prefetch_file(struct agent *a)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        if (skiff_fs_read_file(a->prefetch_file, PREFETCH_MAX, &buf, &len, &err) < 0) {
                if (!a->prefetch_seen || err->errnum != ENOENT)
                        alog("warning", "cannot read the prefetch list", "file", a->prefetch_file,
                             "error", err->msg, NULL);
                a->prefetch_seen = true;
                return;
        }
        uint8_t d[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(buf, len, d);
        if (a->prefetch_seen && memcmp(d, a->prefetch_digest, sizeof(d)) == 0)
                return;
        memcpy(a->prefetch_digest, d, sizeof(d));
        a->prefetch_seen = true;
        alog("info", "prefetch list changed: scheduling prefetch", "file", a->prefetch_file, NULL);
        a->want[JOB_PREFETCH] = true;
}

/* ---- metrics ------------------------------------------------------------------------------ */

static void render_metrics(struct agent *a, struct skiff_strbuf *b)
{
        struct skiff_nodestats s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        bool stats_ok = skiff_nodestats_load(a->cfg->store_root, &s, &err) >= 0;
        if (!stats_ok)
                alog("warning", "cannot read node stats", "error", err->msg, NULL);
        skiff_agent_metrics_render(&a->m, stats_ok ? &s : NULL, job_names + JOB_SCAN,
                                   a->job == JOB_NONE ? NULL : job_names[a->job], b);
}

static int on_http(const char *path, struct skiff_strbuf *body, const char **ctype, void *ud)
{
        struct agent *a = ud;
        if (strcmp(path, "/metrics") == 0) {
                *ctype = "text/plain; version=0.0.4; charset=utf-8";
                render_metrics(a, body);
                return 200;
        }
        if (strcmp(path, "/healthz") == 0) {
                struct stat st;
                if (stat(a->cfg->store_root, &st) < 0 && errno != ENOENT) {
                        skiff_strbuf_printf(body, "store root `%s`: %s\n", a->cfg->store_root,
                                            strerror(errno));
                        return 503;
                }
                skiff_strbuf_puts(body, "ok\n");
                return 200;
        }
        skiff_strbuf_puts(body, "not found; try /metrics or /healthz\n");
        return 404;
}

/* ---- loop --------------------------------------------------------------------------------- */

static void schedule(struct agent *a, int64_t now)
{
        if (now >= a->next_scan_ms) {
                a->want[JOB_SCAN] = true;
                a->next_scan_ms = now + a->scan_interval_ms;
        }
        if (a->gc_interval_ms > 0 && now >= a->next_gc_ms) {
                a->want[JOB_GC] = true;
                a->next_gc_ms = now + a->gc_interval_ms;
        }
        if (a->prefetch_file && now >= a->next_prefetch_check_ms) {
                check_prefetch_file(a);
                a->next_prefetch_check_ms = now + 30000;
        }
        if (a->job == JOB_NONE) {
                /* GC first (it frees space), then prefetch, then the cheap scan. */
                static const enum job order[] = {JOB_GC, JOB_PREFETCH, JOB_SCAN};
                for (size_t i = 0; i < SKIFF_ARRAY_SIZE(order); i++)
                        if (a->want[order[i]]) {
                                alog("info", "starting worker", "job", job_names[order[i]], NULL);
                                start_job(a, order[i]);
                                break;
                        }
        }
}

static int64_t next_deadline(const struct agent *a)
{
        int64_t d = a->next_scan_ms;
        if (a->gc_interval_ms > 0 && a->next_gc_ms < d)
                d = a->next_gc_ms;
        if (a->prefetch_file && a->next_prefetch_check_ms < d)
                d = a->next_prefetch_check_ms;
        return d;
}

static int loop(struct agent *a)
{
        struct pollfd fds[SKIFF_HTTPD_POLLFDS + 2];
        while (!a->stop) {
                int64_t now = now_ms();
                schedule(a, now);
                size_t n = skiff_httpd_pollfds(a->httpd, fds);
                size_t isig = n++, iwork = n;
                fds[isig] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
                if (a->job != JOB_NONE)
                        fds[n++] = (struct pollfd){.fd = a->fd, .events = POLLIN};
                int64_t t = next_deadline(a) - now_ms();
                int ht = skiff_httpd_timeout(a->httpd);
                if (a->job == JOB_NONE &&
                    (a->want[JOB_GC] || a->want[JOB_PREFETCH] || a->want[JOB_SCAN]))
                        t = 0;
                if (ht >= 0 && ht < t)
                        t = ht;
                if (t < 0)
                        t = 0;
                int r = poll(fds, n, (int)(t > 60000 ? 60000 : t));
                if (r < 0 && errno != EINTR) {
                        alog("error", "poll failed", "error", strerror(errno), NULL);
                        return -errno;
                }
                if (r <= 0) {
                        skiff_httpd_dispatch(a->httpd, fds, 0);
                        continue;
                }
                if (fds[isig].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        reap(a);
                                else {
                                        char sig[16];
                                        snprintf(sig, sizeof(sig), "%u", si.ssi_signo);
                                        alog("info", "stopping", "signal", sig, NULL);
                                        a->stop = true;
                                }
                        }
                }
                if (iwork < n && (fds[iwork].revents & (POLLIN | POLLHUP)) && a->job != JOB_NONE) {
                        char buf[4096];
                        ssize_t m;
                        while ((m = read(a->fd, buf, sizeof(buf))) > 0 && a->out.len < (1 << 20))
                                skiff_strbuf_append(&a->out, buf, (size_t)m);
                }
                skiff_httpd_dispatch(a->httpd, fds, isig);
        }
        if (a->pid > 0) {
                alog("info", "stopping the running worker", "job", job_names[a->job], NULL);
                (void)kill(a->pid, SIGTERM);
                (void)waitpid(a->pid, NULL, 0);
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: skiff agent [--listen ADDR:PORT] [--gc-interval DURATION]\n"
                "                   [--scan-interval DURATION] [--max-size SIZE]\n"
                "                   [--prefetch-file FILE] [--config FILE]\n"
                "\n"
                "The node agent: serves Prometheus metrics on /metrics and a health check on\n"
                "/healthz, runs GC every --gc-interval and whenever the store is larger than\n"
                "--max-size, and realizes (pinning them as GC roots roots/prefetch/...) the\n"
                "store paths or references listed in --prefetch-file, one per line, `#` comments;\n"
                "the file is re-read every 30 seconds and prefetched again when it changes.\n"
                "  --listen         default 0.0.0.0:9464\n"
                "  --gc-interval    e.g. 30s, 10m, 1h; 0 disables scheduled GC (default 10m)\n"
                "  --scan-interval  how often the store size is measured (default 1m)\n"
                "  --max-size       size budget, e.g. 20G (default: gc_max_size of the node\n"
                "                   config; none: GC removes every unreachable path)\n"
                "  --config FILE    node config (default " SKIFF_CONFIG_PATH_DEFAULT ")\n"
                "Realization counters come from <store_root>/stats.json, which every `skiff\n"
                "realize` on the node updates. Stops on SIGTERM or SIGINT.\n");
}

static int bad_usage(void)
{
        usage(stderr);
        return SKIFF_EXIT_USAGE;
}

static int parse_duration_ms(const char *s, int64_t *ret)
{
        static const struct {
                char unit;
                int64_t ms;
        } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}};
        size_t n = strlen(s);
        if (n == 0)
                return -EINVAL;
        int64_t mult = 1000;
        _cleanup_free_ char *num = xstrdup(s);
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(units); i++)
                if (num[n - 1] == units[i].unit) {
                        mult = units[i].ms;
                        num[n - 1] = '\0';
                }
        uint64_t v;
        if (skiff_parse_u64(num, &v) < 0 || v > (uint64_t)INT64_MAX / (uint64_t)mult)
                return -EINVAL;
        *ret = (int64_t)v * mult;
        return 0;
}

int skiff_cli_agent(int argc, char **argv)
{
        static const struct option opts[] = {
            {"listen", required_argument, NULL, 'l'},
            {"gc-interval", required_argument, NULL, 'g'},
            {"scan-interval", required_argument, NULL, 's'},
            {"max-size", required_argument, NULL, 'm'},
            {"prefetch-file", required_argument, NULL, 'p'},
            {"config", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        struct agent a = {
            .listen = "0.0.0.0:9464",
            .gc_interval_ms = 600000,
            .scan_interval_ms = 60000,
            .sigfd = -EBADF,
            .fd = -EBADF,
        };
        const char *max = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'l':
                        a.listen = optarg;
                        break;
                case 'g':
                        if (parse_duration_ms(optarg, &a.gc_interval_ms) < 0)
                                return bad_usage();
                        break;
                case 's':
                        if (parse_duration_ms(optarg, &a.scan_interval_ms) < 0 ||
                            a.scan_interval_ms < 1000)
                                return bad_usage();
                        break;
                case 'm':
                        max = optarg;
                        break;
                case 'p':
                        a.prefetch_file = optarg;
                        break;
                case 'c':
                        a.config_path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return SKIFF_EXIT_OK;
                default:
                        return bad_usage();
                }
        }
        if (optind != argc)
                return bad_usage();
        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_config_ struct skiff_config *cfg = NULL;
        if (skiff_config_load(a.config_path, &cfg, &err) < 0)
                return skiff_cli_fail("agent", err->msg);
        a.cfg = cfg;
        a.m.max_size = cfg->gc_max_size;
        if (max && skiff_config_parse_size(max, &a.m.max_size) < 0) {
                fprintf(stderr, "skiff agent: invalid size `%s`\n", max);
                return SKIFF_EXIT_USAGE;
        }
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return skiff_cli_fail("agent", "cannot resolve /proc/self/exe");
        self[n] = '\0';
        a.self = self;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return skiff_cli_fail("agent", "cannot block signals");
        (void)signal(SIGPIPE, SIG_IGN); /* writes to closed sockets return EPIPE instead */
        _cleanup_close_ int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sigfd < 0)
                return skiff_cli_fail("agent", "signalfd failed");
        a.sigfd = sigfd;
        if (skiff_httpd_open(a.listen, on_http, &a, &a.httpd, &err) < 0)
                return skiff_cli_fail("agent", err->msg);
        a.m.started = time(NULL);
        int64_t now = now_ms();
        a.next_scan_ms = now;
        a.next_gc_ms = now + a.gc_interval_ms;
        a.next_prefetch_check_ms = now;
        char port[8], budget[24];
        snprintf(port, sizeof(port), "%u", skiff_httpd_port(a.httpd));
        snprintf(budget, sizeof(budget), "%llu", (unsigned long long)a.m.max_size);
        alog("info", "agent started", "listen", a.listen, "port", port, "store_root",
             cfg->store_root, "budget_bytes", budget, "prefetch_file",
             a.prefetch_file ? a.prefetch_file : "", NULL);
        int r = loop(&a);
        a.httpd = skiff_httpd_close(a.httpd);
        skiff_strbuf_free(&a.out);
        if (a.fd >= 0)
                close(a.fd);
        return r < 0 ? SKIFF_EXIT_FAILURE : SKIFF_EXIT_OK;
}
