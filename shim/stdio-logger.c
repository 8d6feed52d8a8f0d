/* binary:// log drivers of the stdio module (containerd's logging protocol, shim-protocol.md
 * §15): the logger is forked and exec'd (never uv_spawn) with the read ends of the stdout and
 * stderr pipes as fds 3 and 4 and the write end of a readiness pipe as fd 5, args `key value`
 * from the URI query, environment CONTAINER_ID and CONTAINER_NAMESPACE only. It is reaped
 * through the shim's reaper. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/exec.h"
#include "shim/reaper.h"
#include "shim/stdio-internal.h"
#include "shim/stdio.h"

/* A binary:// logger process. It outlives the stdio object when it is slow to exit: then it
 * owns itself and frees itself on exit (or once SIGKILLed and reaped). */
struct skiff_stdio_logger {
        uv_loop_t *loop;
        struct skiff_reaper *reaper;
        pid_t pid;
        bool exited;
        bool detached;
        bool timer_init;
        uv_timer_t kill_timer;
};

static void logger_free(struct skiff_stdio_logger *l)
{
        free(l);
}

static void logger_timer_closed(uv_handle_t *h)
{
        logger_free(h->data);
}

static void logger_release(struct skiff_stdio_logger *l)
{
        if (l->timer_init)
                uv_close((uv_handle_t *)&l->kill_timer, logger_timer_closed);
        else
                logger_free(l);
}

static void logger_exit_cb(const struct skiff_exit *e, void *data)
{
        struct skiff_stdio_logger *l = data;
        l->exited = true;
        log_debug("logger exited: pid=%d status=%d", (int)e->pid, e->status);
        if (l->detached)
                logger_release(l);
}

static void logger_kill_cb(uv_timer_t *t)
{
        struct skiff_stdio_logger *l = t->data;
        if (!l->exited)
                (void)kill(l->pid, SIGKILL); /* reaped through the reaper */
}

void skiff_stdio_logger_detach(struct skiff_stdio_logger *l)
{
        if (!l)
                return;
        l->detached = true;
        if (l->exited) {
                logger_release(l);
                return;
        }
        (void)kill(l->pid, SIGTERM);
        if (uv_timer_init(l->loop, &l->kill_timer) == 0) {
                l->timer_init = true;
                l->kill_timer.data = l;
                (void)uv_timer_start(&l->kill_timer, logger_kill_cb, SKIFF_STDIO_LOGGER_KILL_MS, 0);
                uv_unref((uv_handle_t *)&l->kill_timer);
        }
}

static char **logger_argv(const char *path, const char *query)
{
        char **argv = NULL;
        skiff_strv_push(&argv, path);
        if (!query)
                return argv;
        const char *p = query;
        while (*p) {
                const char *amp = strchr(p, '&');
                size_t n = amp ? (size_t)(amp - p) : strlen(p);
                if (n > 0) {
                        const char *eq = memchr(p, '=', n);
                        size_t kn = eq ? (size_t)(eq - p) : n;
                        _cleanup_free_ char *k = skiff_stdio_url_decode(p, kn, true);
                        skiff_strv_push(&argv, k);
                        if (eq && n - kn - 1 > 0) {
                                _cleanup_free_ char *v =
                                    skiff_stdio_url_decode(eq + 1, n - kn - 1, true);
                                skiff_strv_push(&argv, v);
                        }
                }
                p += n;
                if (*p == '&')
                        p++;
        }
        return argv;
}

int skiff_stdio_logger_spawn(uv_loop_t *loop, struct skiff_reaper *reaper, const char *path,
                             const char *query, const char *id, const char *ns, int out_r,
                             int err_r, int ready_w, struct skiff_stdio_logger **ret,
                             skiff_err_t *err)
{
        _cleanup_strv_ char **argv = logger_argv(path, query);
        _cleanup_free_ char *env_id = xasprintf("CONTAINER_ID=%s", id ? id : "");
        _cleanup_free_ char *env_ns = xasprintf("CONTAINER_NAMESPACE=%s", ns ? ns : "");
        char *envp[] = {env_id, env_ns, NULL};

        pid_t pid = fork();
        if (pid < 0)
                return skiff_error_set_errno(err, errno, "fork logger `%s`", path);
        if (pid == 0) {
                /* Child: async-signal-safe calls only. Move the fds out of the way first. */
                int src[3] = {out_r, err_r, ready_w};
                int tmp[3];
                for (int i = 0; i < 3; i++) {
                        tmp[i] = fcntl(src[i], F_DUPFD, 10);
                        if (tmp[i] < 0)
                                _exit(126);
                }
                int devnull = open("/dev/null", O_RDWR);
                if (devnull >= 0) {
                        dup2(devnull, 0);
                        dup2(devnull, 1);
                        dup2(devnull, 2);
                }
                for (int i = 0; i < 3; i++)
                        if (dup2(tmp[i], 3 + i) < 0)
                                _exit(126);
                if (skiff_exec_cloexec_fds(6, NULL) < 0)
                        _exit(126);
                skiff_exec_reset_signals();
                execve(path, argv, envp);
                _exit(127);
        }
        struct skiff_stdio_logger *l = xcalloc(1, sizeof(*l));
        l->loop = loop;
        l->reaper = reaper;
        l->pid = pid;
        int r = skiff_reaper_subscribe(reaper, pid, logger_exit_cb, l);
        if (r < 0) {
                (void)kill(pid, SIGKILL);
                free(l);
                return skiff_error_set(err, -r, "watch logger `%s`: %s", path, strerror(-r));
        }
        *ret = l;
        return 0;
}
