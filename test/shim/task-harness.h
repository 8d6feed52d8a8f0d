/* The shim's Task service on a private loop, socket and temporary directory, with a connected
 * client playing containerd: what the suites that run containers through the service
 * (test_task_service, test_gpu) drive. The test process is the shim: its loop runs the ttrpc
 * server, the service and the reaper, and the client runs that loop while it waits. */
#ifndef SKIFF_TEST_SHIM_TASK_HARNESS_H
#define SKIFF_TEST_SHIM_TASK_HARNESS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <uv.h>

#include "shim/shim.h"
#include "ttrpc-client.h"

#define TH_BUSYBOX "/bin/busybox"
#define TH_SVC_V2  "containerd.task.v2.Task"
#define TH_SVC_V3  "containerd.task.v3.Task"

struct th_shim {
        uv_loop_t loop;
        struct skiff_shim_ctx ctx;
        char dir[64];     /* the temporary directory, removed by th_shim_stop() */
        char sock[128];   /* <dir>/s */
        char bundle[128]; /* <dir>/bundle, written by th_shim_bundle() */
        char config[128]; /* <dir>/config.json, ctx.config_path when asked for */
        char task_id[64]; /* "<prefix>-<pid>"; its cgroup is /skiff-test/<task_id> */
        struct tc_client client;
};

/* Ignores SIGPIPE, makes /tmp/skiff-<prefix>-XXXXXX, serves the Task service there and connects
 * s->client. With node_config, ctx.config_path is s->config (the file is not written). s must
 * stay put until th_shim_stop(): the service keeps &s->ctx. Needs no privileges. */
void th_shim_serve(struct th_shim *s, const char *prefix, bool node_config);
/* th_shim_serve() for suites that run containers: skips the test (cr_skip_test) without root,
 * TH_BUSYBOX or a usable cgroup hierarchy. */
void th_shim_start(struct th_shim *s, const char *prefix, bool node_config);
/* Closes the client, shuts the service down (killing what still runs), closes the server and
 * removes the directory and the task's cgroups. Nothing when th_shim_start() skipped. */
void th_shim_stop(struct th_shim *s);
/* Writes a busybox bundle at s->bundle running args (a JSON array), with env PATH=/bin then
 * env_extra (JSON strings, each led by a comma), mounts /proc then mounts_extra (JSON objects,
 * each led by a comma), hostname (NULL: none), pid/mount/ipc/uts namespaces and cgroupsPath
 * /skiff-test/<task_id>. The rootfs has the applets sh echo ls cat sleep test true. */
void th_shim_bundle(struct th_shim *s, const char *args, const char *env_extra,
                    const char *mounts_extra, const char *hostname);
/* A containerd.task.v2.Task call through s->client (tc_call()). */
struct tc_resp th_call(struct th_shim *s, const char *method, const ProtobufCMessage *m,
                       const ProtobufCMessageDescriptor *d);
/* Create for s->task_id from s->bundle, with stdout_path (NULL: none) as its stdout. */
struct tc_resp th_create(struct th_shim *s, const char *stdout_path);
/* th_create() then Start, asserting both succeed; returns the init's pid. */
uint32_t th_create_start(struct th_shim *s, const char *stdout_path);
/* Exec of exec_id in s->task_id running `sh -c script` as root in / with env PATH=/bin only (as
 * containerd's CRI sends the container's original env), stdout to stdout_path (NULL: none). */
struct tc_resp th_exec(struct th_shim *s, const char *exec_id, const char *script,
                       const char *stdout_path);
/* Writes text to path with mode 0644. */
void th_write_file(const char *path, const char *text);

#endif
