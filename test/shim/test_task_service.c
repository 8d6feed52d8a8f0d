#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/task_service.h"
#include "task-harness.h"
#include "task.pb-c.h"
#include "types/task.pb-c.h"

/* shim.c defines this for the binary; this weak one keeps shim.c (and its process-wide loop)
 * out of the test, and counts the requests. */
__attribute__((weak)) void skiff_shim_request_exit(void);
static int exit_requests;
__attribute__((weak)) void skiff_shim_request_exit(void)
{
        exit_requests++;
}

static const struct {
        int err;
        enum skiff_grpc_code code;
} mapping[] = {
    {ENOENT, SKIFF_GRPC_NOT_FOUND},
    {EEXIST, SKIFF_GRPC_ALREADY_EXISTS},
    {EINVAL, SKIFF_GRPC_INVALID_ARGUMENT},
    {EBUSY, SKIFF_GRPC_FAILED_PRECONDITION},
    {ENOTCONN, SKIFF_GRPC_FAILED_PRECONDITION},
    {ENOTSUP, SKIFF_GRPC_UNIMPLEMENTED},
    {ENOSYS, SKIFF_GRPC_UNIMPLEMENTED},
    {ETIMEDOUT, SKIFF_GRPC_DEADLINE_EXCEEDED},
    {ECANCELED, SKIFF_GRPC_CANCELLED},
    {EIO, SKIFF_GRPC_UNKNOWN},
    {EPERM, SKIFF_GRPC_UNKNOWN},
    {ESRCH, SKIFF_GRPC_UNKNOWN},
    {EBADMSG, SKIFF_GRPC_UNKNOWN},
};

Test(task_service, errno_maps_to_status_code_for_negative_and_positive)
{
        for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++) {
                cr_assert_eq(skiff_task_service_code(-mapping[i].err), mapping[i].code, "-%d",
                             mapping[i].err);
                cr_assert_eq(skiff_task_service_code(mapping[i].err), mapping[i].code, "%d",
                             mapping[i].err);
        }
        cr_assert_eq(skiff_task_service_code(0), SKIFF_GRPC_OK);
}

/* ---- the dispatcher: decoding and lookups, answered before any handler runs --------------
 * The service on a private loop and socket without containers: needs no privileges. */

static struct th_shim shim;

static void dispatch_setup(void)
{
        th_shim_serve(&shim, "tdsp", false);
}

static void dispatch_teardown(void)
{
        th_shim_stop(&shim);
}

TestSuite(task_service_dispatch, .init = dispatch_setup, .fini = dispatch_teardown, .timeout = 20);

/* Every request message of the Task service starts with `string id = 1`, so this payload
 * (id "nope") decodes as any of them. */
static const uint8_t id_nope[] = {0x0a, 0x04, 'n', 'o', 'p', 'e'};

static struct tc_resp call_raw(const char *method, const void *payload, size_t len)
{
        struct tc_resp r;
        uint32_t sid = tc_send_raw(&shim.client, TH_SVC_V2, method, payload, len);
        cr_assert(tc_recv(&shim.client, sid, NULL, &r, 10000), "no answer to %s", method);
        return r;
}

Test(task_service_dispatch, lookups_of_an_unknown_task_answer_not_found)
{
        static const char *const methods[] = {"Pids",   "Pause",     "Resume",  "Exec",
                                              "Update", "Stats",     "Start",   "Delete",
                                              "Kill",   "ResizePty", "CloseIO", "Wait"};
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                struct tc_resp r = call_raw(methods[i], id_nope, sizeof(id_nope));
                cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND, "%s: %d %s", methods[i], r.code, r.msg);
                cr_assert_str_eq(r.msg, "task `nope` not found", "%s", methods[i]);
        }
        struct tc_resp r = call_raw("State", id_nope, sizeof(id_nope));
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);
        cr_assert_str_eq(r.msg, "task `nope` process `` not found");
}

Test(task_service_dispatch, an_undecodable_request_is_internal_naming_its_type)
{
        static const uint8_t bad[] = {0x0a, 0x05, 'n', 'o'}; /* id: 5 bytes announced, 2 given */
        struct tc_resp r = call_raw("Kill", bad, sizeof(bad));
        cr_assert_eq(r.code, SKIFF_GRPC_INTERNAL);
        cr_assert_str_eq(r.msg, "ttrpc: error unmarshalling payload: invalid "
                                "`containerd.task.v2.KillRequest`");
        r = call_raw("Create", bad, sizeof(bad));
        cr_assert_eq(r.code, SKIFF_GRPC_INTERNAL);
        cr_assert(strstr(r.msg, "`containerd.task.v2.CreateTaskRequest`"), "%s", r.msg);
}

Test(task_service_dispatch, checkpoint_and_shutdown_do_not_decode_their_payload)
{
        static const uint8_t bad[] = {0x0a, 0x05, 'n', 'o'};
        struct tc_resp r = call_raw("Checkpoint", bad, sizeof(bad));
        cr_assert_eq(r.code, SKIFF_GRPC_UNIMPLEMENTED);
        cr_assert_str_eq(r.msg, "checkpoint is not supported by skiff");
        r = call_raw("Shutdown", bad, sizeof(bad));
        cr_assert_eq(r.code, 0, "%s", r.msg);
        cr_assert_eq(exit_requests, 1);
}

Test(task_service_dispatch, handlers_without_lookup_answer_for_unknown_ids)
{
        Containerd__Task__V2__ConnectRequest conn = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
        conn.id = "nope";
        struct tc_resp r = th_call(&shim, "Connect", &conn.base,
                                   &containerd__task__v2__connect_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__ConnectResponse *)r.m)->task_pid, 0);
        tc_resp_free(&r);
        Containerd__Task__V2__CreateTaskRequest creq =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        creq.id = "nope";
        r = th_call(&shim, "Create", &creq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_INVALID_ARGUMENT);
        cr_assert_str_eq(r.msg, "create: `id` and `bundle` are required");
}

/* ---- Create/Start/Wait/Kill/Delete through the real ttrpc server ---------------------------
 * Needs root, a static busybox and a cgroup hierarchy; skipped otherwise (task-harness.h). */

static char fifo_out[128];

static void rt_setup(void)
{
        th_shim_start(&shim, "tsvc", false);
        snprintf(fifo_out, sizeof(fifo_out), "%s/out", shim.dir);
        cr_assert_eq(mkfifo(fifo_out, 0600), 0);
}

static void rt_teardown(void)
{
        th_shim_stop(&shim);
}

static void build_bundle(const char *args_json)
{
        th_shim_bundle(&shim, args_json, NULL, NULL, "tsvc");
}

TestSuite(task_service_rt, .init = rt_setup, .fini = rt_teardown, .timeout = 60);

Test(task_service_rt, create_start_wait_kill_delete_round_trip)
{
        build_bundle("[\"sh\", \"-c\", \"echo hello; exit 3\"]");
        int out = open(fifo_out, O_RDONLY | O_NONBLOCK); /* the client's reader, as ctr does */
        cr_assert_geq(out, 0);

        /* Connect for an unknown id answers with task_pid 0, on either service name. */
        Containerd__Task__V2__ConnectRequest conn = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
        conn.id = shim.task_id;
        struct tc_resp r;
        uint32_t sid = tc_send(&shim.client, TH_SVC_V3, "Connect", &conn.base);
        cr_assert(tc_recv(&shim.client, sid, &containerd__task__v2__connect_response__descriptor,
                          &r, 5000));
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__ConnectResponse *cr = r.m;
        cr_assert_eq(cr->shim_pid, (uint32_t)getpid());
        cr_assert_eq(cr->task_pid, 0);
        tc_resp_free(&r);

        Containerd__Task__V2__CreateTaskRequest creq =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        creq.id = shim.task_id;
        creq.bundle = shim.bundle;
        creq.stdout = fifo_out;
        r = th_call(&shim, "Create", &creq.base,
                    &containerd__task__v2__create_task_response__descriptor);
        cr_assert_eq(r.code, 0, "create: %s", r.msg);
        uint32_t pid = ((Containerd__Task__V2__CreateTaskResponse *)r.m)->pid;
        cr_assert_gt(pid, 0);
        tc_resp_free(&r);

        r = th_call(&shim, "Create", &creq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_ALREADY_EXISTS, "duplicate create: %d %s", r.code, r.msg);

        Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
        sreq.id = shim.task_id;
        r = th_call(&shim, "State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__StateResponse *st = r.m;
        cr_assert_eq(st->status, CONTAINERD__V1__TYPES__STATUS__CREATED);
        cr_assert_eq(st->pid, pid);
        cr_assert_str_eq(st->bundle, shim.bundle);
        cr_assert_str_eq(st->stdout, fifo_out);
        cr_assert_eq(st->exited_at->seconds, -62135596800LL, "not exited: Go zero time");
        tc_resp_free(&r);

        /* Wait is answered only after the exit, out of order with later calls. */
        Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
        wreq.id = shim.task_id;
        uint32_t wait_sid = tc_send(&shim.client, TH_SVC_V2, "Wait", &wreq.base);
        for (int i = 0; i < 20; i++)
                tc_pump(&shim.client);

        Containerd__Task__V2__StartRequest streq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        streq.id = shim.task_id;
        uint32_t start_sid = tc_send(&shim.client, TH_SVC_V2, "Start", &streq.base);
        cr_assert(tc_recv(&shim.client, start_sid,
                          &containerd__task__v2__start_response__descriptor, &r, 10000),
                  "Start answered after Wait, or not at all");
        cr_assert_eq(r.code, 0, "start: %s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__StartResponse *)r.m)->pid, pid);
        tc_resp_free(&r);

        cr_assert(tc_recv(&shim.client, wait_sid, &containerd__task__v2__wait_response__descriptor,
                          &r, 10000),
                  "no Wait answer");
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__WaitResponse *wr = r.m;
        cr_assert_eq(wr->exit_status, 3);
        cr_assert_gt(wr->exited_at->seconds, 1600000000);
        int64_t exited_s = wr->exited_at->seconds;
        int32_t exited_ns = wr->exited_at->nanos;
        tc_resp_free(&r);

        r = th_call(&shim, "State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        st = r.m;
        cr_assert_eq(st->status, CONTAINERD__V1__TYPES__STATUS__STOPPED);
        cr_assert_eq(st->exit_status, 3);
        cr_assert_eq(st->exited_at->seconds, exited_s);
        cr_assert_eq(st->exited_at->nanos, exited_ns);
        tc_resp_free(&r);

        /* Output went straight into the FIFO; after the exit the shim's end is closed. */
        char buf[64] = {0};
        size_t got = 0;
        bool eof = false;
        for (int i = 0; i < 400 && !eof; i++) {
                tc_pump(&shim.client);
                ssize_t n = read(out, buf + got, sizeof(buf) - 1 - got);
                if (n > 0)
                        got += (size_t)n;
                else if (n == 0)
                        eof = true;
                else
                        usleep(5000);
        }
        cr_assert_str_eq(buf, "hello\n");
        cr_assert(eof, "the client never saw EOF on stdout");
        close(out);

        Containerd__Task__V2__KillRequest kreq = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
        kreq.id = shim.task_id;
        kreq.signal = SIGKILL;
        r = th_call(&shim, "Kill", &kreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND, "kill after exit: %d %s", r.code, r.msg);

        Containerd__Task__V2__CheckpointTaskRequest ck =
            CONTAINERD__TASK__V2__CHECKPOINT_TASK_REQUEST__INIT;
        ck.id = shim.task_id;
        r = th_call(&shim, "Checkpoint", &ck.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_UNIMPLEMENTED);

        Containerd__Task__V2__ShutdownRequest sh = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
        sh.id = shim.task_id;
        r = th_call(&shim, "Shutdown", &sh.base, NULL);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(exit_requests, 0, "Shutdown with a task left must not exit");

        Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
        dreq.id = shim.task_id;
        r = th_call(&shim, "Delete", &dreq.base,
                    &containerd__task__v2__delete_response__descriptor);
        cr_assert_eq(r.code, 0, "delete: %s", r.msg);
        Containerd__Task__V2__DeleteResponse *dr = r.m;
        cr_assert_eq(dr->pid, pid);
        cr_assert_eq(dr->exit_status, 3);
        cr_assert_eq(dr->exited_at->seconds, exited_s);
        tc_resp_free(&r);
        cr_assert_eq(skiff_task_service_count(), 0);

        r = th_call(&shim, "Delete", &dreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);
        r = th_call(&shim, "State", &sreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);

        r = th_call(&shim, "Shutdown", &sh.base, NULL);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(exit_requests, 1, "Shutdown without tasks must ask the shim to exit");
}

Test(task_service_rt, kill_running_task_reports_128_plus_signal_and_pids)
{
        build_bundle("[\"sleep\", \"1000\"]");
        uint32_t pid = th_create_start(&shim, NULL);
        struct tc_resp r;

        Containerd__Task__V2__PidsRequest preq = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
        preq.id = shim.task_id;
        r = th_call(&shim, "Pids", &preq.base, &containerd__task__v2__pids_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__PidsResponse *pr = r.m;
        cr_assert_geq(pr->n_processes, 1);
        cr_assert_eq(pr->processes[0]->pid, pid);
        tc_resp_free(&r);

        Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
        dreq.id = shim.task_id;
        r = th_call(&shim, "Delete", &dreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_FAILED_PRECONDITION, "delete running: %d %s", r.code,
                     r.msg);

        Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
        wreq.id = shim.task_id;
        uint32_t wait_sid = tc_send(&shim.client, TH_SVC_V2, "Wait", &wreq.base);
        Containerd__Task__V2__KillRequest kreq = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
        kreq.id = shim.task_id;
        kreq.signal = SIGKILL;
        kreq.all = true;
        r = th_call(&shim, "Kill", &kreq.base, NULL);
        cr_assert_eq(r.code, 0, "kill: %s", r.msg);
        cr_assert(tc_recv(&shim.client, wait_sid, &containerd__task__v2__wait_response__descriptor,
                          &r, 10000));
        cr_assert_eq(((Containerd__Task__V2__WaitResponse *)r.m)->exit_status, 128 + SIGKILL);
        tc_resp_free(&r);
        r = th_call(&shim, "Delete", &dreq.base,
                    &containerd__task__v2__delete_response__descriptor);
        cr_assert_eq(r.code, 0, "delete: %s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__DeleteResponse *)r.m)->exit_status, 137);
        tc_resp_free(&r);
}

Test(task_service_rt, exec_added_started_waited_and_deleted)
{
        build_bundle("[\"sleep\", \"1000\"]");
        (void)th_create_start(&shim, NULL);

        struct tc_resp r = th_exec(&shim, "e1", "exit 5", NULL);
        cr_assert_eq(r.code, 0, "exec: %s", r.msg);
        r = th_exec(&shim, "e1", "exit 5", NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_ALREADY_EXISTS, "duplicate exec: %d %s", r.code, r.msg);
        Containerd__Task__V2__StartRequest streq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        streq.id = shim.task_id;

        Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
        sreq.id = shim.task_id;
        sreq.exec_id = "e1";
        r = th_call(&shim, "State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__StateResponse *)r.m)->status,
                     CONTAINERD__V1__TYPES__STATUS__CREATED);
        tc_resp_free(&r);

        Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
        wreq.id = shim.task_id;
        wreq.exec_id = "e1";
        uint32_t wait_sid = tc_send(&shim.client, TH_SVC_V2, "Wait", &wreq.base);
        streq.exec_id = "e1";
        uint32_t start_sid = tc_send(&shim.client, TH_SVC_V2, "Start", &streq.base);
        cr_assert(tc_recv(&shim.client, start_sid,
                          &containerd__task__v2__start_response__descriptor, &r, 10000));
        cr_assert_eq(r.code, 0, "start exec: %s", r.msg);
        uint32_t epid = ((Containerd__Task__V2__StartResponse *)r.m)->pid;
        cr_assert_gt(epid, 0);
        tc_resp_free(&r);
        cr_assert(tc_recv(&shim.client, wait_sid, &containerd__task__v2__wait_response__descriptor,
                          &r, 10000));
        cr_assert_eq(((Containerd__Task__V2__WaitResponse *)r.m)->exit_status, 5);
        tc_resp_free(&r);

        /* The init is still running. */
        sreq.exec_id = "";
        r = th_call(&shim, "State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        cr_assert_eq(((Containerd__Task__V2__StateResponse *)r.m)->status,
                     CONTAINERD__V1__TYPES__STATUS__RUNNING);
        tc_resp_free(&r);

        Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
        dreq.id = shim.task_id;
        dreq.exec_id = "e1";
        r = th_call(&shim, "Delete", &dreq.base,
                    &containerd__task__v2__delete_response__descriptor);
        cr_assert_eq(r.code, 0, "delete exec: %s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__DeleteResponse *)r.m)->pid, epid);
        cr_assert_eq(((Containerd__Task__V2__DeleteResponse *)r.m)->exit_status, 5);
        tc_resp_free(&r);
        r = th_call(&shim, "Delete", &dreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);
        cr_assert_eq(skiff_task_service_count(), 1);
}
