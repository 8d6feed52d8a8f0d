#include "gpu/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/cdi.h"
#include "gpu/ldcache.h"
#include "gpu/require.h"
#include "oci/spec.h"

#define NV_MAJOR     195
#define NV_CTL_MINOR 255
#define NV_MODESET   254
#define HOST_LOADER  "/lib64/ld-linux-x86-64.so.2"

/* Unversioned development links created next to their SONAME when that SONAME is mounted. */
static const char *const dev_links[][2] = {
    {"libcuda.so", "libcuda.so.1"},
    {"libnvidia-ml.so", "libnvidia-ml.so.1"},
    {"libnvidia-opticalflow.so", "libnvidia-opticalflow.so.1"},
    {"libnvidia-encode.so", "libnvidia-encode.so.1"},
    {"libnvcuvid.so", "libnvcuvid.so.1"},
    {"libGLX_indirect.so.0", "libGLX_nvidia.so.0"},
    {"gbm/nvidia-drm_gbm.so", "../libnvidia-allocator.so.1"},
};

struct skiff_gpu_plan *skiff_gpu_plan_free(struct skiff_gpu_plan *p)
{
        if (!p)
                return NULL;
        free(p->driver_version);
        free(p->cuda_version);
        skiff_strv_free(p->gpus);
        for (size_t i = 0; i < p->n_nodes; i++)
                free(p->nodes[i].path);
        free(p->nodes);
        for (size_t i = 0; i < p->n_files; i++) {
                free(p->files[i].path);
                free(p->files[i].data);
        }
        free(p->files);
        for (size_t i = 0; i < p->n_links; i++) {
                free(p->links[i].path);
                free(p->links[i].target);
        }
        free(p->links);
        for (size_t i = 0; i < p->n_mounts; i++) {
                free(p->mounts[i].source);
                free(p->mounts[i].target);
        }
        free(p->mounts);
        free(p->proc_params);
        free(p->proc_version_source);
        for (size_t i = 0; i < p->n_proc_gpus; i++) {
                free(p->proc_gpus[i].source);
                free(p->proc_gpus[i].target);
        }
        free(p->proc_gpus);
        free(p->loader_link);
        skiff_strv_free(p->env_set);
        free(p->ld_library_path);
        free(p->path_append);
        free(p->gids);
        skiff_strv_free(p->hooks);
        free(p);
        return NULL;
}

SKIFF_DEFINE_CLEANUP(struct skiff_gpu_plan *, skiff_gpu_plan_free)
SKIFF_DEFINE_CLEANUP(struct skiff_driver *, skiff_driver_free)
SKIFF_DEFINE_CLEANUP(struct skiff_cdi_registry *, skiff_cdi_registry_free)

/* --- builders -------------------------------------------------------------------------------- */

static struct skiff_gpu_node *node_find(struct skiff_gpu_plan *p, const char *path)
{
        for (size_t i = 0; i < p->n_nodes; i++)
                if (strcmp(p->nodes[i].path, path) == 0)
                        return &p->nodes[i];
        return NULL;
}

/* Adds (or, for the same path, replaces) a device node. The mode comes from the host node under
 * dev_root when it exists (CDI's rule), else from mode. */
static void add_node(struct skiff_gpu_plan *p, const struct skiff_driver *drv, const char *path,
                     uint32_t major, uint32_t minor, uint32_t mode, const char *access)
{
        struct stat st;
        _cleanup_free_ char *host = skiff_path_join(drv ? drv->dev_root : "/dev", path + 5);
        if (drv && stat(host, &st) == 0 && S_ISCHR(st.st_mode))
                mode = st.st_mode & 07777;
        struct skiff_gpu_node *n = node_find(p, path);
        if (!n) {
                p->nodes = xreallocarray(p->nodes, p->n_nodes + 1, sizeof(*p->nodes));
                n = &p->nodes[p->n_nodes++];
                *n = (struct skiff_gpu_node){.path = xstrdup(path)};
        }
        n->type = 'c';
        n->major = major;
        n->minor = minor;
        n->mode = mode;
        snprintf(n->access, sizeof(n->access), "%s", access);
}

static void add_mount(struct skiff_gpu_plan *p, const char *source, const char *target, bool is_dir,
                      bool optional)
{
        for (size_t i = 0; i < p->n_mounts; i++)
                if (strcmp(p->mounts[i].target, target) == 0)
                        return;
        p->mounts = xreallocarray(p->mounts, p->n_mounts + 1, sizeof(*p->mounts));
        p->mounts[p->n_mounts++] =
            (struct skiff_gpu_mount){xstrdup(source), xstrdup(target), is_dir, optional};
}

static bool has_link(const struct skiff_gpu_plan *p, const char *path)
{
        for (size_t i = 0; i < p->n_links; i++)
                if (strcmp(p->links[i].path, path) == 0)
                        return true;
        return false;
}

static void add_link(struct skiff_gpu_plan *p, const char *path, const char *target)
{
        if (has_link(p, path))
                return;
        p->links = xreallocarray(p->links, p->n_links + 1, sizeof(*p->links));
        p->links[p->n_links++] = (struct skiff_gpu_link){xstrdup(path), xstrdup(target)};
}

static void add_file(struct skiff_gpu_plan *p, const char *path, char *data, size_t len,
                     mode_t mode)
{
        p->files = xreallocarray(p->files, p->n_files + 1, sizeof(*p->files));
        p->files[p->n_files++] = (struct skiff_gpu_file){xstrdup(path), data, len, mode};
}

static void select_gpu(struct skiff_gpu_plan *p, const struct skiff_driver *drv,
                       const struct skiff_gpu_device *g)
{
        if (skiff_strv_contains(p->gpus, g->uuid))
                return;
        skiff_strv_push(&p->gpus, g->uuid);
        _cleanup_free_ char *path = xasprintf("/dev/nvidia%u", g->minor);
        add_node(p, drv, path, NV_MAJOR, g->minor, 0666, "rw");
        p->proc_gpus = xreallocarray(p->proc_gpus, p->n_proc_gpus + 1, sizeof(*p->proc_gpus));
        p->proc_gpus[p->n_proc_gpus++] = (struct skiff_gpu_mount){
            .source = xasprintf("%s/driver/nvidia/gpus/%s", drv->proc_root, g->bus_dir),
            .target = xasprintf(SKIFF_GPU_PROC_DIR "/gpus/%s", g->bus_dir),
            .is_dir = true,
        };
}

static const struct skiff_gpu_device *gpu_by_minor(const struct skiff_driver *drv, uint32_t m)
{
        for (size_t i = 0; i < drv->n_gpus; i++)
                if (drv->gpus[i].minor == m)
                        return &drv->gpus[i];
        return NULL;
}

static int add_mig_cap(struct skiff_gpu_plan *p, const struct skiff_driver *drv, uint32_t gpu,
                       uint32_t gi, bool is_ci, uint32_t ci, const char *id, skiff_err_t *err)
{
        for (size_t i = 0; i < drv->n_mig; i++) {
                const struct skiff_mig_cap *c = &drv->mig[i];
                if (c->gpu_minor != gpu || c->gi != gi || c->is_ci != is_ci ||
                    (is_ci && c->ci != ci))
                        continue;
                _cleanup_free_ char *path = xasprintf("/dev/nvidia-caps/nvidia-cap%u", c->minor);
                add_node(p, drv, path, drv->major_caps, c->minor, 0444, "rw");
                return 0;
        }
        return skiff_error_set(err, EINVAL, "device `%s`: no MIG capability for GPU %u GI %u%s", id,
                               gpu, gi, is_ci ? " CI" : "");
}

static int select_id(struct skiff_gpu_plan *p, const struct skiff_driver *drv,
                     const struct skiff_nvenv_id *id, skiff_err_t *err)
{
        const struct skiff_gpu_device *g = NULL;
        switch (id->kind) {
        case SKIFF_NVENV_ID_INDEX:
                if (id->gpu < drv->n_gpus)
                        g = &drv->gpus[id->gpu];
                break;
        case SKIFF_NVENV_ID_GPU_UUID:
        case SKIFF_NVENV_ID_MIG_LEGACY:
                for (size_t i = 0; i < drv->n_gpus && !g; i++)
                        if (strcasecmp(drv->gpus[i].uuid, id->str) == 0)
                                g = &drv->gpus[i];
                break;
        case SKIFF_NVENV_ID_PCI:
                for (size_t i = 0; i < drv->n_gpus && !g; i++)
                        if (strcmp(drv->gpus[i].pci, id->str) == 0)
                                g = &drv->gpus[i];
                break;
        case SKIFF_NVENV_ID_MIG_INDEX:
        case SKIFF_NVENV_ID_MIG_UUID:
                return skiff_error_set(err, ENOTSUP,
                                       "device `%s`: MIG devices by index or MIG UUID need NVML; "
                                       "allocate them through CDI (device plugin "
                                       "--device-list-strategy=cdi-annotations or cdi-cri)",
                                       id->str);
        case SKIFF_NVENV_ID_CDI:
                return 0; /* resolved through the CDI registry */
        default:
                break;
        }
        if (!g)
                return skiff_error_set(err, EINVAL,
                                       "device `%s`: unknown device (the node has %zu "
                                       "GPU%s)",
                                       id->str, drv->n_gpus, drv->n_gpus == 1 ? "" : "s");
        select_gpu(p, drv, g);
        if (id->kind != SKIFF_NVENV_ID_MIG_LEGACY)
                return 0;
        if (!drv->major_caps)
                return skiff_error_set(err, ENODEV, "device `%s`: no `nvidia-caps` device major",
                                       id->str);
        int r = add_mig_cap(p, drv, g->minor, id->gpu, false, 0, id->str, err);
        if (r >= 0)
                r = add_mig_cap(p, drv, g->minor, id->gpu, true, id->mig, id->str, err);
        return r;
}

/* CDI edits: nodes as given (numbers from the host node when missing), GPUs recognised by
 * major 195; env, gids and hooks recorded; mounts of driver files (`*.so.<version>`, anything
 * under the driver's library directory, the utilities) dropped because we mount them at the
 * Nix location ourselves (gpu.md §6.5); other mounts kept. */
static int apply_cdi(struct skiff_gpu_plan *p, const struct skiff_driver *drv,
                     const struct skiff_cdi_edits *e, skiff_err_t *err)
{
        for (size_t i = 0; i < e->n_nodes; i++) {
                const struct skiff_cdi_node *n = &e->nodes[i];
                const char *host = n->host_path ? n->host_path : n->path;
                uint32_t major = (uint32_t)n->major, minor = (uint32_t)n->minor;
                uint32_t mode = n->has_file_mode ? n->file_mode : 0666;
                struct stat st;
                bool have_st = stat(host, &st) == 0;
                if (!n->has_major || !n->type) {
                        if (!have_st || !S_ISCHR(st.st_mode))
                                return skiff_error_set(err, ENODEV,
                                                       "CDI device node `%s`: host node `%s` is "
                                                       "not a character device",
                                                       n->path, host);
                        major = major(st.st_rdev);
                        minor = minor(st.st_rdev);
                }
                if (n->type && n->type != 'c')
                        return skiff_error_set(err, ENOTSUP,
                                               "CDI device node `%s`: type `%c` is not supported",
                                               n->path, n->type);
                if (!n->has_file_mode && have_st)
                        mode = st.st_mode & 07777;
                add_node(p, NULL, n->path, major, minor, mode,
                         n->permissions ? n->permissions : "rwm");
                struct skiff_gpu_node *pn = node_find(p, n->path);
                pn->mode = mode;
                pn->has_uid = n->has_uid;
                pn->uid = n->uid;
                pn->has_gid = n->has_gid;
                pn->gid = n->gid;
                const struct skiff_gpu_device *g =
                    major == NV_MAJOR ? gpu_by_minor(drv, minor) : NULL;
                if (g && minor < NV_MODESET) {
                        select_gpu(p, drv, g);
                        /* select_gpu re-added the node with defaults: keep the CDI values. */
                        add_node(p, NULL, n->path, major, minor, mode,
                                 n->permissions ? n->permissions : "rwm");
                }
        }
        for (char **v = e->env; v && *v; v++)
                skiff_strv_push(&p->env_set, *v);
        for (size_t i = 0; i < e->n_mounts; i++) {
                const struct skiff_cdi_mount *m = &e->mounts[i];
                const char *base = skiff_path_basename(m->host_path);
                _cleanup_free_ char *suffix = xasprintf(".so.%s", drv->version);
                size_t bl = strlen(base), sl = strlen(suffix);
                bool driver_file = (bl > sl && strcmp(base + bl - sl, suffix) == 0) ||
                                   strncmp(m->host_path, drv->libdir, strlen(drv->libdir)) == 0;
                for (size_t b = 0; b < drv->n_bins && !driver_file; b++)
                        driver_file = strcmp(base, drv->bins[b].name) == 0;
                if (driver_file)
                        continue;
                struct stat st;
                add_mount(p, m->host_path, m->container_path,
                          stat(m->host_path, &st) == 0 && S_ISDIR(st.st_mode), false);
        }
        for (size_t i = 0; i < e->n_gids; i++) {
                p->gids = xreallocarray(p->gids, p->n_gids + 1, sizeof(uint32_t));
                p->gids[p->n_gids++] = e->gids[i];
        }
        for (size_t i = 0; i < e->n_hooks; i++) {
                _cleanup_strbuf_ struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
                skiff_strbuf_printf(&sb, "%s %s", e->hooks[i].hook_name, e->hooks[i].path);
                for (char **a = e->hooks[i].args; a && *a; a++)
                        skiff_strbuf_printf(&sb, " %s", *a);
                skiff_strv_push_take(&p->hooks, skiff_strbuf_take(&sb));
        }
        return 0;
}

static int check_requirements(const struct skiff_nvenv_request *req, const struct skiff_driver *drv,
                              const struct skiff_gpu_config *cfg, skiff_err_t *err)
{
        struct skiff_require_facts f = {.cuda = drv->cuda_version, .driver = drv->version};
        if (!req->disable_require)
                for (char **r = req->requires; r && r[0] && r[1]; r += 2) {
                        int rc = skiff_require_check(r[0], r[1], &f, err);
                        if (rc < 0)
                                return rc;
                }
        if (cfg && cfg->requires_cuda)
                return skiff_require_check_cuda(cfg->requires_cuda, &f, err);
        return 0;
}

static void plan_driver_files(struct skiff_gpu_plan *p, const struct skiff_driver *drv,
                              const struct skiff_gpu_config *cfg)
{
        _cleanup_free_ struct skiff_ldcache_wentry *cache = NULL;
        size_t n_cache = 0;
        _cleanup_strv_ char **values = NULL;
        for (size_t i = 0; i < drv->n_libs; i++) {
                const struct skiff_driver_file *l = &drv->libs[i];
                if (!(l->caps & p->caps))
                        continue;
                _cleanup_free_ char *target = skiff_path_join(SKIFF_GPU_LIB_DIR, l->name);
                add_mount(p, l->path, target, false, false);
                _cleanup_free_ char *dir = skiff_path_dirname(l->name);
                bool top = strcmp(dir, ".") == 0;
                if (l->soname && strcmp(l->soname, skiff_path_basename(l->name)) != 0) {
                        _cleanup_free_ char *link =
                            top ? skiff_path_join(SKIFF_GPU_LIB_DIR, l->soname)
                                : xasprintf(SKIFF_GPU_LIB_DIR "/%s/%s", dir, l->soname);
                        add_link(p, link, skiff_path_basename(l->name));
                }
                if (top && l->soname) {
                        skiff_strv_push_take(&values,
                                             skiff_path_join(SKIFF_GPU_LIB_DIR, l->soname));
                        cache = xreallocarray(cache, n_cache + 1, sizeof(*cache));
                        cache[n_cache++] = (struct skiff_ldcache_wentry){
                            l->soname, NULL, skiff_ldcache_host_flags()};
                }
        }
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(dev_links); i++) {
                _cleanup_free_ char *link = skiff_path_join(SKIFF_GPU_LIB_DIR, dev_links[i][0]);
                const char *t = skiff_path_basename(dev_links[i][1]);
                _cleanup_free_ char *soname_path = skiff_path_join(SKIFF_GPU_LIB_DIR, t);
                bool present = skiff_strv_contains(values, soname_path);
                if (!present)
                        continue;
                add_link(p, link, dev_links[i][1]);
                if (!strchr(dev_links[i][0], '/')) {
                        skiff_strv_push(&values, link);
                        cache = xreallocarray(cache, n_cache + 1, sizeof(*cache));
                        cache[n_cache++] = (struct skiff_ldcache_wentry){
                            skiff_path_basename(values[skiff_strv_len(values) - 1]), NULL,
                            skiff_ldcache_host_flags()};
                }
        }
        for (size_t i = 0; i < n_cache; i++)
                cache[i].path = values[i];
        if (n_cache > 0) {
                char *buf = NULL;
                size_t len = 0;
                if (skiff_ldcache_write(cache, n_cache, &buf, &len, NULL) == 0) {
                        add_file(p, SKIFF_GPU_DRIVER_DIR "/etc/ld.so.cache", buf, len, 0644);
                        p->bind_ld_so_cache = !(cfg && cfg->no_ld_so_cache);
                }
                char *conf = xstrdup(SKIFF_GPU_LIB_DIR "\n");
                add_file(p, SKIFF_GPU_DRIVER_DIR "/etc/ld.so.conf", conf, strlen(conf), 0644);
                p->ld_library_path = xstrdup(SKIFF_GPU_LIB_DIR);
        }
        if (skiff_strv_contains(values, SKIFF_GPU_LIB_DIR "/libnvidia-opencl.so.1")) {
                char *icd = xstrdup(SKIFF_GPU_LIB_DIR "/libnvidia-opencl.so.1\n");
                add_file(p, SKIFF_GPU_DRIVER_DIR "/etc/OpenCL/vendors/nvidia.icd", icd, strlen(icd),
                         0644);
        }
        for (size_t i = 0; i < drv->n_bins; i++) {
                if (!(drv->bins[i].caps & p->caps))
                        continue;
                _cleanup_free_ char *target = skiff_path_join(SKIFF_GPU_BIN_DIR, drv->bins[i].name);
                add_mount(p, drv->bins[i].path, target, false, false);
                free(p->path_append);
                p->path_append = xstrdup(SKIFF_GPU_BIN_DIR);
        }
        if (p->caps & SKIFF_NVENV_CAP_UTILITY) {
                if (drv->persistenced_socket)
                        add_mount(p, drv->persistenced_socket, "/run/nvidia-persistenced/socket",
                                  false, true);
                if (drv->fabricmanager_socket)
                        add_mount(p, drv->fabricmanager_socket, "/run/nvidia-fabricmanager/socket",
                                  false, true);
        }
        if ((p->caps & SKIFF_NVENV_CAP_COMPUTE) && drv->mps_dir)
                add_mount(p, drv->mps_dir, "/tmp/nvidia-mps", true, true);
}

int skiff_gpu_plan_build(const struct skiff_nvenv_request *req, const struct skiff_driver *drv,
                         const struct skiff_cdi_edits *cdi, const struct skiff_gpu_config *cfg,
                         char *const *env, struct skiff_gpu_plan **ret, skiff_err_t *err)
{
        _cleanup_(skiff_gpu_plan_freep) struct skiff_gpu_plan *p = xcalloc(1, sizeof(*p));
        p->source = req->source;
        if (req->source == SKIFF_NVENV_SOURCE_NONE) {
                *ret = TAKE_PTR(p);
                return 0;
        }
        p->active = true;
        p->caps = req->caps ? req->caps : SKIFF_NVENV_CAPS_DEFAULT;
        p->driver_version = xstrdup(drv->version);
        p->cuda_version = xstrdup(drv->cuda_version);
        int r = check_requirements(req, drv, cfg, err);
        if (r < 0)
                return r;

        add_node(p, drv, "/dev/nvidiactl", NV_MAJOR, NV_CTL_MINOR, 0666, "rw");
        if ((p->caps & SKIFF_NVENV_CAP_COMPUTE) && drv->major_uvm) {
                add_node(p, drv, "/dev/nvidia-uvm", drv->major_uvm, 0, 0666, "rw");
                add_node(p, drv, "/dev/nvidia-uvm-tools", drv->major_uvm, 1, 0666, "rw");
        }
        if (p->caps & SKIFF_NVENV_CAP_DISPLAY)
                add_node(p, drv, "/dev/nvidia-modeset", NV_MAJOR, NV_MODESET, 0666, "rw");

        switch (req->devices.visible) {
        case SKIFF_NVENV_ALL:
                for (size_t i = 0; i < drv->n_gpus; i++)
                        select_gpu(p, drv, &drv->gpus[i]);
                break;
        case SKIFF_NVENV_LIST:
                for (size_t i = 0; i < req->devices.n_ids; i++) {
                        r = select_id(p, drv, &req->devices.ids[i], err);
                        if (r < 0)
                                return r;
                }
                break;
        default:
                break;
        }
        for (size_t i = 0; i < req->n_spec_minors; i++) {
                const struct skiff_gpu_device *g = gpu_by_minor(drv, req->spec_minors[i]);
                if (!g)
                        return skiff_error_set(err, ENODEV,
                                               "`linux.devices` holds `/dev/nvidia%u`, which is "
                                               "not a GPU of this node",
                                               req->spec_minors[i]);
                select_gpu(p, drv, g);
        }
        for (char **c = req->imex_channels; c && *c; c++) {
                if (!drv->major_imex)
                        return skiff_error_set(err, ENODEV,
                                               "IMEX channel `%s`: no `nvidia-caps-imex-channels` "
                                               "device major",
                                               *c);
                uint64_t ch = strtoull(*c, NULL, 10);
                _cleanup_free_ char *path =
                    xasprintf("/dev/nvidia-caps-imex-channels/channel%s", *c);
                add_node(p, drv, path, drv->major_imex, (uint32_t)ch, 0666, "rw");
        }
        if (cdi) {
                r = apply_cdi(p, drv, cdi, err);
                if (r < 0)
                        return r;
        }
        plan_driver_files(p, drv, cfg);

        if (drv->params_masked) {
                p->mask_proc = true;
                p->proc_params = xstrdup(drv->params_masked);
                p->proc_version_source = skiff_path_join(drv->proc_root, "driver/nvidia/version");
        }
        if (cfg && cfg->loader)
                p->loader_link = xstrdup(cfg->loader);
        if (drv->cuda_version && !skiff_strv_env_get(env, "CONDA_OVERRIDE_CUDA") &&
            !skiff_strv_env_get(p->env_set, "CONDA_OVERRIDE_CUDA"))
                skiff_strv_push_take(&p->env_set,
                                     xasprintf("CONDA_OVERRIDE_CUDA=%s", drv->cuda_version));
        *ret = TAKE_PTR(p);
        return 0;
}

int skiff_gpu_plan_for_spec(const struct skiff_spec *spec, const struct skiff_gpu_config *cfg,
                            struct skiff_gpu_plan **ret, skiff_err_t *err)
{
        static const struct skiff_gpu_config defaults = {.policy = SKIFF_GPU_POLICY_DEFAULT};
        if (!cfg)
                cfg = &defaults;
        struct skiff_nvenv_request req;
        int r = skiff_nvenv_request_from_spec(spec, &cfg->policy, &req, err);
        if (r < 0)
                return r;
        char *const *env = spec->has_process ? spec->process.env : NULL;
        _cleanup_(skiff_driver_freep) struct skiff_driver *drv = NULL;
        struct skiff_cdi_edits edits = {0};
        bool have_edits = false;
        if (req.source != SKIFF_NVENV_SOURCE_NONE) {
                const char *via = skiff_nvenv_source_name(req.source);
                r = skiff_discover_driver(&cfg->discover, &drv, err);
                if (r < 0) {
                        skiff_nvenv_request_done(&req);
                        return skiff_error_wrap(err, "container requests GPUs (via %s)", via);
                }
                if (req.cdi_devices) {
                        _cleanup_(skiff_cdi_registry_freep) struct skiff_cdi_registry *reg = NULL;
                        r = skiff_cdi_registry_load(cfg->cdi_dirs, &reg, err);
                        if (r >= 0)
                                r = skiff_cdi_resolve(reg, req.cdi_devices, &edits, err);
                        if (r < 0) {
                                skiff_nvenv_request_done(&req);
                                return r;
                        }
                        have_edits = true;
                }
        }
        r = skiff_gpu_plan_build(&req, drv, have_edits ? &edits : NULL, cfg, env, ret, err);
        skiff_cdi_edits_done(&edits);
        skiff_nvenv_request_done(&req);
        return r;
}

/* --- JSON ------------------------------------------------------------------------------------ */

static void gen_strv(struct skiff_json_gen *g, const char *key, char *const *v)
{
        skiff_json_gen_string(g, key);
        skiff_json_gen_array_open(g);
        for (char *const *s = v; s && *s; s++)
                skiff_json_gen_string(g, *s);
        skiff_json_gen_array_close(g);
}

static void gen_mounts(struct skiff_json_gen *g, const char *key, const struct skiff_gpu_mount *m,
                       size_t n)
{
        skiff_json_gen_string(g, key);
        skiff_json_gen_array_open(g);
        for (size_t i = 0; i < n; i++) {
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "source", m[i].source);
                skiff_json_gen_kv_string(g, "target", m[i].target);
                if (m[i].is_dir)
                        skiff_json_gen_kv_bool(g, "dir", true);
                if (m[i].optional_target)
                        skiff_json_gen_kv_bool(g, "optional", true);
                skiff_json_gen_map_close(g);
        }
        skiff_json_gen_array_close(g);
}

int skiff_gpu_plan_to_json(const struct skiff_gpu_plan *p, char **out, skiff_err_t *err)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(true);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_bool(g, "active", p->active);
        skiff_json_gen_kv_string(g, "source", skiff_nvenv_source_name(p->source));
        if (p->active) {
                _cleanup_free_ char *caps = skiff_nvenv_caps_string(p->caps);
                skiff_json_gen_kv_string(g, "capabilities", caps);
                skiff_json_gen_kv_string(g, "driverVersion", p->driver_version);
                skiff_json_gen_kv_string(g, "cudaVersion", p->cuda_version);
                gen_strv(g, "gpus", p->gpus);
                skiff_json_gen_string(g, "devices");
                skiff_json_gen_array_open(g);
                for (size_t i = 0; i < p->n_nodes; i++) {
                        const struct skiff_gpu_node *n = &p->nodes[i];
                        _cleanup_free_ char *s = xasprintf("%s c %u:%u %04o %s", n->path, n->major,
                                                           n->minor, n->mode, n->access);
                        skiff_json_gen_string(g, s);
                }
                skiff_json_gen_array_close(g);
                skiff_json_gen_string(g, "files");
                skiff_json_gen_array_open(g);
                for (size_t i = 0; i < p->n_files; i++) {
                        _cleanup_free_ char *s =
                            xasprintf("%s (%zu bytes)", p->files[i].path, p->files[i].len);
                        skiff_json_gen_string(g, s);
                }
                skiff_json_gen_array_close(g);
                skiff_json_gen_string(g, "links");
                skiff_json_gen_array_open(g);
                for (size_t i = 0; i < p->n_links; i++) {
                        _cleanup_free_ char *s =
                            xasprintf("%s -> %s", p->links[i].path, p->links[i].target);
                        skiff_json_gen_string(g, s);
                }
                skiff_json_gen_array_close(g);
                gen_mounts(g, "mounts", p->mounts, p->n_mounts);
                skiff_json_gen_kv_bool(g, "maskProc", p->mask_proc);
                gen_mounts(g, "procGpus", p->proc_gpus, p->n_proc_gpus);
                skiff_json_gen_kv_bool(g, "bindLdSoCache", p->bind_ld_so_cache);
                if (p->loader_link)
                        skiff_json_gen_kv_string(g, "loaderLink", p->loader_link);
                gen_strv(g, "env", p->env_set);
                if (p->ld_library_path)
                        skiff_json_gen_kv_string(g, "ldLibraryPathPrepend", p->ld_library_path);
                if (p->path_append)
                        skiff_json_gen_kv_string(g, "pathAppend", p->path_append);
                gen_strv(g, "cdiHooksNotRun", p->hooks);
        }
        skiff_json_gen_map_close(g);
        return skiff_json_gen_finish(g, out, NULL, err);
}
