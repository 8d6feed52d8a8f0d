#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "oci/cgroups.h"
#include "shim/shim.h"
#include "shim/task_service.h"
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

/* ---- Create/Start/Wait/Kill/Delete through the real ttrpc server ---------------------------
 * Needs root, a static busybox and a cgroup hierarchy; skipped otherwise. The test process is
 * the shim: its loop runs the server, the task service and the reaper, and a blocking client
 * socket plays containerd. */

#define BUSYBOX "/bin/busybox"
#define SVC_V2  "containerd.task.v2.Task"
#define SVC_V3  "containerd.task.v3.Task"

static uv_loop_t loop;
static struct skiff_shim_ctx ctx;
static char dir[64], sock_path[128], bundle[128], fifo_out[128];
static char task_id[64];
static int client = -1;
static uint32_t next_sid = 1;

static void pump(void)
{
        uv_run(&loop, UV_RUN_NOWAIT);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        fputs(text, f);
        fclose(f);
        cr_assert_eq(chmod(path, mode), 0);
}

static void build_bundle(const char *args_json)
{
        static const char *const applets[] = {"sh", "echo", "sleep", "true", NULL};
        char p[256], cmd[512];
        snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/rootfs/bin %s/rootfs/proc %s/rootfs/dev", bundle,
                 bundle, bundle);
        cr_assert_eq(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "cp %s %s/rootfs/bin/busybox", BUSYBOX, bundle);
        cr_assert_eq(system(cmd), 0);
        for (const char *const *a = applets; *a; a++) {
                snprintf(p, sizeof(p), "%s/rootfs/bin/%s", bundle, *a);
                cr_assert_eq(symlink("busybox", p), 0);
        }
        char json[2048];
        snprintf(json, sizeof(json),
                 "{\"ociVersion\": \"1.0.2\",\n"
                 " \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0},\n"
                 "   \"args\": %s, \"env\": [\"PATH=/bin\"], \"cwd\": \"/\"},\n"
                 " \"root\": {\"path\": \"rootfs\"},\n"
                 " \"hostname\": \"tsvc\",\n"
                 " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", "
                 "\"source\": \"proc\"}],\n"
                 " \"linux\": {\"cgroupsPath\": \"/skiff-test/%s\",\n"
                 "   \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, "
                 "{\"type\": \"ipc\"}, {\"type\": \"uts\"}]}}\n",
                 args_json, task_id);
        snprintf(p, sizeof(p), "%s/config.json", bundle);
        write_file(p, json, 0644);
}

static void rt_setup(void)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (access(BUSYBOX, X_OK) != 0)
                cr_skip_test("needs " BUSYBOX " (busybox-static)");
        if (access("/sys/fs/cgroup/memory", F_OK) != 0 && skiff_cgroup_mode() != SKIFF_CGROUP_V2)
                cr_skip_test("no usable cgroup hierarchy");
        signal(SIGPIPE, SIG_IGN);
        snprintf(task_id, sizeof(task_id), "tsvc-%d", (int)getpid());
        strcpy(dir, "/tmp/skiff-tsvc-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(sock_path, sizeof(sock_path), "%s/s", dir);
        snprintf(fifo_out, sizeof(fifo_out), "%s/out", dir);
        cr_assert_eq(mkfifo(fifo_out, 0600), 0);

        cr_assert_eq(uv_loop_init(&loop), 0);
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, sock_path);
        cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(listen(lfd, 16), 0);
        ctx = (struct skiff_shim_ctx){.ns = "test"};
        cr_assert_eq(skiff_ttrpc_server_new(&loop, lfd, &ctx.server), 0);
        cr_assert_eq(skiff_task_service_init(&loop, &ctx), 0);
        client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void rt_teardown(void)
{
        if (client < 0)
                return;
        close(client);
        skiff_task_service_shutdown();
        skiff_ttrpc_server_close(ctx.server);
        for (int i = 0; i < 50; i++)
                pump();
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s; rmdir /sys/fs/cgroup/*/skiff-test/%s 2>/dev/null",
                 dir, task_id);
        (void)!system(cmd); /* best-effort cleanup */
}

static void send_all(const uint8_t *p, size_t len)
{
        while (len) {
                ssize_t n = send(client, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        cr_assert(errno == EAGAIN, "send: %s", strerror(errno));
                        pump();
                        continue;
                }
                p += n;
                len -= (size_t)n;
        }
}

static uint32_t send_call(const char *svc, const char *method, const ProtobufCMessage *m)
{
        uint8_t buf[4096];
        size_t n = m ? protobuf_c_message_pack(m, buf) : 0;
        uint8_t *frame = NULL;
        size_t flen = 0;
        uint32_t sid = next_sid;
        next_sid += 2;
        cr_assert_eq(skiff_ttrpc_request_frame(sid, svc, method, buf, n, &frame, &flen), 0);
        send_all(frame, flen);
        free(frame);
        return sid;
}

static bool recv_exact(uint8_t *p, size_t len, int timeout_ms)
{
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (len) {
                pump();
                struct pollfd pfd = {client, POLLIN, 0};
                if (poll(&pfd, 1, 5) == 1) {
                        ssize_t n = recv(client, p, len, MSG_DONTWAIT);
                        if (n == 0)
                                return false;
                        if (n > 0) {
                                p += n;
                                len -= (size_t)n;
                                continue;
                        }
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
                    timeout_ms)
                        return false;
        }
        return true;
}

struct resp {
        int code;
        char msg[256];
        void *m; /* unpacked payload, or NULL */
};

/* Receives the next response (timeout_ms), checks its stream id and decodes the payload. */
static bool recv_resp(uint32_t sid, const ProtobufCMessageDescriptor *d, struct resp *r,
                      int timeout_ms)
{
        uint8_t hdr[10];
        memset(r, 0, sizeof(*r));
        if (!recv_exact(hdr, 10, timeout_ms))
                return false;
        struct skiff_ttrpc_header h;
        skiff_ttrpc_header_decode(hdr, &h);
        cr_assert_eq(h.type, SKIFF_TTRPC_TYPE_RESPONSE);
        cr_assert_eq(h.stream_id, sid, "answer for stream %u, expected %u", h.stream_id, sid);
        uint8_t *body = malloc(h.length + 1);
        cr_assert(recv_exact(body, h.length, 2000));
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_response_decode(body, h.length, &v, &err), 0);
        r->code = v.code;
        snprintf(r->msg, sizeof(r->msg), "%.*s", (int)v.message_len, v.message ? v.message : "");
        if (v.code == 0 && d) {
                r->m = protobuf_c_message_unpack(d, NULL, v.payload_len, v.payload);
                cr_assert_not_null(r->m, "bad %s payload", d->name);
        }
        free(body);
        return true;
}

static void resp_free(struct resp *r)
{
        if (r->m)
                protobuf_c_message_free_unpacked(r->m, NULL);
        r->m = NULL;
}

static struct resp call(const char *method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *d)
{
        struct resp r;
        uint32_t sid = send_call(SVC_V2, method, req);
        cr_assert(recv_resp(sid, d, &r, 10000), "no answer to %s", method);
        return r;
}

TestSuite(task_service_rt, .init = rt_setup, .fini = rt_teardown, .timeout = 60);

Test(task_service_rt, create_start_wait_kill_delete_round_trip)
{
        build_bundle("[\"sh\", \"-c\", \"echo hello; exit 3\"]");
        int out = open(fifo_out, O_RDONLY | O_NONBLOCK); /* the client's reader, as ctr does */
        cr_assert_geq(out, 0);

        /* Connect for an unknown id answers with task_pid 0, on either service name. */
        Containerd__Task__V2__ConnectRequest conn = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
        conn.id = task_id;
        struct resp r;
        uint32_t sid = send_call(SVC_V3, "Connect", &conn.base);
        cr_assert(recv_resp(sid, &containerd__task__v2__connect_response__descriptor, &r, 5000));
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__ConnectResponse *cr = r.m;
        cr_assert_eq(cr->shim_pid, (uint32_t)getpid());
        cr_assert_eq(cr->task_pid, 0);
        resp_free(&r);

        Containerd__Task__V2__CreateTaskRequest creq =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        creq.id = task_id;
        creq.bundle = bundle;
        creq.stdout = fifo_out;
        r = call("Create", &creq.base, &containerd__task__v2__create_task_response__descriptor);
        cr_assert_eq(r.code, 0, "create: %s", r.msg);
        uint32_t pid = ((Containerd__Task__V2__CreateTaskResponse *)r.m)->pid;
        cr_assert_gt(pid, 0);
        resp_free(&r);

        r = call("Create", &creq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_ALREADY_EXISTS, "duplicate create: %d %s", r.code, r.msg);

        Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
        sreq.id = task_id;
        r = call("State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__StateResponse *st = r.m;
        cr_assert_eq(st->status, CONTAINERD__V1__TYPES__STATUS__CREATED);
        cr_assert_eq(st->pid, pid);
        cr_assert_str_eq(st->bundle, bundle);
        cr_assert_str_eq(st->stdout, fifo_out);
        cr_assert_eq(st->exited_at->seconds, -62135596800LL, "not exited: Go zero time");
        resp_free(&r);

        /* Wait is answered only after the exit, out of order with later calls. */
        Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
        wreq.id = task_id;
        uint32_t wait_sid = send_call(SVC_V2, "Wait", &wreq.base);
        for (int i = 0; i < 20; i++)
                pump();

        Containerd__Task__V2__StartRequest streq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        streq.id = task_id;
        uint32_t start_sid = send_call(SVC_V2, "Start", &streq.base);
        cr_assert(
            recv_resp(start_sid, &containerd__task__v2__start_response__descriptor, &r, 10000),
            "Start answered after Wait, or not at all");
        cr_assert_eq(r.code, 0, "start: %s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__StartResponse *)r.m)->pid, pid);
        resp_free(&r);

        cr_assert(recv_resp(wait_sid, &containerd__task__v2__wait_response__descriptor, &r, 10000),
                  "no Wait answer");
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__WaitResponse *wr = r.m;
        cr_assert_eq(wr->exit_status, 3);
        cr_assert_gt(wr->exited_at->seconds, 1600000000);
        int64_t exited_s = wr->exited_at->seconds;
        int32_t exited_ns = wr->exited_at->nanos;
        resp_free(&r);

        r = call("State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        st = r.m;
        cr_assert_eq(st->status, CONTAINERD__V1__TYPES__STATUS__STOPPED);
        cr_assert_eq(st->exit_status, 3);
        cr_assert_eq(st->exited_at->seconds, exited_s);
        cr_assert_eq(st->exited_at->nanos, exited_ns);
        resp_free(&r);

        /* Output went straight into the FIFO; after the exit the shim's end is closed. */
        char buf[64] = {0};
        size_t got = 0;
        bool eof = false;
        for (int i = 0; i < 400 && !eof; i++) {
                pump();
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
        kreq.id = task_id;
        kreq.signal = SIGKILL;
        r = call("Kill", &kreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND, "kill after exit: %d %s", r.code, r.msg);

        Containerd__Task__V2__CheckpointTaskRequest ck =
            CONTAINERD__TASK__V2__CHECKPOINT_TASK_REQUEST__INIT;
        ck.id = task_id;
        r = call("Checkpoint", &ck.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_UNIMPLEMENTED);

        Containerd__Task__V2__ShutdownRequest sh = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
        sh.id = task_id;
        r = call("Shutdown", &sh.base, NULL);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(exit_requests, 0, "Shutdown with a task left must not exit");

        Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
        dreq.id = task_id;
        r = call("Delete", &dreq.base, &containerd__task__v2__delete_response__descriptor);
        cr_assert_eq(r.code, 0, "delete: %s", r.msg);
        Containerd__Task__V2__DeleteResponse *dr = r.m;
        cr_assert_eq(dr->pid, pid);
        cr_assert_eq(dr->exit_status, 3);
        cr_assert_eq(dr->exited_at->seconds, exited_s);
        resp_free(&r);
        cr_assert_eq(skiff_task_service_count(), 0);

        r = call("Delete", &dreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);
        r = call("State", &sreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);

        r = call("Shutdown", &sh.base, NULL);
        cr_assert_eq(r.code, 0);
        cr_assert_eq(exit_requests, 1, "Shutdown without tasks must ask the shim to exit");
}

Test(task_service_rt, kill_running_task_reports_128_plus_signal_and_pids)
{
        build_bundle("[\"sleep\", \"1000\"]");
        Containerd__Task__V2__CreateTaskRequest creq =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        creq.id = task_id;
        creq.bundle = bundle;
        struct resp r =
            call("Create", &creq.base, &containerd__task__v2__create_task_response__descriptor);
        cr_assert_eq(r.code, 0, "create: %s", r.msg);
        resp_free(&r);
        Containerd__Task__V2__StartRequest streq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        streq.id = task_id;
        r = call("Start", &streq.base, &containerd__task__v2__start_response__descriptor);
        cr_assert_eq(r.code, 0, "start: %s", r.msg);
        uint32_t pid = ((Containerd__Task__V2__StartResponse *)r.m)->pid;
        resp_free(&r);

        Containerd__Task__V2__PidsRequest preq = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
        preq.id = task_id;
        r = call("Pids", &preq.base, &containerd__task__v2__pids_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        Containerd__Task__V2__PidsResponse *pr = r.m;
        cr_assert_geq(pr->n_processes, 1);
        cr_assert_eq(pr->processes[0]->pid, pid);
        resp_free(&r);

        Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
        dreq.id = task_id;
        r = call("Delete", &dreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_FAILED_PRECONDITION, "delete running: %d %s", r.code,
                     r.msg);

        Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
        wreq.id = task_id;
        uint32_t wait_sid = send_call(SVC_V2, "Wait", &wreq.base);
        Containerd__Task__V2__KillRequest kreq = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
        kreq.id = task_id;
        kreq.signal = SIGKILL;
        kreq.all = true;
        r = call("Kill", &kreq.base, NULL);
        cr_assert_eq(r.code, 0, "kill: %s", r.msg);
        cr_assert(recv_resp(wait_sid, &containerd__task__v2__wait_response__descriptor, &r, 10000));
        cr_assert_eq(((Containerd__Task__V2__WaitResponse *)r.m)->exit_status, 128 + SIGKILL);
        resp_free(&r);
        r = call("Delete", &dreq.base, &containerd__task__v2__delete_response__descriptor);
        cr_assert_eq(r.code, 0, "delete: %s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__DeleteResponse *)r.m)->exit_status, 137);
        resp_free(&r);
}

Test(task_service_rt, exec_added_started_waited_and_deleted)
{
        build_bundle("[\"sleep\", \"1000\"]");
        Containerd__Task__V2__CreateTaskRequest creq =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        creq.id = task_id;
        creq.bundle = bundle;
        struct resp r =
            call("Create", &creq.base, &containerd__task__v2__create_task_response__descriptor);
        cr_assert_eq(r.code, 0, "create: %s", r.msg);
        resp_free(&r);
        Containerd__Task__V2__StartRequest streq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        streq.id = task_id;
        r = call("Start", &streq.base, &containerd__task__v2__start_response__descriptor);
        cr_assert_eq(r.code, 0, "start: %s", r.msg);
        resp_free(&r);

        static const char spec[] = "{\"args\": [\"sh\", \"-c\", \"exit 5\"], \"cwd\": \"/\", "
                                   "\"env\": [\"PATH=/bin\"], \"user\": {\"uid\": 0, \"gid\": 0}}";
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
        any.value.data = (uint8_t *)spec;
        any.value.len = strlen(spec);
        Containerd__Task__V2__ExecProcessRequest ereq =
            CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
        ereq.id = task_id;
        ereq.exec_id = "e1";
        ereq.spec = &any;
        r = call("Exec", &ereq.base, NULL);
        cr_assert_eq(r.code, 0, "exec: %s", r.msg);
        r = call("Exec", &ereq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_ALREADY_EXISTS, "duplicate exec: %d %s", r.code, r.msg);

        Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
        sreq.id = task_id;
        sreq.exec_id = "e1";
        r = call("State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        cr_assert_eq(r.code, 0, "%s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__StateResponse *)r.m)->status,
                     CONTAINERD__V1__TYPES__STATUS__CREATED);
        resp_free(&r);

        Containerd__Task__V2__WaitRequest wreq = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
        wreq.id = task_id;
        wreq.exec_id = "e1";
        uint32_t wait_sid = send_call(SVC_V2, "Wait", &wreq.base);
        streq.exec_id = "e1";
        uint32_t start_sid = send_call(SVC_V2, "Start", &streq.base);
        cr_assert(
            recv_resp(start_sid, &containerd__task__v2__start_response__descriptor, &r, 10000));
        cr_assert_eq(r.code, 0, "start exec: %s", r.msg);
        uint32_t epid = ((Containerd__Task__V2__StartResponse *)r.m)->pid;
        cr_assert_gt(epid, 0);
        resp_free(&r);
        cr_assert(recv_resp(wait_sid, &containerd__task__v2__wait_response__descriptor, &r, 10000));
        cr_assert_eq(((Containerd__Task__V2__WaitResponse *)r.m)->exit_status, 5);
        resp_free(&r);

        /* The init is still running. */
        sreq.exec_id = "";
        r = call("State", &sreq.base, &containerd__task__v2__state_response__descriptor);
        cr_assert_eq(((Containerd__Task__V2__StateResponse *)r.m)->status,
                     CONTAINERD__V1__TYPES__STATUS__RUNNING);
        resp_free(&r);

        Containerd__Task__V2__DeleteRequest dreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
        dreq.id = task_id;
        dreq.exec_id = "e1";
        r = call("Delete", &dreq.base, &containerd__task__v2__delete_response__descriptor);
        cr_assert_eq(r.code, 0, "delete exec: %s", r.msg);
        cr_assert_eq(((Containerd__Task__V2__DeleteResponse *)r.m)->pid, epid);
        cr_assert_eq(((Containerd__Task__V2__DeleteResponse *)r.m)->exit_status, 5);
        resp_free(&r);
        r = call("Delete", &dreq.base, NULL);
        cr_assert_eq(r.code, SKIFF_GRPC_NOT_FOUND);
        cr_assert_eq(skiff_task_service_count(), 1);
}
