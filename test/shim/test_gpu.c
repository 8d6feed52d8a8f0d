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
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/task_service.h"
#include "task-harness.h"
#include "task.pb-c.h"

__attribute__((weak)) void skiff_shim_request_exit(void);
__attribute__((weak)) void skiff_shim_request_exit(void)
{
}

#define FIXDRV SKIFF_SOURCE_DIR "/test/fixtures/gpu/driver"

static struct th_shim shim;
static char fifo_out[128], fifo_exec[128];

static void setup(void)
{
        th_shim_start(&shim, "tgpu", true);
        snprintf(fifo_out, sizeof(fifo_out), "%s/out", shim.dir);
        snprintf(fifo_exec, sizeof(fifo_exec), "%s/exec", shim.dir);
        cr_assert_eq(mkfifo(fifo_out, 0600), 0);
        cr_assert_eq(mkfifo(fifo_exec, 0600), 0);
}

static void teardown(void)
{
        th_shim_stop(&shim);
}

TestSuite(shim_gpu, .init = setup, .fini = teardown, .timeout = 60);

/* A busybox bundle running `sh -c script` with extra env entries (JSON strings, comma-led)
 * and extra mounts (JSON objects, comma-led). */
static void build_bundle(const char *script, const char *env, const char *mounts)
{
        char args[1024];
        int n = snprintf(args, sizeof(args), "[\"sh\", \"-c\", \"%s\"]", script);
        cr_assert_lt((size_t)n, sizeof(args));
        th_shim_bundle(&shim, args, env, mounts, NULL);
}

static void pump(void)
{
        tc_pump(&shim.client);
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

static struct tc_resp create(void)
{
        return th_create(&shim, fifo_out);
}

/* Creates and starts the task, returns its output. */
static char *run(void)
{
        int out = open(fifo_out, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(out, 0);
        (void)th_create_start(&shim, fifo_out);
        char *s = read_all(out);
        close(out);
        return s;
}

/* Runs script as exec process e1 and returns its output. */
static char *exec_in(const char *script)
{
        int out = open(fifo_exec, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(out, 0);
        struct tc_resp r = th_exec(&shim, "e1", script, fifo_exec);
        cr_assert_eq(r.code, 0, "exec: %s", r.msg);
        Containerd__Task__V2__StartRequest sreq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        sreq.id = shim.task_id;
        sreq.exec_id = "e1";
        r = th_call(&shim, "Start", &sreq.base, NULL);
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
        th_write_file(shim.config, "{}");
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
        th_write_file(shim.config, "{}");
        build_bundle("true", ", \"NVIDIA_VISIBLE_DEVICES=/var/run/nvidia-container-devices\"",
                     ", {\"destination\": \"/var/run/nvidia-container-devices/0\", "
                     "\"type\": \"bind\", \"source\": \"/dev/null\", \"options\": [\"bind\"]}");
        struct tc_resp r = create();
        cr_assert_neq(r.code, 0, "create succeeded without a driver");
        cr_assert(strstr(r.msg, "skiff: gpu: container requests GPUs (via mounts)"), "%s", r.msg);
        cr_assert(strstr(r.msg, "no NVIDIA driver: `/proc/driver/nvidia/version` does not exist"),
                  "%s", r.msg);
        cr_assert_eq(skiff_task_service_count(), 0, "a failed create leaves no task");
}

Test(shim_gpu, an_unreadable_node_config_fails_gpu_containers_only)
{
        th_write_file(shim.config, "{\"gpu\": {\"driver_rot\": \"/\"}}");
        build_bundle("true", ", \"NVIDIA_VISIBLE_DEVICES=/var/run/nvidia-container-devices\"",
                     ", {\"destination\": \"/var/run/nvidia-container-devices/0\", "
                     "\"type\": \"bind\", \"source\": \"/dev/null\", \"options\": [\"bind\"]}");
        struct tc_resp r = create();
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
        th_write_file(shim.config, json);
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
        struct tc_resp r = create();
        cr_assert_neq(r.code, 0, "create succeeded");
        cr_assert(strstr(r.msg, "skiff: gpu: ") && strstr(r.msg, "cuda>=99.0") &&
                      strstr(r.msg, "580.159.04") && strstr(r.msg, "13.0"),
                  "%s", r.msg);
        cr_assert_eq(skiff_task_service_count(), 0);
}
