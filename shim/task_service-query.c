/* Task service handlers that query or adjust a task (State, Pids, Wait, Connect, Pause, Resume,
 * Checkpoint, ResizePty, CloseIO, Update, Stats, Shutdown). Create lives in
 * task_service-create.c, the other lifecycle handlers and the dispatcher in task_service.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "events/task.pb-c.h"
#include "oci/container.h"
#include "oci/spec.h"
#include "runc/options.pb-c.h"
#include "shim/metrics.h"
#include "shim/process.h"
#include "shim/shim.h"
#include "shim/stdio.h"
#include "shim/task.h"
#include "shim/task_service-internal.h"
#include "task.pb-c.h"
#include "types/task.pb-c.h"

/* ---- State, Pids, Wait, Connect -------------------------------------------------------- */

static Containerd__V1__Types__Status state_status(enum skiff_proc_state s)
{
        switch (s) {
        case SKIFF_PROC_CREATED:
                return CONTAINERD__V1__TYPES__STATUS__CREATED;
        case SKIFF_PROC_RUNNING:
                return CONTAINERD__V1__TYPES__STATUS__RUNNING;
        case SKIFF_PROC_PAUSED:
                return CONTAINERD__V1__TYPES__STATUS__PAUSED;
        case SKIFF_PROC_STOPPED:
        case SKIFF_PROC_DELETED:
                return CONTAINERD__V1__TYPES__STATUS__STOPPED;
        default:
                return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
        }
}

/* Looks up by itself: State also answers for a task that is still being created. */
SKIFF_TASK_SERVICE_HANDLER(state)
{
        Containerd__Task__V2__StateRequest *req = (void *)rq->msg;
        skiff_err_t err = NULL;
        struct skiff_task *t = skiff_task_table_find(req->id);
        struct skiff_process *p = t ? skiff_task_process(t, req->exec_id) : NULL;
        if (!p) {
                int r = skiff_error_set(&err, ENOENT, "task `%s` process `%s` not found", req->id,
                                        req->exec_id);
                skiff_task_service_reply_errno(rq->call, r, &err);
                return;
        }
        Google__Protobuf__Timestamp ts;
        skiff_task_service_timestamp(&ts, &p->exited_at);
        Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
        resp.id = p->exec_id ? p->exec_id : t->id;
        resp.bundle = t->bundle;
        resp.pid = (uint32_t)(p->pid > 0 ? p->pid : 0);
        resp.status = state_status(p->state);
        resp.stdin = p->stdin_path;
        resp.stdout = p->stdout_path;
        resp.stderr = p->stderr_path;
        resp.terminal = p->terminal;
        resp.exit_status = (uint32_t)p->exit_status;
        resp.exited_at = &ts;
        skiff_ttrpc_reply(rq->call, &resp.base);
}

SKIFF_TASK_SERVICE_HANDLER(pids)
{
        struct skiff_task *t = rq->t;
        skiff_err_t err = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (skiff_container_pids(t->container, &pids, &n, &err) < 0) {
                log_debug("cgroup pids unavailable: id=%s error=%s", t->id, skiff_error_msg(err));
                skiff_error_free(&err);
                n = 0;
        }
        bool live = t->init->state == SKIFF_PROC_CREATED || t->init->state == SKIFF_PROC_RUNNING ||
                    t->init->state == SKIFF_PROC_PAUSED;
        if (n == 0 && live && t->init->pid > 0) { /* at least one pid for a live task */
                free(pids);
                pids = xmalloc(sizeof(*pids));
                pids[0] = t->init->pid;
                n = 1;
        }
        Containerd__V1__Types__ProcessInfo *infos = xcalloc(n ? n : 1, sizeof(*infos));
        Containerd__V1__Types__ProcessInfo **ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
        Google__Protobuf__Any *anys = xcalloc(n ? n : 1, sizeof(*anys));
        for (size_t i = 0; i < n; i++) {
                containerd__v1__types__process_info__init(&infos[i]);
                infos[i].pid = (uint32_t)pids[i];
                ptrs[i] = &infos[i];
                for (size_t j = 0; j < t->n_execs; j++) {
                        if (t->execs[j]->pid != pids[i])
                                continue;
                        Containerd__Runc__V1__ProcessDetails d =
                            CONTAINERD__RUNC__V1__PROCESS_DETAILS__INIT;
                        d.exec_id = t->execs[j]->exec_id;
                        google__protobuf__any__init(&anys[i]);
                        anys[i].type_url = "containerd.runc.v1.ProcessDetails";
                        anys[i].value.len = protobuf_c_message_get_packed_size(&d.base);
                        anys[i].value.data = xmalloc(anys[i].value.len + 1);
                        protobuf_c_message_pack(&d.base, anys[i].value.data);
                        infos[i].info = &anys[i];
                }
        }
        Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
        resp.n_processes = n;
        resp.processes = ptrs;
        skiff_ttrpc_reply(rq->call, &resp.base);
        for (size_t i = 0; i < n; i++)
                free(anys[i].value.data);
        free(anys);
        free(ptrs);
        free(infos);
}

static void wait_done(struct skiff_process *p, void *data)
{
        struct skiff_ttrpc_call *call = data;
        Google__Protobuf__Timestamp ts;
        skiff_task_service_timestamp(&ts, &p->exited_at);
        Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
        resp.exit_status = (uint32_t)p->exit_status;
        resp.exited_at = &ts;
        skiff_ttrpc_reply(call, &resp.base);
}

SKIFF_TASK_SERVICE_HANDLER(wait)
{
        /* Answered now when stopped, else when the exit is processed (may be much later). */
        skiff_process_on_exit(rq->p, wait_done, rq->call);
}

SKIFF_TASK_SERVICE_HANDLER(connect)
{
        Containerd__Task__V2__ConnectRequest *req = (void *)rq->msg;
        struct skiff_task *t = skiff_task_table_find(req->id); /* unknown id: task_pid 0 */
        Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
        resp.shim_pid = (uint32_t)getpid();
        resp.task_pid = t && t->init->pid > 0 ? (uint32_t)t->init->pid : 0;
        resp.version = SKIFF_VERSION;
        skiff_ttrpc_reply(rq->call, &resp.base);
}

static void pause_resume(struct skiff_ttrpc_call *call, struct skiff_task *t, bool pause)
{
        skiff_err_t err = NULL;
        enum skiff_proc_op op = pause ? SKIFF_PROC_OP_PAUSE : SKIFF_PROC_OP_RESUME;
        int r = skiff_task_service_check_op(t, t->init, op, &err);
        if (r == 0)
                r = pause ? skiff_container_pause(t->container, &err)
                          : skiff_container_resume(t->container, &err);
        if (r < 0) {
                skiff_task_service_reply_errno(call, r, &err);
                return;
        }
        (void)skiff_process_transition(t->init, op);
        if (pause) {
                Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
                ev.container_id = t->id;
                skiff_task_service_publish("/tasks/paused", "containerd.events.TaskPaused",
                                           &ev.base);
        } else {
                Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
                ev.container_id = t->id;
                skiff_task_service_publish("/tasks/resumed", "containerd.events.TaskResumed",
                                           &ev.base);
        }
        skiff_task_service_reply_empty(call);
}

SKIFF_TASK_SERVICE_HANDLER(pause)
{
        pause_resume(rq->call, rq->t, true);
}

SKIFF_TASK_SERVICE_HANDLER(resume)
{
        pause_resume(rq->call, rq->t, false);
}

SKIFF_TASK_SERVICE_HANDLER(checkpoint)
{
        skiff_ttrpc_reply_error(rq->call, SKIFF_GRPC_UNIMPLEMENTED,
                                "checkpoint is not supported by skiff");
}

SKIFF_TASK_SERVICE_HANDLER(resize_pty)
{
        Containerd__Task__V2__ResizePtyRequest *req = (void *)rq->msg;
        struct skiff_process *p = rq->p;
        skiff_err_t err = NULL;
        int r = skiff_task_service_check_op(rq->t, p, SKIFF_PROC_OP_IO, &err);
        if (r == 0 && !p->stdio)
                r = skiff_error_set(&err, ENOTCONN, "resize pty: process not started");
        if (r == 0)
                r = skiff_stdio_resize(p->stdio, req->width, req->height, &err);
        if (r < 0) {
                skiff_task_service_reply_errno(rq->call, r, &err);
                return;
        }
        skiff_task_service_reply_empty(rq->call);
}

SKIFF_TASK_SERVICE_HANDLER(close_io)
{
        Containerd__Task__V2__CloseIORequest *req = (void *)rq->msg;
        struct skiff_process *p = rq->p;
        skiff_err_t err = NULL;
        int r = skiff_task_service_check_op(rq->t, p, SKIFF_PROC_OP_IO, &err);
        if (r < 0) {
                skiff_task_service_reply_errno(rq->call, r, &err);
                return;
        }
        if (req->stdin && p->stdio)
                skiff_stdio_close_stdin(p->stdio);
        skiff_task_service_reply_empty(rq->call);
}

SKIFF_TASK_SERVICE_HANDLER(update)
{
        Containerd__Task__V2__UpdateTaskRequest *req = (void *)rq->msg;
        skiff_err_t err = NULL;
        struct skiff_spec_resources *res = NULL;
        int r = 0;
        if (!req->resources || !req->resources->value.data)
                r = skiff_error_set(&err, EINVAL, "update: `resources` is required");
        if (r == 0)
                r = skiff_spec_resources_parse((const char *)req->resources->value.data,
                                               req->resources->value.len, &res, &err);
        if (r == 0)
                r = skiff_container_update(rq->t->container, res, &err);
        skiff_spec_resources_free(res);
        if (r < 0) {
                skiff_task_service_reply_errno(rq->call, r, &err);
                return;
        }
        skiff_task_service_reply_empty(rq->call);
}

SKIFF_TASK_SERVICE_HANDLER(stats)
{
        skiff_err_t err = NULL;
        struct skiff_cgroup_stats st;
        memset(&st, 0, sizeof(st));
        int r = skiff_container_stats(rq->t->container, &st, &err);
        if (r < 0) {
                skiff_cgroup_stats_clear(&st);
                skiff_task_service_reply_errno(rq->call, r, &err);
                return;
        }
        Google__Protobuf__Any any;
        skiff_metrics_pack(&st, &any);
        skiff_cgroup_stats_clear(&st);
        Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
        resp.stats = &any;
        skiff_ttrpc_reply(rq->call, &resp.base);
        skiff_metrics_any_clear(&any);
}

SKIFF_TASK_SERVICE_HANDLER(shutdown)
{
        skiff_task_service_reply_empty(rq->call);
        if (skiff_task_table_count() > 0)
                return; /* other tasks of the pod still live here (pitfall 7) */
        skiff_shim_request_exit();
}
