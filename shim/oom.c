#include "shim/oom.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "oci/container.h"

struct skiff_oom_watch {
        uv_poll_t poll;
        struct skiff_container *c; /* borrowed */
        skiff_oom_cb cb;
        void *data;
};

static void check(struct skiff_oom_watch *w)
{
        bool killed = false;
        skiff_err_t err = NULL;
        int r = skiff_container_oom_check(w->c, &killed, &err);
        if (r < 0) {
                log_warn("oom check failed, stopping the watch: error=%s", skiff_error_msg(err));
                skiff_error_free(&err);
                (void)uv_poll_stop(&w->poll);
                return;
        }
        if (killed)
                w->cb(w->data);
}

static void oom_poll_cb(uv_poll_t *h, int status, int events)
{
        struct skiff_oom_watch *w = h->data;
        if (status < 0) {
                log_warn("oom watch failed, stopping it: error=%s", uv_strerror(status));
                (void)uv_poll_stop(h);
                return;
        }
        check(w);
}

void skiff_oom_watch_check_now(struct skiff_oom_watch *w)
{
        if (w && uv_is_active((uv_handle_t *)&w->poll))
                check(w);
}

int skiff_oom_watch_start(uv_loop_t *loop, struct skiff_container *c, skiff_oom_cb cb, void *data,
                          struct skiff_oom_watch **out, skiff_err_t *err)
{
        int fd = -1;
        int r = skiff_container_oom_fd(c, &fd, err);
        if (r < 0)
                return r;
        struct skiff_oom_watch *w = xcalloc(1, sizeof(*w));
        w->c = c;
        w->cb = cb;
        w->data = data;
        r = uv_poll_init(loop, &w->poll, fd);
        if (r < 0) {
                free(w);
                return skiff_error_set(err, -r, "watch oom fd: %s", uv_strerror(r));
        }
        w->poll.data = w;
        r = uv_poll_start(&w->poll, UV_READABLE, oom_poll_cb);
        if (r < 0) {
                skiff_oom_watch_stop(w);
                return skiff_error_set(err, -r, "watch oom fd: %s", uv_strerror(r));
        }
        *out = w;
        return 0;
}

static void oom_closed(uv_handle_t *h)
{
        free(h->data);
}

void skiff_oom_watch_stop(struct skiff_oom_watch *w)
{
        if (!w)
                return;
        uv_close((uv_handle_t *)&w->poll, oom_closed);
}
