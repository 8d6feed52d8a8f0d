#include "env/activation.h"

#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/generation.h"
#include "env/profile.h"

#define BIN SKIFF_ACTIVATION_MOUNT "/bin"

static int has(const struct skiff_activation_input *in, const char *rel)
{
        return skiff_profile_lookup(in->profile_dir, rel, in->store_dir, in->real_store);
}

static void set_kv(char ***env, const char *kv)
{
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = xstrndup(kv, (size_t)(eq - kv));
        skiff_strv_env_set(env, k, eq + 1);
}

int skiff_activation_env(const struct skiff_activation_input *in, char *const *spec_env,
                         char ***ret, skiff_err_t *err)
{
        for (size_t i = 0; spec_env && spec_env[i]; i++)
                if (!strchr(spec_env[i], '=') || spec_env[i][0] == '=')
                        return skiff_error_set(err, EINVAL,
                                               "`process.env[%zu]`: `%s` is not NAME=VALUE", i,
                                               spec_env[i]);
        _cleanup_strv_ char **env = xcalloc(1, sizeof(char *));
        skiff_strv_env_set(&env, "SKIFF_ENV", SKIFF_ACTIVATION_MOUNT);
        _cleanup_strbuf_ struct skiff_strbuf refs = SKIFF_STRBUF_INIT;
        for (size_t i = 0; in->refs && in->refs[i]; i++)
                skiff_strbuf_printf(&refs, "%s%s", i ? "," : "", in->refs[i]);
        skiff_strv_env_set(&env, "SKIFF_ENV_REF", refs.buf ? refs.buf : "");
        static const char *const certs[] = {"etc/ssl/certs/ca-bundle.crt",
                                            "etc/ssl/certs/ca-certificates.crt"};
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(certs); i++) {
                if (has(in, certs[i]) != 2)
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/%s", SKIFF_ACTIVATION_MOUNT, certs[i]);
                skiff_strv_env_set(&env, "SSL_CERT_FILE", p);
                skiff_strv_env_set(&env, "NIX_SSL_CERT_FILE", p);
                break;
        }
        if (has(in, "lib/locale/locale-archive") == 2)
                skiff_strv_env_set(&env, "LOCALE_ARCHIVE",
                                   SKIFF_ACTIVATION_MOUNT "/lib/locale/locale-archive");
        if (has(in, "share") == 1)
                skiff_strv_env_set(&env, "XDG_DATA_DIRS", SKIFF_ACTIVATION_MOUNT "/share");
        for (size_t l = 0; l < in->n_layers; l++) {
                char **vars = in->layers[l]->vars;
                for (size_t i = 0; vars && vars[i] && vars[i + 1]; i += 2)
                        skiff_strv_env_set(&env, vars[i], vars[i + 1]);
        }
        for (size_t i = 0; spec_env && spec_env[i]; i++)
                set_kv(&env, spec_env[i]);
        const char *base = skiff_strv_env_get(env, "PATH");
        if (!base)
                base = SKIFF_ACTIVATION_DEFAULT_PATH;
        size_t bl = strlen(BIN);
        if (!(strncmp(base, BIN, bl) == 0 && (base[bl] == ':' || base[bl] == '\0'))) {
                _cleanup_free_ char *path = *base ? xasprintf("%s:%s", BIN, base) : xstrdup(BIN);
                skiff_strv_env_set(&env, "PATH", path);
        }
        *ret = TAKE_PTR(env);
        return 0;
}

int skiff_activation_argv(const struct skiff_activation_input *in, char *const *args, char ***ret,
                          skiff_err_t *err)
{
        if (!args || !args[0])
                return skiff_error_set(err, EINVAL, "`process.args`: no command to run");
        _cleanup_strbuf_ struct skiff_strbuf script = SKIFF_STRBUF_INIT;
        for (size_t l = 0; l < in->n_layers; l++) {
                const char *hook = in->layers[l]->on_activate;
                if (!hook || !*hook)
                        continue;
                skiff_strbuf_printf(&script, "{\n%s\n} || exit $?\n", hook);
        }
        if (script.len == 0) {
                *ret = skiff_strv_copy(args);
                return 0;
        }
        if (has(in, "bin/sh") != 2)
                return skiff_error_set(err, ENOENT,
                                       "the environment has an on_activate hook but its profile "
                                       "has no `bin/sh` to run it");
        skiff_strbuf_puts(&script, "exec \"$@\"\n");
        _cleanup_strv_ char **argv = xcalloc(1, sizeof(char *));
        skiff_strv_push(&argv, BIN "/sh");
        skiff_strv_push(&argv, "-c");
        skiff_strv_push_take(&argv, skiff_strbuf_take(&script));
        skiff_strv_push(&argv, "--");
        for (size_t i = 0; args[i]; i++)
                skiff_strv_push(&argv, args[i]);
        *ret = TAKE_PTR(argv);
        return 0;
}
