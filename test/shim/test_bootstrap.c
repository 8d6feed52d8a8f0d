#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "bootstrap.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "runtimeoptions.pb-c.h"
#include "shim/bootstrap.h"
#include "shim/ttrpc.h"
#include "task.pb-c.h"
#include "ttrpc-client.h"
#include "types/introspection.pb-c.h"

#define SHIM_BIN SKIFF_BINARY_DIR "/bin/containerd-shim-skiff-v2"

static char tmp[] = "/tmp/skiff-bootstrap-XXXXXX";

static void setup(void)
{
        cr_assert_not_null(mkdtemp(tmp));
}

/* Stops shim daemons this test started (their command line names our temp dir). */
static void kill_our_daemons(void)
{
        DIR *d = opendir("/proc");
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                char path[300], buf[4096];
                int pid = atoi(de->d_name);
                if (pid <= 0 || pid == getpid())
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n <= 0)
                        continue;
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i] == 0)
                                buf[i] = ' ';
                buf[n] = 0;
                if (strstr(buf, "containerd-shim-skiff-v2") && strstr(buf, tmp))
                        kill(pid, SIGKILL);
        }
        closedir(d);
}

static void teardown(void)
{
        kill_our_daemons();
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        (void)!system(cmd);
}

TestSuite(bootstrap, .init = setup, .fini = teardown, .timeout = 30);

/* ---- socket address ----------------------------------------------------------------------- */

Test(bootstrap, socket_address_vector)
{
        char *p = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_socket_path("/run/containerd/s",
                                                 "/run/containerd/containerd.sock", "default",
                                                 "test", &p, &err),
                     0);
        cr_assert_str_eq(p, "/run/containerd/s/"
                            "cfa94b04d543b3f64f78eff8125c7a7cd0903173f673d87367be72ff09fc92c2");
        free(p);
        /* filepath.Join cleans: redundant slashes and dots give the same socket. */
        cr_assert_eq(skiff_bootstrap_socket_path("/run/containerd/s",
                                                 "/run/containerd//./containerd.sock/", "default",
                                                 "test", &p, &err),
                     0);
        cr_assert(strstr(p, "cfa94b04d543b3f6") != NULL, "%s", p);
        free(p);
        /* Another group, another socket. */
        cr_assert_eq(skiff_bootstrap_socket_path("/run/containerd/s",
                                                 "/run/containerd/containerd.sock", "default",
                                                 "test2", &p, &err),
                     0);
        cr_assert_null(strstr(p, "cfa94b04d543b3f6"));
        free(p);
}

Test(bootstrap, socket_path_too_long)
{
        char dir[100];
        memset(dir, 'd', sizeof(dir) - 1);
        dir[0] = '/';
        dir[sizeof(dir) - 1] = 0;
        char *p = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_socket_path(dir, "/a", "ns", "g", &p, &err), -ENAMETOOLONG);
        cr_assert_null(p);
        cr_assert(strstr(skiff_error_msg(err), "longer than") != NULL);
        skiff_error_free(&err);
}

/* ---- flags ------------------------------------------------------------------------------------
 */

static int parse(struct skiff_shim_args *a, skiff_err_t *err, char **argv)
{
        int argc = 0;
        while (argv[argc])
                argc++;
        return skiff_bootstrap_parse_args(argc, argv, a, err);
}

Test(bootstrap, flags_containerd_start_invocation)
{
        char *argv[] = {"shim",
                        "-namespace",
                        "k8s.io",
                        "-address",
                        "/run/containerd/containerd.sock",
                        "-publish-binary",
                        "/usr/bin/containerd",
                        "-id",
                        "abc",
                        "-debug",
                        "start",
                        NULL};
        struct skiff_shim_args a;
        skiff_err_t err = NULL;
        cr_assert_eq(parse(&a, &err, argv), 0);
        cr_assert_str_eq(a.ns, "k8s.io");
        cr_assert_str_eq(a.address, "/run/containerd/containerd.sock");
        cr_assert_str_eq(a.publish_binary, "/usr/bin/containerd");
        cr_assert_str_eq(a.id, "abc");
        cr_assert(a.debug);
        cr_assert_null(a.bundle);
        cr_assert_str_eq(a.action, "start");
}

Test(bootstrap, flags_equals_and_double_dash_forms)
{
        char *argv[] = {"shim",  "--namespace=default",
                        "-id=x", "--bundle",
                        "/b",    "-debug=false",
                        "--v",   "delete",
                        "extra", NULL};
        struct skiff_shim_args a;
        skiff_err_t err = NULL;
        cr_assert_eq(parse(&a, &err, argv), 0);
        cr_assert_str_eq(a.ns, "default");
        cr_assert_str_eq(a.id, "x");
        cr_assert_str_eq(a.bundle, "/b");
        cr_assert_not(a.debug);
        cr_assert(a.version);
        cr_assert_str_eq(a.action, "delete");
}

Test(bootstrap, flags_terminator_and_empty_value)
{
        char *argv[] = {"shim", "-id=", "--", "-namespace", NULL};
        struct skiff_shim_args a;
        skiff_err_t err = NULL;
        cr_assert_eq(parse(&a, &err, argv), 0);
        cr_assert_str_eq(a.id, "");
        cr_assert_null(a.ns);
        cr_assert_str_eq(a.action, "-namespace");
        char *info[] = {"shim", "-info", NULL};
        cr_assert_eq(parse(&a, &err, info), 0);
        cr_assert(a.info);
        cr_assert_null(a.action);
}

Test(bootstrap, flags_errors)
{
        struct skiff_shim_args a;
        skiff_err_t err = NULL;
        char *unknown[] = {"shim", "-nope", "start", NULL};
        cr_assert_eq(parse(&a, &err, unknown), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "`-nope`") != NULL, "%s", skiff_error_msg(err));
        char *missing[] = {"shim", "-id", NULL};
        cr_assert_eq(parse(&a, &err, missing), -EINVAL);
        cr_assert(strstr(skiff_error_msg(err), "needs an argument") != NULL);
        char *badbool[] = {"shim", "-debug=maybe", NULL};
        cr_assert_eq(parse(&a, &err, badbool), -EINVAL);
        char *syntax[] = {"shim", "---x", NULL};
        cr_assert_eq(parse(&a, &err, syntax), -EINVAL);
        skiff_error_free(&err);
}

/* ---- stdin --------------------------------------------------------------------------------------
 */

static size_t pack_any(const char *type_url, const ProtobufCMessage *m, uint8_t *out)
{
        uint8_t val[256];
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = (char *)type_url;
        any.value.len = m ? protobuf_c_message_pack(m, val) : 0;
        any.value.data = val;
        return google__protobuf__any__pack(&any, out);
}

Test(bootstrap, stdin_empty)
{
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_decode_stdin(NULL, 0, "id", "ns", &in, &err), 0);
        cr_assert_not(in.is_params);
        cr_assert_null(in.config_path);
}

Test(bootstrap, stdin_any_runtime_options)
{
        /* The exact bytes of the 1.6.20 probe for --runtime-config-path /etc/myshim.toml. */
        const uint8_t probe[] = "\x0a\x19runtimeoptions.v1.Options\x12\x12\x12\x10/etc/myshim.toml";
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_bootstrap_decode_stdin(probe, sizeof(probe) - 1, "c1", "default", &in, &err), 0,
            "%s", skiff_error_msg(err));
        cr_assert_not(in.is_params);
        cr_assert_str_eq(in.config_path, "/etc/myshim.toml");
        skiff_bootstrap_input_done(&in);
}

static size_t pack_params(const char *id, const char *ns, uint8_t *out)
{
        Runtimeoptions__V1__Options o = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        o.config_path = "/etc/skiff.toml";
        uint8_t val[128];
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = "runtimeoptions.v1.Options";
        any.value.len = runtimeoptions__v1__options__pack(&o, val);
        any.value.data = val;
        Containerd__Runtime__Bootstrap__V1__Extension ext =
            CONTAINERD__RUNTIME__BOOTSTRAP__V1__EXTENSION__INIT;
        ext.value = &any;
        Containerd__Runtime__Bootstrap__V1__Extension *exts[] = {&ext};
        Containerd__Runtime__Bootstrap__V1__BootstrapParams bp =
            CONTAINERD__RUNTIME__BOOTSTRAP__V1__BOOTSTRAP_PARAMS__INIT;
        bp.instance_id = (char *)id;
        bp.namespace_ = (char *)ns;
        bp.log_level = CONTAINERD__RUNTIME__BOOTSTRAP__V1__LOG_LEVEL__LOG_LEVEL_DEBUG;
        bp.containerd_ttrpc_address = "/run/containerd/containerd.sock.ttrpc";
        bp.socket_dir = "/run/skiff/s";
        bp.n_extensions = 1;
        bp.extensions = exts;
        return containerd__runtime__bootstrap__v1__bootstrap_params__pack(&bp, out);
}

Test(bootstrap, stdin_bootstrap_params)
{
        uint8_t buf[512];
        size_t n = pack_params("c1", "k8s.io", buf);
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_decode_stdin(buf, n, "c1", "k8s.io", &in, &err), 0);
        cr_assert(in.is_params);
        cr_assert(in.debug);
        cr_assert_str_eq(in.socket_dir, "/run/skiff/s");
        cr_assert_str_eq(in.ttrpc_address, "/run/containerd/containerd.sock.ttrpc");
        cr_assert_str_eq(in.config_path, "/etc/skiff.toml");
        skiff_bootstrap_input_done(&in);
}

Test(bootstrap, stdin_params_for_another_instance_are_not_params)
{
        uint8_t buf[512];
        size_t n = pack_params("c1", "k8s.io", buf);
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        /* Same bytes, but our -id differs: read as an Any with type_url "c1" (ignored). */
        cr_assert_eq(skiff_bootstrap_decode_stdin(buf, n, "c2", "k8s.io", &in, &err), 0);
        cr_assert_not(in.is_params);
        cr_assert_null(in.socket_dir);
        skiff_bootstrap_input_done(&in);
}

Test(bootstrap, stdin_any_whose_type_url_equals_the_id)
{
        /* An Any also parses as BootstrapParams{instance_id = type_url, namespace = value}. With
         * type_url == -id it must still be an Any, since the value is not the namespace. */
        Runtimeoptions__V1__Options o = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        o.config_path = "/x";
        uint8_t buf[256];
        size_t n = pack_any("runtimeoptions.v1.Options", &o.base, buf);
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        cr_assert_eq(
            skiff_bootstrap_decode_stdin(buf, n, "runtimeoptions.v1.Options", "default", &in, &err),
            0);
        cr_assert_not(in.is_params);
        cr_assert_str_eq(in.config_path, "/x");
        skiff_bootstrap_input_done(&in);
        n = pack_any("c1", &o.base, buf);
        cr_assert_eq(skiff_bootstrap_decode_stdin(buf, n, "c1", "default", &in, &err), 0);
        cr_assert_not(in.is_params);
        cr_assert_null(in.config_path);
}

Test(bootstrap, stdin_garbage_names_stdin)
{
        const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
        struct skiff_bootstrap_input in;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_decode_stdin(junk, sizeof(junk), "c1", "default", &in, &err),
                     -EBADMSG);
        cr_assert(strstr(skiff_error_msg(err), "`stdin`") != NULL, "%s", skiff_error_msg(err));
        skiff_error_free(&err);
        const char *text = "unix:///run/containerd/s/abc";
        cr_assert_eq(skiff_bootstrap_decode_stdin((const uint8_t *)text, strlen(text), "c1",
                                                  "default", &in, &err),
                     -EBADMSG);
        skiff_error_free(&err);
        /* A known options type with an undecodable value. */
        uint8_t buf[64];
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = "runtimeoptions.v1.Options";
        any.value.data = (uint8_t *)junk;
        any.value.len = sizeof(junk);
        size_t n = google__protobuf__any__pack(&any, buf);
        cr_assert_eq(skiff_bootstrap_decode_stdin(buf, n, "c1", "default", &in, &err), -EBADMSG);
        cr_assert(strstr(skiff_error_msg(err), "`stdin`") != NULL);
        skiff_error_free(&err);
}

/* ---- grouping ------------------------------------------------------------------------------ */

static void write_config(const char *dir, const char *annotations)
{
        char path[256], *json;
        snprintf(path, sizeof(path), "%s/config.json", dir);
        cr_assert_gt(asprintf(&json,
                              "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],"
                              "\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
                              "\"root\":{\"path\":\"rootfs\"},\"annotations\":{%s}}",
                              annotations),
                     0);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(json, f);
        fclose(f);
        free(json);
}

static char *group_of(const char *annotations)
{
        write_config(tmp, annotations);
        char *g = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_group_id(tmp, "own-id", &g, &err), 0, "%s",
                     skiff_error_msg(err));
        return g;
}

Test(bootstrap, group_from_annotations)
{
        char *g = group_of("");
        cr_assert_str_eq(g, "own-id");
        free(g);
        g = group_of("\"io.kubernetes.cri.sandbox-id\":\"sb1\"");
        cr_assert_str_eq(g, "sb1");
        free(g);
        g = group_of("\"io.kubernetes.cri.sandbox-id\":\"sb1\",\"io.containerd.runc.v2.group\":"
                     "\"grp\"");
        cr_assert_str_eq(g, "grp");
        free(g);
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_bootstrap_group_id("/nonexistent-bundle", "x", &g, &err), 0);
        skiff_error_free(&err);
}

/* ---- listening socket -------------------------------------------------------------------- */

Test(bootstrap, listen_detects_a_live_server_and_replaces_a_stale_one)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/sub/s", tmp);
        int fd = -1, fd2 = -1;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_bootstrap_listen(path, &fd, &err), 0, "%s", skiff_error_msg(err));
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        cr_assert_eq(skiff_bootstrap_listen(path, &fd2, &err), 1); /* grouping */
        cr_assert_eq(fd2, -1);
        close(fd); /* the file stays, nobody answers: stale */
        cr_assert_eq(skiff_bootstrap_listen(path, &fd2, &err), 0);
        cr_assert_geq(fd2, 0);
        close(fd2);
}

/* ---- the binary: start (BootstrapParams), serve, Connect, Shutdown, delete ---------------- */

struct run {
        int status;
        uint8_t out[4096];
        size_t out_len;
};

static void run_shim(const char *cwd, char *const argv[], const uint8_t *in, size_t in_len,
                     struct run *r)
{
        int pin[2], pout[2];
        cr_assert_eq(pipe(pin), 0);
        cr_assert_eq(pipe(pout), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                dup2(pin[0], 0);
                dup2(pout[1], 1);
                dup2(pout[1], 2); /* containerd combines them */
                close(pin[0]);
                close(pin[1]);
                close(pout[0]);
                close(pout[1]);
                if (chdir(cwd) < 0)
                        _exit(126);
                execv(SHIM_BIN, argv);
                _exit(127);
        }
        close(pin[0]);
        close(pout[1]);
        if (in_len)
                cr_assert_eq(write(pin[1], in, in_len), (ssize_t)in_len);
        close(pin[1]);
        r->out_len = 0;
        ssize_t n;
        /* EOF comes only when every holder of the pipe is gone: the daemon must not keep it. */
        while ((n = read(pout[0], r->out + r->out_len, sizeof(r->out) - r->out_len)) > 0)
                r->out_len += (size_t)n;
        close(pout[0]);
        cr_assert_eq(waitpid(pid, &r->status, 0), pid);
}

static bool wait_gone(const char *path, int ms)
{
        for (; ms > 0; ms -= 10) {
                if (access(path, F_OK) < 0)
                        return true;
                usleep(10000);
        }
        return false;
}

Test(bootstrap, binary_start_serve_group_and_shutdown)
{
        if (access(SHIM_BIN, X_OK) < 0)
                cr_skip_test("%s not built", SHIM_BIN);
        char bundle1[160], bundle2[160], sockdir[160];
        snprintf(bundle1, sizeof(bundle1), "%s/b1", tmp);
        snprintf(bundle2, sizeof(bundle2), "%s/b2", tmp);
        snprintf(sockdir, sizeof(sockdir), "%s/s", tmp);
        mkdir(bundle1, 0700);
        mkdir(bundle2, 0700);
        write_config(bundle1, "\"io.kubernetes.cri.sandbox-id\":\"pod1\"");
        write_config(bundle2, "\"io.kubernetes.cri.sandbox-id\":\"pod1\"");

        /* 2.3+ style: BootstrapParams on stdin with our own socket_dir. */
        Containerd__Runtime__Bootstrap__V1__BootstrapParams bp =
            CONTAINERD__RUNTIME__BOOTSTRAP__V1__BOOTSTRAP_PARAMS__INIT;
        bp.instance_id = "c1";
        bp.namespace_ = "skifftest";
        bp.socket_dir = sockdir;
        bp.containerd_ttrpc_address = "/nonexistent/containerd.sock.ttrpc";
        uint8_t in[512];
        size_t in_len = containerd__runtime__bootstrap__v1__bootstrap_params__pack(&bp, in);
        char *argv1[] = {"containerd-shim-skiff-v2",
                         "-namespace",
                         "skifftest",
                         "-address",
                         "/nonexistent/containerd.sock",
                         "-publish-binary",
                         "/bin/false",
                         "-id",
                         "c1",
                         "start",
                         NULL};
        struct run r;
        run_shim(bundle1, argv1, in, in_len, &r);
        cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "start failed: %.*s",
                  (int)r.out_len, r.out);
        Containerd__Runtime__Bootstrap__V1__BootstrapResult *res =
            containerd__runtime__bootstrap__v1__bootstrap_result__unpack(NULL, r.out_len, r.out);
        cr_assert_not_null(res, "start printed %.*s", (int)r.out_len, r.out);
        cr_assert_eq(res->version, 2);
        cr_assert_str_eq(res->protocol, "ttrpc");
        cr_assert(strncmp(res->address, "unix://", 7) == 0);
        char sock[256];
        snprintf(sock, sizeof(sock), "%s", res->address + 7);
        cr_assert(strncmp(sock, sockdir, strlen(sockdir)) == 0);
        char addr_file[200], addr[256] = {0};
        snprintf(addr_file, sizeof(addr_file), "%s/address", bundle1);
        FILE *f = fopen(addr_file, "r");
        cr_assert_not_null(f);
        cr_assert(fgets(addr, sizeof(addr), f));
        fclose(f);
        cr_assert_str_eq(addr, res->address);
        containerd__runtime__bootstrap__v1__bootstrap_result__free_unpacked(res, NULL);

        /* Second container of the same pod: same socket, no second daemon. */
        char *argv2[] = {"containerd-shim-skiff-v2",
                         "-namespace",
                         "skifftest",
                         "-address",
                         "/nonexistent/containerd.sock",
                         "-id",
                         "c2",
                         "start",
                         NULL};
        bp.instance_id = "c2";
        in_len = containerd__runtime__bootstrap__v1__bootstrap_params__pack(&bp, in);
        struct run r2;
        run_shim(bundle2, argv2, in, in_len, &r2);
        cr_assert(WIFEXITED(r2.status) && WEXITSTATUS(r2.status) == 0);
        res =
            containerd__runtime__bootstrap__v1__bootstrap_result__unpack(NULL, r2.out_len, r2.out);
        cr_assert_not_null(res);
        cr_assert_str_eq(res->address, addr);
        containerd__runtime__bootstrap__v1__bootstrap_result__free_unpacked(res, NULL);

        /* The daemon answers; unknown services get UNIMPLEMENTED; Connect works for an unknown
         * id; Shutdown with no task makes it exit and remove its socket. */
        struct tc_client c;
        tc_connect(&c, sock, NULL);
        struct tc_resp resp = tc_call(&c, "containerd.task.v9.Task", "State", NULL, NULL);
        cr_assert_eq(resp.code, SKIFF_GRPC_UNIMPLEMENTED);
        Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
        creq.id = "nope";
        resp = tc_call(&c, "containerd.task.v2.Task", "Connect", &creq.base,
                       &containerd__task__v2__connect_response__descriptor);
        cr_assert_eq(resp.code, 0, "%s", resp.msg);
        Containerd__Task__V2__ConnectResponse *cr = resp.m;
        cr_assert_gt(cr->shim_pid, 0);
        pid_t daemon = (pid_t)cr->shim_pid;
        tc_resp_free(&resp);
        resp = tc_call(&c, "containerd.task.v3.Task", "Connect", &creq.base, NULL);
        cr_assert_eq(resp.code, 0, "%s", resp.msg);
        Containerd__Task__V2__ShutdownRequest sreq = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
        sreq.id = "c1";
        resp = tc_call(&c, "containerd.task.v2.Task", "Shutdown", &sreq.base, NULL);
        cr_assert_eq(resp.code, 0, "%s", resp.msg);
        cr_assert(wait_gone(sock, 8000), "socket not removed after Shutdown");
        for (int i = 0; i < 500 && kill(daemon, 0) == 0; i++)
                usleep(10000);
        cr_assert_neq(kill(daemon, 0), 0, "daemon %d still running", daemon);
        tc_close(&c);
}

Test(bootstrap, binary_sigterm_exits_and_removes_socket)
{
        if (access(SHIM_BIN, X_OK) < 0)
                cr_skip_test("%s not built", SHIM_BIN);
        char sockdir[160];
        snprintf(sockdir, sizeof(sockdir), "%s/s", tmp);
        write_config(tmp, "");
        Containerd__Runtime__Bootstrap__V1__BootstrapParams bp =
            CONTAINERD__RUNTIME__BOOTSTRAP__V1__BOOTSTRAP_PARAMS__INIT;
        bp.instance_id = "t1";
        bp.namespace_ = "skifftest";
        bp.socket_dir = sockdir;
        uint8_t in[512];
        size_t in_len = containerd__runtime__bootstrap__v1__bootstrap_params__pack(&bp, in);
        char *argv[] = {"containerd-shim-skiff-v2",
                        "-namespace",
                        "skifftest",
                        "-address",
                        "/nonexistent/c.sock",
                        "-id",
                        "t1",
                        "start",
                        NULL};
        struct run r;
        run_shim(tmp, argv, in, in_len, &r);
        cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%.*s", (int)r.out_len, r.out);
        Containerd__Runtime__Bootstrap__V1__BootstrapResult *res =
            containerd__runtime__bootstrap__v1__bootstrap_result__unpack(NULL, r.out_len, r.out);
        cr_assert_not_null(res);
        char sock[256];
        snprintf(sock, sizeof(sock), "%s", res->address + 7);
        containerd__runtime__bootstrap__v1__bootstrap_result__free_unpacked(res, NULL);
        struct tc_client c;
        tc_connect(&c, sock, NULL);
        Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
        struct tc_resp resp = tc_call(&c, "containerd.task.v2.Task", "Connect", &creq.base,
                                      &containerd__task__v2__connect_response__descriptor);
        cr_assert_eq(resp.code, 0, "%s", resp.msg);
        pid_t daemon = (pid_t)((Containerd__Task__V2__ConnectResponse *)resp.m)->shim_pid;
        tc_resp_free(&resp);
        cr_assert_eq(kill(daemon, SIGTERM), 0);
        cr_assert(wait_gone(sock, 8000), "socket not removed after SIGTERM");
        tc_close(&c);
}

Test(bootstrap, binary_start_rejects_garbage_stdin)
{
        if (access(SHIM_BIN, X_OK) < 0)
                cr_skip_test("%s not built", SHIM_BIN);
        char *argv[] = {"containerd-shim-skiff-v2",
                        "-namespace",
                        "skifftest",
                        "-address",
                        "/nonexistent/c.sock",
                        "-id",
                        "g1",
                        "start",
                        NULL};
        const uint8_t junk[] = {0xff, 0xff, 0xff};
        struct run r;
        run_shim(tmp, argv, junk, sizeof(junk), &r);
        cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0);
        r.out[r.out_len < sizeof(r.out) ? r.out_len : sizeof(r.out) - 1] = 0;
        cr_assert(strstr((char *)r.out, "`stdin`") != NULL, "%s", r.out);
}

Test(bootstrap, binary_delete_prints_only_a_delete_response)
{
        if (access(SHIM_BIN, X_OK) < 0)
                cr_skip_test("%s not built", SHIM_BIN);
        char *argv[] = {"containerd-shim-skiff-v2",
                        "-namespace",
                        "skifftest",
                        "-address",
                        "/nonexistent/c.sock",
                        "-id",
                        "gone",
                        "-bundle",
                        tmp,
                        "delete",
                        NULL};
        int pout[2];
        cr_assert_eq(pipe(pout), 0);
        pid_t pid = fork();
        if (pid == 0) {
                dup2(pout[1], 1);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0);
                dup2(null, 2);
                execv(SHIM_BIN, argv);
                _exit(127);
        }
        close(pout[1]);
        uint8_t out[256];
        ssize_t n = read(pout[0], out, sizeof(out));
        int st;
        waitpid(pid, &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        cr_assert_gt(n, 0);
        Containerd__Task__V2__DeleteResponse *d =
            containerd__task__v2__delete_response__unpack(NULL, (size_t)n, out);
        cr_assert_not_null(d);
        cr_assert_eq(d->exit_status, 137);
        cr_assert_not_null(d->exited_at);
        cr_assert_gt(d->exited_at->seconds, time(NULL) - 60);
        containerd__task__v2__delete_response__free_unpacked(d, NULL);
}

Test(bootstrap, binary_info_prints_runtime_info)
{
        if (access(SHIM_BIN, X_OK) < 0)
                cr_skip_test("%s not built", SHIM_BIN);
        char *argv[] = {"containerd-shim-skiff-v2", "-info", NULL};
        struct run r;
        run_shim(tmp, argv, NULL, 0, &r);
        cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
        Containerd__Types__RuntimeInfo *ri =
            containerd__types__runtime_info__unpack(NULL, r.out_len, r.out);
        cr_assert_not_null(ri);
        cr_assert_str_eq(ri->name, "io.containerd.skiff.v2");
        cr_assert_not_null(ri->version);
        cr_assert_str_eq(ri->version->version, SKIFF_VERSION);
        containerd__types__runtime_info__free_unpacked(ri, NULL);
}
