#include "gpu/discover.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/elf.h"
#include "gpu/ldcache.h"
#include "gpu/nvenv.h"
#include "oci/mounts.h"

#define MAX_PROC_FILE (1u << 20)
#define MAX_GPUS      64
#define MAX_LIBS      512
#define PROBE_TIMEOUT 10000 /* ms */

/* Library directories tried under the driver root after the ld.so.cache. */
static const char *const lib_dirs[] = {
#if defined(__aarch64__)
    "lib64", "lib/aarch64-linux-gnu", "lib", "usr/lib64", "usr/lib/aarch64-linux-gnu", "usr/lib",
#else
    "lib64", "lib/x86_64-linux-gnu", "lib", "usr/lib64", "usr/lib/x86_64-linux-gnu", "usr/lib",
#endif
};
static const char *const bin_dirs[] = {"bin", "usr/bin", "sbin", "usr/sbin"};

static const struct {
        const char *name;
        unsigned caps;
} bin_table[] = {
    {"nvidia-smi", SKIFF_NVENV_CAP_UTILITY},
    {"nvidia-debugdump", SKIFF_NVENV_CAP_UTILITY},
    {"nvidia-persistenced", SKIFF_NVENV_CAP_UTILITY},
    {"nv-fabricmanager", SKIFF_NVENV_CAP_UTILITY},
    {"nvidia-cuda-mps-control", SKIFF_NVENV_CAP_COMPUTE},
    {"nvidia-cuda-mps-server", SKIFF_NVENV_CAP_COMPUTE},
};

/* Prefixes of library file names (gpu.md §2.1); first match wins, so longer prefixes that share
 * a stem come first. caps 0 = never mounted. */
static const struct {
        const char *prefix;
        unsigned caps;
} lib_table[] = {
    {"libnvidia-gtk", 0},
    {"libnvidia-wfb", 0},
    {"libglxserver_nvidia", 0},
    {"nvidia_drv", 0},
    {"libnvidia-ml.", SKIFF_NVENV_CAP_UTILITY},
    {"libnvidia-cfg.", SKIFF_NVENV_CAP_UTILITY},
    {"libnvidia-nscq.", SKIFF_NVENV_CAP_UTILITY},
    {"libcuda.", SKIFF_NVENV_CAP_COMPUTE},
    {"libcudadebugger.", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-opencl.", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-gpucomp.", SKIFF_NVENV_CAP_COMPUTE | SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-ptxjitcompiler.", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-fatbinaryloader.", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-allocator.", SKIFF_NVENV_CAP_COMPUTE | SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-compiler.", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-pkcs11", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-nvvm", SKIFF_NVENV_CAP_COMPUTE},
    {"libnvidia-tileiras.", SKIFF_NVENV_CAP_COMPUTE},
    {"libvdpau_nvidia.", SKIFF_NVENV_CAP_VIDEO},
    {"libnvidia-encode.", SKIFF_NVENV_CAP_VIDEO},
    {"libnvidia-opticalflow.", SKIFF_NVENV_CAP_VIDEO},
    {"libnvcuvid.", SKIFF_NVENV_CAP_VIDEO},
    {"libnvidia-ngx.", SKIFF_NVENV_CAP_NGX},
    {"libnvidia-eglcore.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-glcore.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-tls.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-glsi.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-fbc.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-ifr.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-rtcore.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvoptix.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libGLX_nvidia.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libEGL_nvidia.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libGLESv2_nvidia.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libGLESv1_CM_nvidia.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-glvkspirv.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-cbl.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-egl-", SKIFF_NVENV_CAP_GRAPHICS},
    {"libnvidia-vulkan-producer.", SKIFF_NVENV_CAP_GRAPHICS},
    {"libdxcore.", SKIFF_NVENV_CAP_COMPUTE},
};

unsigned skiff_discover_lib_caps(const char *name)
{
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(lib_table); i++)
                if (strncmp(name, lib_table[i].prefix, strlen(lib_table[i].prefix)) == 0)
                        return lib_table[i].caps;
        return SKIFF_NVENV_CAP_COMPUTE;
}

/* --- text parsers ---------------------------------------------------------------------------- */

static bool is_version_token(const char *s, size_t n)
{
        size_t dots = 0;
        if (n == 0 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '.') {
                        if (s[i - 1] == '.')
                                return false;
                        dots++;
                } else if (!isdigit((unsigned char)s[i])) {
                        return false;
                }
        }
        return dots == 1 || dots == 2;
}

int skiff_discover_parse_version(const char *text, char **ret, skiff_err_t *err)
{
        const char *line = strstr(text, "NVRM version:");
        if (!line)
                return skiff_error_set(err, EBADMSG, "no `NVRM version:` line");
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *mod = memmem(line, len, "Module", 6);
        const char *p = mod ? mod + 6 : line + 13;
        const char *stop = line + len;
        while (p < stop) {
                while (p < stop && isspace((unsigned char)*p))
                        p++;
                const char *t = p;
                while (p < stop && !isspace((unsigned char)*p))
                        p++;
                if (is_version_token(t, (size_t)(p - t)) && p - t < 64) {
                        *ret = xstrndup(t, (size_t)(p - t));
                        return 0;
                }
        }
        return skiff_error_set(err, EBADMSG, "no driver version in the `NVRM version:` line");
}

/* Value of "Key: value" in text (first occurrence at a line start), trimmed; heap or NULL. */
static char *kv_get(const char *text, const char *key)
{
        size_t kl = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, kl) != 0 || l[kl] != ':')
                        continue;
                const char *v = l + kl + 1;
                const char *e = strchr(v, '\n');
                size_t n = e ? (size_t)(e - v) : strlen(v);
                while (n > 0 && isspace((unsigned char)*v)) {
                        v++;
                        n--;
                }
                while (n > 0 && isspace((unsigned char)v[n - 1]))
                        n--;
                return xstrndup(v, n);
        }
        return NULL;
}

int skiff_discover_parse_information(const char *text, struct skiff_gpu_device *ret,
                                     skiff_err_t *err)
{
        _cleanup_free_ char *uuid = kv_get(text, "GPU UUID");
        _cleanup_free_ char *minor = kv_get(text, "Device Minor");
        _cleanup_free_ char *bus = kv_get(text, "Bus Location");
        if (!uuid || strncmp(uuid, "GPU-", 4) != 0 || strlen(uuid) > 128)
                return skiff_error_set(err, EBADMSG, "missing or invalid `GPU UUID`");
        uint64_t m = 0;
        if (!minor || skiff_parse_u64(minor, &m) < 0 || m >= 254)
                return skiff_error_set(err, EBADMSG, "missing or invalid `Device Minor`");
        _cleanup_free_ char *pci = bus ? skiff_nvenv_normalize_pci(bus) : NULL;
        if (!pci)
                return skiff_error_set(err, EBADMSG, "missing or invalid `Bus Location`");
        struct skiff_gpu_device d = {0};
        d.uuid = TAKE_PTR(uuid);
        d.pci = TAKE_PTR(pci);
        d.minor = (uint32_t)m;
        d.model = kv_get(text, "Model");
        *ret = d;
        return 0;
}

int skiff_discover_parse_cuda_note(const char *json, size_t len, char **ret, skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(json, len, &doc, err);
        if (r < 0)
                return skiff_error_wrap(err, "CUDA note");
        skiff_jv *root = skiff_json_root(doc);
        if (skiff_json_type(root) != SKIFF_JSON_OBJECT)
                return skiff_error_set(err, EBADMSG, "CUDA note: not a JSON object");
        for (size_t i = 0; i < skiff_json_len(root); i++) {
                if (strcasecmp(skiff_json_key_at(root, i), "CUDA version") != 0)
                        continue;
                const char *v = skiff_json_str(skiff_json_at(root, i));
                if (!v || strlen(v) > 32 || !is_version_token(v, strlen(v)))
                        return skiff_error_set(err, EBADMSG,
                                               "CUDA note: `CUDA version` is not a version");
                *ret = xstrdup(v);
                return 0;
        }
        return skiff_error_set(err, EBADMSG, "CUDA note: no `CUDA version` key");
}

uint32_t skiff_discover_devices_major(const char *text, const char *name)
{
        const char *chr = strstr(text, "Character devices:");
        if (!chr)
                return 0;
        const char *blk = strstr(chr, "Block devices:");
        for (const char *l = strchr(chr, '\n'); l && (!blk || l < blk); l = strchr(l + 1, '\n')) {
                unsigned long major = 0;
                char dev[128];
                if (sscanf(l + 1, "%lu %127s", &major, dev) == 2 && strcmp(dev, name) == 0 &&
                    major > 0 && major < 4096)
                        return (uint32_t)major;
        }
        return 0;
}

char *skiff_discover_mask_params(const char *params)
{
        _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        bool seen = false;
        _cleanup_strv_ char **lines = skiff_strv_split(params, "\n", true);
        for (char **l = lines; *l; l++) {
                if (strncmp(*l, "ModifyDeviceFiles:", 18) == 0) {
                        skiff_strbuf_puts(&sb, "ModifyDeviceFiles: 0\n");
                        seen = true;
                        continue;
                }
                skiff_strbuf_printf(&sb, "%s\n", *l);
        }
        if (!seen)
                skiff_strbuf_puts(&sb, "ModifyDeviceFiles: 0\n");
        return skiff_strbuf_take(&sb);
}

/* --- files ----------------------------------------------------------------------------------- */

static void driver_file_done(struct skiff_driver_file *f)
{
        free(f->path);
        free(f->name);
        free(f->soname);
}

struct skiff_driver *skiff_driver_free(struct skiff_driver *d)
{
        if (!d)
                return NULL;
        free(d->root);
        free(d->proc_root);
        free(d->dev_root);
        free(d->version);
        free(d->libdir);
        free(d->cuda_version);
        for (size_t i = 0; i < d->n_gpus; i++) {
                free(d->gpus[i].bus_dir);
                free(d->gpus[i].pci);
                free(d->gpus[i].uuid);
                free(d->gpus[i].model);
        }
        free(d->gpus);
        free(d->mig);
        for (size_t i = 0; i < d->n_libs; i++)
                driver_file_done(&d->libs[i]);
        free(d->libs);
        for (size_t i = 0; i < d->n_bins; i++)
                driver_file_done(&d->bins[i]);
        free(d->bins);
        free(d->persistenced_socket);
        free(d->fabricmanager_socket);
        free(d->mps_dir);
        free(d->params_path);
        free(d->params_masked);
        free(d);
        return NULL;
}

SKIFF_DEFINE_CLEANUP(struct skiff_driver *, skiff_driver_free)
SKIFF_DEFINE_CLEANUP(struct skiff_ldcache *, skiff_ldcache_free)

/* Resolves path inside the driver root (symlinks stay inside) to an absolute host path of an
 * existing file. -ENOENT when it does not exist. */
static int resolve_in_root(int rootfd, const char *path, char **ret, struct stat *st)
{
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, path, SKIFF_MOUNTS_NO_CREATE, &fd, NULL);
        if (r < 0)
                return r;
        if (st && fstat(fd, st) < 0)
                return -errno;
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        char buf[4096];
        ssize_t n = readlink(link, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret = xstrdup(buf);
        return 0;
}

static int read_proc(const char *proc, const char *rel, char **ret, skiff_err_t *err)
{
        _cleanup_free_ char *path = skiff_path_join(proc, rel);
        size_t len = 0;
        return skiff_fs_read_file(path, MAX_PROC_FILE, ret, &len, err);
}

static int cmp_gpu(const void *a, const void *b)
{
        return strcmp(((const struct skiff_gpu_device *)a)->pci,
                      ((const struct skiff_gpu_device *)b)->pci);
}

static int find_gpus(struct skiff_driver *d, skiff_err_t *err)
{
        _cleanup_free_ char *dir = skiff_path_join(d->proc_root, "driver/nvidia/gpus");
        _cleanup_closedir_ DIR *dh = opendir(dir);
        if (!dh)
                return errno == ENOENT ? 0 : skiff_error_set_errno(err, errno, "open `%s`", dir);
        struct dirent *de;
        while ((de = readdir(dh))) {
                if (de->d_name[0] == '.')
                        continue;
                if (d->n_gpus >= MAX_GPUS)
                        return skiff_error_set(err, E2BIG, "`%s`: more than %d GPUs", dir,
                                               MAX_GPUS);
                _cleanup_free_ char *rel = xasprintf("%s/information", de->d_name);
                _cleanup_free_ char *path = skiff_path_join(dir, rel);
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int r = skiff_fs_read_file(path, MAX_PROC_FILE, &text, &len, err);
                if (r < 0)
                        return r;
                struct skiff_gpu_device g;
                r = skiff_discover_parse_information(text, &g, err);
                if (r < 0)
                        return skiff_error_wrap(err, "parse `%s`", path);
                g.bus_dir = xstrdup(de->d_name);
                d->gpus = xreallocarray(d->gpus, d->n_gpus + 1, sizeof(*d->gpus));
                d->gpus[d->n_gpus++] = g;
        }
        qsort(d->gpus, d->n_gpus, sizeof(*d->gpus), cmp_gpu);
        for (size_t i = 0; i < d->n_gpus; i++)
                d->gpus[i].index = (uint32_t)i;
        return 0;
}

static void find_mig(struct skiff_driver *d)
{
        _cleanup_free_ char *text = NULL;
        if (read_proc(d->proc_root, "driver/nvidia-caps/mig-minors", &text, NULL) < 0)
                return;
        _cleanup_strv_ char **lines = skiff_strv_split(text, "\n", true);
        for (char **l = lines; *l; l++) {
                char name[128];
                unsigned gpu, gi, ci, minor;
                char tail[16];
                if (sscanf(*l, "%127s %u", name, &minor) != 2)
                        continue;
                struct skiff_mig_cap c = {.minor = minor};
                if (strcmp(name, "config") == 0) {
                        d->has_mig_config = true;
                        d->mig_config_minor = minor;
                        continue;
                }
                if (strcmp(name, "monitor") == 0) {
                        d->has_mig_monitor = true;
                        d->mig_monitor_minor = minor;
                        continue;
                }
                if (sscanf(name, "gpu%u/gi%u/ci%u/%15s", &gpu, &gi, &ci, tail) == 4 &&
                    strcmp(tail, "access") == 0) {
                        c.is_ci = true;
                        c.ci = ci;
                } else if (sscanf(name, "gpu%u/gi%u/%15s", &gpu, &gi, tail) == 3 &&
                           strcmp(tail, "access") == 0) {
                        c.is_ci = false;
                } else {
                        continue;
                }
                c.gpu_minor = gpu;
                c.gi = gi;
                d->mig = xreallocarray(d->mig, d->n_mig + 1, sizeof(*d->mig));
                d->mig[d->n_mig++] = c;
        }
}

static bool has_version_suffix(const char *name, const char *version)
{
        size_t n = strlen(name), v = strlen(version);
        return n > v + 4 && strcmp(name + n - v, version) == 0 &&
               strncmp(name + n - v - 4, ".so.", 4) == 0;
}

/* libdir: the cache's libcuda.so.1 when it resolves to libcuda.so.<version>, else the first
 * fixed directory holding libcuda.so.<version>. */
static int find_libdir(struct skiff_driver *d, int rootfd, const char *cache_path, skiff_err_t *err)
{
        _cleanup_free_ char *want = xasprintf("libcuda.so.%s", d->version);
        _cleanup_(skiff_ldcache_freep) struct skiff_ldcache *cache = NULL;
        _cleanup_error_ skiff_err_t cerr = NULL;
        int32_t arch = skiff_ldcache_host_flags() & SKIFF_LDCACHE_ARCH_MASK;
        if (skiff_ldcache_load(cache_path, &cache, &cerr) == 0) {
                for (size_t i = 0; i < cache->n_entries; i++) {
                        const struct skiff_ldcache_entry *e = &cache->entries[i];
                        if ((e->flags & SKIFF_LDCACHE_ARCH_MASK) != arch ||
                            strncmp(e->key, "libcuda.so", 10) != 0)
                                continue;
                        _cleanup_free_ char *real = NULL;
                        struct stat st;
                        if (resolve_in_root(rootfd, e->value, &real, &st) < 0 ||
                            !S_ISREG(st.st_mode) || strcmp(skiff_path_basename(real), want) != 0)
                                continue;
                        d->libdir = skiff_path_dirname(real);
                        return 0;
                }
        } else if (cerr && cerr->errnum != ENOENT) {
                return skiff_error_set(err, cerr->errnum, "%s", skiff_error_msg(cerr));
        }
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(lib_dirs); i++) {
                _cleanup_free_ char *rel = xasprintf("/%s/%s", lib_dirs[i], want);
                _cleanup_free_ char *real = NULL;
                struct stat st;
                if (resolve_in_root(rootfd, rel, &real, &st) == 0 && S_ISREG(st.st_mode)) {
                        d->libdir = skiff_path_dirname(real);
                        return 0;
                }
        }
        return skiff_error_set(err, ENODEV,
                               "no `%s` under driver root `%s`: searched ld.so cache `%s` and "
                               "lib64, lib/<triplet>, lib, usr/lib64, usr/lib/<triplet>, usr/lib",
                               want, d->root, cache_path);
}

static int cmp_file(const void *a, const void *b)
{
        return strcmp(((const struct skiff_driver_file *)a)->name,
                      ((const struct skiff_driver_file *)b)->name);
}

static int scan_libs(struct skiff_driver *d, const char *sub, skiff_err_t *err)
{
        _cleanup_free_ char *dir = sub ? skiff_path_join(d->libdir, sub) : xstrdup(d->libdir);
        _cleanup_closedir_ DIR *dh = opendir(dir);
        if (!dh) {
                if (sub && errno == ENOENT)
                        return 0;
                return skiff_error_set_errno(err, errno, "open library directory `%s`", dir);
        }
        struct dirent *de;
        while ((de = readdir(dh))) {
                if (!has_version_suffix(de->d_name, d->version))
                        continue;
                unsigned caps = skiff_discover_lib_caps(de->d_name);
                if (!caps)
                        continue;
                _cleanup_free_ char *path = skiff_path_join(dir, de->d_name);
                struct stat st;
                if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                struct skiff_elf_info info = {0};
                int r = skiff_elf_inspect_path(path, &info, err);
                if (r < 0)
                        return r;
                bool usable = info.elf_class == 2 && info.soname;
                if (!usable) {
                        skiff_elf_info_done(&info); /* 32-bit or not a shared object: skip */
                        continue;
                }
                if (d->n_libs >= MAX_LIBS)
                        return skiff_error_set(err, E2BIG, "`%s`: too many driver libraries", dir);
                d->libs = xreallocarray(d->libs, d->n_libs + 1, sizeof(*d->libs));
                d->libs[d->n_libs++] = (struct skiff_driver_file){
                    .path = TAKE_PTR(path),
                    .name = sub ? xasprintf("%s/%s", sub, de->d_name) : xstrdup(de->d_name),
                    .soname = TAKE_PTR(info.soname),
                    .caps = caps,
                };
                skiff_elf_info_done(&info);
        }
        return 0;
}

static void find_bins(struct skiff_driver *d, int rootfd)
{
        for (size_t b = 0; b < SKIFF_ARRAY_SIZE(bin_table); b++)
                for (size_t i = 0; i < SKIFF_ARRAY_SIZE(bin_dirs); i++) {
                        _cleanup_free_ char *rel =
                            xasprintf("/%s/%s", bin_dirs[i], bin_table[b].name);
                        _cleanup_free_ char *real = NULL;
                        struct stat st;
                        if (resolve_in_root(rootfd, rel, &real, &st) < 0 || !S_ISREG(st.st_mode) ||
                            !(st.st_mode & 0111))
                                continue;
                        d->bins = xreallocarray(d->bins, d->n_bins + 1, sizeof(*d->bins));
                        d->bins[d->n_bins++] = (struct skiff_driver_file){
                            .path = TAKE_PTR(real),
                            .name = xstrdup(bin_table[b].name),
                            .caps = bin_table[b].caps,
                        };
                        break;
                }
}

/* The absolute path of dir/rel when it exists (a directory when want_dir), else NULL. */
static char *existing(const char *dir, const char *rel, bool want_dir)
{
        _cleanup_free_ char *p = rel ? skiff_path_join(dir, rel) : xstrdup(dir);
        struct stat st;
        if (stat(p, &st) < 0 || (want_dir && !S_ISDIR(st.st_mode)))
                return NULL;
        return realpath(p, NULL);
}

/* Absolute form of a configured directory (mount sources must not depend on the cwd). */
static char *absolute(const char *path)
{
        char *r = realpath(path, NULL);
        return r ? r : xstrdup(path);
}

/* cuDriverGetVersion in a forked child: dlopen() runs the library's constructors, which must
 * never happen in the shim itself. The child writes the int to a pipe and exits. */
static int probe_cuda_version(const char *lib, char **ret, skiff_err_t *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return skiff_error_set_errno(err, errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return skiff_error_set_errno(err, e, "fork");
        }
        if (pid == 0) {
                close(p[0]);
                void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
                int (*fn)(int *) = h ? (int (*)(int *))dlsym(h, "cuDriverGetVersion") : NULL;
                int v = 0;
                if (!fn || fn(&v) != 0)
                        _exit(1);
                _exit(skiff_fs_write_all(p[1], &v, sizeof(v)) == 0 ? 0 : 1);
        }
        close(p[1]);
        _cleanup_close_ int rd = p[0];
        struct pollfd pfd = {.fd = rd, .events = POLLIN};
        int v = 0;
        ssize_t n = -1;
        int pr;
        do
                pr = poll(&pfd, 1, PROBE_TIMEOUT);
        while (pr < 0 && errno == EINTR);
        if (pr > 0)
                n = skiff_fs_read_full(rd, &v, sizeof(v));
        if (pr <= 0)
                (void)kill(pid, SIGKILL); /* timed out: the probe must not outlive us */
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (n != (ssize_t)sizeof(v) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || v <= 0)
                return skiff_error_set(err, EIO, "cuDriverGetVersion probe of `%s` failed", lib);
        *ret = xasprintf("%d.%d", v / 1000, (v % 1000) / 10);
        return 0;
}

static void find_cuda_version(struct skiff_driver *d, bool probe)
{
        _cleanup_free_ char *lib = xasprintf("%s/libcuda.so.%s", d->libdir, d->version);
        struct skiff_elf_info info = {0};
        if (skiff_elf_inspect_path(lib, &info, NULL) == 0 && info.cuda_note &&
            skiff_discover_parse_cuda_note(info.cuda_note, info.cuda_note_len, &d->cuda_version,
                                           NULL) == 0)
                d->cuda_version_source = "note";
        skiff_elf_info_done(&info);
        if (!d->cuda_version && probe && probe_cuda_version(lib, &d->cuda_version, NULL) == 0)
                d->cuda_version_source = "probe";
}

int skiff_discover_driver(const struct skiff_discover_config *cfg, struct skiff_driver **ret,
                          skiff_err_t *err)
{
        static const struct skiff_discover_config defaults = {0};
        if (!cfg)
                cfg = &defaults;
        _cleanup_(skiff_driver_freep) struct skiff_driver *d = xcalloc(1, sizeof(*d));
        d->root = absolute(cfg->driver_root ? cfg->driver_root : "/");
        d->proc_root = absolute(cfg->proc_root ? cfg->proc_root : "/proc");
        d->dev_root = absolute(cfg->dev_root ? cfg->dev_root : "/dev");

        _cleanup_free_ char *vpath = skiff_path_join(d->proc_root, "driver/nvidia/version");
        _cleanup_free_ char *vtext = NULL;
        size_t len = 0;
        _cleanup_error_ skiff_err_t verr = NULL;
        int r = skiff_fs_read_file(vpath, MAX_PROC_FILE, &vtext, &len, &verr);
        if (r == -ENOENT)
                return skiff_error_set(err, ENODEV,
                                       "no NVIDIA driver: `%s` does not exist (is the nvidia "
                                       "kernel module loaded?)",
                                       vpath);
        if (r < 0)
                return skiff_error_set(err, -r, "%s", skiff_error_msg(verr));
        r = skiff_discover_parse_version(vtext, &d->version, err);
        if (r < 0)
                return skiff_error_wrap(err, "parse `%s`", vpath);

        _cleanup_close_ int rootfd = open(d->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return skiff_error_set_errno(err, errno, "open driver root `%s`", d->root);
        _cleanup_free_ char *cache =
            cfg->ldcache ? xstrdup(cfg->ldcache) : skiff_path_join(d->root, "etc/ld.so.cache");
        r = find_libdir(d, rootfd, cache, err);
        if (r < 0)
                return r;
        r = scan_libs(d, NULL, err);
        if (r >= 0)
                r = scan_libs(d, "vdpau", err);
        if (r < 0)
                return r;
        qsort(d->libs, d->n_libs, sizeof(*d->libs), cmp_file);
        find_bins(d, rootfd);
        find_cuda_version(d, cfg->probe_cuda);

        r = find_gpus(d, err);
        if (r < 0)
                return r;
        find_mig(d);
        _cleanup_free_ char *devices = NULL;
        r = read_proc(d->proc_root, "devices", &devices, err);
        if (r < 0)
                return r;
        d->major_uvm = skiff_discover_devices_major(devices, "nvidia-uvm");
        d->major_caps = skiff_discover_devices_major(devices, "nvidia-caps");
        d->major_imex = skiff_discover_devices_major(devices, "nvidia-caps-imex-channels");

        const char *run = cfg->run_root ? cfg->run_root : "/run";
        d->persistenced_socket = existing(run, "nvidia-persistenced/socket", false);
        d->fabricmanager_socket = existing(run, "nvidia-fabricmanager/socket", false);
        d->mps_dir = existing(cfg->mps_dir ? cfg->mps_dir : "/tmp/nvidia-mps", NULL, true);
        _cleanup_free_ char *params = NULL;
        if (read_proc(d->proc_root, "driver/nvidia/params", &params, NULL) == 0) {
                d->params_path = skiff_path_join(d->proc_root, "driver/nvidia/params");
                d->params_masked = skiff_discover_mask_params(params);
        }
        *ret = TAKE_PTR(d);
        return 0;
}
