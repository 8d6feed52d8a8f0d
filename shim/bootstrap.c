/* Shim binary invocations other than serving: flags, start, delete, -info, -v. */
#include "shim/bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "bootstrap.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "oci/container.h"
#include "oci/spec.h"
#include "runc/options.pb-c.h"
#include "runtimeoptions.pb-c.h"
#include "task.pb-c.h"
#include "types/introspection.pb-c.h"

/* ---- flags ----------------------------------------------------------------------------------- */

enum flag_kind { FLAG_STRING, FLAG_BOOL };

struct flag {
        const char *name;
        enum flag_kind kind;
        size_t offset;
};

#define STR_FLAG(n, f)                                                                             \
        {                                                                                          \
                n, FLAG_STRING, offsetof(struct skiff_shim_args, f)                                \
        }
#define BOOL_FLAG(n, f)                                                                            \
        {                                                                                          \
                n, FLAG_BOOL, offsetof(struct skiff_shim_args, f)                                  \
        }

static const struct flag flags[] = {
    STR_FLAG("namespace", ns),
    STR_FLAG("address", address),
    STR_FLAG("publish-binary", publish_binary),
    STR_FLAG("id", id),
    STR_FLAG("bundle", bundle),
    BOOL_FLAG("debug", debug),
    BOOL_FLAG("v", version),
    BOOL_FLAG("info", info),
    STR_FLAG("socket", socket),
    STR_FLAG("config-path", config_path),
};

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
        static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
        static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(yes); i++) {
                if (strcmp(s, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcmp(s, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int skiff_bootstrap_parse_args(int argc, char *const *argv, struct skiff_shim_args *out,
                               skiff_err_t *err)
{
        struct skiff_shim_args a = {0};
        int i = 1;
        for (; i < argc; i++) {
                const char *arg = argv[i];
                if (arg[0] != '-' || arg[1] == '\0')
                        break; /* first non-flag argument */
                const char *name = arg + 1;
                if (name[0] == '-') {
                        name++;
                        if (name[0] == '\0') {
                                i++; /* "--" ends the flags */
                                break;
                        }
                }
                if (name[0] == '-' || name[0] == '=')
                        return skiff_error_set(err, EINVAL, "bad flag syntax: `%s`", arg);
                const char *eq = strchr(name, '=');
                size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
                const struct flag *f = NULL;
                for (size_t k = 0; k < SKIFF_ARRAY_SIZE(flags); k++)
                        if (strlen(flags[k].name) == nlen &&
                            strncmp(flags[k].name, name, nlen) == 0) {
                                f = &flags[k];
                                break;
                        }
                if (!f)
                        return skiff_error_set(
                            err, EINVAL, "flag provided but not defined: `-%.*s`", (int)nlen, name);
                void *field = (char *)&a + f->offset;
                if (f->kind == FLAG_BOOL) {
                        bool v = true;
                        if (eq && parse_bool(eq + 1, &v) < 0)
                                return skiff_error_set(err, EINVAL,
                                                       "invalid boolean value `%s` for flag `-%s`",
                                                       eq + 1, f->name);
                        *(bool *)field = v;
                } else if (eq) {
                        *(const char **)field = eq + 1;
                } else {
                        if (i + 1 >= argc)
                                return skiff_error_set(err, EINVAL, "flag needs an argument: `-%s`",
                                                       f->name);
                        *(const char **)field = argv[++i];
                }
        }
        if (i < argc)
                a.action = argv[i];
        *out = a;
        return 0;
}

/* ---- stdin ----------------------------------------------------------------------------------- */

static bool type_is(const char *type_url, const char *name)
{
        /* containerd sends bare names; tolerate a "type.googleapis.com/" style prefix. */
        const char *slash = strrchr(type_url, '/');
        return strcmp(slash ? slash + 1 : type_url, name) == 0;
}

static int decode_options(const Google__Protobuf__Any *any, struct skiff_bootstrap_input *in,
                          skiff_err_t *err)
{
        if (!any || !any->type_url)
                return 0;
        if (type_is(any->type_url, "runtimeoptions.v1.Options")) {
                Runtimeoptions__V1__Options *o =
                    runtimeoptions__v1__options__unpack(NULL, any->value.len, any->value.data);
                if (!o)
                        return skiff_error_set(err, EBADMSG,
                                               "decode `runtimeoptions.v1.Options` from `stdin`");
                if (o->config_path && *o->config_path) {
                        free(in->config_path);
                        in->config_path = xstrdup(o->config_path);
                }
                runtimeoptions__v1__options__free_unpacked(o, NULL);
        } else if (type_is(any->type_url, "containerd.runc.v1.Options")) {
                /* Accepted for runtime_type = io.containerd.runc.v2 setups; nothing in it
                 * applies to skiff. */
                Containerd__Runc__V1__Options *o =
                    containerd__runc__v1__options__unpack(NULL, any->value.len, any->value.data);
                if (!o)
                        return skiff_error_set(err, EBADMSG,
                                               "decode `containerd.runc.v1.Options` from `stdin`");
                containerd__runc__v1__options__free_unpacked(o, NULL);
        }
        return 0;
}

int skiff_bootstrap_decode_stdin(const uint8_t *buf, size_t len, const char *id, const char *ns,
                                 struct skiff_bootstrap_input *out, skiff_err_t *err)
{
        struct skiff_bootstrap_input in = {0};
        int r = 0;
        if (len == 0) {
                *out = in;
                return 0;
        }

        Containerd__Runtime__Bootstrap__V1__BootstrapParams *bp =
            containerd__runtime__bootstrap__v1__bootstrap_params__unpack(NULL, len, buf);
        if (bp && id && ns && bp->instance_id && bp->namespace_ &&
            strcmp(bp->instance_id, id) == 0 && strcmp(bp->namespace_, ns) == 0) {
                in.is_params = true;
                if (bp->socket_dir && *bp->socket_dir)
                        in.socket_dir = xstrdup(bp->socket_dir);
                if (bp->containerd_ttrpc_address && *bp->containerd_ttrpc_address)
                        in.ttrpc_address = xstrdup(bp->containerd_ttrpc_address);
                in.debug = bp->log_level < 0;
                for (size_t i = 0; i < bp->n_extensions; i++) {
                        r = decode_options(bp->extensions[i]->value, &in, err);
                        if (r < 0)
                                break;
                }
                containerd__runtime__bootstrap__v1__bootstrap_params__free_unpacked(bp, NULL);
                if (r < 0) {
                        skiff_bootstrap_input_done(&in);
                        return r;
                }
                *out = in;
                return 0;
        }
        if (bp)
                containerd__runtime__bootstrap__v1__bootstrap_params__free_unpacked(bp, NULL);

        Google__Protobuf__Any *any = google__protobuf__any__unpack(NULL, len, buf);
        if (!any)
                return skiff_error_set(err, EBADMSG,
                                       "decode `stdin`: %zu bytes are neither a "
                                       "google.protobuf.Any nor a BootstrapParams",
                                       len);
        if (!any->type_url || !*any->type_url) {
                google__protobuf__any__free_unpacked(any, NULL);
                return skiff_error_set(err, EBADMSG,
                                       "decode `stdin`: runtime options without a type URL");
        }
        r = decode_options(any, &in, err);
        google__protobuf__any__free_unpacked(any, NULL);
        if (r < 0) {
                skiff_bootstrap_input_done(&in);
                return r;
        }
        *out = in;
        return 0;
}

void skiff_bootstrap_input_done(struct skiff_bootstrap_input *in)
{
        free(in->config_path);
        free(in->socket_dir);
        free(in->ttrpc_address);
        *in = (struct skiff_bootstrap_input){0};
}

/* ---- grouping and socket ------------------------------------------------------------------- */

int skiff_bootstrap_group_id(const char *bundle, const char *id, char **ret, skiff_err_t *err)
{
        struct skiff_spec *spec = NULL;
        int r = skiff_spec_load(bundle, &spec, err);
        if (r < 0)
                return r;
        static const char *const keys[] = {"io.containerd.runc.v2.group",
                                           "io.kubernetes.cri.sandbox-id"};
        const char *group = NULL;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(keys) && !group; i++) {
                const char *v = skiff_spec_annotation(spec, keys[i]);
                if (v && *v)
                        group = v;
        }
        *ret = xstrdup(group ? group : id);
        skiff_spec_free(spec);
        return 0;
}

int skiff_bootstrap_socket_path(const char *socket_dir, const char *address, const char *ns,
                                const char *group, char **ret, skiff_err_t *err)
{
        /* Go's filepath.Join: skip empty elements, join with '/', clean. */
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        const char *parts[] = {address, ns, group};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(parts); i++) {
                if (!parts[i] || !*parts[i])
                        continue;
                if (sb.len)
                        skiff_strbuf_putc(&sb, '/');
                skiff_strbuf_puts(&sb, parts[i]);
        }
        _cleanup_free_ char *joined = skiff_path_clean(sb.buf ? sb.buf : "");
        uint8_t digest[SKIFF_SHA256_LEN];
        char hex[2 * SKIFF_SHA256_LEN + 1];
        skiff_sha256_oneshot(joined, strlen(joined), digest);
        skiff_hex_encode(digest, sizeof(digest), hex);
        char *path = xasprintf("%s/%s", socket_dir, hex);
        if (strlen(path) > SKIFF_SHIM_SOCKET_PATH_MAX) {
                skiff_error_set(err, ENAMETOOLONG, "socket path `%s` is longer than %d bytes", path,
                                SKIFF_SHIM_SOCKET_PATH_MAX);
                free(path);
                return -ENAMETOOLONG;
        }
        *ret = path;
        return 0;
}

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

/* 1 when something accepts connections at path, 0 when not (refused or missing). */
static int socket_answers(const struct sockaddr_un *sa)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
                return 1;
        return 0;
}

int skiff_bootstrap_listen(const char *path, int *ret_fd, skiff_err_t *err)
{
        struct sockaddr_un sa;
        if (fill_addr(path, &sa) < 0)
                return skiff_error_set(err, ENAMETOOLONG, "socket path `%s` is too long", path);
        _cleanup_free_ char *dir = skiff_path_dirname(path);
        int r = skiff_fs_mkdir_p(dir, 0711, err);
        if (r < 0)
                return r;
        /* Serialize concurrent starts (of any group) between the liveness check and bind, so
         * two of them cannot both see a dead socket and both serve it. Released on return. */
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", dir);
        while (flock(dfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return skiff_error_set_errno(err, errno, "lock `%s`", dir);

        for (int attempt = 0; attempt < 3; attempt++) {
                r = socket_answers(&sa);
                if (r < 0)
                        return skiff_error_set_errno(err, -r, "create a unix socket");
                if (r == 1)
                        return 1; /* the group's shim is already running */
                if (unlink(path) < 0 && errno != ENOENT)
                        return skiff_error_set_errno(err, errno, "remove stale socket `%s`", path);

                _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return skiff_error_set_errno(err, errno, "create a unix socket");
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                        if (errno == EADDRINUSE)
                                continue; /* another start won the race; look again */
                        return skiff_error_set_errno(err, errno, "bind `%s`", path);
                }
                if (chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
                        r = skiff_error_set_errno(err, errno, "listen on `%s`", path);
                        (void)unlink(path); /* ours, half set up */
                        return r;
                }
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        return skiff_error_set(err, EADDRINUSE, "socket `%s` is in use but does not answer", path);
}

/* ---- start ----------------------------------------------------------------------------------- */

/* containerd's oom_score_adj + 1 (the shim dies after its containers), or INT_MIN if unknown. */
static int daemon_oom_score(void)
{
        char path[64], *buf = NULL;
        size_t len;
        skiff_err_t e = NULL;
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)getppid());
        if (skiff_fs_read_file(path, 64, &buf, &len, &e) < 0) {
                skiff_error_free(&e);
                return INT_MIN;
        }
        int64_t v;
        buf[strcspn(buf, "\n")] = '\0';
        int r = skiff_parse_i64(buf, &v);
        free(buf);
        if (r < 0 || v < -1000 || v > 1000)
                return INT_MIN;
        return v >= 1000 ? 1000 : (int)v + 1;
}

/* In the forked child: becomes the daemon and execs; reports failures on errfd. */
static void __attribute__((noreturn))
daemon_exec(int listen_fd, int errfd, char *const argv[], const char *ttrpc_address, int oom)
{
        int e;
        if (errfd == SKIFF_SHIM_LISTEN_FD) {
                errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 10);
                if (errfd < 0)
                        _exit(127);
        }
        if (setsid() < 0)
                goto fail;
        if (listen_fd != SKIFF_SHIM_LISTEN_FD) {
                if (dup2(listen_fd, SKIFF_SHIM_LISTEN_FD) < 0)
                        goto fail;
        } else if (skiff_fd_set_cloexec(listen_fd, false) < 0) {
                goto fail;
        }
        /* Keep nothing but the socket and the error pipe: an inherited copy of the start
         * process's output pipe would make containerd wait for EOF forever (§18.2). */
        if (errfd > SKIFF_SHIM_LISTEN_FD + 1)
                (void)close_range(SKIFF_SHIM_LISTEN_FD + 1, (unsigned)errfd - 1, 0);
        (void)close_range((unsigned)errfd + 1, ~0u, 0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                goto fail;
        if (oom != INT_MIN) {
                char v[16];
                snprintf(v, sizeof(v), "%d", oom);
                skiff_err_t ignore = NULL;
                /* EPERM without CAP_SYS_RESOURCE when lowering: keep the inherited score. */
                (void)skiff_fs_write_string("/proc/self/oom_score_adj", v, &ignore);
        }
        if (ttrpc_address && !getenv("TTRPC_ADDRESS"))
                setenv("TTRPC_ADDRESS", ttrpc_address, 1);
        /* Exec the binary by its real path so the daemon's comm is "containerd-shim" (ps,
         * kubelet tooling); /proc/self/exe would name it "exe". */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                execv(self, argv);
        }
        execv("/proc/self/exe", argv);
fail:
        e = errno;
        (void)!write(errfd, &e, sizeof(e));
        _exit(127);
}

static int spawn_daemon(const struct skiff_shim_args *args, const char *bundle,
                        const char *socket_path, const struct skiff_bootstrap_input *in,
                        int listen_fd, skiff_err_t *err)
{
        _cleanup_strv_ char **argv = NULL;
        skiff_strv_push(&argv, "containerd-shim-skiff-v2");
        const struct {
                const char *flag, *value;
        } kv[] = {
            {"-namespace", args->ns},
            {"-id", args->id},
            {"-address", args->address},
            {"-publish-binary", args->publish_binary},
            {"-bundle", bundle},
            {"-socket", socket_path},
            {"-config-path", in->config_path},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(kv); i++) {
                if (!kv[i].value)
                        continue;
                skiff_strv_push(&argv, kv[i].flag);
                skiff_strv_push(&argv, kv[i].value);
        }
        if (args->debug || in->debug)
                skiff_strv_push(&argv, "-debug");
        skiff_strv_push(&argv, "serve");

        int oom = daemon_oom_score();
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return skiff_error_set_errno(err, errno, "create a pipe");
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return skiff_error_set_errno(err, e, "fork the shim daemon");
        }
        if (pid == 0) {
                close(p[0]);
                daemon_exec(listen_fd, p[1], argv, in->ttrpc_address, oom);
        }
        close(p[1]);
        int child_errno = 0;
        ssize_t n;
        do
                n = read(p[0], &child_errno, sizeof(child_errno));
        while (n < 0 && errno == EINTR);
        close(p[0]);
        if (n > 0) {
                (void)waitpid(pid, NULL, 0);
                return skiff_error_set_errno(err, child_errno ? child_errno : EIO,
                                             "start the shim daemon");
        }
        return 0;
}

static int write_all(int fd, const void *data, size_t len, skiff_err_t *err)
{
        int r = skiff_fs_write_all(fd, data, len);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "write to `stdout`");
        return 0;
}

static int answer_start(int out_fd, const char *address, bool as_result, skiff_err_t *err)
{
        if (!as_result)
                return write_all(out_fd, address, strlen(address), err);
        Containerd__Runtime__Bootstrap__V1__BootstrapResult res =
            CONTAINERD__RUNTIME__BOOTSTRAP__V1__BOOTSTRAP_RESULT__INIT;
        res.version = 2;
        res.address = (char *)address;
        res.protocol = "ttrpc";
        size_t n = containerd__runtime__bootstrap__v1__bootstrap_result__get_packed_size(&res);
        _cleanup_free_ uint8_t *buf = xmalloc(n);
        containerd__runtime__bootstrap__v1__bootstrap_result__pack(&res, buf);
        return write_all(out_fd, buf, n, err);
}

static int start_with_input(const struct skiff_shim_args *args,
                            const struct skiff_bootstrap_input *in, int out_fd, skiff_err_t *err)
{
        _cleanup_free_ char *cwd = NULL;
        const char *bundle = args->bundle;
        if (!bundle) {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return skiff_error_set_errno(err, errno, "get the working directory");
                bundle = cwd;
        }

        /* A spec that does not load is reported by Create; group by id meanwhile. */
        _cleanup_free_ char *group = NULL;
        _cleanup_error_ skiff_err_t spec_err = NULL;
        if (skiff_bootstrap_group_id(bundle, args->id, &group, &spec_err) < 0)
                group = xstrdup(args->id);

        _cleanup_free_ char *path = NULL;
        int r = skiff_bootstrap_socket_path(in->socket_dir ? in->socket_dir : SKIFF_SHIM_SOCKET_DIR,
                                            args->address, args->ns, group, &path, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *address = xasprintf("unix://%s", path);

        int fd = -EBADF;
        r = skiff_bootstrap_listen(path, &fd, err);
        if (r < 0)
                return r;
        if (r == 0) {
                r = spawn_daemon(args, bundle, path, in, fd, err);
                close(fd);
                if (r < 0) {
                        (void)unlink(path); /* nobody serves it */
                        return r;
                }
        }

        _cleanup_free_ char *address_file = skiff_path_join(bundle, "address");
        r = skiff_fs_write_file_atomic(address_file, address, strlen(address), 0644, false, err);
        if (r < 0)
                return r;
        return answer_start(out_fd, address, in->is_params, err);
}

int skiff_bootstrap_start(const struct skiff_shim_args *args, int out_fd, skiff_err_t *err)
{
        if (!args->id || !*args->id)
                return skiff_error_set(err, EINVAL, "start: flag `-id` is required");
        if (!args->address)
                return skiff_error_set(err, EINVAL, "start: flag `-address` is required");

        _cleanup_free_ char *raw = NULL;
        size_t raw_len = 0;
        int r = 0;
        if (fcntl(0, F_GETFD) >= 0) /* a closed stdin counts as empty */
                r = skiff_fs_read_fd(0, SKIFF_SHIM_STDIN_MAX, &raw, &raw_len, err);
        if (r < 0)
                return skiff_error_wrap(err, "read `stdin`");
        struct skiff_bootstrap_input in;
        r = skiff_bootstrap_decode_stdin((const uint8_t *)raw, raw_len, args->id, args->ns, &in,
                                         err);
        if (r < 0)
                return r;
        r = start_with_input(args, &in, out_fd, err);
        skiff_bootstrap_input_done(&in);
        return r;
}

/* ---- delete, info, version ----------------------------------------------------------------- */

int skiff_bootstrap_delete(const struct skiff_shim_args *args, int out_fd, skiff_err_t *warning,
                           skiff_err_t *err)
{
        pid_t pid = 0;
        _cleanup_free_ char *cwd = NULL;
        const char *bundle = args->bundle;
        if (!bundle)
                bundle = cwd = getcwd(NULL, 0);
        if (!args->id || !*args->id)
                skiff_error_set(warning, EINVAL, "delete: flag `-id` is required");
        else if (!bundle)
                skiff_error_set_errno(warning, errno, "delete: get the working directory");
        else if (skiff_container_cleanup(bundle, args->id, &pid, warning) < 0)
                skiff_error_wrap(warning, "delete container `%s`", args->id);

        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        ts.seconds = now.tv_sec;
        ts.nanos = (int32_t)now.tv_nsec;
        Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
        resp.pid = pid > 0 ? (uint32_t)pid : 0;
        resp.exit_status = 128 + 9; /* SIGKILL, as runc's shim reports */
        resp.exited_at = &ts;
        uint8_t buf[64];
        size_t n = containerd__task__v2__delete_response__pack(&resp, buf);
        return write_all(out_fd, buf, n, err);
}

int skiff_bootstrap_info(int out_fd, skiff_err_t *err)
{
        Containerd__Types__RuntimeVersion ver = CONTAINERD__TYPES__RUNTIME_VERSION__INIT;
        ver.version = SKIFF_VERSION;
        Containerd__Types__RuntimeInfo info = CONTAINERD__TYPES__RUNTIME_INFO__INIT;
        info.name = SKIFF_SHIM_NAME;
        info.version = &ver;
        size_t n = containerd__types__runtime_info__get_packed_size(&info);
        _cleanup_free_ uint8_t *buf = xmalloc(n);
        containerd__types__runtime_info__pack(&info, buf);
        return write_all(out_fd, buf, n, err);
}

int skiff_bootstrap_version(int out_fd, skiff_err_t *err)
{
        _cleanup_free_ char *s = xasprintf("containerd-shim-skiff-v2:\n  Version:  %s\n  Runtime:  "
                                           "%s\n",
                                           SKIFF_VERSION, SKIFF_SHIM_NAME);
        return write_all(out_fd, s, strlen(s), err);
}
