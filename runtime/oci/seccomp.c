#include "oci/seccomp.h"

#include <ctype.h>
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

#define SECCOMP_PATH "linux.seccomp"

SKIFF_DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)
#define _cleanup_seccomp_ _cleanup_(seccomp_releasep)

static const enum scmp_compare op_table[_SKIFF_SECCOMP_OP_MAX] = {
    [SKIFF_SECCOMP_OP_NE] = SCMP_CMP_NE,
    [SKIFF_SECCOMP_OP_LT] = SCMP_CMP_LT,
    [SKIFF_SECCOMP_OP_LE] = SCMP_CMP_LE,
    [SKIFF_SECCOMP_OP_EQ] = SCMP_CMP_EQ,
    [SKIFF_SECCOMP_OP_GE] = SCMP_CMP_GE,
    [SKIFF_SECCOMP_OP_GT] = SCMP_CMP_GT,
    [SKIFF_SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

static const struct {
        const char *name;
        enum scmp_filter_attr attr;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
};

/* The libseccomp action for an OCI action; path names the field for errors. */
static int map_action(enum skiff_seccomp_action a, bool has_errno, uint32_t errno_ret,
                      bool has_listener, const char *path, uint32_t *out, skiff_err_t *err)
{
        uint32_t ret = has_errno ? errno_ret : EPERM;
        if (has_errno && errno_ret > 0xffff)
                return skiff_error_set(err, EINVAL, "%s: errnoRet %u is out of range (0-65535)",
                                       path, errno_ret);
        switch (a) {
        case SKIFF_SECCOMP_KILL:
        case SKIFF_SECCOMP_KILL_THREAD:
                *out = SCMP_ACT_KILL_THREAD;
                return 0;
        case SKIFF_SECCOMP_KILL_PROCESS:
                *out = SCMP_ACT_KILL_PROCESS;
                return 0;
        case SKIFF_SECCOMP_TRAP:
                *out = SCMP_ACT_TRAP;
                return 0;
        case SKIFF_SECCOMP_ERRNO:
                *out = SCMP_ACT_ERRNO(ret);
                return 0;
        case SKIFF_SECCOMP_TRACE:
                *out = SCMP_ACT_TRACE(ret);
                return 0;
        case SKIFF_SECCOMP_ALLOW:
                *out = SCMP_ACT_ALLOW;
                return 0;
        case SKIFF_SECCOMP_LOG:
                *out = SCMP_ACT_LOG;
                return 0;
        case SKIFF_SECCOMP_NOTIFY:
                if (!has_listener)
                        return skiff_error_set(err, EINVAL,
                                               "%s: SCMP_ACT_NOTIFY requires "
                                               "`linux.seccomp.listenerPath`",
                                               path);
                return skiff_error_set(err, ENOTSUP,
                                       "%s: SCMP_ACT_NOTIFY is not supported (no seccomp notify "
                                       "listener support)",
                                       path);
        default:
                return skiff_error_set(err, EINVAL, "%s: invalid action %d", path, (int)a);
        }
}

static int add_arch(scmp_filter_ctx ctx, const char *name, size_t i, skiff_err_t *err)
{
        static const char prefix[] = "SCMP_ARCH_";
        uint32_t token = 0;
        if (strncmp(name, prefix, sizeof(prefix) - 1) == 0 && name[sizeof(prefix) - 1]) {
                _cleanup_free_ char *lower = xstrdup(name + sizeof(prefix) - 1);
                for (char *p = lower; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                token = seccomp_arch_resolve_name(lower);
        }
        if (token == 0)
                return skiff_error_set(err, EINVAL,
                                       SECCOMP_PATH ".architectures[%zu]: unknown architecture "
                                                    "`%s`",
                                       i, name);
        int r = seccomp_arch_add(ctx, token);
        if (r < 0 && r != -EEXIST)
                return skiff_error_set_errno(err, -r, SECCOMP_PATH ".architectures[%zu]: add `%s`",
                                             i, name);
        return 0;
}

static int set_flag(scmp_filter_ctx ctx, const char *name, size_t i, skiff_err_t *err)
{
        for (size_t f = 0; f < SKIFF_ARRAY_SIZE(flag_table); f++) {
                if (strcmp(flag_table[f].name, name) != 0)
                        continue;
                int r = seccomp_attr_set(ctx, flag_table[f].attr, 1);
                if (r < 0)
                        return skiff_error_set_errno(err, -r, SECCOMP_PATH ".flags[%zu]: set `%s`",
                                                     i, name);
                return 0;
        }
        return skiff_error_set(err, EINVAL, SECCOMP_PATH ".flags[%zu]: unknown flag `%s`", i, name);
}

/* Adds rule ri for syscall nr: one rule with all args ANDed, or one rule per arg when several
 * args test the same index. */
static int add_rule(scmp_filter_ctx ctx, const struct skiff_spec_seccomp_rule *rule, size_t ri,
                    const char *name, int nr, uint32_t action, skiff_err_t *err)
{
        struct scmp_arg_cmp cmps[6];
        unsigned counts[6] = {0};
        bool separate = false;
        size_t n = rule->n_args;
        if (n > SKIFF_ARRAY_SIZE(cmps))
                separate = true;
        for (size_t i = 0; i < n; i++)
                if (rule->args[i].index < 6 && ++counts[rule->args[i].index] > 1)
                        separate = true;

        int r = 0;
        if (n == 0) {
                r = seccomp_rule_add_array(ctx, action, nr, 0, NULL);
        } else if (!separate) {
                for (size_t i = 0; i < n; i++)
                        cmps[i] = (struct scmp_arg_cmp){
                            .arg = rule->args[i].index,
                            .op = op_table[rule->args[i].op],
                            .datum_a = rule->args[i].value,
                            .datum_b = rule->args[i].value_two,
                        };
                r = seccomp_rule_add_array(ctx, action, nr, (unsigned)n, cmps);
        } else {
                for (size_t i = 0; i < n && r >= 0; i++) {
                        cmps[0] = (struct scmp_arg_cmp){
                            .arg = rule->args[i].index,
                            .op = op_table[rule->args[i].op],
                            .datum_a = rule->args[i].value,
                            .datum_b = rule->args[i].value_two,
                        };
                        r = seccomp_rule_add_array(ctx, action, nr, 1, cmps);
                }
        }
        if (r < 0)
                return skiff_error_set_errno(
                    err, -r, SECCOMP_PATH ".syscalls[%zu]: add rule for `%s`", ri, name);
        return 0;
}

int skiff_seccomp_compile(const struct skiff_spec_seccomp *s, void **ctx_out, skiff_err_t *err)
{
        uint32_t def = 0;
        int r = map_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret,
                           s->listener_path != NULL, SECCOMP_PATH ".defaultAction", &def, err);
        if (r < 0)
                return r;
        _cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(def);
        if (!ctx)
                return skiff_error_set(err, ENOMEM, "initialise seccomp filter");
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return skiff_error_set_errno(err, -r, "clear seccomp NO_NEW_PRIVS attribute");
        /* Report the kernel's errno from seccomp_load instead of -ECANCELED; older libseccomp
         * lacks the attribute, which only makes load errors less precise. */
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);

        for (size_t i = 0; s->architectures && s->architectures[i]; i++) {
                r = add_arch(ctx, s->architectures[i], i, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; s->flags && s->flags[i]; i++) {
                r = set_flag(ctx, s->flags[i], i, err);
                if (r < 0)
                        return r;
        }
        for (size_t ri = 0; ri < s->n_syscalls; ri++) {
                const struct skiff_spec_seccomp_rule *rule = &s->syscalls[ri];
                _cleanup_free_ char *apath = xasprintf(SECCOMP_PATH ".syscalls[%zu]", ri);
                uint32_t action = 0;
                r = map_action(rule->action, rule->has_errno_ret, rule->errno_ret,
                               s->listener_path != NULL, apath, &action, err);
                if (r < 0)
                        return r;
                if (action == def)
                        continue; /* libseccomp refuses rules that repeat the default */
                for (size_t ni = 0; rule->names && rule->names[ni]; ni++) {
                        int nr = seccomp_syscall_resolve_name(rule->names[ni]);
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* unknown to this libseccomp: newer syscall */
                        r = add_rule(ctx, rule, ri, rule->names[ni], nr, action, err);
                        if (r < 0)
                                return r;
                }
        }
        *ctx_out = TAKE_PTR(ctx);
        return 0;
}

int skiff_seccomp_load(const struct skiff_spec_seccomp *s, skiff_err_t *err)
{
        _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
        int r = skiff_seccomp_compile(s, &ctx, err);
        if (r < 0)
                return r;
        r = seccomp_load(ctx);
        if (r == -EACCES)
                return skiff_error_set_errno(err, -r,
                                             "load seccomp filter (requires no_new_privs or "
                                             "CAP_SYS_ADMIN)");
        if (r < 0)
                return skiff_error_set_errno(err, -r, "load seccomp filter");
        return 0;
}
