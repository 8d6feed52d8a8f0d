/* skiff gpu discover | plan | exec | ldcache: inspect NVIDIA driver discovery and the GPU plan a
 * container would get, and try a plan in a throw-away chroot (node diagnostics,
 * e2e/gpu/h100.sh). `exec` is a test harness, not a container: no cgroup, no user or pid
 * namespace, the command runs as root in a private mount namespace chrooted into ROOTFS. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/json.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "gpu/discover.h"
#include "gpu/inject.h"
#include "gpu/ldcache.h"
#include "gpu/nvenv.h"
#include "gpu/plan.h"
#include "oci/spec.h"

#define MAX_CDI_DIRS 8

static void usage(FILE *f)
{
        fprintf(
            f,
            "usage: skiff gpu discover [OPTIONS]\n"
            "       skiff gpu plan [OPTIONS] [--env K=V]... [--annotation K=V]... [--bundle DIR]\n"
            "       skiff gpu exec [OPTIONS] [--env K=V]... --rootfs DIR -- CMD [ARG]...\n"
            "       skiff gpu ldcache FILE\n"
            "\n"
            "discover  print what driver discovery finds (no NVML, nothing loaded)\n"
            "plan      print the GPU plan for a container whose env/annotations are given\n"
            "          (or whose config.json is in --bundle DIR)\n"
            "exec      apply the plan to DIR in a private mount namespace (tmpfs /dev with the\n"
            "          plan's nodes, procfs, /run/opengl-driver, ...), chroot and run CMD\n"
            "          with the plan's env (a test harness: no cgroup, runs as root)\n"
            "ldcache   list an ld.so.cache file like `ldconfig -p -C FILE`\n"
            "\n"
            "options:\n"
            "  --driver-root DIR    driver root (default /)\n"
            "  --proc-root DIR      procfs (default /proc)\n"
            "  --dev-root DIR       host device nodes (default /dev)\n"
            "  --run-root DIR       nvidia-persistenced socket dir parent (default /run)\n"
            "  --ldcache FILE       host ld.so.cache (default <driver root>/etc/ld.so.cache)\n"
            "  --cdi-dir DIR        CDI spec directory, repeatable (default /etc/cdi,\n"
            "                       /var/run/cdi)\n"
            "  --probe-cuda         fall back to cuDriverGetVersion in a child process\n"
            "  --allow-env          honour NVIDIA_VISIBLE_DEVICES from unprivileged pods\n"
            "  --requires-cuda SPEC the environment's requires.cuda, e.g. \">=12.4\"\n"
            "  --loader PATH        container path of a glibc loader to link at\n"
            "                       /lib64/ld-linux-x86-64.so.2\n"
            "  --write-ldcache FILE (plan) also write the generated ld.so.cache to FILE\n"
            "  --no-ldcache         do not bind the generated cache over /etc/ld.so.cache\n"
            "  --rootfs DIR         (exec) the directory to chroot into\n"
            "\n"
            "Exit codes: 0 success, 1 failure, 2 usage error.\n");
}

struct opts {
        struct skiff_gpu_config cfg;
        const char *cdi_dirs[MAX_CDI_DIRS + 1];
        size_t n_cdi;
        char **env;
        char **annotations; /* "K=V" */
        const char *bundle;
        const char *write_ldcache;
        const char *rootfs;
        char **cmd; /* exec: argv after "--", borrowed */
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
        enum {
                O_DRIVER = 256,
                O_PROC,
                O_DEV,
                O_RUN,
                O_LDCACHE,
                O_CDI,
                O_PROBE,
                O_ALLOW,
                O_REQ,
                O_LOADER,
                O_ENV,
                O_ANN,
                O_BUNDLE,
                O_WRITE,
                O_ROOTFS,
                O_NOCACHE
        };
        static const struct option longopts[] = {
            {"driver-root", required_argument, NULL, O_DRIVER},
            {"proc-root", required_argument, NULL, O_PROC},
            {"dev-root", required_argument, NULL, O_DEV},
            {"run-root", required_argument, NULL, O_RUN},
            {"ldcache", required_argument, NULL, O_LDCACHE},
            {"cdi-dir", required_argument, NULL, O_CDI},
            {"probe-cuda", no_argument, NULL, O_PROBE},
            {"allow-env", no_argument, NULL, O_ALLOW},
            {"requires-cuda", required_argument, NULL, O_REQ},
            {"loader", required_argument, NULL, O_LOADER},
            {"env", required_argument, NULL, O_ENV},
            {"annotation", required_argument, NULL, O_ANN},
            {"bundle", required_argument, NULL, O_BUNDLE},
            {"write-ldcache", required_argument, NULL, O_WRITE},
            {"rootfs", required_argument, NULL, O_ROOTFS},
            {"no-ldcache", no_argument, NULL, O_NOCACHE},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        o->cfg.policy = (struct skiff_gpu_policy)SKIFF_GPU_POLICY_DEFAULT;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case O_DRIVER:
                        o->cfg.discover.driver_root = optarg;
                        break;
                case O_PROC:
                        o->cfg.discover.proc_root = optarg;
                        break;
                case O_DEV:
                        o->cfg.discover.dev_root = optarg;
                        break;
                case O_RUN:
                        o->cfg.discover.run_root = optarg;
                        break;
                case O_LDCACHE:
                        o->cfg.discover.ldcache = optarg;
                        break;
                case O_CDI:
                        if (o->n_cdi == MAX_CDI_DIRS)
                                return SKIFF_EXIT_USAGE;
                        o->cdi_dirs[o->n_cdi++] = optarg;
                        o->cfg.cdi_dirs = o->cdi_dirs;
                        break;
                case O_PROBE:
                        o->cfg.discover.probe_cuda = true;
                        break;
                case O_ALLOW:
                        o->cfg.policy.accept_env_unprivileged = true;
                        break;
                case O_REQ:
                        o->cfg.requires_cuda = optarg;
                        break;
                case O_LOADER:
                        o->cfg.loader = optarg;
                        break;
                case O_ENV:
                        skiff_strv_push(&o->env, optarg);
                        break;
                case O_ANN:
                        if (!strchr(optarg, '='))
                                return SKIFF_EXIT_USAGE;
                        skiff_strv_push(&o->annotations, optarg);
                        break;
                case O_BUNDLE:
                        o->bundle = optarg;
                        break;
                case O_WRITE:
                        o->write_ldcache = optarg;
                        break;
                case O_ROOTFS:
                        o->rootfs = optarg;
                        break;
                case O_NOCACHE:
                        o->cfg.no_ld_so_cache = true;
                        break;
                case 'h':
                        usage(stdout);
                        return -1;
                default:
                        return SKIFF_EXIT_USAGE;
                }
        }
        if (optind < argc && o->rootfs && strcmp(argv[optind - 1], "--") == 0) {
                o->cmd = argv + optind;
                return 0;
        }
        return optind < argc ? SKIFF_EXIT_USAGE : 0;
}

static void print_driver(const struct skiff_driver *d)
{
        printf("driver root:   %s\n", d->root);
        printf("version:       %s\n", d->version);
        printf("cuda version:  %s (%s)\n", d->cuda_version ? d->cuda_version : "unknown",
               d->cuda_version_source ? d->cuda_version_source : "no note, no probe");
        printf("library dir:   %s\n", d->libdir);
        printf("majors:        nvidia-uvm %u, nvidia-caps %u, nvidia-caps-imex-channels %u\n",
               d->major_uvm, d->major_caps, d->major_imex);
        for (size_t i = 0; i < d->n_gpus; i++)
                printf("gpu %u:         %s minor %u bus %s (%s)\n", d->gpus[i].index,
                       d->gpus[i].uuid, d->gpus[i].minor, d->gpus[i].pci,
                       d->gpus[i].model ? d->gpus[i].model : "?");
        printf("mig caps:      %zu (config %s, monitor %s)\n", d->n_mig,
               d->has_mig_config ? "yes" : "no", d->has_mig_monitor ? "yes" : "no");
        printf("libraries:     %zu\n", d->n_libs);
        for (size_t i = 0; i < d->n_libs; i++) {
                _cleanup_free_ char *caps = skiff_nvenv_caps_string(d->libs[i].caps);
                printf("  %-44s %-32s %s\n", d->libs[i].name, d->libs[i].soname, caps);
        }
        printf("binaries:      %zu\n", d->n_bins);
        for (size_t i = 0; i < d->n_bins; i++)
                printf("  %s\n", d->bins[i].path);
        printf("persistenced:  %s\n", d->persistenced_socket ? d->persistenced_socket : "-");
        printf("fabricmanager: %s\n", d->fabricmanager_socket ? d->fabricmanager_socket : "-");
        printf("mps dir:       %s\n", d->mps_dir ? d->mps_dir : "-");
}

/* A minimal config.json carrying the given env and annotations. */
static int synth_spec(const struct opts *o, struct skiff_spec **ret, skiff_err_t *err)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_string(g, "ociVersion", "1.1.0");
        skiff_json_gen_string(g, "root");
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_string(g, "path", "rootfs");
        skiff_json_gen_map_close(g);
        skiff_json_gen_string(g, "process");
        skiff_json_gen_map_open(g);
        skiff_json_gen_string(g, "args");
        skiff_json_gen_array_open(g);
        skiff_json_gen_string(g, "sh");
        skiff_json_gen_array_close(g);
        skiff_json_gen_kv_string(g, "cwd", "/");
        skiff_json_gen_string(g, "env");
        skiff_json_gen_array_open(g);
        for (char **e = o->env; e && *e; e++)
                skiff_json_gen_string(g, *e);
        skiff_json_gen_array_close(g);
        skiff_json_gen_map_close(g);
        skiff_json_gen_string(g, "annotations");
        skiff_json_gen_map_open(g);
        for (char **a = o->annotations; a && *a; a++) {
                const char *eq = strchr(*a, '=');
                skiff_json_gen_stringn(g, *a, (size_t)(eq - *a));
                skiff_json_gen_string(g, eq + 1);
        }
        skiff_json_gen_map_close(g);
        skiff_json_gen_map_close(g);
        _cleanup_free_ char *json = NULL;
        size_t len = 0;
        int r = skiff_json_gen_finish(g, &json, &len, err);
        if (r < 0)
                return r;
        return skiff_spec_parse(json, len, ret, err);
}

static int cmd_ldcache(const char *path)
{
        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_ldcache *c = NULL;
        if (skiff_ldcache_load(path, &c, &err) < 0)
                return skiff_cli_fail("gpu ldcache", err->msg);
        static const char *formats[] = {"old", "compat", "new"};
        printf("%zu libs found in cache `%s' (%s format)\n", c->n_entries, path,
               formats[c->format]);
        for (size_t i = 0; i < c->n_entries; i++)
                printf("\t%s (flags 0x%04x) => %s\n", c->entries[i].key,
                       (unsigned)c->entries[i].flags, c->entries[i].value);
        skiff_ldcache_free(c);
        return SKIFF_EXIT_OK;
}

/* --- exec: the plan in a throw-away chroot ---------------------------------------------------- */

static int mknod_nodes(const char *dev, const struct skiff_gpu_plan *p, skiff_err_t *err)
{
        static const struct {
                const char *name;
                unsigned major, minor;
        } std[] = {{"null", 1, 3}, {"zero", 1, 5}, {"random", 1, 8}, {"urandom", 1, 9}};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(std); i++) {
                _cleanup_free_ char *path = skiff_path_join(dev, std[i].name);
                if (mknod(path, S_IFCHR | 0666, makedev(std[i].major, std[i].minor)) < 0 ||
                    chmod(path, 0666) < 0)
                        return skiff_error_set_errno(err, errno, "mknod `%s`", path);
        }
        for (size_t i = 0; i < p->n_nodes; i++) {
                _cleanup_free_ char *path = skiff_path_join(dev, p->nodes[i].path + 5);
                _cleanup_free_ char *dir = skiff_path_dirname(path);
                int r = skiff_fs_mkdir_p(dir, 0755, err);
                if (r < 0)
                        return r;
                if (mknod(path, S_IFCHR | (p->nodes[i].mode & 07777),
                          makedev(p->nodes[i].major, p->nodes[i].minor)) < 0 ||
                    chmod(path, p->nodes[i].mode & 07777) < 0)
                        return skiff_error_set_errno(err, errno, "mknod `%s`", path);
        }
        return 0;
}

static _Noreturn void exec_child(const struct opts *o, const struct skiff_gpu_plan *p, char **env)
{
        skiff_err_t err = NULL;
        _cleanup_free_ char *root = realpath(o->rootfs, NULL);
        if (!root) {
                fprintf(stderr, "skiff gpu exec: rootfs `%s`: %s\n", o->rootfs, strerror(errno));
                _exit(1);
        }
        _cleanup_free_ char *dev = skiff_path_join(root, "dev");
        _cleanup_free_ char *proc = skiff_path_join(root, "proc");
        int r = 0;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
                r = skiff_error_set_errno(&err, errno, "set up a private mount namespace");
        if (r >= 0)
                r = skiff_fs_mkdir_p(dev, 0755, &err);
        if (r >= 0)
                r = skiff_fs_mkdir_p(proc, 0555, &err);
        if (r >= 0 && (mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755") < 0 ||
                       mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0))
                r = skiff_error_set_errno(&err, errno, "mount /dev or /proc in `%s`", root);
        if (r >= 0)
                r = mknod_nodes(dev, p, &err);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r >= 0 && rootfd < 0)
                r = skiff_error_set_errno(&err, errno, "open `%s`", root);
        if (r >= 0)
                r = skiff_gpu_inject_rootfs(rootfd, root, (void *)p, &err);
        if (r >= 0 && (chroot(root) < 0 || chdir("/") < 0))
                r = skiff_error_set_errno(&err, errno, "chroot `%s`", root);
        if (r < 0) {
                fprintf(stderr, "skiff gpu exec: %s\n", skiff_error_msg(err));
                _exit(1);
        }
        execve(o->cmd[0], o->cmd, env);
        fprintf(stderr, "skiff gpu exec: exec `%s`: %s\n", o->cmd[0], strerror(errno));
        _exit(127);
}

static int gpu_exec(const struct opts *o, const struct skiff_gpu_plan *p)
{
        if (!o->rootfs || !o->cmd) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        if (!p->active)
                return skiff_cli_fail("gpu exec", "the container requests no GPU: nothing to do");
        _cleanup_error_ skiff_err_t err = NULL;
        struct skiff_spec *spec = NULL;
        if (synth_spec(o, &spec, &err) < 0 || skiff_gpu_inject_spec(p, spec, &err) < 0) {
                skiff_spec_free(spec);
                return skiff_cli_fail("gpu exec", err->msg);
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                skiff_spec_free(spec);
                return skiff_cli_fail("gpu exec", strerror(errno));
        }
        if (pid == 0)
                exec_child(o, p, spec->process.env);
        skiff_spec_free(spec);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int run(const char *sub, struct opts *o);

int skiff_cli_gpu(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? SKIFF_EXIT_USAGE : SKIFF_EXIT_OK;
        }
        const char *sub = argv[1];
        if (strcmp(sub, "ldcache") == 0) {
                if (argc != 3) {
                        usage(stderr);
                        return SKIFF_EXIT_USAGE;
                }
                return cmd_ldcache(argv[2]);
        }
        if (strcmp(sub, "discover") != 0 && strcmp(sub, "plan") != 0 && strcmp(sub, "exec") != 0) {
                fprintf(stderr, "skiff gpu: unknown subcommand `%s`\n", sub);
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        struct opts o = {0};
        int r = parse_opts(argc - 1, argv + 1, &o);
        if (r == 0)
                r = run(sub, &o);
        else if (r > 0)
                usage(stderr);
        else
                r = SKIFF_EXIT_OK;
        skiff_strv_free(o.env);
        skiff_strv_free(o.annotations);
        return r;
}

static int run(const char *sub, struct opts *o)
{
        int r;
        _cleanup_error_ skiff_err_t err = NULL;
        if (strcmp(sub, "discover") == 0) {
                struct skiff_driver *d = NULL;
                if (skiff_discover_driver(&o->cfg.discover, &d, &err) < 0)
                        return skiff_cli_fail("gpu discover", err->msg);
                print_driver(d);
                skiff_driver_free(d);
                return SKIFF_EXIT_OK;
        }
        struct skiff_spec *spec = NULL;
        r = o->bundle ? skiff_spec_load(o->bundle, &spec, &err) : synth_spec(o, &spec, &err);
        if (r < 0)
                return skiff_cli_fail("gpu plan", err->msg);
        struct skiff_gpu_plan *p = NULL;
        r = skiff_gpu_plan_for_spec(spec, &o->cfg, &p, &err);
        skiff_spec_free(spec);
        if (r < 0)
                return skiff_cli_fail("gpu plan", err->msg);
        if (strcmp(sub, "exec") == 0) {
                r = gpu_exec(o, p);
                skiff_gpu_plan_free(p);
                return r;
        }
        _cleanup_free_ char *json = NULL;
        r = skiff_gpu_plan_to_json(p, &json, &err);
        for (size_t i = 0; r >= 0 && o->write_ldcache && i < p->n_files; i++)
                if (strcmp(p->files[i].path, SKIFF_GPU_DRIVER_DIR "/etc/ld.so.cache") == 0)
                        r = skiff_fs_write_file_atomic(o->write_ldcache, p->files[i].data,
                                                       p->files[i].len, 0644, false, &err);
        skiff_gpu_plan_free(p);
        if (r < 0)
                return skiff_cli_fail("gpu plan", err->msg);
        printf("%s\n", json);
        return SKIFF_EXIT_OK;
}
