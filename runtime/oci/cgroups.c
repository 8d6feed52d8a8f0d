/* cgroups facade: mode detection, cgroupsPath resolution, the public API (dispatching to the
 * v1 / v2 backends), the kill loop and the shared file helpers. */
#include "oci/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/magic.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/cgroups-internal.h"
#include "oci/spec.h"

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"
#define CG_FILE_MAX     (4u << 20)
#define CG_REMOVE_MS    1000
#define CG_KILL_MS      5000

const char *const skiff_cg_v1_names[_SKIFF_CG_V1_MAX] = {
    [SKIFF_CG_CPU] = "cpu",         [SKIFF_CG_CPUACCT] = "cpuacct", [SKIFF_CG_CPUSET] = "cpuset",
    [SKIFF_CG_MEMORY] = "memory",   [SKIFF_CG_PIDS] = "pids",       [SKIFF_CG_FREEZER] = "freezer",
    [SKIFF_CG_DEVICES] = "devices", [SKIFF_CG_BLKIO] = "blkio",     [SKIFF_CG_HUGETLB] = "hugetlb",
};

static char *arg_root;        /* test override, heap */
static int arg_mode = -1;     /* test override, or -1 */
static char *arg_self_cgroup; /* test override of /proc/self/cgroup, heap */
static int cached_mode = -1;

void skiff_cgroup_set_root_for_testing(const char *root, enum skiff_cgroup_mode mode)
{
        free(arg_root);
        arg_root = xstrdup(root);
        arg_mode = root ? (int)mode : -1;
}

void skiff_cgroup_set_self_cgroup_for_testing(const char *path)
{
        free(arg_self_cgroup);
        arg_self_cgroup = xstrdup(path);
}

const char *skiff_cg_root(void)
{
        return arg_root ? arg_root : CG_DEFAULT_ROOT;
}

enum skiff_cgroup_mode skiff_cgroup_mode(void)
{
        if (arg_mode >= 0)
                return (enum skiff_cgroup_mode)arg_mode;
        if (cached_mode < 0) {
                struct statfs fs;
                if (statfs(CG_DEFAULT_ROOT, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
                        cached_mode = SKIFF_CGROUP_V2;
                else
                        cached_mode = SKIFF_CGROUP_V1;
        }
        return (enum skiff_cgroup_mode)cached_mode;
}

/* ---- file helpers ---------------------------------------------------------------------------- */

int skiff_cg_write(const char *dir, const char *file, const char *value, skiff_err_t *err)
{
        _cleanup_free_ char *p = skiff_path_join(dir, file);
        return skiff_fs_write_string(p, value, err);
}

int skiff_cg_writef(const char *dir, const char *file, skiff_err_t *err, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *v = xvasprintf(fmt, ap);
        va_end(ap);
        return skiff_cg_write(dir, file, v, err);
}

int skiff_cg_write_optional(const char *dir, const char *file, const char *value, skiff_err_t *err)
{
        if (!skiff_cg_exists(dir, file))
                return 0;
        int r = skiff_cg_write(dir, file, value, err);
        return r < 0 ? r : 1;
}

bool skiff_cg_exists(const char *dir, const char *file)
{
        _cleanup_free_ char *p = skiff_path_join(dir, file);
        return access(p, F_OK) == 0;
}

int skiff_cg_read(const char *dir, const char *file, char **ret, skiff_err_t *err)
{
        _cleanup_free_ char *p = skiff_path_join(dir, file);
        size_t len = 0;
        return skiff_fs_read_file(p, CG_FILE_MAX, ret, &len, err);
}

static int parse_u64_or_max(const char *s, uint64_t max_value, uint64_t *ret)
{
        if (strcmp(s, "max") == 0) {
                *ret = max_value;
                return 0;
        }
        return skiff_parse_u64(s, ret);
}

int skiff_cg_read_u64(const char *dir, const char *file, uint64_t max_value, uint64_t *ret,
                      skiff_err_t *err)
{
        _cleanup_free_ char *body = NULL;
        int r = skiff_cg_read(dir, file, &body, err);
        if (r < 0)
                return r;
        body[strcspn(body, "\n")] = '\0';
        if (parse_u64_or_max(body, max_value, ret) < 0)
                return skiff_error_set(err, EBADMSG, "parse `%s/%s`: not a number: `%s`", dir, file,
                                       body);
        return 0;
}

int skiff_cg_kv_get(const char *body, const char *key, uint64_t *ret)
{
        size_t klen = strlen(key);
        for (const char *l = body; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (strncmp(l, key, klen) != 0 || l[klen] != ' ')
                        continue;
                _cleanup_free_ char *v = xstrndup(l + klen + 1, strcspn(l + klen + 1, "\n"));
                return parse_u64_or_max(v, UINT64_MAX, ret) < 0 ? -EBADMSG : 0;
        }
        return -ENOENT;
}

void skiff_cg_kv_parse(const char *body, struct skiff_kv_u64 **ret, size_t *n)
{
        _cleanup_strv_ char **lines = skiff_strv_split(body, "\n", true);
        struct skiff_kv_u64 *kv = NULL;
        size_t count = 0;
        for (char **l = lines; *l; l++) {
                char *sp = strchr(*l, ' ');
                uint64_t v;
                if (!sp || sp == *l || skiff_parse_u64(sp + 1, &v) < 0)
                        continue;
                kv = xreallocarray(kv, count + 1, sizeof(*kv));
                kv[count].key = xstrndup(*l, (size_t)(sp - *l));
                kv[count].value = v;
                count++;
        }
        *ret = kv;
        *n = count;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int skiff_cg_wait_value(const char *dir, const char *file, const char *key, const char *want,
                        int timeout_ms, skiff_err_t *err)
{
        long deadline = now_ms() + timeout_ms;
        long delay = 1;
        _cleanup_free_ char *last = NULL;
        for (;;) {
                _cleanup_free_ char *body = NULL;
                int r = skiff_cg_read(dir, file, &body, err);
                if (r < 0)
                        return r;
                const char *v = body;
                if (key) {
                        size_t klen = strlen(key);
                        v = NULL;
                        for (const char *l = body; l && *l;
                             l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                                if (strncmp(l, key, klen) == 0 && l[klen] == ' ') {
                                        v = l + klen + 1;
                                        break;
                                }
                        if (!v)
                                return skiff_error_set(err, ENOENT, "no `%s` in `%s/%s`", key, dir,
                                                       file);
                }
                free(last);
                last = xstrndup(v, strcspn(v, "\n"));
                if (strcmp(last, want) == 0)
                        return 0;
                if (now_ms() >= deadline)
                        return skiff_error_set(err, ETIMEDOUT,
                                               "wait for `%s/%s` to read `%s` (still `%s`)", dir,
                                               file, want, last);
                sleep_ms(delay);
                if (delay < 10)
                        delay *= 2;
        }
}

int skiff_cg_rmdir(const char *dir, skiff_err_t *err)
{
        if (rmdir(dir) < 0 && errno != ENOENT)
                return skiff_error_set_errno(err, errno, "remove cgroup `%s`", dir);
        return 0;
}

int skiff_cg_mkdir(const char *dir, bool *created, skiff_err_t *err)
{
        *created = false;
        if (mkdir(dir, 0755) == 0) {
                *created = true;
                return 0;
        }
        if (errno != EEXIST)
                return skiff_error_set_errno(err, errno, "create cgroup `%s`", dir);
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return skiff_error_set(err, ENOTDIR, "cgroup `%s` is not a directory", dir);
        return 0;
}

int skiff_cg_device_access(const char *access, unsigned *ret)
{
        unsigned bits = 0;
        if (!access || !*access)
                access = "rwm";
        for (const char *c = access; *c; c++) {
                switch (*c) {
                case 'r':
                        bits |= BPF_DEVCG_ACC_READ;
                        break;
                case 'w':
                        bits |= BPF_DEVCG_ACC_WRITE;
                        break;
                case 'm':
                        bits |= BPF_DEVCG_ACC_MKNOD;
                        break;
                default:
                        return -EINVAL;
                }
        }
        *ret = bits;
        return 0;
}

int skiff_cg_device_rule_string(const struct skiff_spec_device_rule *d, char **ret,
                                skiff_err_t *err)
{
        char type = d->type ? d->type : 'a';
        unsigned bits;
        if (type != 'a' && type != 'c' && type != 'b')
                return skiff_error_set(err, EINVAL, "device rule: bad type `%c`", type);
        if (skiff_cg_device_access(d->access, &bits) < 0)
                return skiff_error_set(err, EINVAL, "device rule: bad access `%s`", d->access);
        if (type == 'a') {
                *ret = xstrdup("a");
                return 0;
        }
        char maj[24] = "*", min[24] = "*";
        if (d->major >= 0)
                snprintf(maj, sizeof(maj), "%lld", (long long)d->major);
        if (d->minor >= 0)
                snprintf(min, sizeof(min), "%lld", (long long)d->minor);
        *ret = xasprintf("%c %s:%s %s%s%s", type, maj, min, (bits & BPF_DEVCG_ACC_READ) ? "r" : "",
                         (bits & BPF_DEVCG_ACC_WRITE) ? "w" : "",
                         (bits & BPF_DEVCG_ACC_MKNOD) ? "m" : "");
        return 0;
}

/* ---- path resolution ------------------------------------------------------------------------- */

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice" (systemd's slice nesting); "-.slice" is the
 * root slice and expands to "". */
static int expand_slice(const char *slice, char **ret, skiff_err_t *err)
{
        size_t len = strlen(slice);
        const size_t sfx = strlen(".slice");
        if (strcmp(slice, "-.slice") == 0) {
                *ret = xstrdup("");
                return 0;
        }
        if (len <= sfx || strcmp(slice + len - sfx, ".slice") != 0 || strchr(slice, '/'))
                return skiff_error_set(err, EINVAL, "invalid systemd slice `%s`", slice);
        size_t base = len - sfx;
        if (slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
                return skiff_error_set(err, EINVAL, "invalid systemd slice `%s`", slice);
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i <= base; i++) {
                if (i != base && slice[i] != '-')
                        continue;
                skiff_strbuf_putc(&sb, '/');
                skiff_strbuf_append(&sb, slice, i);
                skiff_strbuf_puts(&sb, ".slice");
        }
        *ret = skiff_strbuf_take(&sb);
        return 0;
}

static int resolve_systemd(const char *cgroups_path, char **ret, skiff_err_t *err)
{
        _cleanup_strv_ char **parts = skiff_strv_split(cgroups_path, ":", false);
        if (skiff_strv_len(parts) != 3)
                return skiff_error_set(
                    err, EINVAL, "cgroups path `%s`: expected `slice:prefix:name`", cgroups_path);
        const char *slice = *parts[0] ? parts[0] : "system.slice";
        const char *prefix = parts[1], *name = parts[2];
        if (!skiff_path_is_component(name) || strchr(prefix, '/'))
                return skiff_error_set(err, EINVAL, "cgroups path `%s`: invalid unit name",
                                       cgroups_path);
        _cleanup_free_ char *sp = NULL;
        int r = expand_slice(slice, &sp, err);
        if (r < 0)
                return skiff_error_wrap(err, "cgroups path `%s`", cgroups_path);
        size_t nlen = strlen(name);
        if (nlen > 6 && strcmp(name + nlen - 6, ".slice") == 0)
                *ret = xasprintf("%s/%s", sp, name);
        else if (*prefix)
                *ret = xasprintf("%s/%s-%s.scope", sp, prefix, name);
        else
                *ret = xasprintf("%s/%s.scope", sp, name);
        return 0;
}

/* The caller's own cgroup: v2 the "0::" line; v1 the memory controller's line (so that the
 * container is accounted under the caller's memory cgroup), else the first v1 controller. */
static int own_cgroup(char **ret, skiff_err_t *err)
{
        const char *file = arg_self_cgroup ? arg_self_cgroup : "/proc/self/cgroup";
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(file, CG_FILE_MAX, &body, &len, err);
        if (r < 0)
                return r;
        bool v2 = skiff_cgroup_mode() == SKIFF_CGROUP_V2;
        _cleanup_strv_ char **lines = skiff_strv_split(body, "\n", true);
        const char *found = NULL;
        for (char **l = lines; *l; l++) {
                /* "hierarchy-id:controllers:path" */
                char *c1 = strchr(*l, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c1 = *c2 = '\0';
                const char *ctrls = c1 + 1, *path = c2 + 1;
                if (v2) {
                        if (strcmp(*l, "0") == 0 && *ctrls == '\0') {
                                found = path;
                                break;
                        }
                        continue;
                }
                if (*ctrls == '\0' || strncmp(ctrls, "name=", 5) == 0)
                        continue;
                _cleanup_strv_ char **names = skiff_strv_split(ctrls, ",", true);
                if (skiff_strv_contains(names, "memory")) {
                        found = path;
                        break;
                }
                if (!found)
                        found = path;
        }
        if (!found || found[0] != '/')
                return skiff_error_set(err, ENOENT, "no own cgroup found in `%s`", file);
        *ret = xstrdup(found);
        return 0;
}

int skiff_cgroup_resolve_path(const char *cgroups_path, const char *id, char **ret,
                              skiff_err_t *err)
{
        _cleanup_free_ char *raw = NULL;
        if (!cgroups_path || !*cgroups_path) {
                if (!id || !skiff_path_is_component(id))
                        return skiff_error_set(err, EINVAL, "invalid container id `%s`",
                                               id ? id : "");
                raw = xasprintf("/skiff/%s", id);
        } else if (strchr(cgroups_path, ':')) {
                int r = resolve_systemd(cgroups_path, &raw, err);
                if (r < 0)
                        return r;
        } else {
                _cleanup_strv_ char **comps = skiff_strv_split(cgroups_path, "/", true);
                if (skiff_strv_contains(comps, ".."))
                        return skiff_error_set(err, EINVAL, "cgroups path `%s` contains `..`",
                                               cgroups_path);
                if (cgroups_path[0] == '/') {
                        raw = xstrdup(cgroups_path);
                } else {
                        _cleanup_free_ char *own = NULL;
                        int r = own_cgroup(&own, err);
                        if (r < 0)
                                return skiff_error_wrap(err, "resolve cgroups path `%s`",
                                                        cgroups_path);
                        raw = skiff_path_join(own, cgroups_path);
                }
        }
        _cleanup_free_ char *clean = skiff_path_clean(raw);
        if (strcmp(clean, "/") == 0 || clean[0] != '/')
                return skiff_error_set(err, EINVAL, "cgroups path `%s` resolves to `%s`",
                                       cgroups_path ? cgroups_path : "", clean);
        *ret = TAKE_PTR(clean);
        return 0;
}

/* ---- public API ------------------------------------------------------------------------------ */

void skiff_cgroup_stats_clear(struct skiff_cgroup_stats *s)
{
        if (!s)
                return;
        free(s->cpu_percpu_ns);
        for (size_t i = 0; i < s->n_memory_stat; i++)
                free(s->memory_stat[i].key);
        free(s->memory_stat);
        memset(s, 0, sizeof(*s));
}

void skiff_cgroup_free(struct skiff_cgroup *cg)
{
        if (!cg)
                return;
        skiff_closep(&cg->oom_fd);
        skiff_closep(&cg->oom_ctl_fd);
        for (size_t i = 0; i < _SKIFF_CG_V1_MAX; i++)
                free(cg->v1_dirs[i]);
        free(cg->dir);
        free(cg->path);
        free(cg);
}

static inline void cgroup_freep(struct skiff_cgroup **cg)
{
        skiff_cgroup_free(*cg);
}

static struct skiff_cgroup *cgroup_new(char *path)
{
        struct skiff_cgroup *cg = xcalloc(1, sizeof(*cg));
        cg->ops =
            skiff_cgroup_mode() == SKIFF_CGROUP_V2 ? &skiff_cgroup_v2_ops : &skiff_cgroup_v1_ops;
        cg->path = path;
        cg->oom_fd = -EBADF;
        cg->oom_ctl_fd = -EBADF;
        return cg;
}

/* Removes only what this object created (on a failed create). */
static void rollback_created(struct skiff_cgroup *cg)
{
        for (size_t i = 0; i < _SKIFF_CG_V1_MAX; i++)
                if (cg->v1_created[i] && cg->v1_dirs[i])
                        (void)rmdir(cg->v1_dirs[i]); /* best effort on an error path */
        if (cg->created && cg->dir)
                (void)rmdir(cg->dir); /* best effort on an error path */
}

int skiff_cgroup_create(const char *cgroups_path, const char *id,
                        const struct skiff_spec_resources *r, struct skiff_cgroup **out,
                        skiff_err_t *err)
{
        char *path = NULL;
        int ret = skiff_cgroup_resolve_path(cgroups_path, id, &path, err);
        if (ret < 0)
                return ret;
        __attribute__((cleanup(cgroup_freep))) struct skiff_cgroup *cg = cgroup_new(path);
        ret = cg->ops->setup(cg, true, err);
        if (ret >= 0 && r)
                ret = cg->ops->apply(cg, r, err);
        if (ret < 0) {
                rollback_created(cg);
                return skiff_error_wrap(err, "create cgroup `%s`", cg->path);
        }
        uint64_t kills = 0;
        skiff_err_t ignored = NULL;
        if (cg->ops->oom_kills(cg, &kills, &ignored) >= 0)
                cg->oom_kill_seen = kills;
        skiff_error_free(&ignored);
        *out = TAKE_PTR(cg);
        return 0;
}

int skiff_cgroup_open(const char *resolved_path, struct skiff_cgroup **out, skiff_err_t *err)
{
        if (!resolved_path || resolved_path[0] != '/')
                return skiff_error_set(err, EINVAL, "cgroup path `%s` is not absolute",
                                       resolved_path ? resolved_path : "");
        _cleanup_free_ char *clean = skiff_path_clean(resolved_path);
        if (strcmp(clean, resolved_path) != 0 || strcmp(clean, "/") == 0)
                return skiff_error_set(err, EINVAL, "cgroup path `%s` is not a clean path",
                                       resolved_path);
        __attribute__((cleanup(cgroup_freep))) struct skiff_cgroup *cg =
            cgroup_new(TAKE_PTR(clean));
        int r = cg->ops->setup(cg, false, err);
        if (r < 0)
                return skiff_error_wrap(err, "open cgroup `%s`", cg->path);
        uint64_t kills = 0;
        skiff_err_t ignored = NULL;
        if (cg->ops->oom_kills(cg, &kills, &ignored) >= 0)
                cg->oom_kill_seen = kills;
        skiff_error_free(&ignored);
        *out = TAKE_PTR(cg);
        return 0;
}

const char *skiff_cgroup_path(const struct skiff_cgroup *cg)
{
        return cg->path;
}

int skiff_cgroup_enter(struct skiff_cgroup *cg, pid_t pid, skiff_err_t *err)
{
        int r = cg->ops->enter(cg, pid, err);
        if (r < 0)
                return skiff_error_wrap(err, "move pid %d into cgroup `%s`", (int)pid, cg->path);
        return 0;
}

int skiff_cgroup_update(struct skiff_cgroup *cg, const struct skiff_spec_resources *r,
                        skiff_err_t *err)
{
        int ret = cg->ops->apply(cg, r, err);
        if (ret < 0)
                return skiff_error_wrap(err, "update cgroup `%s`", cg->path);
        return 0;
}

int skiff_cgroup_freeze(struct skiff_cgroup *cg, bool frozen, skiff_err_t *err)
{
        int r = cg->ops->freeze(cg, frozen, err);
        if (r < 0)
                return skiff_error_wrap(err, "%s cgroup `%s`", frozen ? "freeze" : "thaw",
                                        cg->path);
        return 0;
}

int skiff_cgroup_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, skiff_err_t *err)
{
        const char *dir = cg->ops->procs_dir(cg);
        if (!dir)
                return skiff_error_set(err, ENOTSUP, "cgroup `%s`: no hierarchy to list pids",
                                       cg->path);
        _cleanup_free_ char *body = NULL;
        int r = skiff_cg_read(dir, "cgroup.procs", &body, err);
        if (r < 0)
                return r;
        _cleanup_strv_ char **lines = skiff_strv_split(body, "\n", true);
        _cleanup_free_ pid_t *v = xcalloc(skiff_strv_len(lines) + 1, sizeof(pid_t));
        size_t count = 0;
        for (char **l = lines; *l; l++) {
                int64_t p;
                if (skiff_parse_i64(*l, &p) < 0 || p <= 0 || p > INT_MAX)
                        return skiff_error_set(err, EBADMSG, "parse `%s/cgroup.procs`: `%s`", dir,
                                               *l);
                v[count++] = (pid_t)p;
        }
        *pids = TAKE_PTR(v);
        *n = count;
        return 0;
}

/* Signals every listed pid once; *listed gets how many pids cgroup.procs listed. */
static int signal_all(struct skiff_cgroup *cg, int sig, size_t *listed, skiff_err_t *err)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = skiff_cgroup_pids(cg, &pids, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (kill(pids[i], sig) < 0 && errno != ESRCH)
                        return skiff_error_set_errno(err, errno, "kill pid %d with signal %d",
                                                     (int)pids[i], sig);
        *listed = n;
        return 0;
}

int skiff_cgroup_kill(struct skiff_cgroup *cg, int sig, skiff_err_t *err)
{
        size_t n = 0;
        int r;
        if (sig != SIGKILL) {
                r = signal_all(cg, sig, &n, err);
                return r < 0 ? skiff_error_wrap(err, "kill cgroup `%s`", cg->path) : 0;
        }
        skiff_err_t ignored = NULL;
        /* A frozen task only dies once thawed; a cgroup without freezer is simply not frozen. */
        (void)cg->ops->freeze(cg, false, &ignored);
        skiff_error_free(&ignored);
        (void)cg->ops->kill_all(cg, &ignored); /* best effort: the loop below is the fallback */
        skiff_error_free(&ignored);
        long deadline = now_ms() + CG_KILL_MS;
        long delay = 1;
        for (;;) {
                r = signal_all(cg, SIGKILL, &n, err);
                if (r == -ENOENT) {
                        skiff_error_free(err);
                        return 0;
                }
                if (r < 0)
                        return skiff_error_wrap(err, "kill cgroup `%s`", cg->path);
                if (n == 0)
                        return 0;
                if (now_ms() >= deadline)
                        return skiff_error_set(err, EBUSY, "kill cgroup `%s`: %zu processes remain",
                                               cg->path, n);
                sleep_ms(delay);
                if (delay < 20)
                        delay *= 2;
        }
}

int skiff_cgroup_stats(struct skiff_cgroup *cg, struct skiff_cgroup_stats *out, skiff_err_t *err)
{
        memset(out, 0, sizeof(*out));
        int r = cg->ops->stats(cg, out, err);
        if (r < 0) {
                skiff_cgroup_stats_clear(out);
                return skiff_error_wrap(err, "read stats of cgroup `%s`", cg->path);
        }
        return 0;
}

int skiff_cgroup_oom_fd(struct skiff_cgroup *cg, int *fd, skiff_err_t *err)
{
        if (cg->oom_fd < 0) {
                int r = cg->ops->oom_open(cg, err);
                if (r < 0)
                        return skiff_error_wrap(err, "watch OOM events of cgroup `%s`", cg->path);
        }
        *fd = cg->oom_fd;
        return 0;
}

int skiff_cgroup_oom_check(struct skiff_cgroup *cg, bool *oom_killed, skiff_err_t *err)
{
        bool fired = false;
        *oom_killed = false;
        if (cg->oom_fd >= 0) {
                int r = cg->ops->oom_drain(cg, &fired, err);
                if (r < 0)
                        return skiff_error_wrap(err, "check OOM events of cgroup `%s`", cg->path);
        }
        uint64_t kills = 0;
        int r = cg->ops->oom_kills(cg, &kills, err);
        if (r == -ENOENT) {
                /* The cgroup is gone (v1 signals the eventfd on rmdir too). */
                skiff_error_free(err);
                return 0;
        }
        if (r < 0)
                return skiff_error_wrap(err, "check OOM events of cgroup `%s`", cg->path);
        if (kills > cg->oom_kill_seen || fired)
                *oom_killed = true;
        cg->oom_kill_seen = kills;
        return 0;
}

int skiff_cgroup_remove(struct skiff_cgroup *cg, skiff_err_t *err)
{
        long deadline = now_ms() + CG_REMOVE_MS;
        for (;;) {
                int r = cg->ops->rmdir(cg, err);
                if (r >= 0)
                        return 0;
                if (r != -EBUSY || now_ms() >= deadline)
                        return r;
                skiff_error_free(err);
                sleep_ms(10);
        }
}
