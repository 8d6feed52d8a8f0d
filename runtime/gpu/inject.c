#include "gpu/inject.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "gpu/plan.h"
#include "oci/mounts.h"
#include "oci/spec.h"

#define HOST_LOADER "/lib64/ld-linux-x86-64.so.2"
#define TMPFS_SIZE  "size=16m"

/* --- spec edits ------------------------------------------------------------------------------ */

static void env_prepend(char ***env, const char *key, const char *dir, bool append)
{
        const char *old = skiff_strv_env_get(*env, key);
        _cleanup_free_ char *v = NULL;
        if (!old || !old[0])
                v = xstrdup(dir);
        else
                v = append ? xasprintf("%s:%s", old, dir) : xasprintf("%s:%s", dir, old);
        skiff_strv_env_set(env, key, v);
}

int skiff_gpu_inject_spec(const struct skiff_gpu_plan *p, struct skiff_spec *spec, skiff_err_t *err)
{
        if (!p->active)
                return 0;
        bool needs_process = p->env_set || p->ld_library_path || p->path_append || p->n_gids;
        if (needs_process && !spec->has_process)
                return skiff_error_set(err, EINVAL, "gpu: the spec has no `process` to edit");

        struct skiff_spec_linux *lx = &spec->linux_;
        for (size_t i = 0; i < p->n_nodes; i++) {
                const struct skiff_gpu_node *n = &p->nodes[i];
                struct skiff_spec_device *d = NULL;
                for (size_t j = 0; j < lx->n_devices && !d; j++)
                        if (strcmp(lx->devices[j].path, n->path) == 0)
                                d = &lx->devices[j];
                if (!d) {
                        lx->devices =
                            xreallocarray(lx->devices, lx->n_devices + 1, sizeof(*lx->devices));
                        d = &lx->devices[lx->n_devices++];
                        *d = (struct skiff_spec_device){.path = xstrdup(n->path)};
                }
                d->type = n->type;
                d->major = n->major;
                d->minor = n->minor;
                d->has_file_mode = true;
                d->file_mode = n->mode;
                d->has_uid = n->has_uid;
                d->uid = n->uid;
                d->has_gid = n->has_gid;
                d->gid = n->gid;
                if (!n->access[0])
                        continue;
                struct skiff_spec_resources *res = &lx->resources;
                lx->has_resources = true;
                res->devices =
                    xreallocarray(res->devices, res->n_devices + 1, sizeof(*res->devices));
                res->devices[res->n_devices++] = (struct skiff_spec_device_rule){
                    .allow = true,
                    .type = n->type,
                    .major = n->major,
                    .minor = n->minor,
                    .access = xstrdup(n->access),
                };
        }
        if (spec->has_process)
                skiff_gpu_inject_process(p, &spec->process);
        return 0;
}

void skiff_gpu_inject_process(const struct skiff_gpu_plan *p, struct skiff_spec_process *proc)
{
        if (!p->active)
                return;
        for (char **kv = p->env_set; kv && *kv; kv++) {
                const char *eq = strchr(*kv, '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *k = xstrndup(*kv, (size_t)(eq - *kv));
                /* A value the pod chose for the conda override wins (gpu.md §8.3). */
                if (strcmp(k, "CONDA_OVERRIDE_CUDA") == 0 && skiff_strv_env_get(proc->env, k))
                        continue;
                skiff_strv_env_set(&proc->env, k, eq + 1);
        }
        if (p->ld_library_path)
                env_prepend(&proc->env, "LD_LIBRARY_PATH", p->ld_library_path, false);
        if (p->path_append)
                env_prepend(&proc->env, "PATH", p->path_append, true);
        for (size_t i = 0; i < p->n_gids; i++) {
                struct skiff_spec_user *u = &proc->user;
                bool seen = false;
                for (size_t j = 0; j < u->n_additional_gids && !seen; j++)
                        seen = u->additional_gids[j] == p->gids[i];
                if (seen)
                        continue;
                u->additional_gids =
                    xreallocarray(u->additional_gids, u->n_additional_gids + 1, sizeof(uint32_t));
                u->additional_gids[u->n_additional_gids++] = p->gids[i];
        }
}

/* --- rootfs: the undo record ----------------------------------------------------------------- */

struct undo {
        int *mounts; /* O_PATH fds of mount roots we created, in order */
        size_t n_mounts;
        char **created; /* container paths we created (dirs and files), in order */
        bool *created_dir;
        size_t n_created;
};

static void undo_mount(struct undo *u, int fd)
{
        u->mounts = xreallocarray(u->mounts, u->n_mounts + 1, sizeof(int));
        u->mounts[u->n_mounts++] = fd;
}

static void undo_created(struct undo *u, const char *path, bool dir)
{
        u->created = xreallocarray(u->created, u->n_created + 1, sizeof(char *));
        u->created_dir = xreallocarray(u->created_dir, u->n_created + 1, sizeof(bool));
        u->created[u->n_created] = xstrdup(path);
        u->created_dir[u->n_created++] = dir;
}

static void fdpath(char buf[static 32], int fd)
{
        snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* Detaches what was mounted and removes what was created, newest first. Best effort: this runs
 * on a failure path and reports nothing. */
static void undo_run(struct undo *u, int rootfd)
{
        for (size_t i = u->n_mounts; i-- > 0;) {
                char p[32];
                fdpath(p, u->mounts[i]);
                (void)umount2(p, MNT_DETACH); /* failure leaves it to the namespace's end */
        }
        for (size_t i = u->n_created; i-- > 0;) {
                _cleanup_close_ int pfd = -EBADF;
                _cleanup_free_ char *name = NULL;
                if (skiff_mounts_open_parent_in_root(rootfd, u->created[i], false, &pfd, &name,
                                                     NULL) < 0)
                        continue;
                (void)unlinkat(pfd, name, u->created_dir[i] ? AT_REMOVEDIR : 0);
        }
}

static void undo_done(struct undo *u)
{
        for (size_t i = 0; i < u->n_mounts; i++)
                close(u->mounts[i]);
        free(u->mounts);
        for (size_t i = 0; i < u->n_created; i++)
                free(u->created[i]);
        free(u->created);
        free(u->created_dir);
        memset(u, 0, sizeof(*u));
}

/* Opens path in the rootfs, creating it (a directory, or an empty file with missing parent
 * directories) when missing, and records every component it had to create. */
static int open_or_create(int rootfd, const char *path, bool dir, struct undo *u, int *ret_fd,
                          skiff_err_t *err)
{
        _cleanup_free_ char *clean = skiff_path_clean(path);
        _cleanup_strv_ char **missing = NULL;
        /* Find the missing tail: walk prefixes until the first that does not exist. */
        for (char *s = clean + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                _cleanup_free_ char *prefix = xstrndup(clean, (size_t)(s - clean));
                _cleanup_close_ int fd = -EBADF;
                int r =
                    skiff_mounts_open_in_root(rootfd, prefix, SKIFF_MOUNTS_NO_CREATE, &fd, NULL);
                if (r == -ENOENT) {
                        for (char *t = s;; t++) {
                                if (*t == '/' || *t == '\0')
                                        skiff_strv_push_take(&missing,
                                                             xstrndup(clean, (size_t)(t - clean)));
                                if (*t == '\0')
                                        break;
                        }
                        break;
                }
                if (*s == '\0')
                        break;
        }
        int r = skiff_mounts_open_in_root(
            rootfd, clean, dir ? SKIFF_MOUNTS_MKDIR : SKIFF_MOUNTS_MKFILE, ret_fd, err);
        size_t n = skiff_strv_len(missing);
        for (size_t i = 0; i < n; i++) {
                /* Record what exists now, even on failure, so the undo can remove it. */
                _cleanup_close_ int fd = -EBADF;
                if (skiff_mounts_open_in_root(rootfd, missing[i], SKIFF_MOUNTS_NO_CREATE, &fd,
                                              NULL) == 0)
                        undo_created(u, missing[i], i + 1 < n || dir);
        }
        return r;
}

/* --- rootfs: helpers inside our own tmpfs ---------------------------------------------------- */

/* mkdir -p of the directory part of rel (relative to dirfd, a fresh tmpfs we own). */
static int mkdir_parents_at(int dirfd, const char *rel, skiff_err_t *err)
{
        _cleanup_free_ char *dir = skiff_path_dirname(rel);
        if (strcmp(dir, ".") == 0)
                return 0;
        for (char *s = dir;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                if (mkdirat(dirfd, dir, 0755) < 0 && errno != EEXIST)
                        return skiff_error_set_errno(err, errno, "gpu: mkdir `%s`", dir);
                *s = c;
                if (!c)
                        break;
        }
        return 0;
}

static int write_at(int dirfd, const char *rel, const char *data, size_t len, mode_t mode,
                    skiff_err_t *err)
{
        int r = mkdir_parents_at(dirfd, rel, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd =
            openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "gpu: create `%s`", rel);
        r = skiff_fs_write_all(fd, data, len);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "gpu: write `%s`", rel);
        if (fchmod(fd, mode) < 0)
                return skiff_error_set_errno(err, errno, "gpu: chmod `%s`", rel);
        return 0;
}

/* Binds source onto the inode target_fd names. */
static int bind_onto(const char *source, int target_fd, const char *target, skiff_err_t *err)
{
        char p[32];
        fdpath(p, target_fd);
        if (mount(source, p, NULL, MS_BIND, NULL) < 0)
                return skiff_error_set_errno(err, errno, "gpu: bind `%s` on `%s`", source, target);
        return 0;
}

/* Binds source on the container path target (which must exist), then applies flags with a
 * remount through a fresh fd of the new mount (an fd opened before the bind names the covered
 * inode, not the mount). *ret_mount_fd (optional) gets that fd. */
static int bind_file(int rootfd, const char *source, const char *target, unsigned long flags,
                     int *ret_mount_fd, skiff_err_t *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, target, SKIFF_MOUNTS_NO_CREATE, &fd, err);
        if (r < 0)
                return r;
        r = bind_onto(source, fd, target, err);
        if (r < 0)
                return r;
        _cleanup_close_ int mfd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, target, SKIFF_MOUNTS_NO_CREATE, &mfd, err);
        if (r < 0)
                return r;
        char p[32];
        fdpath(p, mfd);
        if (flags && mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
                return skiff_error_set_errno(err, errno, "gpu: remount `%s`", target);
        if (ret_mount_fd)
                *ret_mount_fd = TAKE_FD(mfd);
        return 0;
}

static bool under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Mounts a tmpfs at path (created if needed) and returns an O_PATH fd of its root plus an
 * O_DIRECTORY fd for populating it. */
static int mount_tmpfs(int rootfd, const char *path, const char *data, struct undo *u,
                       int *ret_dirfd, skiff_err_t *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = open_or_create(rootfd, path, true, u, &fd, err);
        if (r < 0)
                return skiff_error_wrap(err, "gpu: create `%s`", path);
        char p[32];
        fdpath(p, fd);
        if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, data) < 0)
                return skiff_error_set_errno(err, errno, "gpu: mount tmpfs on `%s`", path);
        int mfd = -EBADF;
        r = skiff_mounts_open_in_root(rootfd, path, SKIFF_MOUNTS_NO_CREATE, &mfd, err);
        if (r < 0)
                return r;
        undo_mount(u, mfd);
        fdpath(p, mfd);
        int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return skiff_error_set_errno(err, errno, "gpu: open `%s`", path);
        *ret_dirfd = dfd;
        return 0;
}

static int remount_ro(struct undo *u, const char *path, unsigned long extra, skiff_err_t *err)
{
        char p[32];
        fdpath(p, u->mounts[u->n_mounts - 1]);
        if (mount(NULL, p, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | extra, NULL) < 0)
                return skiff_error_set_errno(err, errno, "gpu: remount `%s` read-only", path);
        return 0;
}

/* --- rootfs: the steps ----------------------------------------------------------------------- */

static int setup_driver_dir(int rootfd, const struct skiff_gpu_plan *p, struct undo *u,
                            skiff_err_t *err)
{
        _cleanup_close_ int dfd = -EBADF;
        int r = mount_tmpfs(rootfd, SKIFF_GPU_DRIVER_DIR, "mode=0755," TMPFS_SIZE, u, &dfd, err);
        if (r < 0)
                return r;
        const size_t dl = strlen(SKIFF_GPU_DRIVER_DIR) + 1;
        for (size_t i = 0; i < p->n_files; i++) {
                const struct skiff_gpu_file *f = &p->files[i];
                if (!under(f->path, SKIFF_GPU_DRIVER_DIR))
                        continue;
                r = write_at(dfd, f->path + dl, f->data, f->len, f->mode, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < p->n_links; i++) {
                const char *rel = p->links[i].path + dl;
                r = mkdir_parents_at(dfd, rel, err);
                if (r < 0)
                        return r;
                if (symlinkat(p->links[i].target, dfd, rel) < 0)
                        return skiff_error_set_errno(err, errno, "gpu: symlink `%s`",
                                                     p->links[i].path);
        }
        /* Placeholders first, while the tmpfs is writable. */
        for (size_t i = 0; i < p->n_mounts; i++) {
                const struct skiff_gpu_mount *m = &p->mounts[i];
                if (!under(m->target, SKIFF_GPU_DRIVER_DIR))
                        continue;
                const char *rel = m->target + dl;
                r = mkdir_parents_at(dfd, rel, err);
                if (r < 0)
                        return r;
                if (m->is_dir ? mkdirat(dfd, rel, 0755) < 0
                              : mknodat(dfd, rel, S_IFREG | 0644, 0) < 0)
                        return skiff_error_set_errno(err, errno, "gpu: create `%s`", m->target);
        }
        for (size_t i = 0; i < p->n_mounts; i++) {
                const struct skiff_gpu_mount *m = &p->mounts[i];
                if (!under(m->target, SKIFF_GPU_DRIVER_DIR))
                        continue;
                /* Submounts of the tmpfs go away with it: no undo entry needed. */
                r = bind_file(rootfd, m->source, m->target, MS_RDONLY | MS_NOSUID | MS_NODEV, NULL,
                              err);
                if (r < 0)
                        return r;
        }
        return remount_ro(u, SKIFF_GPU_DRIVER_DIR, 0, err);
}

static int setup_other_mounts(int rootfd, const struct skiff_gpu_plan *p, struct undo *u,
                              skiff_err_t *err)
{
        for (size_t i = 0; i < p->n_mounts; i++) {
                const struct skiff_gpu_mount *m = &p->mounts[i];
                if (under(m->target, SKIFF_GPU_DRIVER_DIR))
                        continue;
                _cleanup_close_ int fd = -EBADF;
                int r = open_or_create(rootfd, m->target, m->is_dir, u, &fd, err);
                if (r < 0) {
                        if (m->optional_target)
                                continue;
                        return skiff_error_wrap(err, "gpu: create `%s`", m->target);
                }
                int mfd = -EBADF;
                r = bind_file(rootfd, m->source, m->target, MS_NOSUID | MS_NODEV, &mfd, err);
                if (r < 0)
                        return r;
                undo_mount(u, mfd);
        }
        return 0;
}

static int setup_ld_so_cache(int rootfd, const struct skiff_gpu_plan *p, struct undo *u,
                             skiff_err_t *err)
{
        if (!p->bind_ld_so_cache)
                return 0;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_error_ skiff_err_t e = NULL;
        if (open_or_create(rootfd, "/etc/ld.so.cache", false, u, &fd, &e) < 0)
                return 0; /* read-only or odd rootfs: FHS consumers go without a cache */
        _cleanup_close_ int src = -EBADF;
        int r = skiff_mounts_open_in_root(rootfd, SKIFF_GPU_DRIVER_DIR "/etc/ld.so.cache",
                                          SKIFF_MOUNTS_NO_CREATE, &src, err);
        if (r < 0)
                return r;
        char sp[32];
        fdpath(sp, src);
        int mfd = -EBADF;
        r = bind_file(rootfd, sp, "/etc/ld.so.cache", MS_RDONLY | MS_NOSUID | MS_NODEV, &mfd, err);
        if (r < 0)
                return r;
        undo_mount(u, mfd);
        return 0;
}

static int setup_loader(int rootfd, const struct skiff_gpu_plan *p, struct undo *u,
                        skiff_err_t *err)
{
        if (!p->loader_link)
                return 0;
        _cleanup_close_ int fd = -EBADF;
        if (skiff_mounts_open_in_root(rootfd, HOST_LOADER, SKIFF_MOUNTS_NO_CREATE, &fd, NULL) !=
            -ENOENT)
                return 0; /* taken (or unusable): leave it */
        _cleanup_close_ int dfd = -EBADF;
        int r = open_or_create(rootfd, "/lib64", true, u, &dfd, err);
        if (r < 0)
                return 0; /* read-only rootfs: nvidia-smi needs an explicit loader then */
        _cleanup_close_ int pfd = -EBADF;
        _cleanup_free_ char *name = NULL;
        r = skiff_mounts_open_parent_in_root(rootfd, HOST_LOADER, false, &pfd, &name, err);
        if (r < 0)
                return r;
        char pp[32];
        fdpath(pp, pfd);
        _cleanup_close_ int wfd = open(pp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (wfd < 0 || symlinkat(p->loader_link, wfd, name) < 0)
                return 0; /* EROFS/EEXIST: best effort */
        undo_created(u, HOST_LOADER, false);
        return 0;
}

static int setup_proc(int rootfd, const struct skiff_gpu_plan *p, struct undo *u, skiff_err_t *err)
{
        if (!p->mask_proc)
                return 0;
        _cleanup_close_ int probe = -EBADF;
        if (skiff_mounts_open_in_root(rootfd, SKIFF_GPU_PROC_DIR, SKIFF_MOUNTS_NO_CREATE, &probe,
                                      NULL) < 0)
                return 0; /* no procfs at /proc (or no driver entry in it): nothing to mask */
        _cleanup_close_ int dfd = -EBADF;
        int r = mount_tmpfs(rootfd, SKIFF_GPU_PROC_DIR, "mode=0555,size=1m", u, &dfd, err);
        if (r < 0)
                return r;
        r = write_at(dfd, "params", p->proc_params, strlen(p->proc_params), 0444, err);
        if (r < 0)
                return r;
        if (p->proc_version_source) {
                _cleanup_free_ char *v = NULL;
                size_t len = 0;
                if (skiff_fs_read_file(p->proc_version_source, 1u << 16, &v, &len, NULL) == 0) {
                        r = write_at(dfd, "version", v, len, 0444, err);
                        if (r < 0)
                                return r;
                }
        }
        if (p->n_proc_gpus && mkdirat(dfd, "gpus", 0555) < 0)
                return skiff_error_set_errno(err, errno, "gpu: mkdir `%s/gpus`",
                                             SKIFF_GPU_PROC_DIR);
        for (size_t i = 0; i < p->n_proc_gpus; i++) {
                const char *rel = p->proc_gpus[i].target + strlen(SKIFF_GPU_PROC_DIR) + 1;
                if (mkdirat(dfd, rel, 0555) < 0)
                        return skiff_error_set_errno(err, errno, "gpu: mkdir `%s`",
                                                     p->proc_gpus[i].target);
                r = bind_file(rootfd, p->proc_gpus[i].source, p->proc_gpus[i].target,
                              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
                if (r < 0)
                        return r;
        }
        return remount_ro(u, SKIFF_GPU_PROC_DIR, MS_NOEXEC, err);
}

int skiff_gpu_inject_rootfs(int rootfd, const char *rootfs, void *data, skiff_err_t *err)
{
        const struct skiff_gpu_plan *p = data;
        if (!p || !p->active)
                return 0;
        struct undo u = {0};
        int r = setup_driver_dir(rootfd, p, &u, err);
        if (r >= 0)
                r = setup_other_mounts(rootfd, p, &u, err);
        if (r >= 0)
                r = setup_ld_so_cache(rootfd, p, &u, err);
        if (r >= 0)
                r = setup_loader(rootfd, p, &u, err);
        if (r >= 0)
                r = setup_proc(rootfd, p, &u, err);
        if (r < 0) {
                undo_run(&u, rootfd);
                undo_done(&u);
                return skiff_error_wrap(err, "inject GPUs into `%s`", rootfs ? rootfs : "rootfs");
        }
        undo_done(&u);
        return 0;
}
