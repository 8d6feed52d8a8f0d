#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/inject.h"
#include "gpu/ldcache.h"
#include "gpu/plan.h"
#include "oci/spec.h"

#define FIX    SKIFF_SOURCE_DIR "/test/fixtures/gpu/"
#define DRIVER FIX "driver"
#define V      "580.159.04"
#define LOADER "/nix/store/00000000000000000000000000000000-glibc-2.40/lib/ld-linux-x86-64.so.2"

SKIFF_DEFINE_CLEANUP(struct skiff_spec *, skiff_spec_free)
SKIFF_DEFINE_CLEANUP(struct skiff_gpu_plan *, skiff_gpu_plan_free)
SKIFF_DEFINE_CLEANUP(struct skiff_ldcache *, skiff_ldcache_free)
#define _cleanup_plan_ _cleanup_(skiff_gpu_plan_freep)
#define _cleanup_spec_ _cleanup_(skiff_spec_freep)

static struct skiff_spec *spec_json(const char *env, const char *devices)
{
        _cleanup_free_ char *json =
            xasprintf("{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"rootfs\"},"
                      "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[%s],"
                      "\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[44]}},"
                      "\"linux\":{\"devices\":[%s]}}",
                      env, devices);
        struct skiff_spec *s = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_spec_parse(json, strlen(json), &s, &err), 0, "%s", skiff_error_msg(err));
        return s;
}

static struct skiff_gpu_plan *make_plan(const char *env, const char *loader)
{
        struct skiff_gpu_config cfg = {.policy = SKIFF_GPU_POLICY_DEFAULT, .loader = loader};
        cfg.policy.accept_env_unprivileged = true;
        cfg.discover = (struct skiff_discover_config){
            .driver_root = DRIVER,
            .proc_root = DRIVER "/proc",
            .dev_root = DRIVER "/dev",
            .run_root = DRIVER "/run",
            .mps_dir = DRIVER "/no-mps",
        };
        _cleanup_spec_ struct skiff_spec *s = spec_json(env, "");
        struct skiff_gpu_plan *p = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_gpu_plan_for_spec(s, &cfg, &p, &err), 0, "%s", skiff_error_msg(err));
        return p;
}

Test(inject, spec_gets_nodes_rules_env_and_gids)
{
        _cleanup_plan_ struct skiff_gpu_plan *p = make_plan("\"NVIDIA_VISIBLE_DEVICES=0\"", NULL);
        free(p->gids);
        p->gids = xcalloc(2, sizeof(uint32_t));
        p->gids[0] = 44; /* already in the spec */
        p->gids[1] = 27;
        p->n_gids = 2;
        _cleanup_spec_ struct skiff_spec *s =
            spec_json("\"PATH=/bin\",\"LD_LIBRARY_PATH=/opt/lib\",\"CONDA_OVERRIDE_CUDA=12.0\"",
                      "{\"path\":\"/dev/nvidia0\",\"type\":\"c\",\"major\":1,\"minor\":1}");
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_gpu_inject_spec(p, s, &err), 0, "%s", skiff_error_msg(err));
        struct skiff_spec_linux *lx = &s->linux_;
        /* nvidia0 replaced in place, nvidiactl + uvm + uvm-tools appended */
        cr_assert_eq(lx->n_devices, 4);
        cr_assert_str_eq(lx->devices[0].path, "/dev/nvidia0");
        cr_assert_eq(lx->devices[0].major, 195);
        cr_assert_eq(lx->devices[0].minor, 0);
        cr_assert(lx->devices[0].has_file_mode && lx->devices[0].file_mode == 0666);
        cr_assert(lx->has_resources);
        cr_assert_eq(lx->resources.n_devices, 4);
        for (size_t i = 0; i < 4; i++) {
                cr_assert(lx->resources.devices[i].allow);
                cr_assert_eq(lx->resources.devices[i].type, 'c');
                cr_assert_str_eq(lx->resources.devices[i].access, "rw");
        }
        char **env = s->process.env;
        cr_assert_str_eq(skiff_strv_env_get(env, "LD_LIBRARY_PATH"), SKIFF_GPU_LIB_DIR ":/opt/lib");
        cr_assert_str_eq(skiff_strv_env_get(env, "PATH"), "/bin:" SKIFF_GPU_BIN_DIR);
        /* The plan (built from another env) carries CONDA_OVERRIDE_CUDA=13.0, but the pod's own
         * value wins. */
        cr_assert_str_eq(skiff_strv_env_get(p->env_set, "CONDA_OVERRIDE_CUDA"), "13.0");
        cr_assert_str_eq(skiff_strv_env_get(env, "CONDA_OVERRIDE_CUDA"), "12.0");
        cr_assert_eq(s->process.user.n_additional_gids, 2);
        cr_assert_eq(s->process.user.additional_gids[1], 27);
}

Test(inject, inactive_plan_changes_nothing)
{
        struct skiff_gpu_plan p = {0};
        _cleanup_spec_ struct skiff_spec *s = spec_json("\"PATH=/bin\"", "");
        cr_assert_eq(skiff_gpu_inject_spec(&p, s, NULL), 0);
        cr_assert_eq(s->linux_.n_devices, 0);
        cr_assert_eq(skiff_strv_len(s->process.env), 1);
        cr_assert_eq(skiff_gpu_inject_rootfs(-1, "x", &p, NULL), 0);
}

static char *scratch; /* the current test's scratch directory, removed by fini */

static void remove_scratch(void)
{
        if (!scratch)
                return;
        (void)umount2(scratch, MNT_DETACH); /* the tmpfs (and everything under it) */
        (void)rmdir(scratch);
        free(scratch);
        scratch = NULL;
}

TestSuite(inject, .fini = remove_scratch);

/* A private mount namespace (criterion forks each test) and a scratch rootfs with an /etc and a
 * stand-in for the container's procfs. */
static char *setup_rootfs(void)
{
        if (geteuid() != 0)
                cr_skip_test("needs root");
        if (unshare(CLONE_NEWNS) < 0)
                cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(errno));
        cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        char *dir = xstrdup("/tmp/skiff-test-inject-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        /* A tmpfs of our own, so that nothing outlives the test's mount namespace. */
        scratch = xstrdup(dir);
        cr_assert_eq(mount("tmpfs", dir, "tmpfs", 0, "mode=0755"), 0);
        _cleanup_free_ char *cmd = xasprintf("mkdir -p %s/etc %s/proc/driver/nvidia/gpus && "
                                             "echo host-params > %s/proc/driver/nvidia/params",
                                             dir, dir, dir);
        cr_assert_eq(system(cmd), 0);
        return dir;
}

static char *slurp(const char *path)
{
        char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_fs_read_file(path, 1 << 20, &buf, &len, &err), 0, "%s",
                     skiff_error_msg(err));
        return buf;
}

Test(inject, rootfs_gets_driver_dir_cache_proc_mask_and_loader)
{
        _cleanup_free_ char *root = setup_rootfs();
        _cleanup_plan_ struct skiff_gpu_plan *p = make_plan("\"NVIDIA_VISIBLE_DEVICES=1\"", LOADER);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_gpu_inject_rootfs(rootfd, root, p, &err), 0, "%s", skiff_error_msg(err));

        /* libraries: same bytes as the host file, read-only */
        _cleanup_free_ char *lib = xasprintf("%s" SKIFF_GPU_LIB_DIR "/libcuda.so." V, root);
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        cr_assert_eq(skiff_fs_read_file(lib, 1 << 20, &a, &la, NULL), 0);
        cr_assert_eq(skiff_fs_read_file(DRIVER "/lib64/libcuda.so." V, 1 << 20, &b, &lb, NULL), 0);
        cr_assert(la == lb && memcmp(a, b, la) == 0);
        cr_assert_lt(open(lib, O_WRONLY | O_CLOEXEC), 0);
        cr_assert_eq(errno, EROFS);
        _cleanup_free_ char *newfile = xasprintf("%s" SKIFF_GPU_DRIVER_DIR "/x", root);
        cr_assert_lt(open(newfile, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0);
        cr_assert_eq(errno, EROFS);

        /* SONAME and dev links resolve to the library */
        _cleanup_free_ char *l1 = xasprintf("%s" SKIFF_GPU_LIB_DIR "/libcuda.so", root);
        char target[256];
        ssize_t n = readlink(l1, target, sizeof(target) - 1);
        cr_assert_gt(n, 0);
        target[n] = '\0';
        cr_assert_str_eq(target, "libcuda.so.1");
        struct stat st;
        cr_assert_eq(stat(l1, &st), 0);
        cr_assert_eq((size_t)st.st_size, lb);

        /* utilities */
        _cleanup_free_ char *smi = xasprintf("%s" SKIFF_GPU_BIN_DIR "/nvidia-smi", root);
        cr_assert_eq(access(smi, X_OK), 0);

        /* /etc/ld.so.cache is our cache */
        _cleanup_free_ char *cache = xasprintf("%s/etc/ld.so.cache", root);
        _cleanup_(skiff_ldcache_freep) struct skiff_ldcache *c = NULL;
        cr_assert_eq(skiff_ldcache_load(cache, &c, NULL), 0);
        const struct skiff_ldcache_entry *e =
            skiff_ldcache_lookup(c, "libcuda.so.1", SKIFF_LDCACHE_ARCH_X86_64);
        cr_assert_str_eq(e->value, SKIFF_GPU_LIB_DIR "/libcuda.so.1");
        if (access("/sbin/ldconfig", X_OK) == 0) {
                _cleanup_free_ char *cmd =
                    xasprintf("/sbin/ldconfig -p -C %s | grep -q 'libnvidia-ptxjitcompiler.so.1 "
                              "(libc6,x86-64) => " SKIFF_GPU_LIB_DIR "/'",
                              cache);
                cr_assert_eq(system(cmd), 0, "ldconfig does not list our cache");
        }

        /* /proc/driver/nvidia: masked params, version copy, only the selected GPU */
        _cleanup_free_ char *params = xasprintf("%s/proc/driver/nvidia/params", root);
        _cleanup_free_ char *pt = slurp(params);
        cr_assert(strstr(pt, "ModifyDeviceFiles: 0\n"), "%s", pt);
        cr_assert_null(strstr(pt, "host-params"));
        _cleanup_free_ char *ver = xasprintf("%s/proc/driver/nvidia/version", root);
        _cleanup_free_ char *vt = slurp(ver);
        cr_assert(strstr(vt, V));
        _cleanup_free_ char *info =
            xasprintf("%s/proc/driver/nvidia/gpus/0000:00:1f.0/information", root);
        _cleanup_free_ char *it = slurp(info);
        cr_assert(strstr(it, "GPU-9a8b7c6d"));
        _cleanup_free_ char *other = xasprintf("%s/proc/driver/nvidia/gpus/0000:00:1e.0", root);
        cr_assert_lt(access(other, F_OK), 0);
        cr_assert_lt(open(params, O_WRONLY | O_CLOEXEC), 0);

        /* socket and loader */
        _cleanup_free_ char *sock = xasprintf("%s/run/nvidia-persistenced/socket", root);
        cr_assert_eq(access(sock, F_OK), 0);
        _cleanup_free_ char *ld = xasprintf("%s/lib64/ld-linux-x86-64.so.2", root);
        n = readlink(ld, target, sizeof(target) - 1);
        cr_assert_gt(n, 0);
        target[n] = '\0';
        cr_assert_str_eq(target, LOADER);
}

static bool mounted_under(const char *root)
{
        _cleanup_free_ char *mi = slurp("/proc/self/mountinfo");
        _cleanup_strv_ char **lines = skiff_strv_split(mi, "\n", true);
        _cleanup_free_ char *needle = xasprintf(" %s/", root);
        for (char **l = lines; *l; l++)
                if (strstr(*l, needle))
                        return true;
        return false;
}

Test(inject, failure_rolls_back_mounts_and_created_paths)
{
        _cleanup_free_ char *root = setup_rootfs();
        _cleanup_plan_ struct skiff_gpu_plan *p = make_plan("\"NVIDIA_VISIBLE_DEVICES=0\"", LOADER);
        /* Fail late: a GPU proc directory that does not exist on the host, after the driver
         * dir, the sockets, the cache and the loader are in place. */
        free(p->proc_gpus[0].source);
        p->proc_gpus[0].source = xstrdup("/nonexistent/gpus/0000:00:1e.0");
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_gpu_inject_rootfs(rootfd, root, p, &err), -ENOENT);
        cr_assert(strstr(skiff_error_msg(err), "inject GPUs into `"), "%s", skiff_error_msg(err));
        cr_assert(strstr(skiff_error_msg(err), "gpu: bind `/nonexistent/gpus/0000:00:1e.0` on "
                                               "`/proc/driver/nvidia/gpus/0000:00:1e.0`"),
                  "%s", skiff_error_msg(err));
        cr_assert_not(mounted_under(root), "mounts left under %s", root);
        const char *gone[] = {"/run", "/lib64", "/etc/ld.so.cache"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(gone); i++) {
                _cleanup_free_ char *path = xasprintf("%s%s", root, gone[i]);
                cr_assert_lt(access(path, F_OK), 0, "%s was left behind", gone[i]);
        }
        /* What existed before is still there. */
        _cleanup_free_ char *etc = xasprintf("%s/etc", root);
        cr_assert_eq(access(etc, F_OK), 0);
        _cleanup_free_ char *params = xasprintf("%s/proc/driver/nvidia/params", root);
        _cleanup_free_ char *pt = slurp(params);
        cr_assert_str_eq(pt, "host-params\n");
}

Test(inject, existing_ld_so_cache_is_covered_not_replaced)
{
        _cleanup_free_ char *root = setup_rootfs();
        _cleanup_free_ char *cache = xasprintf("%s/etc/ld.so.cache", root);
        cr_assert_eq(skiff_fs_write_file_atomic(cache, "old", 3, 0644, false, NULL), 0);
        _cleanup_plan_ struct skiff_gpu_plan *p =
            make_plan("\"NVIDIA_VISIBLE_DEVICES=none\"", NULL);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(skiff_gpu_inject_rootfs(rootfd, root, p, NULL), 0);
        _cleanup_(skiff_ldcache_freep) struct skiff_ldcache *c = NULL;
        cr_assert_eq(skiff_ldcache_load(cache, &c, NULL), 0);
        cr_assert_eq(umount2(cache, MNT_DETACH), 0);
        _cleanup_free_ char *t = slurp(cache);
        cr_assert_str_eq(t, "old");
        _cleanup_free_ char *gpus = xasprintf("%s/proc/driver/nvidia/gpus", root);
        cr_assert_lt(access(gpus, F_OK), 0); /* none: no GPU directories */
}
