#include "shim/task_service.h"
#include "shim/task_service-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "events/task.pb-c.h"
#include "gpu/inject.h"
#include "gpu/plan.h"
#include "oci/container.h"
#include "oci/spec.h"
#include "runc/options.pb-c.h"
#include "shim/env.h"
#include "shim/events.h"
#include "shim/gpu.h"
#include "shim/metrics.h"
#include "shim/oom.h"
#include "shim/process.h"
#include "shim/reaper.h"
#include "shim/shim.h"
#include "shim/stdio.h"
#include "shim/task.h"
#include "task.pb-c.h"
#include "types/task.pb-c.h"

/* Go's zero time.Time as a Timestamp: what runc reports for a process that has not exited. */

static struct {
        uv_loop_t *loop;
        struct skiff_shim_ctx *ctx;
        struct skiff_reaper *reaper;
} svc;

/* ---- status mapping (the only errno -> status table) ----------------------------------- */

enum skiff_grpc_code skiff_task_service_code(int r)
{
        switch (r < 0 ? -r : r) {
        case 0:
                return SKIFF_GRPC_OK;
        case ENOENT:
                return SKIFF_GRPC_NOT_FOUND;
        case EEXIST:
                return SKIFF_GRPC_ALREADY_EXISTS;
        case EINVAL:
                return SKIFF_GRPC_INVALID_ARGUMENT;
        case EBUSY:
        case ENOTCONN:
                return SKIFF_GRPC_FAILED_PRECONDITION;
        case ENOTSUP:
        case ENOSYS:
                return SKIFF_GRPC_UNIMPLEMENTED;
        case ETIMEDOUT:
                return SKIFF_GRPC_DEADLINE_EXCEEDED;
        case ECANCELED:
                return SKIFF_GRPC_CANCELLED;
        default:
                return SKIFF_GRPC_UNKNOWN;
        }
}

/* Answers with the status for r; the message is the wrapped error text, else strerror. */
void skiff_task_service_reply_errno(struct skiff_ttrpc_call *call, int r, skiff_err_t *err)
{
        const char *msg = err && *err ? skiff_error_msg(*err) : strerror(r < 0 ? -r : r);
        log_debug("request failed: method=%s error=%s", skiff_ttrpc_call_method(call), msg);
        skiff_ttrpc_reply_error(call, skiff_task_service_code(r), "%s", msg);
        if (err)
                skiff_error_free(err);
}

/* ---- helpers --------------------------------------------------------------------------- */

/* Unpacks payload into a message of descriptor d, or answers the call and returns NULL. */
void *skiff_task_service_unpack(struct skiff_ttrpc_call *call, const ProtobufCMessageDescriptor *d,
                                const uint8_t *payload, size_t len)
{
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, payload);
        if (!m)
                skiff_ttrpc_reply_error(call, SKIFF_GRPC_INTERNAL,
                                        "ttrpc: error unmarshalling payload: invalid `%s`",
                                        d->name);
        return m;
}

void skiff_task_service_timestamp(Google__Protobuf__Timestamp *ts, const struct timespec *at)
{
        google__protobuf__timestamp__init(ts);
        if (at->tv_sec == 0 && at->tv_nsec == 0) {
                ts->seconds = SKIFF_GO_ZERO_SECONDS;
                return;
        }
        ts->seconds = at->tv_sec;
        ts->nanos = (int32_t)at->tv_nsec;
}

void skiff_task_service_publish(const char *topic, const char *type, const ProtobufCMessage *m)
{
        if (svc.ctx && svc.ctx->events)
                skiff_events_publish(svc.ctx->events, topic, type, m);
}

int skiff_task_service_find_task(const char *id, struct skiff_task **t, skiff_err_t *err)
{
        *t = skiff_task_table_find(id);
        if (!*t)
                return skiff_error_set(err, ENOENT, "task `%s` not found", id ? id : "");
        if ((*t)->creating)
                return skiff_error_set(err, EBUSY, "task `%s` is still being created", id);
        return 0;
}

int skiff_task_service_find_process(const char *id, const char *exec_id, struct skiff_task **t,
                                    struct skiff_process **p, skiff_err_t *err)
{
        int r = skiff_task_service_find_task(id, t, err);
        if (r < 0)
                return r;
        *p = skiff_task_process(*t, exec_id);
        if (!*p)
                return skiff_error_set(err, ENOENT, "process `%s` of task `%s` not found", exec_id,
                                       id);
        return 0;
}

static const char *const op_names[_SKIFF_PROC_OP_MAX] = {
    [SKIFF_PROC_OP_START] = "start",  [SKIFF_PROC_OP_KILL] = "kill",
    [SKIFF_PROC_OP_PAUSE] = "pause",  [SKIFF_PROC_OP_RESUME] = "resume",
    [SKIFF_PROC_OP_EXIT] = "exit",    [SKIFF_PROC_OP_DELETE] = "delete",
    [SKIFF_PROC_OP_EXEC] = "exec in", [SKIFF_PROC_OP_IO] = "change the io of",
};

/* Checks op against p's state, with a message naming the state. */
int skiff_task_service_check_op(const struct skiff_task *t, const struct skiff_process *p,
                                enum skiff_proc_op op, skiff_err_t *err)
{
        int r = skiff_process_check(p, op);
        if (r == -ENOENT && op == SKIFF_PROC_OP_KILL)
                return skiff_error_set(err, ENOENT, "process already finished");
        if (r < 0)
                return skiff_error_set(err, -r, "cannot %s %s process of task `%s`", op_names[op],
                                       skiff_process_state_name(p->state), t->id);
        return 0;
}

/* ---- exits ----------------------------------------------------------------------------- */

static void publish_exit(struct skiff_task *t, struct skiff_process *p)
{
        Google__Protobuf__Timestamp ts;
        skiff_task_service_timestamp(&ts, &p->exited_at);
        Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
        ev.container_id = t->id;
        ev.id = p->exec_id ? p->exec_id : t->id;
        ev.pid = (uint32_t)p->pid;
        ev.exit_status = (uint32_t)p->exit_status;
        ev.exited_at = &ts;
        skiff_task_service_publish("/tasks/exit", "containerd.events.TaskExit", &ev.base);
}

static void process_exited(struct skiff_task *t, struct skiff_process *p, int status,
                           const struct timespec *at)
{
        log_debug("process exited: id=%s exec_id=%s pid=%d status=%d", t->id,
                  p->exec_id ? p->exec_id : "", (int)p->pid, status);
        if (p->stdio)
                skiff_stdio_process_exited(p->stdio, SKIFF_STDIO_DRAIN_TIMEOUT_MS, NULL, NULL);
        if (skiff_process_set_exited(p, status, at) < 0)
                return;
        publish_exit(t, p);
}

/* Publishes the init exit once no exec is left running (exec exits come first, §7.3). */
static void finish_init_exit(struct skiff_task *t)
{
        if (!t->init_exit_deferred || skiff_task_live_execs(t) > 0)
                return;
        t->init_exit_deferred = false;
        skiff_oom_watch_check_now(t->oom);
        process_exited(t, t->init, t->init_exit_status, &t->init_exited_at);
}

static void init_exit_cb(const struct skiff_exit *e, void *data)
{
        struct skiff_task *t = data;
        t->init_exit_deferred = true;
        t->init_exit_status = e->status;
        t->init_exited_at = e->exited_at;
        if (!t->own_pidns && t->container && skiff_task_live_execs(t) > 0) {
                /* Shared PID namespace: nothing kills the rest for us (runc semantics). */
                skiff_err_t err = NULL;
                if (skiff_container_kill(t->container, SIGKILL, true, &err) < 0 &&
                    err->errnum != ESRCH)
                        log_warn("kill remaining processes failed, ignoring: id=%s "
                                 "error=%s",
                                 t->id, skiff_error_msg(err));
                skiff_error_free(&err);
        }
        finish_init_exit(t);
}

static void exec_exit_cb(const struct skiff_exit *e, void *data)
{
        struct skiff_process *p = data;
        struct skiff_task *t = p->task;
        process_exited(t, p, e->status, &e->exited_at);
        finish_init_exit(t);
}

static void oom_cb(void *data)
{
        struct skiff_task *t = data;
        log_info("oom kill: id=%s", t->id);
        Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
        ev.container_id = t->id;
        skiff_task_service_publish("/tasks/oom", "containerd.events.TaskOOM", &ev.base);
}

/* ---- Create ---------------------------------------------------------------------------- */

struct create_op {
        struct skiff_ttrpc_call *call;
        Containerd__Task__V2__CreateTaskRequest *req; /* owned */
        struct skiff_task *t;                         /* in the table, creating */
        struct skiff_gpu_plan *gpu;                   /* owned; NULL: no GPUs */
};

static void create_fail(struct create_op *op, int r, skiff_err_t *err)
{
        skiff_task_table_remove(op->t);
        skiff_task_free(op->t);
        skiff_task_service_reply_errno(op->call, r, err);
        protobuf_c_message_free_unpacked(&op->req->base, NULL);
        skiff_gpu_plan_free(op->gpu);
        free(op);
}

static void create_finish(int status, void *data)
{
        struct create_op *op = data;
        struct skiff_task *t = op->t;
        Containerd__Task__V2__CreateTaskRequest *req = op->req;
        skiff_err_t err = NULL;

        size_t n = req->n_rootfs;
        _cleanup_free_ struct skiff_rootfs_mount *mounts = xcalloc(n ? n : 1, sizeof(*mounts));
        char ***opts = xcalloc(n ? n : 1, sizeof(*opts));
        for (size_t i = 0; i < n; i++) {
                const Containerd__Types__Mount *m = req->rootfs[i];
                opts[i] = xcalloc(m->n_options + 1, sizeof(char *));
                memcpy(opts[i], m->options, m->n_options * sizeof(char *)); /* borrowed */
                mounts[i] = (struct skiff_rootfs_mount){
                    .type = m->type, .source = m->source, .target = m->target, .options = opts[i]};
        }
        struct skiff_container_config cfg = {
            .id = t->id,
            .bundle = t->bundle,
            .spec = t->spec,
            .rootfs = mounts,
            .n_rootfs = n,
            .stdio = skiff_stdio_child_fds(t->init->stdio),
        };
        if (op->gpu) {
                cfg.pre_pivot = skiff_gpu_inject_rootfs;
                cfg.pre_pivot_data = op->gpu;
        }
        int console = -1;
        int r = skiff_container_create(&cfg, &t->container, &console, &err);
        for (size_t i = 0; i < n; i++)
                free(opts[i]);
        free(opts);
        if (r < 0) {
                create_fail(op, r, &err);
                return;
        }
        skiff_stdio_child_started(t->init->stdio);
        skiff_shim_gpu_created(t->id, op->gpu);
        op->gpu = skiff_gpu_plan_free(op->gpu);
        t->init->pid = skiff_container_pid(t->container);
        r = skiff_reaper_subscribe(svc.reaper, t->init->pid, init_exit_cb, t);
        if (r < 0) {
                skiff_error_set(&err, -r, "watch init pid %d: %s", (int)t->init->pid, strerror(-r));
                (void)skiff_container_destroy(t->container, NULL);
                create_fail(op, r, &err);
                return;
        }
        if (console >= 0 && skiff_stdio_attach_console(t->init->stdio, console, &err) < 0) {
                log_warn("console copy failed, ignoring: id=%s error=%s", t->id,
                         skiff_error_msg(err));
                skiff_error_free(&err);
        }
        if (skiff_oom_watch_start(svc.loop, t->container, oom_cb, t, &t->oom, &err) < 0) {
                log_debug("no oom events: id=%s error=%s", t->id, skiff_error_msg(err));
                skiff_error_free(&err);
        }
        t->creating = false;

        Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
        io.stdin = t->init->stdin_path;
        io.stdout = t->init->stdout_path;
        io.stderr = t->init->stderr_path;
        io.terminal = t->init->terminal;
        Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
        ev.container_id = t->id;
        ev.bundle = t->bundle;
        ev.n_rootfs = req->n_rootfs;
        ev.rootfs = req->rootfs;
        ev.io = &io;
        ev.checkpoint = req->checkpoint;
        ev.pid = (uint32_t)t->init->pid;
        skiff_task_service_publish("/tasks/create", "containerd.events.TaskCreate", &ev.base);

        Containerd__Task__V2__CreateTaskResponse resp =
            CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
        resp.pid = (uint32_t)t->init->pid;
        skiff_ttrpc_reply(op->call, &resp.base);
        protobuf_c_message_free_unpacked(&req->base, NULL);
        free(op);
}

static void create_open_stdio(struct create_op *op)
{
        struct skiff_task *t = op->t;
        Containerd__Task__V2__CreateTaskRequest *req = op->req;
        skiff_err_t err = NULL;
        /* GPUs: after the environment was assembled (its requires.cuda and loader count). */
        int r = skiff_shim_gpu_prepare(t->id, t->spec, &op->gpu, &err);
        if (r < 0) {
                create_fail(op, r, &err);
                return;
        }
        struct skiff_stdio_config scfg = {
            .id = t->id,
            .ns = svc.ctx ? svc.ctx->ns : NULL,
            .in = req->stdin,
            .out = req->stdout,
            .err = req->stderr,
            .terminal = req->terminal,
        };
        r = skiff_stdio_open(svc.loop, svc.reaper, &scfg, &t->init->stdio, &err);
        if (r < 0) {
                create_fail(op, r, &err);
                return;
        }
        r = skiff_stdio_wait_ready(t->init->stdio, create_finish, op);
        if (r < 0) {
                skiff_error_set(&err, -r, "wait for the logger: %s", strerror(-r));
                create_fail(op, r, &err);
        }
}

static void create_env_ready(int r, skiff_err_t *err, void *data)
{
        if (r < 0)
                create_fail(data, r, err);
        else
                create_open_stdio(data);
}

static void h_create(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *u)
{
        Containerd__Task__V2__CreateTaskRequest *req = skiff_task_service_unpack(
            call, &containerd__task__v2__create_task_request__descriptor, payload, len);
        if (!req)
                return;
        skiff_err_t err = NULL;
        struct create_op *op = xcalloc(1, sizeof(*op));
        op->call = call;
        op->req = req;
        int r = 0;
        if (!*req->id || !*req->bundle)
                r = skiff_error_set(&err, EINVAL, "create: `id` and `bundle` are required");
        else if (*req->checkpoint)
                r = skiff_error_set(&err, ENOTSUP, "create from checkpoint is not supported");
        else if (skiff_task_table_find(req->id))
                r = skiff_error_set(&err, EEXIST, "task `%s` already exists", req->id);
        if (r < 0) {
                skiff_task_service_reply_errno(call, r, &err);
                protobuf_c_message_free_unpacked(&req->base, NULL);
                free(op);
                return;
        }
        struct skiff_task *t = op->t = skiff_task_new(req->id, req->bundle);
        t->creating = true;
        (void)skiff_task_table_add(t); /* cannot fail: checked above */
        t->init = skiff_process_new(NULL, req->stdin, req->stdout, req->stderr, req->terminal);
        t->init->task = t;

        r = skiff_spec_load(req->bundle, &t->spec, &err);
        if (r < 0) {
                create_fail(op, r, &err);
                return;
        }
        t->own_pidns = skiff_spec_has_namespace(t->spec, SKIFF_NS_PID, NULL);
        /* Only a namespace of our own: joining one by path shares it. */
        const char *pidns_path = NULL;
        if (t->own_pidns && skiff_spec_has_namespace(t->spec, SKIFF_NS_PID, &pidns_path) &&
            pidns_path)
                t->own_pidns = false;

        const char *ctype = skiff_spec_annotation(t->spec, "io.kubernetes.cri.container-type");
        if (ctype && strcmp(ctype, "sandbox") == 0) {
                skiff_shim_env_sandbox(req->bundle, t->spec);
        } else {
                /* An imageless container waits for its environment (env.h). */
                size_t n = req->n_rootfs;
                _cleanup_free_ struct skiff_rootfs_mount *mounts =
                    xcalloc(n ? n : 1, sizeof(*mounts));
                char ***opts = xcalloc(n ? n : 1, sizeof(*opts));
                for (size_t i = 0; i < n; i++) {
                        const Containerd__Types__Mount *m = req->rootfs[i];
                        opts[i] = xcalloc(m->n_options + 1, sizeof(char *));
                        memcpy(opts[i], m->options, m->n_options * sizeof(char *)); /* borrowed */
                        mounts[i] = (struct skiff_rootfs_mount){.type = m->type,
                                                                .source = m->source,
                                                                .target = m->target,
                                                                .options = opts[i]};
                }
                r = skiff_shim_env_prepare(t->id, req->bundle, t->spec, mounts, n, create_env_ready,
                                           op, &err);
                for (size_t i = 0; i < n; i++)
                        free(opts[i]);
                free(opts);
                if (r < 0) {
                        create_fail(op, r, &err);
                        return;
                }
                if (r == 0)
                        return;
        }
        create_open_stdio(op);
}

/* ---- Start ----------------------------------------------------------------------------- */

struct exec_start_op {
        struct skiff_ttrpc_call *call;
        struct skiff_task *t;
        struct skiff_process *p;
};

static void exec_start_finish(int status, void *data)
{
        struct exec_start_op *op = data;
        struct skiff_task *t = op->t;
        struct skiff_process *p = op->p;
        struct skiff_ttrpc_call *call = op->call;
        free(op);
        skiff_err_t err = NULL;

        /* The init may have exited while a logger got ready. */
        int r = skiff_task_service_check_op(t, t->init, SKIFF_PROC_OP_EXEC, &err);
        if (r < 0 || t->init_exit_deferred) {
                if (r >= 0)
                        r = skiff_error_set(&err, ENOTCONN, "task `%s` has exited", t->id);
                skiff_stdio_free(p->stdio);
                p->stdio = NULL;
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        struct skiff_exec_config cfg = {.process = p->spec,
                                        .stdio = skiff_stdio_child_fds(p->stdio)};
        pid_t pid = 0;
        int console = -1;
        r = skiff_container_exec(t->container, &cfg, &pid, &console, &err);
        skiff_stdio_child_started(p->stdio);
        if (r < 0) {
                skiff_stdio_free(p->stdio); /* a retry opens it again */
                p->stdio = NULL;
                skiff_error_wrap(&err, "exec `%s` in task `%s`", p->exec_id, t->id);
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        p->pid = pid;
        r = skiff_reaper_subscribe(svc.reaper, pid, exec_exit_cb, p);
        if (r < 0)
                log_error("cannot watch exec pid: id=%s exec_id=%s pid=%d", t->id, p->exec_id,
                          (int)pid);
        if (console >= 0 && skiff_stdio_attach_console(p->stdio, console, &err) < 0) {
                log_warn("console copy failed, ignoring: id=%s exec_id=%s error=%s", t->id,
                         p->exec_id, skiff_error_msg(err));
                skiff_error_free(&err);
        }
        (void)skiff_process_transition(p, SKIFF_PROC_OP_START);

        Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
        ev.container_id = t->id;
        ev.exec_id = p->exec_id;
        ev.pid = (uint32_t)pid;
        skiff_task_service_publish("/tasks/exec-started", "containerd.events.TaskExecStarted",
                                   &ev.base);
        Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
        resp.pid = (uint32_t)pid;
        skiff_ttrpc_reply(call, &resp.base);
}

static void start_exec(struct skiff_ttrpc_call *call, struct skiff_task *t, struct skiff_process *p)
{
        skiff_err_t err = NULL;
        int r = skiff_task_service_check_op(t, p, SKIFF_PROC_OP_START, &err);
        if (r < 0 || t->init_exit_deferred || p->stdio) {
                if (r >= 0)
                        r = skiff_error_set(&err, p->stdio ? EBUSY : ENOTCONN,
                                            p->stdio ? "exec `%s` is already starting"
                                                     : "task `%s` has exited",
                                            p->stdio ? p->exec_id : t->id);
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        struct skiff_stdio_config scfg = {
            .id = t->id,
            .ns = svc.ctx ? svc.ctx->ns : NULL,
            .in = p->stdin_path,
            .out = p->stdout_path,
            .err = p->stderr_path,
            .terminal = p->terminal,
        };
        r = skiff_stdio_open(svc.loop, svc.reaper, &scfg, &p->stdio, &err);
        if (r < 0) {
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        struct exec_start_op *op = xcalloc(1, sizeof(*op));
        *op = (struct exec_start_op){.call = call, .t = t, .p = p};
        r = skiff_stdio_wait_ready(p->stdio, exec_start_finish, op);
        if (r < 0) {
                free(op);
                skiff_stdio_free(p->stdio);
                p->stdio = NULL;
                skiff_error_set(&err, -r, "wait for the logger: %s", strerror(-r));
                skiff_task_service_reply_errno(call, r, &err);
        }
}

static void h_start(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *u)
{
        _cleanup_msg_ Containerd__Task__V2__StartRequest *req = skiff_task_service_unpack(
            call, &containerd__task__v2__start_request__descriptor, payload, len);
        if (!req)
                return;
        skiff_err_t err = NULL;
        struct skiff_task *t = NULL;
        struct skiff_process *p = NULL;
        int r = skiff_task_service_find_process(req->id, req->exec_id, &t, &p, &err);
        if (r < 0) {
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        if (!skiff_process_is_init(p)) {
                start_exec(call, t, p);
                return;
        }
        r = skiff_task_service_check_op(t, p, SKIFF_PROC_OP_START, &err);
        if (r == 0)
                r = skiff_container_start(t->container, &err);
        if (r < 0) {
                /* A failed start leaves an exited init (status 127): collect it now so the
                 * client's Delete right after this error sees a stopped task. */
                siginfo_t si = {0};
                if (p->state == SKIFF_PROC_CREATED && p->pid > 0 &&
                    waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0 &&
                    si.si_pid == p->pid)
                        skiff_reaper_drain(svc.reaper);
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        (void)skiff_process_transition(p, SKIFF_PROC_OP_START);
        /* Published before the reaper can dispatch this pid's exit (that happens from the
         * loop, after this handler returned): TaskStart always precedes TaskExit. */
        Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
        ev.container_id = t->id;
        ev.pid = (uint32_t)p->pid;
        skiff_task_service_publish("/tasks/start", "containerd.events.TaskStart", &ev.base);
        Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
        resp.pid = (uint32_t)p->pid;
        skiff_ttrpc_reply(call, &resp.base);
}

/* ---- Delete ---------------------------------------------------------------------------- */

static void delete_task(struct skiff_task *t)
{
        skiff_err_t err = NULL;
        skiff_oom_watch_stop(t->oom);
        t->oom = NULL;
        if (t->init->pid > 0)
                (void)skiff_reaper_unsubscribe(svc.reaper, t->init->pid);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        for (size_t i = 0; i < t->n_execs; i++) {
                struct skiff_process *p = t->execs[i];
                if (p->pid > 0)
                        (void)skiff_reaper_unsubscribe(svc.reaper, p->pid);
                /* Execs that never ran: answer their pending Waits before they go. */
                if (p->state == SKIFF_PROC_CREATED)
                        (void)skiff_process_set_exited(p, 0, &now);
        }
        if (t->container && skiff_container_destroy(t->container, &err) < 0) {
                /* The `delete` action retries from the state file. */
                log_warn("container teardown failed, ignoring: id=%s error=%s", t->id,
                         skiff_error_msg(err));
                skiff_error_free(&err);
        }
        skiff_shim_env_release(t->id);
        skiff_shim_gpu_release(t->id);
        skiff_task_table_remove(t);
        skiff_task_free(t);
}

static void h_delete(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *u)
{
        _cleanup_msg_ Containerd__Task__V2__DeleteRequest *req = skiff_task_service_unpack(
            call, &containerd__task__v2__delete_request__descriptor, payload, len);
        if (!req)
                return;
        skiff_err_t err = NULL;
        struct skiff_task *t = NULL;
        struct skiff_process *p = NULL;
        int r = skiff_task_service_find_process(req->id, req->exec_id, &t, &p, &err);
        if (r == 0)
                r = skiff_task_service_check_op(t, p, SKIFF_PROC_OP_DELETE, &err);
        if (r < 0) {
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        if (p->state == SKIFF_PROC_CREATED) {
                /* Never started: the process (if any) is killed by the teardown; answer
                 * pending Waits as runc's `delete` does (128 + SIGKILL). */
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                if (p->stdio)
                        skiff_stdio_process_exited(p->stdio, 0, NULL, NULL);
                (void)skiff_process_set_exited(p, p->pid > 0 ? 128 + SIGKILL : 0, &now);
        }
        (void)skiff_process_transition(p, SKIFF_PROC_OP_DELETE);

        Google__Protobuf__Timestamp ts;
        skiff_task_service_timestamp(&ts, &p->exited_at);
        Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
        resp.pid = (uint32_t)p->pid;
        resp.exit_status = (uint32_t)p->exit_status;
        resp.exited_at = &ts;

        if (!skiff_process_is_init(p)) {
                skiff_ttrpc_reply(call, &resp.base);
                skiff_task_remove_exec(t, p);
                return;
        }
        Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
        ev.container_id = t->id;
        ev.pid = resp.pid;
        ev.exit_status = resp.exit_status;
        ev.exited_at = &ts;
        ev.id = "";
        skiff_task_service_publish("/tasks/delete", "containerd.events.TaskDelete", &ev.base);
        skiff_ttrpc_reply(call, &resp.base);
        delete_task(t);
}

/* ---- Kill, Pause, Resume, Checkpoint --------------------------------------------------- */

static void h_kill(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *u)
{
        _cleanup_msg_ Containerd__Task__V2__KillRequest *req = skiff_task_service_unpack(
            call, &containerd__task__v2__kill_request__descriptor, payload, len);
        if (!req)
                return;
        skiff_err_t err = NULL;
        struct skiff_task *t = NULL;
        struct skiff_process *p = NULL;
        int r = skiff_task_service_find_process(req->id, req->exec_id, &t, &p, &err);
        if (r == 0 && skiff_process_is_init(p) && t->init_exit_deferred)
                r = skiff_error_set(&err, ENOENT, "process already finished");
        if (r == 0)
                r = skiff_task_service_check_op(t, p, SKIFF_PROC_OP_KILL, &err);
        if (r == 0 && (req->signal == 0 || req->signal >= (uint32_t)_NSIG))
                r = skiff_error_set(&err, EINVAL, "kill: invalid signal %u", req->signal);
        if (r == 0 && !skiff_process_is_init(p) && p->pid <= 0)
                r = skiff_error_set(&err, ENOTCONN, "exec `%s` was not started", p->exec_id);
        if (r == 0) {
                if (skiff_process_is_init(p))
                        r = skiff_container_kill(t->container, (int)req->signal, req->all, &err);
                else if (kill(p->pid, (int)req->signal) < 0)
                        r = skiff_error_set_errno(&err, errno, "kill exec `%s`", p->exec_id);
                if (r == -ESRCH) {
                        skiff_error_free(&err);
                        r = skiff_error_set(&err, ENOENT, "process already finished");
                }
        }
        if (r < 0) {
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        skiff_task_service_reply_empty(call);
}

/* ---- Exec, ResizePty, CloseIO, Update, Stats, Shutdown --------------------------------- */

static void h_exec(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len, void *u)
{
        _cleanup_msg_ Containerd__Task__V2__ExecProcessRequest *req = skiff_task_service_unpack(
            call, &containerd__task__v2__exec_process_request__descriptor, payload, len);
        if (!req)
                return;
        skiff_err_t err = NULL;
        struct skiff_task *t = NULL;
        struct skiff_spec_process *spec = NULL;
        int r = skiff_task_service_find_task(req->id, &t, &err);
        if (r == 0 && !*req->exec_id)
                r = skiff_error_set(&err, EINVAL, "exec: `exec_id` is required");
        if (r == 0 && skiff_task_process(t, req->exec_id))
                r = skiff_error_set(&err, EEXIST, "exec `%s` already exists in task `%s`",
                                    req->exec_id, t->id);
        if (r == 0)
                r = skiff_task_service_check_op(t, t->init, SKIFF_PROC_OP_EXEC, &err);
        if (r == 0 && t->init_exit_deferred)
                r = skiff_error_set(&err, ENOTCONN, "task `%s` has exited", t->id);
        if (r == 0 && (!req->spec || !req->spec->value.data))
                r = skiff_error_set(&err, EINVAL, "exec: `spec` is required");
        if (r == 0) {
                r = skiff_spec_process_parse((const char *)req->spec->value.data,
                                             req->spec->value.len, &spec, &err);
                if (r < 0)
                        skiff_error_wrap(&err, "exec `%s` spec", req->exec_id);
        }
        if (r == 0)
                r = skiff_shim_env_exec(t->id, spec, &err);
        if (r == 0)
                skiff_shim_gpu_exec(t->id, spec);
        if (r < 0) {
                skiff_spec_process_free(spec);
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        struct skiff_process *p =
            skiff_process_new(req->exec_id, req->stdin, req->stdout, req->stderr, req->terminal);
        p->spec = spec;
        (void)skiff_task_add_exec(t, p); /* duplicate checked above */

        Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
        ev.container_id = t->id;
        ev.exec_id = p->exec_id;
        skiff_task_service_publish("/tasks/exec-added", "containerd.events.TaskExecAdded",
                                   &ev.base);
        skiff_task_service_reply_empty(call);
}

/* ---- registration ---------------------------------------------------------------------- */

static const struct skiff_ttrpc_method task_methods[] = {
    {"State", skiff_task_service_h_state},
    {"Create", h_create},
    {"Start", h_start},
    {"Delete", h_delete},
    {"Pids", skiff_task_service_h_pids},
    {"Pause", skiff_task_service_h_pause},
    {"Resume", skiff_task_service_h_resume},
    {"Checkpoint", skiff_task_service_h_checkpoint},
    {"Kill", h_kill},
    {"Exec", h_exec},
    {"ResizePty", skiff_task_service_h_resize_pty},
    {"CloseIO", skiff_task_service_h_close_io},
    {"Update", skiff_task_service_h_update},
    {"Wait", skiff_task_service_h_wait},
    {"Stats", skiff_task_service_h_stats},
    {"Connect", skiff_task_service_h_connect},
    {"Shutdown", skiff_task_service_h_shutdown},
};

int skiff_task_service_init(uv_loop_t *loop, struct skiff_shim_ctx *ctx)
{
        int r = skiff_reaper_new(loop, &svc.reaper);
        if (r < 0)
                return r;
        svc.loop = loop;
        svc.ctx = ctx;
        skiff_shim_env_init(loop, svc.reaper, ctx);
        if (ctx && ctx->server) {
                skiff_ttrpc_server_register(ctx->server, "containerd.task.v2.Task", task_methods,
                                            SKIFF_ARRAY_SIZE(task_methods), NULL);
                skiff_ttrpc_server_register(ctx->server, "containerd.task.v3.Task", task_methods,
                                            SKIFF_ARRAY_SIZE(task_methods), NULL);
        }
        return 0;
}

unsigned skiff_task_service_count(void)
{
        return skiff_task_table_count();
}

void skiff_task_service_shutdown(void)
{
        struct skiff_task *t;
        while ((t = skiff_task_table_first())) {
                if (t->container) {
                        skiff_err_t err = NULL;
                        if (skiff_container_kill(t->container, SIGKILL, true, &err) < 0)
                                skiff_error_free(&err);
                }
                delete_task(t);
        }
        skiff_shim_gpu_shutdown();
        skiff_shim_env_shutdown();
        skiff_reaper_close(svc.reaper);
        svc.reaper = NULL;
}
