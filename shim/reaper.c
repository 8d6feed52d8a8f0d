#include "shim/reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/log.h"
#include "base/xalloc.h"

struct reaper_sub {
        pid_t pid;
        skiff_reaper_exit_cb cb;
        void *data;
};

struct skiff_reaper {
        uv_signal_t sigchld;
        uv_timer_t replay; /* dispatches exits that were cached before their subscription */
        int open_handles;
        bool closing;

        struct reaper_sub *subs;
        size_t n_subs, cap_subs;

        /* Unclaimed exits, oldest first. */
        struct skiff_exit *cache;
        size_t n_cache, cap_cache;

        /* Exits whose subscriber arrived; dispatched by the replay timer. */
        struct skiff_exit *ready;
        size_t n_ready, cap_ready;
};

int skiff_reaper_exit_status(int wstatus)
{
        if (WIFEXITED(wstatus))
                return WEXITSTATUS(wstatus);
        if (WIFSIGNALED(wstatus))
                return 128 + WTERMSIG(wstatus);
        return 255;
}

static struct reaper_sub *find_sub(struct skiff_reaper *r, pid_t pid)
{
        for (size_t i = 0; i < r->n_subs; i++)
                if (r->subs[i].pid == pid)
                        return &r->subs[i];
        return NULL;
}

static void remove_sub(struct skiff_reaper *r, struct reaper_sub *s)
{
        size_t i = (size_t)(s - r->subs);
        memmove(&r->subs[i], &r->subs[i + 1], (r->n_subs - i - 1) * sizeof(*r->subs));
        r->n_subs--;
}

static void push_exit(struct skiff_exit **arr, size_t *n, size_t *cap, const struct skiff_exit *e)
{
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *arr = xreallocarray(*arr, *cap, sizeof(**arr));
        }
        (*arr)[(*n)++] = *e;
}

static void cache_exit(struct skiff_reaper *r, const struct skiff_exit *e)
{
        if (r->n_cache == SKIFF_REAPER_CACHE_MAX) {
                log_debug("reaper cache full, dropping oldest exit: pid=%d", (int)r->cache[0].pid);
                memmove(&r->cache[0], &r->cache[1], (r->n_cache - 1) * sizeof(*r->cache));
                r->n_cache--;
        }
        push_exit(&r->cache, &r->n_cache, &r->cap_cache, e);
}

static void dispatch(struct skiff_reaper *r, const struct skiff_exit *e)
{
        struct reaper_sub *s = find_sub(r, e->pid);
        if (!s) {
                cache_exit(r, e);
                return;
        }
        skiff_reaper_exit_cb cb = s->cb;
        void *data = s->data;
        remove_sub(r, s); /* before the callback: it may subscribe again */
        cb(e, data);
}

void skiff_reaper_drain(struct skiff_reaper *r)
{
        for (;;) {
                int wstatus = 0;
                pid_t pid = waitpid(-1, &wstatus, WNOHANG);
                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        break; /* ECHILD: nothing left */
                }
                if (pid == 0)
                        break;
                struct skiff_exit e = {
                    .pid = pid, .wstatus = wstatus, .status = skiff_reaper_exit_status(wstatus)};
                clock_gettime(CLOCK_REALTIME, &e.exited_at);
                dispatch(r, &e);
        }
}

static void sigchld_cb(uv_signal_t *h, int signum)
{
        struct skiff_reaper *r = h->data;
        skiff_reaper_drain(r);
}

static void replay_cb(uv_timer_t *t)
{
        struct skiff_reaper *r = t->data;
        /* Take the batch: callbacks may subscribe more (landing in a fresh array). */
        struct skiff_exit *batch = r->ready;
        size_t n = r->n_ready;
        r->ready = NULL;
        r->n_ready = r->cap_ready = 0;
        for (size_t i = 0; i < n; i++)
                dispatch(r, &batch[i]);
        free(batch);
}

int skiff_reaper_new(uv_loop_t *loop, struct skiff_reaper **out)
{
        struct skiff_reaper *r = xcalloc(1, sizeof(*r));
        int rc = uv_signal_init(loop, &r->sigchld);
        if (rc < 0) {
                free(r);
                return rc;
        }
        r->sigchld.data = r;
        r->open_handles++;
        rc = uv_timer_init(loop, &r->replay);
        if (rc == 0) {
                r->replay.data = r;
                r->open_handles++;
                rc = uv_signal_start(&r->sigchld, sigchld_cb, SIGCHLD);
        }
        if (rc < 0) {
                skiff_reaper_close(r);
                return rc;
        }
        uv_unref((uv_handle_t *)&r->sigchld); /* the reaper alone does not keep the loop alive */
        *out = r;
        return 0;
}

static void close_cb(uv_handle_t *h)
{
        struct skiff_reaper *r = h->data;
        if (--r->open_handles > 0)
                return;
        free(r->subs);
        free(r->cache);
        free(r->ready);
        free(r);
}

void skiff_reaper_close(struct skiff_reaper *r)
{
        if (!r || r->closing)
                return;
        r->closing = true;
        r->n_subs = 0;
        int handles = r->open_handles;
        if (handles >= 1)
                uv_close((uv_handle_t *)&r->sigchld, close_cb);
        if (handles >= 2)
                uv_close((uv_handle_t *)&r->replay, close_cb);
}

int skiff_reaper_subscribe(struct skiff_reaper *r, pid_t pid, skiff_reaper_exit_cb cb, void *data)
{
        if (pid <= 0 || !cb)
                return -EINVAL;
        if (r->closing)
                return -ECANCELED;
        if (find_sub(r, pid))
                return -EEXIST;
        if (r->n_subs == r->cap_subs) {
                r->cap_subs = r->cap_subs ? r->cap_subs * 2 : 16;
                r->subs = xreallocarray(r->subs, r->cap_subs, sizeof(*r->subs));
        }
        r->subs[r->n_subs++] = (struct reaper_sub){.pid = pid, .cb = cb, .data = data};

        for (size_t i = 0; i < r->n_cache; i++) {
                if (r->cache[i].pid != pid)
                        continue;
                push_exit(&r->ready, &r->n_ready, &r->cap_ready, &r->cache[i]);
                memmove(&r->cache[i], &r->cache[i + 1], (r->n_cache - i - 1) * sizeof(*r->cache));
                r->n_cache--;
                int rc = uv_timer_start(&r->replay, replay_cb, 0, 0);
                if (rc < 0)
                        return rc; /* cannot happen for an initialised timer */
                break;
        }
        return 0;
}

bool skiff_reaper_unsubscribe(struct skiff_reaper *r, pid_t pid)
{
        struct reaper_sub *s = find_sub(r, pid);
        if (!s)
                return false;
        remove_sub(r, s);
        return true;
}

size_t skiff_reaper_cached(const struct skiff_reaper *r)
{
        return r->n_cache;
}
