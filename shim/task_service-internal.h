/* Private to task_service.c and task_service-query.c: the helpers both halves of the Task
 * service share, and the handlers registered from task_service.c. */
#ifndef SKIFF_SHIM_TASK_SERVICE_INTERNAL_H
#define SKIFF_SHIM_TASK_SERVICE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/error.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "shim/process.h"
#include "shim/ttrpc.h"

struct skiff_task;

/* Go's zero time.Time as a Timestamp: what runc reports for a process that has not exited. */
#define SKIFF_GO_ZERO_SECONDS (-62135596800LL)

static inline void skiff_task_service_msg_freep(void *p)
{
        ProtobufCMessage **m = p;
        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
/* Frees an unpacked request message at scope exit. */
#define _cleanup_msg_ __attribute__((cleanup(skiff_task_service_msg_freep)))

/* Answers with the status of skiff_task_service_code(r); the message is the text of *err
 * (freed) or strerror(r). */
void skiff_task_service_reply_errno(struct skiff_ttrpc_call *call, int r, skiff_err_t *err);
static inline void skiff_task_service_reply_empty(struct skiff_ttrpc_call *call)
{
        skiff_ttrpc_reply(call, NULL);
}
/* Unpacks payload as a message of descriptor d; on failure answers INTERNAL and returns NULL.
 * The caller frees the message (protobuf_c_message_free_unpacked). */
void *skiff_task_service_unpack(struct skiff_ttrpc_call *call, const ProtobufCMessageDescriptor *d,
                                const uint8_t *payload, size_t len);
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

#define SKIFF_TASK_SERVICE_HANDLER(name)                                                           \
        void skiff_task_service_h_##name(struct skiff_ttrpc_call *call, const uint8_t *payload,    \
                                         size_t len, void *u)
SKIFF_TASK_SERVICE_HANDLER(state);
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
