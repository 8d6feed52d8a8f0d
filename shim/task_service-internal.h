/* Private to task_service.c, task_service-create.c and task_service-query.c: the helpers the
 * parts of the Task service share, the shape of the method table's entries (the dispatcher in
 * task_service.c decodes the request and looks up the task or process for every handler), and the
 * handlers registered from task_service.c. */
#ifndef SKIFF_SHIM_TASK_SERVICE_INTERNAL_H
#define SKIFF_SHIM_TASK_SERVICE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "base/error.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "shim/process.h"
#include "shim/ttrpc.h"

struct skiff_task;

/* Go's zero time.Time as a Timestamp: what runc reports for a process that has not exited. */
#define SKIFF_GO_ZERO_SECONDS (-62135596800LL)

/* Answers with the status of skiff_task_service_code(r); the message is the text of *err
 * (freed) or strerror(r). */
void skiff_task_service_reply_errno(struct skiff_ttrpc_call *call, int r, skiff_err_t *err);
static inline void skiff_task_service_reply_empty(struct skiff_ttrpc_call *call)
{
        skiff_ttrpc_reply(call, NULL);
}
/* Timestamp of at; a zero at becomes Go's zero time (§16). */
void skiff_task_service_timestamp(Google__Protobuf__Timestamp *ts, const struct timespec *at);
/* Queues an event with the shim's publisher (no-op without one). */
void skiff_task_service_publish(const char *topic, const char *type, const ProtobufCMessage *m);
/* Task by id: -ENOENT when unknown, -EBUSY while it is being created. */
int skiff_task_service_find_task(const char *id, struct skiff_task **t, skiff_err_t *err);
/* Process by task id and exec id ("" = init): -ENOENT when unknown. */
int skiff_task_service_find_process(const char *id, const char *exec_id, struct skiff_task **t,
                                    struct skiff_process **p, skiff_err_t *err);
/* The process state table's verdict on op, with a message naming the state. Kill after the
 * exit is -ENOENT "process already finished". */
int skiff_task_service_check_op(const struct skiff_task *t, const struct skiff_process *p,
                                enum skiff_proc_op op, skiff_err_t *err);

/* The loop, reaper and containerd namespace the service was initialized with. */
struct skiff_reaper;
uv_loop_t *skiff_task_service_loop(void);
struct skiff_reaper *skiff_task_service_reaper(void);
const char *skiff_task_service_ns(void);

/* Reaper callback for a task's init (data: the task): records the exit and publishes it once
 * no exec is left running. */
struct skiff_exit;
void skiff_task_service_init_exited(const struct skiff_exit *e, void *data);
/* OOM watch callback (data: the task): publishes TaskOOM. */
void skiff_task_service_oom(void *data);

/* What the dispatcher looks up, from the request's `id` and `exec_id`, before a handler runs.
 * A failed lookup is answered with skiff_task_service_reply_errno() and the handler is not
 * called. */
enum skiff_task_lookup {
        SKIFF_TASK_LOOKUP_NONE,    /* nothing: the handler finds what it needs */
        SKIFF_TASK_LOOKUP_TASK,    /* rq->t, by skiff_task_service_find_task(id) */
        SKIFF_TASK_LOOKUP_PROCESS, /* rq->t and rq->p, by skiff_task_service_find_process() */
};

/* One Task call as a handler gets it from the dispatcher. */
struct skiff_task_request {
        struct skiff_ttrpc_call *call; /* answered exactly once by the handler, now or later */
        /* The unpacked request (NULL for a method without a request descriptor). Freed when the
         * handler returns, unless the handler takes it (TAKE_PTR) to keep it longer. */
        ProtobufCMessage *msg;
        struct skiff_task *t;    /* SKIFF_TASK_LOOKUP_TASK and _PROCESS */
        struct skiff_process *p; /* SKIFF_TASK_LOOKUP_PROCESS */
};

#define SKIFF_TASK_SERVICE_HANDLER(name)                                                           \
        void skiff_task_service_h_##name(struct skiff_task_request *rq)
SKIFF_TASK_SERVICE_HANDLER(create); /* task_service-create.c */
SKIFF_TASK_SERVICE_HANDLER(state);  /* task_service-query.c from here on */
SKIFF_TASK_SERVICE_HANDLER(pids);
SKIFF_TASK_SERVICE_HANDLER(wait);
SKIFF_TASK_SERVICE_HANDLER(connect);
SKIFF_TASK_SERVICE_HANDLER(pause);
SKIFF_TASK_SERVICE_HANDLER(resume);
SKIFF_TASK_SERVICE_HANDLER(checkpoint);
SKIFF_TASK_SERVICE_HANDLER(resize_pty);
SKIFF_TASK_SERVICE_HANDLER(close_io);
SKIFF_TASK_SERVICE_HANDLER(update);
SKIFF_TASK_SERVICE_HANDLER(stats);
SKIFF_TASK_SERVICE_HANDLER(shutdown);

#endif
