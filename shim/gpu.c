#include "shim/gpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/log.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/assemble.h"
#include "gpu/inject.h"
#include "gpu/nvenv.h"
#include "gpu/plan.h"
#include "oci/spec.h"
#include "shim/env.h"
#include "store/config.h"

/* Driver roots tried in order when the node config names none: a dedicated root (the GPU
 * operator's driver container, cloud images) wins over `/`, whose ld.so.cache may well list the
 * libraries of /usr/local/nvidia but whose bin directories lack its utilities. */
#define NVIDIA_MAJOR 195

static const char *const auto_roots[] = {"/run/nvidia/driver", "/usr/local/nvidia", "/", NULL};

/* A GPU container: the process part of its plan (env, GIDs) for its exec processes. */
struct container {
        struct container *next;
        char *id;
        struct skiff_gpu_plan *exec; /* only active, env_set, ld_library_path, path_append, gids */
};

static struct container *containers;

SKIFF_DEFINE_CLEANUP(struct skiff_gpu_plan *, skiff_gpu_plan_free)

void skiff_shim_gpu_config(const struct skiff_config *nc, struct skiff_gpu_config *out)
{
        *out = (struct skiff_gpu_config){.policy = SKIFF_GPU_POLICY_DEFAULT};
        if (!nc)
                return;
        out->policy.accept_env_unprivileged = nc->gpu.accept_env_unprivileged;
        out->discover.driver_root = nc->gpu.driver_root;
        out->discover.probe_cuda = nc->gpu.probe_cuda;
        out->cdi_dirs = (const char *const *)nc->gpu.cdi_dirs;
}

/* Whether spec might ask for GPUs: a superset of nvenv.h's channels (an NVIDIA node in
 * linux.devices, a CDI annotation, a mount under the device plugin's directory, the env
 * variable), checked here without calling into runtime/gpu, so that containers without GPUs
 * touch neither files nor the GPU code's pages (shim PSS). The real policy decides the rest. */
static bool may_request_gpus(const struct skiff_spec *spec)
{
        for (size_t i = 0; i < spec->linux_.n_devices; i++)
                if (spec->linux_.devices[i].major == NVIDIA_MAJOR)
                        return true;
        for (char **kv = spec->annotations; kv && kv[0] && kv[1]; kv += 2)
                if (strncmp(kv[0], SKIFF_NVENV_CDI_PREFIX, strlen(SKIFF_NVENV_CDI_PREFIX)) == 0)
                        return true;
        /* nvenv.c cleans the destination first: match its last component anywhere. */
        for (size_t i = 0; i < spec->n_mounts; i++)
                if (spec->mounts[i].destination &&
                    strstr(spec->mounts[i].destination, strrchr(SKIFF_NVENV_MOUNT_DIR, '/') + 1))
                        return true;
        return spec->has_process && skiff_strv_env_get(spec->process.env, "NVIDIA_VISIBLE_DEVICES");
}

static bool is_dir(const char *p)
{
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* plan_for_spec with the configured driver root, or each automatic one that exists until
 * discovery succeeds (-ENODEV: no driver there, try the next). The error reported is that of the
 * first root that found a driver (an unknown device, a requirement), else `/`'s. */
static int plan_auto(const struct skiff_spec *spec, struct skiff_gpu_config *cfg,
                     struct skiff_gpu_plan **ret, skiff_err_t *err)
{
        if (cfg->discover.driver_root)
                return skiff_gpu_plan_for_spec(spec, cfg, ret, err);
        skiff_err_t answer = NULL;
        int answer_r = -ENODEV;
        for (const char *const *root = auto_roots; *root; root++) {
                bool last = !root[1];
                if (!last && !is_dir(*root))
                        continue;
                cfg->discover.driver_root = *root;
                skiff_err_t e = NULL;
                int r = skiff_gpu_plan_for_spec(spec, cfg, ret, &e);
                cfg->discover.driver_root = NULL;
                if (r >= 0) {
                        skiff_error_free(&answer);
                        return r;
                }
                if (r != -ENODEV || last) {
                        skiff_error_free(&answer);
                        answer = e;
                        answer_r = r;
                        break;
                }
                skiff_error_free(&e);
        }
        *err = answer;
        return answer_r;
}

int skiff_shim_gpu_prepare(const char *id, struct skiff_spec *spec, struct skiff_gpu_plan **plan,
                           skiff_err_t *err)
{
        *plan = NULL;
        if (!may_request_gpus(spec))
                return 0;
        const struct skiff_config *nc = NULL;
        int r = skiff_shim_env_config(&nc, err);
        if (r < 0)
                return r;
        struct skiff_gpu_config cfg;
        skiff_shim_gpu_config(nc, &cfg);
        const struct skiff_assemble_plan *env = skiff_shim_env_plan(id);
        if (env) {
                cfg.requires_cuda = env->requires_cuda;
                cfg.loader = env->loader;
        }
        _cleanup_(skiff_gpu_plan_freep) struct skiff_gpu_plan *p = NULL;
        r = plan_auto(spec, &cfg, &p, err);
        if (r >= 0 && p->active)
                r = skiff_gpu_inject_spec(p, spec, err);
        if (r < 0)
                return skiff_error_wrap(err, "skiff: gpu");
        if (!p->active)
                return 0;
        log_info("gpu: id=%s source=%s gpus=%zu driver=%s cuda=%s", id,
                 skiff_nvenv_source_name(p->source), skiff_strv_len(p->gpus),
                 p->driver_version ? p->driver_version : "?",
                 p->cuda_version ? p->cuda_version : "?");
        *plan = TAKE_PTR(p);
        return 0;
}

void skiff_shim_gpu_created(const char *id, const struct skiff_gpu_plan *plan)
{
        if (!plan || !plan->active)
                return;
        skiff_shim_gpu_release(id);
        struct skiff_gpu_plan *x = xcalloc(1, sizeof(*x));
        x->active = true;
        x->env_set = skiff_strv_copy(plan->env_set);
        x->ld_library_path = plan->ld_library_path ? xstrdup(plan->ld_library_path) : NULL;
        x->path_append = plan->path_append ? xstrdup(plan->path_append) : NULL;
        if (plan->n_gids) {
                x->gids = xmemdup(plan->gids, plan->n_gids * sizeof(*plan->gids));
                x->n_gids = plan->n_gids;
        }
        struct container *c = xcalloc(1, sizeof(*c));
        c->id = xstrdup(id);
        c->exec = x;
        c->next = containers;
        containers = c;
}

void skiff_shim_gpu_exec(const char *id, struct skiff_spec_process *proc)
{
        for (struct container *c = containers; c; c = c->next)
                if (strcmp(c->id, id) == 0) {
                        skiff_gpu_inject_process(c->exec, proc);
                        return;
                }
}

void skiff_shim_gpu_release(const char *id)
{
        for (struct container **pp = &containers; *pp; pp = &(*pp)->next) {
                struct container *c = *pp;
                if (strcmp(c->id, id) != 0)
                        continue;
                *pp = c->next;
                skiff_gpu_plan_free(c->exec);
                free(c->id);
                free(c);
                return;
        }
}

void skiff_shim_gpu_shutdown(void)
{
        while (containers)
                skiff_shim_gpu_release(containers->id);
}
