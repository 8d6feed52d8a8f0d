#include "task-harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/cgroups.h"
#include "shim/task_service.h"
#include "shim/ttrpc.h"
#include "task.pb-c.h"

void th_write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        fputs(text, f);
        fclose(f);
        cr_assert_eq(chmod(path, 0644), 0);
}

void th_shim_serve(struct th_shim *s, const char *prefix, bool node_config)
{
        signal(SIGPIPE, SIG_IGN);
        snprintf(s->task_id, sizeof(s->task_id), "%s-%d", prefix, (int)getpid());
        snprintf(s->dir, sizeof(s->dir), "/tmp/skiff-%s-XXXXXX", prefix);
        cr_assert_not_null(mkdtemp(s->dir));
        snprintf(s->sock, sizeof(s->sock), "%s/s", s->dir);
        snprintf(s->bundle, sizeof(s->bundle), "%s/bundle", s->dir);
        snprintf(s->config, sizeof(s->config), "%s/config.json", s->dir);

        cr_assert_eq(uv_loop_init(&s->loop), 0);
        int lfd = tc_listen(s->sock);
        s->ctx =
            (struct skiff_shim_ctx){.ns = "test", .config_path = node_config ? s->config : NULL};
        cr_assert_eq(skiff_ttrpc_server_new(&s->loop, lfd, &s->ctx.server), 0);
        cr_assert_eq(skiff_task_service_init(&s->loop, &s->ctx), 0);
        tc_connect(&s->client, s->sock, &s->loop);
}

void th_shim_start(struct th_shim *s, const char *prefix, bool node_config)
{
        s->client.fd = -1;
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (access(TH_BUSYBOX, X_OK) != 0)
                cr_skip_test("needs " TH_BUSYBOX " (busybox-static)");
        if (access("/sys/fs/cgroup/memory", F_OK) != 0 && skiff_cgroup_mode() != SKIFF_CGROUP_V2)
                cr_skip_test("no usable cgroup hierarchy");
        th_shim_serve(s, prefix, node_config);
}

void th_shim_stop(struct th_shim *s)
{
        if (s->client.fd < 0)
                return;
        tc_close(&s->client);
        skiff_task_service_shutdown();
        skiff_ttrpc_server_close(s->ctx.server);
        for (int i = 0; i < 50; i++)
                uv_run(&s->loop, UV_RUN_NOWAIT);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s; rmdir /sys/fs/cgroup/*/skiff-test/%s 2>/dev/null",
                 s->dir, s->task_id);
        (void)!system(cmd); /* best-effort cleanup */
}

void th_shim_bundle(struct th_shim *s, const char *args, const char *env_extra,
                    const char *mounts_extra, const char *hostname)
{
        static const char *const applets[] = {"sh",    "echo", "ls",   "cat",
                                              "sleep", "test", "true", NULL};
        char p[256], cmd[512];
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/rootfs/bin %s/rootfs/proc %s/rootfs/dev", s->bundle,
                 s->bundle, s->bundle);
        cr_assert_eq(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "cp %s %s/rootfs/bin/busybox", TH_BUSYBOX, s->bundle);
        cr_assert_eq(system(cmd), 0);
        for (const char *const *a = applets; *a; a++) {
                snprintf(p, sizeof(p), "%s/rootfs/bin/%s", s->bundle, *a);
                cr_assert_eq(symlink("busybox", p), 0);
        }
        char host[128] = "";
        if (hostname)
                snprintf(host, sizeof(host), " \"hostname\": \"%s\",\n", hostname);
        char json[4096];
        int n = snprintf(json, sizeof(json),
                         "{\"ociVersion\": \"1.0.2\",\n"
                         " \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0},\n"
                         "   \"args\": %s, \"env\": [\"PATH=/bin\"%s], \"cwd\": \"/\"},\n"
                         " \"root\": {\"path\": \"rootfs\"},\n"
                         "%s"
                         " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", "
                         "\"source\": \"proc\"}%s],\n"
                         " \"linux\": {\"cgroupsPath\": \"/skiff-test/%s\",\n"
                         "   \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, "
                         "{\"type\": \"ipc\"}, {\"type\": \"uts\"}]}}\n",
                         args, env_extra ? env_extra : "", host, mounts_extra ? mounts_extra : "",
                         s->task_id);
        cr_assert_lt((size_t)n, sizeof(json), "config.json too long");
        snprintf(p, sizeof(p), "%s/config.json", s->bundle);
        th_write_file(p, json);
}

struct tc_resp th_call(struct th_shim *s, const char *method, const ProtobufCMessage *m,
                       const ProtobufCMessageDescriptor *d)
{
        return tc_call(&s->client, TH_SVC_V2, method, m, d);
}

struct tc_resp th_create(struct th_shim *s, const char *stdout_path)
{
        Containerd__Task__V2__CreateTaskRequest req =
            CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
        req.id = s->task_id;
        req.bundle = s->bundle;
        if (stdout_path)
                req.stdout = (char *)stdout_path;
        return th_call(s, "Create", &req.base, NULL);
}

uint32_t th_create_start(struct th_shim *s, const char *stdout_path)
{
        struct tc_resp r = th_create(s, stdout_path);
        cr_assert_eq(r.code, 0, "create: %s", r.msg);
        Containerd__Task__V2__StartRequest req = CONTAINERD__TASK__V2__START_REQUEST__INIT;
        req.id = s->task_id;
        r = th_call(s, "Start", &req.base, &containerd__task__v2__start_response__descriptor);
        cr_assert_eq(r.code, 0, "start: %s", r.msg);
        uint32_t pid = ((Containerd__Task__V2__StartResponse *)r.m)->pid;
        tc_resp_free(&r);
        return pid;
}

struct tc_resp th_exec(struct th_shim *s, const char *exec_id, const char *script,
                       const char *stdout_path)
{
        char spec[1024];
        int n = snprintf(spec, sizeof(spec),
                         "{\"args\": [\"sh\", \"-c\", \"%s\"], \"cwd\": \"/\", "
                         "\"env\": [\"PATH=/bin\"], \"user\": {\"uid\": 0, \"gid\": 0}}",
                         script);
        cr_assert_lt((size_t)n, sizeof(spec), "exec spec too long");
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
        any.value.data = (uint8_t *)spec;
        any.value.len = (size_t)n;
        Containerd__Task__V2__ExecProcessRequest req =
            CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
        req.id = s->task_id;
        req.exec_id = (char *)exec_id;
        req.spec = &any;
        if (stdout_path)
                req.stdout = (char *)stdout_path;
        return th_call(s, "Exec", &req.base, NULL);
}
