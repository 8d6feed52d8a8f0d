/* The Task service (task_service.h): the errno -> status mapping, the helpers every handler
 * shares, process exits, the lifecycle handlers Start, Delete, Kill and Exec, and the
 * table-driven dispatcher every call goes through (decode, look up, answer failures). Create is
 * in task_service-create.c, the query handlers in task_service-query.c. */
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

static struct {
        uv_loop_t *loop;
        struct skiff_shim_ctx *ctx;
        struct skiff_reaper *reaper;
} svc;

uv_loop_t *skiff_task_service_loop(void)
{
        return svc.loop;
}

struct skiff_reaper *skiff_task_service_reaper(void)
{
        return svc.reaper;
}

const char *skiff_task_service_ns(void)
{
        return svc.ctx ? svc.ctx->ns : NULL;
}

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

void skiff_task_service_init_exited(const struct skiff_exit *e, void *data)
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

void skiff_task_service_oom(void *data)
{
        struct skiff_task *t = data;
        log_info("oom kill: id=%s", t->id);
        Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
        ev.container_id = t->id;
        skiff_task_service_publish("/tasks/oom", "containerd.events.TaskOOM", &ev.base);
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
            .ns = skiff_task_service_ns(),
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

static void h_start(struct skiff_task_request *rq)
{
        struct skiff_ttrpc_call *call = rq->call;
        struct skiff_task *t = rq->t;
        struct skiff_process *p = rq->p;
        if (!skiff_process_is_init(p)) {
                start_exec(call, t, p);
                return;
        }
        skiff_err_t err = NULL;
        int r = skiff_task_service_check_op(t, p, SKIFF_PROC_OP_START, &err);
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

static void h_delete(struct skiff_task_request *rq)
{
        struct skiff_ttrpc_call *call = rq->call;
        struct skiff_task *t = rq->t;
        struct skiff_process *p = rq->p;
        skiff_err_t err = NULL;
        int r = skiff_task_service_check_op(t, p, SKIFF_PROC_OP_DELETE, &err);
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

static void h_kill(struct skiff_task_request *rq)
{
        Containerd__Task__V2__KillRequest *req = (void *)rq->msg;
        struct skiff_task *t = rq->t;
        struct skiff_process *p = rq->p;
        skiff_err_t err = NULL;
        int r = 0;
        if (skiff_process_is_init(p) && t->init_exit_deferred)
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
                skiff_task_service_reply_errno(rq->call, r, &err);
                return;
        }
        skiff_task_service_reply_empty(rq->call);
}

/* ---- Exec, ResizePty, CloseIO, Update, Stats, Shutdown --------------------------------- */

static void h_exec(struct skiff_task_request *rq)
{
        Containerd__Task__V2__ExecProcessRequest *req = (void *)rq->msg;
        struct skiff_task *t = rq->t;
        skiff_err_t err = NULL;
        struct skiff_spec_process *spec = NULL;
        int r = 0;
        if (!*req->exec_id)
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
                skiff_task_service_reply_errno(rq->call, r, &err);
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
        skiff_task_service_reply_empty(rq->call);
}

/* ---- dispatch and registration --------------------------------------------------------- */

/* The data of each entry of task_methods: how to prepare the call for its handler. */
struct task_method {
        /* The request message; NULL: the payload is not decoded. With a lookup, the message has
         * a string `id` (and `exec_id` for _PROCESS), checked by skiff_task_service_init(). */
        const ProtobufCMessageDescriptor *req;
        enum skiff_task_lookup lookup;
        void (*fn)(struct skiff_task_request *rq);
};

/* The singular string field `name` of d, or NULL. */
static const ProtobufCFieldDescriptor *string_field(const ProtobufCMessageDescriptor *d,
                                                    const char *name)
{
        const ProtobufCFieldDescriptor *f =
            d ? protobuf_c_message_descriptor_get_field_by_name(d, name) : NULL;
        if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
                return NULL;
        return f;
}

/* The value of m's string field `name` (which skiff_task_service_init() checked exists). */
static const char *string_value(const ProtobufCMessage *m, const char *name)
{
        const ProtobufCFieldDescriptor *f = string_field(m->descriptor, name);
        return *(const char *const *)((const char *)m + f->offset);
}

/* The one preamble of every Task handler: decode the request, look up the task or process it
 * names, answer a failure (with the single errno -> status mapping), else run the handler. */
static void task_dispatch(struct skiff_ttrpc_call *call, const uint8_t *payload, size_t len,
                          void *u)
{
        const struct task_method *m = skiff_ttrpc_call_data(call);
        struct skiff_task_request rq = {.call = call};
        if (m->req) {
                rq.msg = protobuf_c_message_unpack(m->req, NULL, len, payload);
                if (!rq.msg) {
                        skiff_ttrpc_reply_error(call, SKIFF_GRPC_INTERNAL,
                                                "ttrpc: error unmarshalling payload: invalid `%s`",
                                                m->req->name);
                        return;
                }
        }
        skiff_err_t err = NULL;
        int r = 0;
        if (m->lookup == SKIFF_TASK_LOOKUP_TASK)
                r = skiff_task_service_find_task(string_value(rq.msg, "id"), &rq.t, &err);
        else if (m->lookup == SKIFF_TASK_LOOKUP_PROCESS)
                r = skiff_task_service_find_process(string_value(rq.msg, "id"),
                                                    string_value(rq.msg, "exec_id"), &rq.t, &rq.p,
                                                    &err);
        if (r < 0)
                skiff_task_service_reply_errno(call, r, &err);
        else
                m->fn(&rq);
        if (rq.msg)
                protobuf_c_message_free_unpacked(rq.msg, NULL);
}

/* The data of a task_methods entry: how task_dispatch prepares the call for fn. The request
 * is containerd.task.v2.<msg> (NULL: not decoded). */
#define TASK_METHOD(msg, lookup, fn)                                                               \
        (&(const struct task_method){(msg), SKIFF_TASK_LOOKUP_##lookup, (fn)})
#define REQ(msg) (&containerd__task__v2__##msg##__descriptor)

static const struct skiff_ttrpc_method task_methods[] = {
    {"State", task_dispatch, TASK_METHOD(REQ(state_request), NONE, skiff_task_service_h_state)},
    {"Create", task_dispatch,
     TASK_METHOD(REQ(create_task_request), NONE, skiff_task_service_h_create)},
    {"Start", task_dispatch, TASK_METHOD(REQ(start_request), PROCESS, h_start)},
    {"Delete", task_dispatch, TASK_METHOD(REQ(delete_request), PROCESS, h_delete)},
    {"Pids", task_dispatch, TASK_METHOD(REQ(pids_request), TASK, skiff_task_service_h_pids)},
    {"Pause", task_dispatch, TASK_METHOD(REQ(pause_request), TASK, skiff_task_service_h_pause)},
    {"Resume", task_dispatch, TASK_METHOD(REQ(resume_request), TASK, skiff_task_service_h_resume)},
    {"Checkpoint", task_dispatch, TASK_METHOD(NULL, NONE, skiff_task_service_h_checkpoint)},
    {"Kill", task_dispatch, TASK_METHOD(REQ(kill_request), PROCESS, h_kill)},
    {"Exec", task_dispatch, TASK_METHOD(REQ(exec_process_request), TASK, h_exec)},
    {"ResizePty", task_dispatch,
     TASK_METHOD(REQ(resize_pty_request), PROCESS, skiff_task_service_h_resize_pty)},
    {"CloseIO", task_dispatch,
     TASK_METHOD(REQ(close_iorequest), PROCESS, skiff_task_service_h_close_io)},
    {"Update", task_dispatch,
     TASK_METHOD(REQ(update_task_request), TASK, skiff_task_service_h_update)},
    {"Wait", task_dispatch, TASK_METHOD(REQ(wait_request), PROCESS, skiff_task_service_h_wait)},
    {"Stats", task_dispatch, TASK_METHOD(REQ(stats_request), TASK, skiff_task_service_h_stats)},
    {"Connect", task_dispatch,
     TASK_METHOD(REQ(connect_request), NONE, skiff_task_service_h_connect)},
    {"Shutdown", task_dispatch, TASK_METHOD(NULL, NONE, skiff_task_service_h_shutdown)},
};

/* Whether every lookup in task_methods can read the fields it needs. */
static bool task_methods_valid(void)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(task_methods); i++) {
                const struct task_method *m = task_methods[i].data;
                if (m->lookup != SKIFF_TASK_LOOKUP_NONE && !string_field(m->req, "id"))
                        return false;
                if (m->lookup == SKIFF_TASK_LOOKUP_PROCESS && !string_field(m->req, "exec_id"))
                        return false;
        }
        return true;
}

int skiff_task_service_init(uv_loop_t *loop, struct skiff_shim_ctx *ctx)
{
        if (!task_methods_valid())
                return -EINVAL;
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
