/* The "linux" section of the OCI spec: namespaces, id mappings, devices, resources, seccomp. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "oci/spec-internal.h"
#include "oci/spec.h"

/* ---- name tables ----------------------------------------------------------------------------- */

static const char *const ns_names[_SKIFF_NS_MAX] = {
    [SKIFF_NS_PID] = "pid",       [SKIFF_NS_NETWORK] = "network", [SKIFF_NS_MOUNT] = "mount",
    [SKIFF_NS_IPC] = "ipc",       [SKIFF_NS_UTS] = "uts",         [SKIFF_NS_USER] = "user",
    [SKIFF_NS_CGROUP] = "cgroup", [SKIFF_NS_TIME] = "time",
};

static const char *const seccomp_action_names[_SKIFF_SECCOMP_ACTION_MAX] = {
    [SKIFF_SECCOMP_KILL] = "SCMP_ACT_KILL",
    [SKIFF_SECCOMP_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
    [SKIFF_SECCOMP_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
    [SKIFF_SECCOMP_TRAP] = "SCMP_ACT_TRAP",
    [SKIFF_SECCOMP_ERRNO] = "SCMP_ACT_ERRNO",
    [SKIFF_SECCOMP_TRACE] = "SCMP_ACT_TRACE",
    [SKIFF_SECCOMP_ALLOW] = "SCMP_ACT_ALLOW",
    [SKIFF_SECCOMP_LOG] = "SCMP_ACT_LOG",
    [SKIFF_SECCOMP_NOTIFY] = "SCMP_ACT_NOTIFY",
};

static const char *const seccomp_op_names[_SKIFF_SECCOMP_OP_MAX] = {
    [SKIFF_SECCOMP_OP_NE] = "SCMP_CMP_NE",
    [SKIFF_SECCOMP_OP_LT] = "SCMP_CMP_LT",
    [SKIFF_SECCOMP_OP_LE] = "SCMP_CMP_LE",
    [SKIFF_SECCOMP_OP_EQ] = "SCMP_CMP_EQ",
    [SKIFF_SECCOMP_OP_GE] = "SCMP_CMP_GE",
    [SKIFF_SECCOMP_OP_GT] = "SCMP_CMP_GT",
    [SKIFF_SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static const char *const propagation_names[] = {
    "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
};

/* Decodes a string through a name table into an int-sized enum. */
static int dec_enum(skiff_jv *v, const char *path, void *f, const char *const *names, size_t n,
                    const char *what, skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a string", err);
        int i = skiff_spec_lookup(names, n, s);
        if (i < 0)
                return skiff_error_set(err, EINVAL, "%s: unknown %s `%s`", path, what, s);
        *(int *)f = i;
        return 0;
}

/* ---- namespaces, id mappings ----------------------------------------------------------------- */

static int dec_ns_type(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return dec_enum(v, path, f, ns_names, _SKIFF_NS_MAX, "namespace type", err);
}

static const struct skiff_json_field ns_fields[] = {
    {"type", dec_ns_type, offsetof(struct skiff_spec_namespace, type), true},
    {"path", skiff_json_dec_string, offsetof(struct skiff_spec_namespace, path)},
    {NULL},
};

static int dec_namespace(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_namespace *ns = f;
        int r = skiff_json_decode_object(v, path, ns_fields, ns, false, err);
        if (r < 0)
                return r;
        if (ns->path) {
                _cleanup_free_ char *ppath = skiff_json_path_key(path, "path");
                return skiff_spec_check_absolute(ns->path, ppath, err);
        }
        return 0;
}

static int dec_namespaces(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_linux *l = f;
        int r = skiff_spec_dec_array(v, path, &l->namespaces, &l->n_namespaces,
                                     sizeof(*l->namespaces), dec_namespace, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n_namespaces; i++)
                for (size_t j = 0; j < i; j++)
                        if (l->namespaces[i].type == l->namespaces[j].type)
                                return skiff_error_set(err, EINVAL,
                                                       "%s[%zu].type: duplicate namespace `%s`",
                                                       path, i, ns_names[l->namespaces[i].type]);
        return 0;
}

static const struct skiff_json_field idmap_fields[] = {
    {"containerID", skiff_json_dec_u32, offsetof(struct skiff_spec_idmap, container_id), true},
    {"hostID", skiff_json_dec_u32, offsetof(struct skiff_spec_idmap, host_id), true},
    {"size", skiff_json_dec_u32, offsetof(struct skiff_spec_idmap, size), true},
    {NULL},
};

static int dec_idmap(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, idmap_fields, f, false, err);
}

static int dec_uid_mappings(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_linux *l = f;
        return skiff_spec_dec_array(v, path, &l->uid_mappings, &l->n_uid_mappings,
                                    sizeof(*l->uid_mappings), dec_idmap, err);
}

static int dec_gid_mappings(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_linux *l = f;
        return skiff_spec_dec_array(v, path, &l->gid_mappings, &l->n_gid_mappings,
                                    sizeof(*l->gid_mappings), dec_idmap, err);
}

/* ---- linux.devices --------------------------------------------------------------------------- */

/* A one-letter type from the allowed set into a char. */
static int dec_type_char(skiff_jv *v, const char *path, char *out, const char *allowed,
                         skiff_err_t *err)
{
        const char *s = skiff_json_str(v);
        if (!s)
                return skiff_json_type_error(v, path, "a string", err);
        if (strlen(s) != 1 || !strchr(allowed, s[0]))
                return skiff_error_set(err, EINVAL, "%s: unknown device type `%s`", path, s);
        *out = s[0];
        return 0;
}

static int dec_device_type(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return dec_type_char(v, path, f, "cbup", err);
}

SKIFF_SPEC_OPT_DECODER(dec_dev_mode, struct skiff_spec_device, file_mode, has_file_mode,
                       skiff_json_dec_u32)
SKIFF_SPEC_OPT_DECODER(dec_dev_uid, struct skiff_spec_device, uid, has_uid, skiff_json_dec_u32)
SKIFF_SPEC_OPT_DECODER(dec_dev_gid, struct skiff_spec_device, gid, has_gid, skiff_json_dec_u32)

static const struct skiff_json_field device_fields[] = {
    {"path", skiff_json_dec_string, offsetof(struct skiff_spec_device, path), true},
    {"type", dec_device_type, offsetof(struct skiff_spec_device, type), true},
    {"major", skiff_json_dec_i64, offsetof(struct skiff_spec_device, major)},
    {"minor", skiff_json_dec_i64, offsetof(struct skiff_spec_device, minor)},
    {"fileMode", dec_dev_mode, 0},
    {"uid", dec_dev_uid, 0},
    {"gid", dec_dev_gid, 0},
    {NULL},
};

static int dec_device(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_device *d = f;
        d->major = d->minor = -1;
        int r = skiff_json_decode_object(v, path, device_fields, d, true, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *ppath = skiff_json_path_key(path, "path");
        r = skiff_spec_check_absolute(d->path, ppath, err);
        if (r < 0)
                return r;
        if (d->type != 'p' && (d->major < 0 || d->minor < 0))
                return skiff_error_set(err, EINVAL,
                                       "%s: non-negative `major` and `minor` are required for "
                                       "device type `%c`",
                                       path, d->type);
        if (d->type == 'p')
                d->major = d->minor = 0;
        return 0;
}

static int dec_devices(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_linux *l = f;
        return skiff_spec_dec_array(v, path, &l->devices, &l->n_devices, sizeof(*l->devices),
                                    dec_device, err);
}

/* ---- resources ------------------------------------------------------------------------------- */

static int dec_rule_type(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return dec_type_char(v, path, f, "acb", err);
}

static int dec_access(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        int r = skiff_json_dec_string(v, path, f, err);
        if (r < 0)
                return r;
        const char *s = *(char **)f;
        if (s[strspn(s, "rwm")] != '\0')
                return skiff_error_set(err, EINVAL,
                                       "%s: invalid access `%s` (expected a subset "
                                       "of `rwm`)",
                                       path, s);
        return 0;
}

static const struct skiff_json_field rule_fields[] = {
    {"allow", skiff_json_dec_bool, offsetof(struct skiff_spec_device_rule, allow), true},
    {"type", dec_rule_type, offsetof(struct skiff_spec_device_rule, type)},
    {"major", skiff_json_dec_i64, offsetof(struct skiff_spec_device_rule, major)},
    {"minor", skiff_json_dec_i64, offsetof(struct skiff_spec_device_rule, minor)},
    {"access", dec_access, offsetof(struct skiff_spec_device_rule, access)},
    {NULL},
};

static int dec_rule(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_device_rule *d = f;
        d->major = d->minor = -1;
        return skiff_json_decode_object(v, path, rule_fields, d, true, err);
}

static int dec_rules(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_resources *r = f;
        return skiff_spec_dec_array(v, path, &r->devices, &r->n_devices, sizeof(*r->devices),
                                    dec_rule, err);
}

/* Known keys skiff does not use: type-checked, then dropped. */
static int dec_check_i64(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        int64_t ignored;
        return skiff_json_dec_i64(v, path, &ignored, err);
}

static int dec_check_bool(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        bool ignored;
        return skiff_json_dec_bool(v, path, &ignored, err);
}

#define R struct skiff_spec_resources
SKIFF_SPEC_OPT_DECODER(dec_mem_limit, R, mem_limit, has_mem_limit, skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_mem_res, R, mem_reservation, has_mem_reservation, skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_mem_swap, R, mem_swap, has_mem_swap, skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_mem_swappiness, R, mem_swappiness, has_mem_swappiness,
                       skiff_json_dec_u64)
SKIFF_SPEC_OPT_DECODER(dec_oom_killer, R, disable_oom_killer, has_disable_oom_killer,
                       skiff_json_dec_bool)
SKIFF_SPEC_OPT_DECODER(dec_cpu_shares, R, cpu_shares, has_cpu_shares, skiff_json_dec_u64)
SKIFF_SPEC_OPT_DECODER(dec_cpu_quota, R, cpu_quota, has_cpu_quota, skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_cpu_period, R, cpu_period, has_cpu_period, skiff_json_dec_u64)
SKIFF_SPEC_OPT_DECODER(dec_cpu_burst, R, cpu_burst, has_cpu_burst, skiff_json_dec_u64)
SKIFF_SPEC_OPT_DECODER(dec_cpu_rt_runtime, R, cpu_rt_runtime, has_cpu_rt_runtime,
                       skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_cpu_rt_period, R, cpu_rt_period, has_cpu_rt_period, skiff_json_dec_u64)
SKIFF_SPEC_OPT_DECODER(dec_cpu_idle, R, cpu_idle, has_cpu_idle, skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_pids_limit, R, pids_limit, has_pids_limit, skiff_json_dec_i64)
SKIFF_SPEC_OPT_DECODER(dec_blkio_weight, R, blkio_weight, has_blkio_weight, skiff_json_dec_u32)

static const struct skiff_json_field memory_fields[] = {
    {"limit", dec_mem_limit, 0},
    {"reservation", dec_mem_res, 0},
    {"swap", dec_mem_swap, 0},
    {"swappiness", dec_mem_swappiness, 0},
    {"disableOOMKiller", dec_oom_killer, 0},
    {"kernel", dec_check_i64, 0},
    {"kernelTCP", dec_check_i64, 0},
    {"useHierarchy", dec_check_bool, 0},
    {"checkBeforeUpdate", dec_check_bool, 0},
    {NULL},
};

static const struct skiff_json_field cpu_fields[] = {
    {"shares", dec_cpu_shares, 0},
    {"quota", dec_cpu_quota, 0},
    {"period", dec_cpu_period, 0},
    {"burst", dec_cpu_burst, 0},
    {"realtimeRuntime", dec_cpu_rt_runtime, 0},
    {"realtimePeriod", dec_cpu_rt_period, 0},
    {"cpus", skiff_json_dec_string, offsetof(R, cpuset_cpus)},
    {"mems", skiff_json_dec_string, offsetof(R, cpuset_mems)},
    {"idle", dec_cpu_idle, 0},
    {NULL},
};

static const struct skiff_json_field pids_fields[] = {
    {"limit", dec_pids_limit, 0},
    {NULL},
};

static const struct skiff_json_field blkio_fields[] = {
    {"weight", dec_blkio_weight, 0},
    {NULL},
};

typedef __typeof__(*((R *)0)->hugepages) hugepage_t;

static const struct skiff_json_field hugepage_fields[] = {
    {"pageSize", skiff_json_dec_string, offsetof(hugepage_t, page_size), true},
    {"limit", skiff_json_dec_u64, offsetof(hugepage_t, limit), true},
    {NULL},
};

static int dec_hugepage(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, hugepage_fields, f, false, err);
}

static int dec_hugepages(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        R *r = f;
        return skiff_spec_dec_array(v, path, &r->hugepages, &r->n_hugepages, sizeof(*r->hugepages),
                                    dec_hugepage, err);
}

static int dec_memory(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, memory_fields, f, true, err);
}

static int dec_cpu(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, cpu_fields, f, true, err);
}

static int dec_pids(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, pids_fields, f, true, err);
}

static int dec_blkio(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, blkio_fields, f, true, err);
}

static int dec_unified(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_dec_strmap(v, path, &((R *)f)->unified, err);
}

static const struct skiff_json_field resources_fields[] = {
    {"devices", dec_rules, 0},   {"memory", dec_memory, 0},
    {"cpu", dec_cpu, 0},         {"pids", dec_pids, 0},
    {"blockIO", dec_blkio, 0},   {"hugepageLimits", dec_hugepages, 0},
    {"unified", dec_unified, 0}, {NULL},
};
#undef R

int skiff_spec_resources_decode(skiff_jv *v, const char *path, struct skiff_spec_resources *r,
                                skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, resources_fields, r, true, err);
}

void skiff_spec_resources_clear(struct skiff_spec_resources *r)
{
        for (size_t i = 0; i < r->n_devices; i++)
                free(r->devices[i].access);
        free(r->devices);
        free(r->cpuset_cpus);
        free(r->cpuset_mems);
        for (size_t i = 0; i < r->n_hugepages; i++)
                free(r->hugepages[i].page_size);
        free(r->hugepages);
        skiff_strv_free(r->unified);
        memset(r, 0, sizeof(*r));
}

/* ---- seccomp --------------------------------------------------------------------------------- */

static int dec_action(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return dec_enum(v, path, f, seccomp_action_names, _SKIFF_SECCOMP_ACTION_MAX, "action", err);
}

static int dec_op(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return dec_enum(v, path, f, seccomp_op_names, _SKIFF_SECCOMP_OP_MAX, "operator", err);
}

static const struct skiff_json_field arg_fields[] = {
    {"index", skiff_json_dec_u32, offsetof(struct skiff_spec_seccomp_arg, index), true},
    {"value", skiff_json_dec_u64, offsetof(struct skiff_spec_seccomp_arg, value), true},
    {"valueTwo", skiff_json_dec_u64, offsetof(struct skiff_spec_seccomp_arg, value_two)},
    {"op", dec_op, offsetof(struct skiff_spec_seccomp_arg, op), true},
    {NULL},
};

static int dec_arg(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_seccomp_arg *a = f;
        int r = skiff_json_decode_object(v, path, arg_fields, a, false, err);
        if (r < 0)
                return r;
        if (a->index > 5)
                return skiff_error_set(err, EINVAL, "%s.index: %u is out of range (0-5)", path,
                                       a->index);
        return 0;
}

static int dec_args(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_seccomp_rule *rule = f;
        return skiff_spec_dec_array(v, path, &rule->args, &rule->n_args, sizeof(*rule->args),
                                    dec_arg, err);
}

SKIFF_SPEC_OPT_DECODER(dec_rule_errno, struct skiff_spec_seccomp_rule, errno_ret, has_errno_ret,
                       skiff_json_dec_u32)

static const struct skiff_json_field syscall_fields[] = {
    {"names", skiff_json_dec_strv, offsetof(struct skiff_spec_seccomp_rule, names), true},
    {"action", dec_action, offsetof(struct skiff_spec_seccomp_rule, action), true},
    {"errnoRet", dec_rule_errno, 0},
    {"args", dec_args, 0},
    {NULL},
};

static int dec_syscall(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, syscall_fields, f, true, err);
}

static int dec_syscalls(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_seccomp *s = f;
        return skiff_spec_dec_array(v, path, &s->syscalls, &s->n_syscalls, sizeof(*s->syscalls),
                                    dec_syscall, err);
}

SKIFF_SPEC_OPT_DECODER(dec_default_errno, struct skiff_spec_seccomp, default_errno_ret,
                       has_default_errno_ret, skiff_json_dec_u32)

static const struct skiff_json_field seccomp_fields[] = {
    {"defaultAction", dec_action, offsetof(struct skiff_spec_seccomp, default_action), true},
    {"defaultErrnoRet", dec_default_errno, 0},
    {"architectures", skiff_json_dec_strv, offsetof(struct skiff_spec_seccomp, architectures)},
    {"flags", skiff_json_dec_strv, offsetof(struct skiff_spec_seccomp, flags)},
    {"listenerPath", skiff_json_dec_string, offsetof(struct skiff_spec_seccomp, listener_path)},
    {"syscalls", dec_syscalls, 0},
    {NULL},
};

static void seccomp_clear(struct skiff_spec_seccomp *s)
{
        skiff_strv_free(s->architectures);
        skiff_strv_free(s->flags);
        free(s->listener_path);
        for (size_t i = 0; i < s->n_syscalls; i++) {
                skiff_strv_free(s->syscalls[i].names);
                free(s->syscalls[i].args);
        }
        free(s->syscalls);
        memset(s, 0, sizeof(*s));
}

/* ---- linux ----------------------------------------------------------------------------------- */

static int dec_resources(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_linux *l = f;
        l->has_resources = true;
        return skiff_spec_resources_decode(v, path, &l->resources, err);
}

static int dec_seccomp(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        struct skiff_spec_linux *l = f;
        l->has_seccomp = true;
        return skiff_json_decode_object(v, path, seccomp_fields, &l->seccomp, true, err);
}

static int dec_propagation(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        int r = skiff_json_dec_string(v, path, f, err);
        if (r < 0)
                return r;
        const char *s = *(char **)f;
        if (skiff_spec_lookup(propagation_names, SKIFF_ARRAY_SIZE(propagation_names), s) < 0)
                return skiff_error_set(err, EINVAL, "%s: unknown propagation `%s`", path, s);
        return 0;
}

static int dec_path_list(skiff_jv *v, const char *path, void *f, skiff_err_t *err)
{
        int r = skiff_json_dec_strv(v, path, f, err);
        if (r < 0)
                return r;
        char **paths = *(char ***)f;
        for (size_t i = 0; paths[i]; i++) {
                _cleanup_free_ char *ipath = skiff_json_path_index(path, i);
                r = skiff_spec_check_absolute(paths[i], ipath, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct skiff_json_field linux_fields[] = {
    {"namespaces", dec_namespaces, 0},
    {"uidMappings", dec_uid_mappings, 0},
    {"gidMappings", dec_gid_mappings, 0},
    {"devices", dec_devices, 0},
    {"cgroupsPath", skiff_json_dec_string, offsetof(struct skiff_spec_linux, cgroups_path)},
    {"resources", dec_resources, 0},
    {"sysctl", skiff_json_dec_strmap, offsetof(struct skiff_spec_linux, sysctl)},
    {"seccomp", dec_seccomp, 0},
    {"rootfsPropagation", dec_propagation, offsetof(struct skiff_spec_linux, rootfs_propagation)},
    {"maskedPaths", dec_path_list, offsetof(struct skiff_spec_linux, masked_paths)},
    {"readonlyPaths", dec_path_list, offsetof(struct skiff_spec_linux, readonly_paths)},
    {"mountLabel", skiff_json_dec_string, offsetof(struct skiff_spec_linux, mount_label)},
    {NULL},
};

int skiff_spec_linux_decode(skiff_jv *v, const char *path, struct skiff_spec_linux *l,
                            skiff_err_t *err)
{
        return skiff_json_decode_object(v, path, linux_fields, l, true, err);
}

void skiff_spec_linux_clear(struct skiff_spec_linux *l)
{
        for (size_t i = 0; i < l->n_namespaces; i++)
                free(l->namespaces[i].path);
        free(l->namespaces);
        free(l->uid_mappings);
        free(l->gid_mappings);
        for (size_t i = 0; i < l->n_devices; i++)
                free(l->devices[i].path);
        free(l->devices);
        free(l->cgroups_path);
        skiff_spec_resources_clear(&l->resources);
        skiff_strv_free(l->sysctl);
        seccomp_clear(&l->seccomp);
        free(l->rootfs_propagation);
        skiff_strv_free(l->masked_paths);
        skiff_strv_free(l->readonly_paths);
        free(l->mount_label);
        memset(l, 0, sizeof(*l));
}
