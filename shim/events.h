/* Event publisher: sends containerd events (TaskCreate, TaskStart, TaskExit, TaskOOM, ...) to
 * containerd's ttrpc socket ($TTRPC_ADDRESS) as containerd.services.events.ttrpc.v1.Events/
 * Forward with an Envelope{timestamp, namespace, topic, Any{bare type URL, payload}}.
 * Events are queued in order and sent one at a time with retries (backoff) so ordering is
 * preserved and a containerd restart loses nothing that was queued (bounded queue).
 * Must be used on the loop thread. */
#ifndef SKIFF_SHIM_EVENTS_H
#define SKIFF_SHIM_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

struct skiff_events;

/* address: containerd's ttrpc address (path or unix://path); ns: containerd namespace. */
int skiff_events_new(uv_loop_t *loop, const char *address, const char *ns,
                     struct skiff_events **out);
/* Queues an event. topic e.g. "/tasks/exit"; type_name the bare proto type, e.g.
 * "containerd.events.TaskExit"; msg is serialized immediately (caller keeps ownership). */
void skiff_events_publish(struct skiff_events *ev, const char *topic, const char *type_name,
                          const ProtobufCMessage *msg);
/* Calls cb once every queued event was delivered or given up on (used before exit). cb may be
 * called synchronously when the queue is empty. */
void skiff_events_flush(struct skiff_events *ev, void (*cb)(void *data), void *data);
void skiff_events_close(struct skiff_events *ev);

#endif
