#include "shim/env.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/annotations.h"
#include "env/assemble.h"
#include "env/ref.h"
#include "oci/container.h"
#include "oci/exec.h"
#include "oci/spec.h"
#include "shim/reaper.h"
#include "shim/shim.h"
#include "store/config.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define LINE_MAX_BYTES                  (256 * 1024)
#define ROOT_PREFIX                     "containers"

enum job_state { JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct waiter;

/* One `skiff prefetch` child for one layer set. */
struct job {
        struct job *next;
        char *key; /* the layer references as requested, canonical, comma-separated */
        pid_t pid;
        uv_pipe_t out;
        bool out_open, eof, exited;
        int status;
        struct skiff_strbuf line;
        enum job_state state;
        char *error;
        size_t done, total;
        uint64_t bytes;
        char *plan_file;
        struct skiff_assemble_plan plan;
        struct waiter *waiters;
};

/* One container Create waiting for a job. */
struct waiter {
        struct waiter *next;
        struct job *job;
        uv_timer_t timer;
        bool timer_open;
        char *id, *bundle;
        struct skiff_spec *spec; /* borrowed */
        char **image_dirs;
        enum skiff_annotations_view view;
        bool skip_exec;
        uint32_t timeout;
        skiff_shim_env_ready_cb cb;
        void *data;
};

/* An opted-in container (for exec and delete). */
struct container {
        struct container *next;
        char *id;
        bool skip_exec;
        struct skiff_assemble_plan *plan; /* borrowed from the job, which outlives it */
        struct job *job;
};

static struct {
        uv_loop_t *loop;
        struct skiff_reaper *reaper;
        const struct skiff_shim_ctx *ctx;
        struct skiff_config *cfg;
        bool cfg_loaded;
        struct job *jobs;
        struct job *retired; /* finished jobs still referenced by containers */
        struct container *containers;
} env;

void skiff_shim_env_init(uv_loop_t *loop, struct skiff_reaper *reaper,
                         const struct skiff_shim_ctx *ctx)
{
        env.loop = loop;
        env.reaper = reaper;
        env.ctx = ctx;
}

static const char *config_path(void)
{
        return env.ctx && env.ctx->config_path && *env.ctx->config_path ? env.ctx->config_path
                                                                        : NULL;
}

static int load_config(skiff_err_t *err)
{
        if (env.cfg)
                return 0;
        int r = skiff_config_load(config_path(), &env.cfg, err);
        if (r == -ENOENT) {
                /* A node without its config file still runs plain and GPU containers with the
                 * defaults; an environment then fails naming what is missing (keys, hub). */
                log_warn("node config `%s` is missing, using defaults", config_path());
                skiff_error_free(err);
                env.cfg = skiff_config_new_default();
                return 0;
        }
        if (r < 0)
                return skiff_error_wrap(err, "skiff: node config");
        return 0;
}

/* The `skiff` binary: next to the shim binary. */
static char *skiff_binary(void)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return xstrdup("/usr/local/bin/skiff");
        self[n] = '\0';
        _cleanup_free_ char *dir = skiff_path_dirname(self);
        return skiff_path_join(dir, "skiff");
}

/* fork + exec of `skiff argv...` with stdout to out_w (or /dev/null when < 0). */
static int spawn(char **argv, int out_w, pid_t *ret, skiff_err_t *err)
{
        _cleanup_free_ char *bin = skiff_binary();
        pid_t pid = fork();
        if (pid < 0)
                return skiff_error_set_errno(err, errno, "fork `%s`", bin);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);
                if (devnull < 0)
                        _exit(126);
                int out = out_w >= 0 ? fcntl(out_w, F_DUPFD, 10) : devnull;
                if (out < 0)
                        _exit(126);
                dup2(devnull, 0);
                dup2(out, 1);
                if (skiff_exec_cloexec_fds(3, NULL) < 0)
                        _exit(126);
                skiff_exec_reset_signals();
                argv[0] = bin;
                execv(bin, argv);
                _exit(127);
        }
        *ret = pid;
        return 0;
}

/* ---- jobs ------------------------------------------------------------------------------ */

static void waiter_finish(struct waiter *w, int r, skiff_err_t *err);

static void job_progress_line(struct job *j, const char *line, size_t len)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        if (skiff_json_parse(line, len, &doc, NULL) < 0)
                return;
        skiff_jv *root = skiff_json_root(doc);
        const char *ev = skiff_json_str(skiff_json_get(root, "event"));
        if (!ev)
                return;
        uint64_t v = 0;
        if (strcmp(ev, "path") == 0 || strcmp(ev, "closure") == 0) {
                if (skiff_json_u64(skiff_json_get(root, "done"), &v) == 0)
                        j->done = (size_t)v;
                if (skiff_json_u64(skiff_json_get(root, "total"), &v) == 0)
                        j->total = (size_t)v;
                if (skiff_json_u64(skiff_json_get(root, "bytes"), &v) == 0)
                        j->bytes = v;
        } else if (strcmp(ev, "error") == 0) {
                const char *m = skiff_json_str(skiff_json_get(root, "message"));
                free(j->error);
                j->error = xstrdup(m ? m : "realization failed");
        }
}

static void job_settle(struct job *j)
{
        if (!j->eof || !j->exited || j->state != JOB_RUNNING)
                return;
        skiff_err_t err = NULL;
        if (j->status == 0) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                int r = skiff_fs_read_file(j->plan_file, SKIFF_ASSEMBLE_PLAN_MAX, &buf, &len, &err);
                if (r >= 0)
                        r = skiff_assemble_plan_decode(buf, len, &j->plan, &err);
                (void)unlink(j->plan_file); /* read once; best effort */
                if (r >= 0) {
                        j->state = JOB_DONE;
                } else {
                        free(j->error);
                        j->error = xasprintf("environment %s: %s", j->key, err->msg);
                        skiff_error_free(&err);
                }
        }
        if (j->state != JOB_DONE) {
                j->state = JOB_FAILED;
                if (!j->error)
                        j->error = xasprintf("environment %s: the realizer exited with status %d",
                                             j->key, j->status);
                log_warn("environment realization failed: refs=%s error=%s", j->key, j->error);
        } else {
                log_info("environment realized: refs=%s paths=%zu", j->key,
                         skiff_strv_len(j->plan.closure));
        }
        struct waiter *w = j->waiters;
        j->waiters = NULL;
        while (w) {
                struct waiter *next = w->next;
                w->next = NULL;
                w->job = j;
                if (j->state == JOB_DONE) {
                        waiter_finish(w, 0, NULL);
                } else {
                        skiff_error_set(&err, EIO, "skiff: %s", j->error);
                        waiter_finish(w, -EIO, &err);
                }
                w = next;
        }
}

static void job_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        buf->base = xmalloc(65536);
        buf->len = 65536;
}

static void job_close_cb(uv_handle_t *h)
{
}

static void job_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct job *j = container_of((uv_pipe_t *)s, struct job, out);
        if (n > 0) {
                for (ssize_t i = 0; i < n; i++) {
                        char c = buf->base[i];
                        if (c == '\n') {
                                if (j->line.len)
                                        job_progress_line(j, j->line.buf, j->line.len);
                                skiff_strbuf_reset(&j->line);
                        } else if (j->line.len < LINE_MAX_BYTES) {
                                skiff_strbuf_putc(&j->line, c);
                        }
                }
        }
        free(buf->base);
        if (n < 0) {
                uv_read_stop(s);
                uv_close((uv_handle_t *)s, job_close_cb);
                j->eof = true;
                job_settle(j);
        }
}

static void job_exit_cb(const struct skiff_exit *e, void *data)
{
        struct job *j = data;
        j->exited = true;
        j->status = e->status;
        job_settle(j);
}

static struct job *job_find(const char *key)
{
        for (struct job *j = env.jobs; j; j = j->next)
                if (strcmp(j->key, key) == 0)
                        return j;
        return NULL;
}

/* Moves j out of the lookup table (a retry then starts a new job); j stays alive. */
static void job_retire(struct job *j)
{
        for (struct job **p = &env.jobs; *p; p = &(*p)->next) {
                if (*p == j) {
                        *p = j->next;
                        j->next = env.retired;
                        env.retired = j;
                        return;
                }
        }
}

static int job_start(const char *key, const struct skiff_ref *refs, size_t n, const char *dir,
                     struct job **ret, skiff_err_t *err)
{
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return skiff_error_set_errno(err, errno, "skiff: create a pipe");
        struct job *j = xcalloc(1, sizeof(*j));
        j->key = xstrdup(key);
        j->plan_file =
            xasprintf("%s/skiff-plan-%d-%lx.json", dir, (int)getpid(), (unsigned long)(uintptr_t)j);
        _cleanup_strv_ char **argv = xcalloc(1, sizeof(char *));
        skiff_strv_push(&argv, "skiff");
        skiff_strv_push(&argv, "prefetch");
        skiff_strv_push(&argv, "--json");
        skiff_strv_push(&argv, "--plan");
        skiff_strv_push(&argv, j->plan_file);
        if (config_path()) {
                skiff_strv_push(&argv, "--config");
                skiff_strv_push(&argv, config_path());
        }
        for (size_t i = 0; i < n; i++)
                skiff_strv_push_take(&argv, skiff_ref_format(&refs[i]));
        int r = spawn(argv, fds[1], &j->pid, err);
        close(fds[1]);
        if (r < 0) {
                close(fds[0]);
                goto fail;
        }
        r = skiff_reaper_subscribe(env.reaper, j->pid, job_exit_cb, j);
        if (r < 0) {
                (void)kill(j->pid, SIGKILL);
                close(fds[0]);
                skiff_error_set(err, -r, "skiff: watch the realizer: %s", strerror(-r));
                goto fail;
        }
        uv_pipe_init(env.loop, &j->out, 0);
        r = uv_pipe_open(&j->out, fds[0]);
        if (r == 0)
                r = uv_read_start((uv_stream_t *)&j->out, job_alloc_cb, job_read_cb);
        if (r < 0) {
                /* The child keeps running; without progress we still learn its exit. */
                log_warn("cannot read realizer progress, ignoring: error=%s", uv_strerror(r));
                uv_close((uv_handle_t *)&j->out, job_close_cb);
                j->eof = true;
        }
        j->out_open = true;
        j->next = env.jobs;
        env.jobs = j;
        log_info("environment realization started: refs=%s pid=%d", key, (int)j->pid);
        *ret = j;
        return 0;
fail:
        free(j->key);
        free(j->plan_file);
        free(j);
        return r < 0 ? r : -EIO;
}

/* The job for refs: a running or finished one, else a new one (a failed one is retired, so a
 * retry tries again). */
static int job_get(const struct skiff_ref *refs, size_t n, const char *dir, struct job **ret,
                   skiff_err_t *err)
{
        _cleanup_strbuf_ struct skiff_strbuf key = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = skiff_ref_format(&refs[i]);
                skiff_strbuf_printf(&key, "%s%s", i ? "," : "", s);
        }
        struct job *j = job_find(key.buf);
        if (j && j->state == JOB_FAILED) {
                job_retire(j);
                j = NULL;
        }
        if (j) {
                *ret = j;
                return 0;
        }
        return job_start(key.buf, refs, n, dir, ret, err);
}

/* ---- containers ------------------------------------------------------------------------ */

static void waiter_timer_close_cb(uv_handle_t *h)
{
        struct waiter *w = container_of((uv_timer_t *)h, struct waiter, timer);
        free(w->id);
        free(w->bundle);
        skiff_strv_free(w->image_dirs);
        free(w);
}

static void waiter_free(struct waiter *w)
{
        if (w->timer_open) {
                uv_timer_stop(&w->timer);
                uv_close((uv_handle_t *)&w->timer, waiter_timer_close_cb);
                return;
        }
        free(w->id);
        free(w->bundle);
        skiff_strv_free(w->image_dirs);
        free(w);
}

static void waiter_unlink(struct waiter *w)
{
        if (!w->job)
                return;
        for (struct waiter **p = &w->job->waiters; *p; p = &(*p)->next) {
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        }
}

static void container_add(const char *id, bool skip_exec, struct job *j)
{
        struct container *c = xcalloc(1, sizeof(*c));
        c->id = xstrdup(id);
        c->skip_exec = skip_exec;
        c->job = j;
        c->plan = &j->plan;
        c->next = env.containers;
        env.containers = c;
}

static void add_root(const char *id, const struct skiff_assemble_plan *plan)
{
        _cleanup_strv_ char **argv = xcalloc(1, sizeof(char *));
        skiff_strv_push(&argv, "skiff");
        skiff_strv_push(&argv, "store");
        skiff_strv_push(&argv, "root");
        skiff_strv_push(&argv, "add");
        if (config_path()) {
                skiff_strv_push(&argv, "--config");
                skiff_strv_push(&argv, config_path());
        }
        skiff_strv_push_take(&argv,
                             xasprintf("%s/%s/%s", ROOT_PREFIX,
                                       env.ctx && env.ctx->ns ? env.ctx->ns : "default", id));
        for (char **p = plan->closure; p && *p; p++)
                skiff_strv_push(&argv, *p);
        skiff_err_t err = NULL;
        pid_t pid = 0;
        if (spawn(argv, -1, &pid, &err) < 0) {
                log_warn("cannot add the GC root, ignoring: id=%s error=%s", id,
                         skiff_error_msg(err));
                skiff_error_free(&err);
                return;
        }
        /* The reaper's exit cache takes the status; nobody needs it. */
}

static void waiter_finish(struct waiter *w, int r, skiff_err_t *err)
{
        skiff_err_t e = NULL;
        if (r >= 0) {
                struct job *j = w->job;
                _cleanup_free_ char *skel = skiff_path_join(w->bundle, "skiff-skel");
                r = skiff_assemble_apply(&j->plan, w->view, w->spec, w->image_dirs, skel, &e);
                if (r < 0) {
                        _cleanup_free_ char *m = xstrdup(e->msg);
                        skiff_error_free(&e);
                        skiff_error_set(&e, -r, "skiff: environment %s: %s", j->plan.refs, m);
                } else {
                        add_root(w->id, &j->plan);
                        container_add(w->id, w->skip_exec, j);
                }
                err = &e;
        }
        skiff_shim_env_ready_cb cb = w->cb;
        void *data = w->data;
        waiter_free(w);
        cb(r, err, data);
        if (e)
                skiff_error_free(&e);
}

static void waiter_timeout_cb(uv_timer_t *t)
{
        struct waiter *w = container_of(t, struct waiter, timer);
        struct job *j = w->job;
        waiter_unlink(w);
        skiff_err_t err = NULL;
        skiff_error_set(&err, EAGAIN,
                        "skiff: environment %s: still realizing (%zu/%zu paths, %.0f MiB) after "
                        "%us; retrying will continue",
                        j->key, j->done, j->total, (double)j->bytes / 1048576.0, w->timeout);
        log_info("environment not ready in time: id=%s refs=%s", w->id, j->key);
        skiff_shim_env_ready_cb cb = w->cb;
        void *data = w->data;
        waiter_free(w);
        cb(-EAGAIN, &err, data);
}

static void waiter_ready_cb(uv_timer_t *t)
{
        waiter_finish(container_of(t, struct waiter, timer), 0, NULL);
}

void skiff_shim_env_sandbox(const char *bundle, const struct skiff_spec *spec)
{
        skiff_err_t err = NULL;
        struct skiff_annotations a = {0};
        int r = load_config(&err);
        if (r >= 0)
                r = skiff_annotations_parse(spec->annotations, NULL, env.cfg->allow_unpinned, &a,
                                            &err);
        if (r >= 0 && a.opted_in) {
                struct job *j = NULL;
                r = job_get(a.layers, a.n_layers, bundle, &j, &err);
        }
        if (r < 0) {
                log_warn("sandbox environment not started, ignoring: error=%s",
                         skiff_error_msg(err));
                skiff_error_free(&err);
        }
        skiff_annotations_done(&a);
}

int skiff_shim_env_prepare(const char *id, const char *bundle, struct skiff_spec *spec,
                           const struct skiff_rootfs_mount *rootfs, size_t n_rootfs,
                           skiff_shim_env_ready_cb cb, void *data, skiff_err_t *err)
{
        const char *name = skiff_annotations_container_name(spec->annotations);
        if (!name)
                return 1; /* not a CRI container */
        bool has = false;
        for (char **kv = spec->annotations; kv && kv[0] && kv[1]; kv += 2)
                if (strncmp(kv[0], SKIFF_ANNOTATIONS_PREFIX, strlen(SKIFF_ANNOTATIONS_PREFIX)) == 0)
                        has = true;
        if (!has)
                return 1;
        int r = load_config(err);
        if (r < 0)
                return r;
        struct skiff_annotations a = {0};
        r = skiff_annotations_parse(spec->annotations, name, env.cfg->allow_unpinned, &a, err);
        if (r < 0) {
                _cleanup_free_ char *m = xstrdup((*err)->msg);
                skiff_error_free(err);
                return skiff_error_set(err, -r, "skiff: %s", m);
        }
        if (!a.opted_in || a.skipped) {
                skiff_annotations_done(&a);
                return 1;
        }
        struct job *j = NULL;
        r = job_get(a.layers, a.n_layers, bundle, &j, err);
        if (r < 0) {
                skiff_annotations_done(&a);
                return r;
        }
        struct waiter *w = xcalloc(1, sizeof(*w));
        w->id = xstrdup(id);
        w->bundle = xstrdup(bundle);
        w->spec = spec;
        w->image_dirs = skiff_assemble_image_dirs(rootfs, n_rootfs, bundle, spec->root_path);
        w->view = a.view;
        w->skip_exec = a.skip_exec;
        w->timeout = a.realize_timeout ? a.realize_timeout : env.cfg->realize_timeout;
        w->cb = cb;
        w->data = data;
        w->job = j;
        skiff_annotations_done(&a);
        uv_timer_init(env.loop, &w->timer);
        w->timer_open = true;
        if (j->state == JOB_DONE) {
                /* Ready: finish from the loop, never from inside this call. */
                uv_timer_start(&w->timer, waiter_ready_cb, 0, 0);
        } else {
                w->next = j->waiters;
                j->waiters = w;
                uv_timer_start(&w->timer, waiter_timeout_cb, (uint64_t)w->timeout * 1000, 0);
        }
        return 0;
}

int skiff_shim_env_exec(const char *id, struct skiff_spec_process *proc, skiff_err_t *err)
{
        for (struct container *c = env.containers; c; c = c->next) {
                if (strcmp(c->id, id) != 0)
                        continue;
                if (c->skip_exec)
                        return 0;
                int r = skiff_assemble_apply_process(c->plan, proc, err);
                if (r < 0) {
                        _cleanup_free_ char *m = xstrdup((*err)->msg);
                        skiff_error_free(err);
                        return skiff_error_set(err, -r, "skiff: environment %s: %s", c->plan->refs,
                                               m);
                }
                return 0;
        }
        return 0;
}

int skiff_shim_env_config(const struct skiff_config **ret, skiff_err_t *err)
{
        int r = load_config(err);
        if (r < 0)
                return r;
        *ret = env.cfg;
        return 0;
}

const struct skiff_assemble_plan *skiff_shim_env_plan(const char *id)
{
        for (struct container *c = env.containers; c; c = c->next)
                if (strcmp(c->id, id) == 0)
                        return c->plan;
        return NULL;
}

void skiff_shim_env_release(const char *id)
{
        for (struct container **p = &env.containers; *p; p = &(*p)->next) {
                struct container *c = *p;
                if (strcmp(c->id, id) != 0)
                        continue;
                *p = c->next;
                _cleanup_strv_ char **argv = xcalloc(1, sizeof(char *));
                skiff_strv_push(&argv, "skiff");
                skiff_strv_push(&argv, "store");
                skiff_strv_push(&argv, "root");
                skiff_strv_push(&argv, "remove");
                if (config_path()) {
                        skiff_strv_push(&argv, "--config");
                        skiff_strv_push(&argv, config_path());
                }
                skiff_strv_push_take(
                    &argv, xasprintf("%s/%s/%s", ROOT_PREFIX,
                                     env.ctx && env.ctx->ns ? env.ctx->ns : "default", id));
                skiff_err_t err = NULL;
                pid_t pid = 0;
                if (spawn(argv, -1, &pid, &err) < 0) {
                        log_warn("cannot remove the GC root, ignoring: id=%s error=%s", id,
                                 skiff_error_msg(err));
                        skiff_error_free(&err);
                }
                free(c->id);
                free(c);
                return;
        }
}

static void job_free_list(struct job *j)
{
        while (j) {
                struct job *next = j->next;
                struct waiter *w = j->waiters;
                j->waiters = NULL;
                while (w) {
                        struct waiter *wn = w->next;
                        skiff_err_t err = NULL;
                        skiff_error_set(&err, ECANCELED, "skiff: the shim is shutting down");
                        w->job = NULL;
                        skiff_shim_env_ready_cb cb = w->cb;
                        void *data = w->data;
                        waiter_free(w);
                        cb(-ECANCELED, &err, data);
                        w = wn;
                }
                if (j->exited)
                        (void)0;
                else
                        (void)skiff_reaper_unsubscribe(env.reaper, j->pid);
                if (!j->eof && j->out_open)
                        uv_close((uv_handle_t *)&j->out, NULL);
                /* Handles close on the next loop turn; the job memory is released with the
                 * process (the shim is exiting). */
                skiff_assemble_plan_done(&j->plan);
                skiff_strbuf_free(&j->line);
                j = next;
        }
}

void skiff_shim_env_shutdown(void)
{
        job_free_list(env.jobs);
        job_free_list(env.retired);
        env.jobs = env.retired = NULL;
        while (env.containers) {
                struct container *c = env.containers;
                env.containers = c->next;
                free(c->id);
                free(c);
        }
        env.cfg = skiff_config_free(env.cfg);
}
