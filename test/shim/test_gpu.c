/* GPUs through the shim's Task service (shim/gpu.c wired into task_service.c): a real ttrpc
 * server in the test process plays the shim, a blocking client socket plays containerd.
 *
 *   - a container that asks for no GPU, or whose own NVIDIA_VISIBLE_DEVICES=all the node policy
 *     refuses, is untouched: no /run/opengl-driver, no GPU env, no /dev/nvidia*;
 *   - a GPU request (the device plugin's mount channel) on a node without a driver fails Create
 *     with a message naming the channel and the missing driver;
 *   - with the fixture driver (test/fixtures/gpu/driver: its proc/driver tree and proc/devices
 *     bound over the host's in a private mount namespace, the driver root set in the node
 *     config) the plan is applied: the container sees its libraries under /run/opengl-driver,
 *     exactly its device nodes and the GPU env, exec processes get the env too, and an
 *     unsatisfied NVIDIA_REQUIRE_CUDA fails Create naming both versions.
 * Needs root, busybox-static and a cgroup hierarchy; skipped otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "oci/cgroups.h"
#include "shim/shim.h"
#include "shim/task_service.h"
#include "task.pb-c.h"

__attribute__((weak)) void skiff_shim_request_exit(void);
__attribute__((weak)) void skiff_shim_request_exit(void)
{
}

#define BUSYBOX "/bin/busybox"
#define SVC     "containerd.task.v2.Task"
#define FIXDRV  SKIFF_SOURCE_DIR "/test/fixtures/gpu/driver"

static uv_loop_t loop;
static struct skiff_shim_ctx ctx;
static char dir[64], sock_path[128], bundle[128], fifo_out[128], fifo_exec[128], cfg_path[128];
static char task_id[64];
static int client = -1;
static uint32_t next_sid = 1;

static void pump(void)
{
        uv_run(&loop, UV_RUN_NOWAIT);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        fputs(text, f);
        fclose(f);
}

/* A busybox bundle running `sh -c script` with extra env entries (JSON strings, comma-led)
 * and extra mounts (JSON objects, comma-led). */
static void build_bundle(const char *script, const char *env, const char *mounts)
{
        static const char *const applets[] = {"sh", "echo", "ls", "cat", "sleep", "test", NULL};
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
        char json[4096];
        snprintf(json, sizeof(json),
                 "{\"ociVersion\": \"1.0.2\",\n"
                 " \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0},\n"
                 "   \"args\": [\"sh\", \"-c\", \"%s\"], \"env\": [\"PATH=/bin\"%s], "
                 "\"cwd\": \"/\"},\n"
                 " \"root\": {\"path\": \"rootfs\"},\n"
                 " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", "
                 "\"source\": \"proc\"}%s],\n"
                 " \"linux\": {\"cgroupsPath\": \"/skiff-test/%s\",\n"
                 "   \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, "
                 "{\"type\": \"ipc\"}, {\"type\": \"uts\"}]}}\n",
                 script, env ? env : "", mounts ? mounts : "", task_id);
        snprintf(p, sizeof(p), "%s/config.json", bundle);
        write_file(p, json);
}

static void setup(void)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (access(BUSYBOX, X_OK) != 0)
                cr_skip_test("needs " BUSYBOX " (busybox-static)");
        if (access("/sys/fs/cgroup/memory", F_OK) != 0 && skiff_cgroup_mode() != SKIFF_CGROUP_V2)
                cr_skip_test("no usable cgroup hierarchy");
        signal(SIGPIPE, SIG_IGN);
        snprintf(task_id, sizeof(task_id), "tgpu-%d", (int)getpid());
        strcpy(dir, "/tmp/skiff-tgpu-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(sock_path, sizeof(sock_path), "%s/s", dir);
        snprintf(fifo_out, sizeof(fifo_out), "%s/out", dir);
        snprintf(fifo_exec, sizeof(fifo_exec), "%s/exec", dir);
        snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
        cr_assert_eq(mkfifo(fifo_out, 0600), 0);
        cr_assert_eq(mkfifo(fifo_exec, 0600), 0);

        cr_assert_eq(uv_loop_init(&loop), 0);
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, sock_path);
        cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(listen(lfd, 16), 0);
        ctx = (struct skiff_shim_ctx){.ns = "test", .config_path = cfg_path};
        cr_assert_eq(skiff_ttrpc_server_new(&loop, lfd, &ctx.server), 0);
        cr_assert_eq(skiff_task_service_init(&loop, &ctx), 0);
        client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void teardown(void)
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
        (void)!system(cmd);
}

TestSuite(shim_gpu, .init = setup, .fini = teardown, .timeout = 60);

/* ---- a minimal ttrpc client ------------------------------------------------------------ */

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
        char msg[512];
};

static struct resp call(const char *method, const ProtobufCMessage *m)
{
        uint8_t buf[4096];
        size_t n = protobuf_c_message_pack(m, buf);
        uint8_t *frame = NULL;
        size_t flen = 0;
        uint32_t sid = next_sid;
        next_sid += 2;
        cr_assert_eq(skiff_ttrpc_request_frame(sid, SVC, method, buf, n, &frame, &flen), 0);
        for (size_t off = 0; off < flen;) {
                ssize_t w = send(client, frame + off, flen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0) {
                        cr_assert(errno == EAGAIN, "send: %s", strerror(errno));
                        pump();
                        continue;
                }
                off += (size_t)w;
        }
        free(frame);
        uint8_t hdr[10];
        cr_assert(recv_exact(hdr, 10, 10000), "no answer to %s", method);
        struct skiff_ttrpc_header h;
        skiff_ttrpc_header_decode(hdr, &h);
        cr_assert_eq(h.stream_id, sid);
        uint8_t *body = malloc(h.length + 1);
        cr_assert(recv_exact(body, h.length, 2000));
        struct skiff_ttrpc_response_view v;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_ttrpc_response_decode(body, h.length, &v, &err), 0);
        struct resp r = {.code = v.code};
        snprintf(r.msg, sizeof(r.msg), "%.*s", (int)v.message_len, v.message ? v.message : "");
        free(body);
        return r;
}

/* Everything written to the FIFO at path until EOF (the process exited). */
static char *read_all(int fd)
{
        static char buf[8192];
        size_t got = 0;
        for (int i = 0; i < 1000; i++) {
                pump();
                ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
                if (n > 0)
                        got += (size_t)n;
                else if (n == 0 && got > 0)
                        break;
                else
                        usleep(5000);
        }
        buf[got] = '\0';
        return buf;
}

static struct resp create(void)
{
        Containerd__Task__V2__CreateTaskRequest req =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        req.id = task_id;
        req.bundle = bundle;
        req.stdout = fifo_out;
        return call("Create", &req.base);
}

/* Creates and starts the task, returns its output. */
static char *run(void)
{
        int out = open(fifo_out, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(out, 0);
        struct resp r = create();
        cr_assert_eq(r.code, 0, "create: %s", r.msg);
        Containerd__Task__V2__StartRequest sreq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        sreq.id = task_id;
        r = call("Start", &sreq.base);
        cr_assert_eq(r.code, 0, "start: %s", r.msg);
        char *s = read_all(out);
        close(out);
        return s;
}

/* Runs script as an exec process (env PATH only, as containerd's CRI sends the container's
 * original env) and returns its output. */
static char *exec_in(const char *script)
{
        char spec[1024];
        snprintf(spec, sizeof(spec),
                 "{\"args\": [\"sh\", \"-c\", \"%s\"], \"cwd\": \"/\", \"env\": [\"PATH=/bin\"], "
                 "\"user\": {\"uid\": 0, \"gid\": 0}}",
                 script);
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
        any.value.data = (uint8_t *)spec;
        any.value.len = strlen(spec);
        Containerd__Task__V2__ExecProcessRequest ereq =
            CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
        ereq.id = task_id;
        ereq.exec_id = "e1";
        ereq.spec = &any;
        ereq.stdout = fifo_exec;
        int out = open(fifo_exec, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(out, 0);
        struct resp r = call("Exec", &ereq.base);
        cr_assert_eq(r.code, 0, "exec: %s", r.msg);
        Containerd__Task__V2__StartRequest sreq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        sreq.id = task_id;
        sreq.exec_id = "e1";
        r = call("Start", &sreq.base);
        cr_assert_eq(r.code, 0, "start exec: %s", r.msg);
        char *s = read_all(out);
        close(out);
        return s;
}

#define PROBE                                                                                      \
        "test -e /run/opengl-driver && echo DRIVERDIR; ls /run/opengl-driver/lib 2>/dev/null; "    \
        "echo LD=$LD_LIBRARY_PATH; echo CONDA=$CONDA_OVERRIDE_CUDA; echo PATH=$PATH; "             \
        "ls /dev | grep nvidia; echo END; sleep 100"

/* ---- untouched ----------------------------------------------------------------------------- */

Test(shim_gpu, containers_without_a_gpu_request_are_untouched)
{
        /* No node config on disk: a container that asks for nothing must not even read it. */
        build_bundle(PROBE, NULL, NULL);
        char *out = run();
        cr_assert(strstr(out, "END"), "%s", out);
        cr_assert_null(strstr(out, "DRIVERDIR"), "%s", out);
        cr_assert(strstr(out, "LD=\n") && strstr(out, "CONDA=\n") && strstr(out, "PATH=/bin\n"),
                  "%s", out);
        cr_assert_null(strstr(out, "nvidia"), "%s", out);
}

Test(shim_gpu, a_pod_set_visible_devices_all_gets_nothing_by_default)
{
        write_file(cfg_path, "{}");
        build_bundle(PROBE, ", \"NVIDIA_VISIBLE_DEVICES=all\"", NULL);
        char *out = run();
        cr_assert(strstr(out, "END"), "%s", out);
        cr_assert_null(strstr(out, "DRIVERDIR"), "%s", out);
        cr_assert(strstr(out, "LD=\n") && strstr(out, "CONDA=\n"), "%s", out);
        cr_assert_null(strstr(out, "nvidia"), "%s", out);
}

/* ---- no driver ----------------------------------------------------------------------------- */

Test(shim_gpu, a_gpu_request_without_a_driver_fails_create_clearly)
{
        if (access("/proc/driver/nvidia/version", F_OK) == 0)
                cr_skip_test("this machine has an NVIDIA driver");
        write_file(cfg_path, "{}");
        build_bundle("true", ", \"NVIDIA_VISIBLE_DEVICES=/var/run/nvidia-container-devices\"",
                     ", {\"destination\": \"/var/run/nvidia-container-devices/0\", "
                     "\"type\": \"bind\", \"source\": \"/dev/null\", \"options\": [\"bind\"]}");
        struct resp r = create();
        cr_assert_neq(r.code, 0, "create succeeded without a driver");
        cr_assert(strstr(r.msg, "skiff: gpu: container requests GPUs (via mounts)"), "%s", r.msg);
        cr_assert(strstr(r.msg, "no NVIDIA driver: `/proc/driver/nvidia/version` does not exist"),
                  "%s", r.msg);
        cr_assert_eq(skiff_task_service_count(), 0, "a failed create leaves no task");
}

Test(shim_gpu, an_unreadable_node_config_fails_gpu_containers_only)
{
        write_file(cfg_path, "{\"gpu\": {\"driver_rot\": \"/\"}}");
        build_bundle("true", ", \"NVIDIA_VISIBLE_DEVICES=/var/run/nvidia-container-devices\"",
                     ", {\"destination\": \"/var/run/nvidia-container-devices/0\", "
                     "\"type\": \"bind\", \"source\": \"/dev/null\", \"options\": [\"bind\"]}");
        struct resp r = create();
        cr_assert_neq(r.code, 0);
        cr_assert(strstr(r.msg, "skiff: node config") && strstr(r.msg, "gpu.driver_rot"), "%s",
                  r.msg);
}

/* ---- the fixture driver -------------------------------------------------------------------- */

/* Private mount namespace where /proc/driver and /proc/devices are the fixture's. */
static void fake_driver(void)
{
        if (unshare(CLONE_NEWNS) < 0)
                cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(errno));
        cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "%s", strerror(errno));
        if (mount(FIXDRV "/proc/driver", "/proc/driver", NULL, MS_BIND, NULL) < 0 ||
            mount(FIXDRV "/proc/devices", "/proc/devices", NULL, MS_BIND, NULL) < 0)
                cr_skip_test("cannot bind the fixture over /proc: %s", strerror(errno));
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"gpu\": {\"driver_root\": \"%s\", \"accept_env_unprivileged\": true, "
                 "\"cdi_dirs\": []}}",
                 FIXDRV);
        write_file(cfg_path, json);
}

Test(shim_gpu, the_fixture_driver_is_injected_through_create_and_exec)
{
        fake_driver();
        build_bundle(PROBE, ", \"NVIDIA_VISIBLE_DEVICES=0\"", NULL);
        char *out = run();
        cr_assert(strstr(out, "END"), "%s", out);
        cr_assert(strstr(out, "DRIVERDIR\n"), "no /run/opengl-driver: %s", out);
        cr_assert(strstr(out, "\nlibcuda.so.1\n") && strstr(out, "\nlibcuda.so.580.159.04\n") &&
                      strstr(out, "\nlibnvidia-ptxjitcompiler.so.1\n"),
                  "driver libraries: %s", out);
        cr_assert(strstr(out, "LD=/run/opengl-driver/lib\n"), "%s", out);
        cr_assert(strstr(out, "CONDA=13.0\n"), "%s", out);
        cr_assert(strstr(out, "PATH=/bin:/run/opengl-driver/bin\n"), "%s", out);
        /* GPU 0 only (the fixture has two), with the control and UVM nodes. */
        cr_assert(strstr(out, "\nnvidia0\n") && strstr(out, "\nnvidiactl\n") &&
                      strstr(out, "\nnvidia-uvm\n"),
                  "nodes: %s", out);
        cr_assert_null(strstr(out, "nvidia1"), "%s", out);

        out = exec_in("echo LD=$LD_LIBRARY_PATH; echo CONDA=$CONDA_OVERRIDE_CUDA; echo PATH=$PATH");
        cr_assert(strstr(out, "LD=/run/opengl-driver/lib\nCONDA=13.0\n"
                              "PATH=/bin:/run/opengl-driver/bin\n"),
                  "exec env: %s", out);
}

Test(shim_gpu, an_unsatisfied_requirement_fails_create_naming_both_versions)
{
        fake_driver();
        build_bundle("true", ", \"NVIDIA_VISIBLE_DEVICES=0\", \"NVIDIA_REQUIRE_CUDA=cuda>=99.0\"",
                     NULL);
        struct resp r = create();
        cr_assert_neq(r.code, 0, "create succeeded");
        cr_assert(strstr(r.msg, "skiff: gpu: ") && strstr(r.msg, "cuda>=99.0") &&
                      strstr(r.msg, "580.159.04") && strstr(r.msg, "13.0"),
                  "%s", r.msg);
        cr_assert_eq(skiff_task_service_count(), 0);
}
