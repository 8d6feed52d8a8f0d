/* The shim daemon: process setup, the loop, signal handling and the ordered exit. */
#include "shim/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/path.h"
#include "base/xalloc.h"
#include "shim/bootstrap.h"
#include "shim/events.h"
#include "shim/task_service.h"
#include "shim/ttrpc.h"

#define EXIT_CHECK_MS 20   /* how often the exit path looks for handles still open */
#define EXIT_GRACE_MS 2000 /* after this, exit even if some handle is still open */

static struct {
        uv_loop_t loop;
        struct skiff_shim_ctx ctx;
        uv_signal_t sigterm, sigint;
        uv_timer_t exit_timer;
        unsigned exit_checks;
        bool exiting;
        int exit_code;
        char *ttrpc_address;
} shim;

static void count_open(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h) && h != (uv_handle_t *)&shim.exit_timer)
                (*(unsigned *)arg)++;
}

/* Ends the loop once only the exit timer is left, or after the grace period. */
static void on_exit_check(uv_timer_t *t)
{
        unsigned open = 0;
        uv_walk(&shim.loop, count_open, &open);
        if (open == 0) {
                uv_close((uv_handle_t *)t, NULL);
                return;
        }
        if (++shim.exit_checks * EXIT_CHECK_MS >= EXIT_GRACE_MS) {
                log_warn("exit: %u handle(s) still open, exiting anyway", open);
                uv_close((uv_handle_t *)t, NULL);
                uv_stop(&shim.loop);
        }
}

static void on_events_flushed(void *data)
{
        skiff_ttrpc_server_close(shim.ctx.server);
        shim.ctx.server = NULL;
        skiff_events_close(shim.ctx.events);
        shim.ctx.events = NULL;
        /* Idempotent: closes the task service's own handles (reaper) when nothing is left. */
        skiff_task_service_shutdown();
        if (!uv_is_closing((uv_handle_t *)&shim.sigterm))
                uv_close((uv_handle_t *)&shim.sigterm, NULL);
        if (!uv_is_closing((uv_handle_t *)&shim.sigint))
                uv_close((uv_handle_t *)&shim.sigint, NULL);
        if (shim.ctx.socket_path && unlink(shim.ctx.socket_path) < 0 && errno != ENOENT)
                log_warn("remove socket `%s`: %s, ignoring", shim.ctx.socket_path, strerror(errno));
        uv_timer_init(&shim.loop, &shim.exit_timer);
        uv_timer_start(&shim.exit_timer, on_exit_check, EXIT_CHECK_MS, EXIT_CHECK_MS);
}

void skiff_shim_request_exit(void)
{
        if (shim.exiting)
                return;
        shim.exiting = true;
        log_info("shim exiting");
        skiff_events_flush(shim.ctx.events, on_events_flushed, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
        log_info("received signal %d, killing %u task(s) and exiting", signum,
                 skiff_task_service_count());
        skiff_task_service_shutdown();
        skiff_shim_request_exit();
}

/* stderr and the log sink go to the bundle's `log` FIFO when there is one (§9.2). */
static void setup_logging(const struct skiff_shim_args *args)
{
        if (args->bundle) {
                _cleanup_free_ char *p = skiff_path_join(args->bundle, "log");
                int fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0) {
                        if (fd != STDERR_FILENO) {
                                (void)dup2(fd, STDERR_FILENO);
                                close(fd);
                        }
                }
        }
        skiff_log_set_fd(STDERR_FILENO);
        skiff_log_set_level(args->debug ? SKIFF_LOG_DEBUG : SKIFF_LOG_INFO);
        char ctx[128];
        snprintf(ctx, sizeof(ctx), "runtime=%s namespace=%s shim_pid=%d", SKIFF_SHIM_NAME,
                 args->ns ? args->ns : "", (int)getpid());
        skiff_log_set_context(ctx);
}

int skiff_shim_serve(const struct skiff_shim_args *args, int listen_fd)
{
        struct stat st;
        if (fstat(listen_fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                fprintf(stderr, "serve: fd %d is not the listening socket\n", listen_fd);
                return 1;
        }
        (void)skiff_fd_set_cloexec(listen_fd, true);
        signal(SIGPIPE, SIG_IGN);
        setup_logging(args);
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                log_warn("set child subreaper: %s, ignoring", strerror(errno));
        if (chdir("/") < 0)
                log_warn("chdir `/`: %s, ignoring", strerror(errno));

        int r = uv_loop_init(&shim.loop);
        if (r < 0) {
                log_error("create the event loop: %s", uv_strerror(r));
                return 1;
        }

        const char *ttrpc = getenv("TTRPC_ADDRESS");
        if (!ttrpc || !*ttrpc)
                ttrpc = shim.ttrpc_address =
                    xasprintf("%s.ttrpc", args->address ? args->address : "");
        shim.ctx = (struct skiff_shim_ctx){
            .ns = args->ns,
            .id = args->id,
            .containerd_address = args->address,
            .ttrpc_address = ttrpc,
            .socket_path = args->socket,
            .debug = args->debug,
            .config_path = args->config_path,
        };

        r = skiff_ttrpc_server_new(&shim.loop, listen_fd, &shim.ctx.server);
        if (r < 0) {
                log_error("serve on the listening socket: %s", uv_strerror(r));
                return 1;
        }
        r = skiff_events_new(&shim.loop, ttrpc, args->ns ? args->ns : "", &shim.ctx.events);
        if (r < 0)
                log_warn("events to `%s` disabled: %s", ttrpc, strerror(-r));

        uv_signal_init(&shim.loop, &shim.sigterm);
        uv_signal_init(&shim.loop, &shim.sigint);
        uv_signal_start(&shim.sigterm, on_signal, SIGTERM);
        uv_signal_start(&shim.sigint, on_signal, SIGINT);
        uv_unref((uv_handle_t *)&shim.sigterm);
        uv_unref((uv_handle_t *)&shim.sigint);

        r = skiff_task_service_init(&shim.loop, &shim.ctx);
        if (r < 0) {
                log_error("start the task service: %s", strerror(-r));
                shim.exit_code = 1;
                skiff_shim_request_exit();
        }
        log_debug("serving on `%s`", args->socket ? args->socket : "?");

        uv_run(&shim.loop, UV_RUN_DEFAULT);
        r = uv_loop_close(&shim.loop);
        if (r < 0)
                log_debug("close the event loop: %s", uv_strerror(r));
        free(shim.ttrpc_address);
        return shim.exit_code;
}
