/* The Task service's Create: an operation that outlives the call. The task enters the table at
 * once (creating, so other calls see -EBUSY), then waits for its environment (env.h, imageless
 * containers), plans its GPUs, opens stdio and waits for the logger, and only then creates the
 * container and answers. Any failure removes the task again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "events/task.pb-c.h"
#include "gpu/inject.h"
#include "gpu/plan.h"
#include "oci/container.h"
#include "oci/spec.h"
#include "shim/env.h"
#include "shim/gpu.h"
#include "shim/oom.h"
#include "shim/process.h"
#include "shim/reaper.h"
#include "shim/stdio.h"
#include "shim/task.h"
#include "shim/task_service-internal.h"
#include "task.pb-c.h"
#include "types/task.pb-c.h"

struct create_op {
        struct skiff_ttrpc_call *call;
        Containerd__Task__V2__CreateTaskRequest *req; /* owned */
        struct skiff_task *t;                         /* in the table, creating */
        struct skiff_gpu_plan *gpu;                   /* owned; NULL: no GPUs */
};

/* The request's rootfs as skiff_rootfs_mount entries; the strings are borrowed from the request,
 * only the arrays are owned (rootfs_mounts_done). */
struct rootfs_mounts {
        struct skiff_rootfs_mount *mounts;
        char ***opts;
        size_t n;
};

static void rootfs_mounts_init(struct rootfs_mounts *rm,
                               const Containerd__Task__V2__CreateTaskRequest *req)
{
        size_t n = rm->n = req->n_rootfs;
        rm->mounts = xcalloc(n ? n : 1, sizeof(*rm->mounts));
        rm->opts = xcalloc(n ? n : 1, sizeof(*rm->opts));
        for (size_t i = 0; i < n; i++) {
                const Containerd__Types__Mount *m = req->rootfs[i];
                rm->opts[i] = xcalloc(m->n_options + 1, sizeof(char *));
                memcpy(rm->opts[i], m->options, m->n_options * sizeof(char *)); /* borrowed */
                rm->mounts[i] = (struct skiff_rootfs_mount){.type = m->type,
                                                            .source = m->source,
                                                            .target = m->target,
                                                            .options = rm->opts[i]};
        }
}

static void rootfs_mounts_done(struct rootfs_mounts *rm)
{
        for (size_t i = 0; i < rm->n; i++)
                free(rm->opts[i]);
        free(rm->opts);
        free(rm->mounts);
}

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

        struct rootfs_mounts rm;
        rootfs_mounts_init(&rm, req);
        struct skiff_container_config cfg = {
            .id = t->id,
            .bundle = t->bundle,
            .spec = t->spec,
            .rootfs = rm.mounts,
            .n_rootfs = rm.n,
            .stdio = skiff_stdio_child_fds(t->init->stdio),
        };
        if (op->gpu) {
                cfg.pre_pivot = skiff_gpu_inject_rootfs;
                cfg.pre_pivot_data = op->gpu;
        }
        int console = -1;
        int r = skiff_container_create(&cfg, &t->container, &console, &err);
        rootfs_mounts_done(&rm);
        if (r < 0) {
                create_fail(op, r, &err);
                return;
        }
        skiff_stdio_child_started(t->init->stdio);
        skiff_shim_gpu_created(t->id, op->gpu);
        op->gpu = skiff_gpu_plan_free(op->gpu);
        t->init->pid = skiff_container_pid(t->container);
        r = skiff_reaper_subscribe(skiff_task_service_reaper(), t->init->pid,
                                   skiff_task_service_init_exited, t);
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
        if (skiff_oom_watch_start(skiff_task_service_loop(), t->container, skiff_task_service_oom,
                                  t, &t->oom, &err) < 0) {
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
            .ns = skiff_task_service_ns(),
            .in = req->stdin,
            .out = req->stdout,
            .err = req->stderr,
            .terminal = req->terminal,
        };
        r = skiff_stdio_open(skiff_task_service_loop(), skiff_task_service_reaper(), &scfg,
                             &t->init->stdio, &err);
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

SKIFF_TASK_SERVICE_HANDLER(create)
{
        /* Kept until the create finishes (create_op). */
        Containerd__Task__V2__CreateTaskRequest *req = (void *)TAKE_PTR(rq->msg);
        struct skiff_ttrpc_call *call = rq->call;
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
                struct rootfs_mounts rm;
                rootfs_mounts_init(&rm, req);
                r = skiff_shim_env_prepare(t->id, req->bundle, t->spec, rm.mounts, rm.n,
                                           create_env_ready, op, &err);
                rootfs_mounts_done(&rm);
                if (r < 0) {
                        create_fail(op, r, &err);
                        return;
                }
                if (r == 0)
                        return;
        }
        create_open_stdio(op);
}
