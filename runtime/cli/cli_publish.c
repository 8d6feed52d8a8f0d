/* skiff publish OWNER/NAME --hub DIR (--paths P... | --closure FILE | --flox-lock FILE) ... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/keys.h"
#include "env/flox.h"
#include "env/generation.h"
#include "env/publish.h"
#include "store/config.h"
#include "store/sig.h"
#include "store/storepath.h"

#define HOOK_FILE_MAX (1024 * 1024)

static void usage(FILE *f)
{
        fprintf(
            f,
            "usage: skiff publish OWNER/NAME --hub DIR --key SECRET_KEY_FILE\n"
            "                     [--paths PATH... | --closure FILE | --flox-lock FILE]\n"
            "                     [--cache URL...] [--include REF...] [--var NAME=VALUE...]\n"
            "                     [--hook FILE] [--requires NAME=CONSTRAINT...]\n"
            "                     [--description TEXT] [--system SYSTEM] [--store-dir DIR]\n"
            "                     [--priority N] [--live] [--trusted-key KEY...]\n"
            "                     [--no-check-sigs] [--work-store DIR] [--config FILE] [--json]\n"
            "\n"
            "Writes the next generation (highest existing + 1) of OWNER/NAME into the hub\n"
            "directory DIR (DIR/skiff/v1/OWNER/NAME/N.json, N.json.sig, index.json), signed with\n"
            "the key, and prints OWNER/NAME@N.\n"
            "\n"
            "  --paths PATH...        store paths (in a --cache) that become the packages\n"
            "  --closure FILE         FILE lists store paths one per line (`nix-store -qR`); the\n"
            "                         ones no other listed path references become the packages\n"
            "  --flox-lock FILE       packages, vars and hook of a Flox manifest.lock (v1)\n"
            "  --cache URL...         binary caches (file://, http://, https://) to resolve the\n"
            "                         closure from, in order; recorded as substituter hints\n"
            "  --include REF...       compose earlier generations ([hub/]owner/name[@N]; no hub:\n"
            "                         this hub; no @N: its live generation)\n"
            "  --var NAME=VALUE...    environment variables (later wins over includes)\n"
            "  --hook FILE            shell script run on activation (after the includes' hooks)\n"
            "  --requires NAME=C...   system requirements, e.g. cuda='>=12.4'\n"
            "  --priority N           priority of the --paths/--closure packages (default 5;\n"
            "                         lower wins a file conflict)\n"
            "  --live                 also point `live` at the new generation\n"
            "  --trusted-key KEY...   keys (`name:base64` or a file) trusted for includes and\n"
            "                         narinfo signatures (with the node config's keys)\n"
            "  --no-check-sigs        do not check narinfo signatures (they are checked when a\n"
            "                         --trusted-key is given or the node config file exists)\n"
            "  --work-store DIR       store root used to realize the closure for the conflict\n"
            "                         check when it is not in the local store (default: a\n"
            "                         temporary directory, removed afterwards)\n"
            "  --system SYSTEM        default: this host's (%s)\n"
            "  --store-dir DIR        default: " SKIFF_STORE_DIR_DEFAULT "\n"
            "  --config FILE          node config (timeouts, credentials, hub aliases, keys)\n"
            "  --json                 print a JSON summary instead of OWNER/NAME@N\n"
            "\n"
            "Exit codes: 0 success, 1 failure, 2 usage error.\n",
            skiff_generation_host_system());
}

enum arity { FLAG, ONE, MANY };

struct opt {
        const char *name;
        enum arity arity;
        char ***values; /* every value, in order */
};

struct args {
        char **hub, **paths, **closure, **flox, **caches, **key, **trusted, **includes, **vars,
            **hook, **requires, **description, **system, **store_dir, **priority, **live,
            **no_check, **work_store, **config, **json, **help, **positional;
};

static void args_done(struct args *a)
{
        char ***all = (char ***)a;
        for (size_t i = 0; i < sizeof(*a) / sizeof(char **); i++)
                skiff_strv_free(all[i]);
}

/* Parses "--name value", "--name=value" and, for MANY options, "--name v1 v2 ..." (values up to
 * the next argument starting with "--"). Returns -1 on a usage error (message printed). */
static int parse_args(int argc, char **argv, struct args *a)
{
        const struct opt opts[] = {
            {"hub", ONE, &a->hub},
            {"paths", MANY, &a->paths},
            {"closure", ONE, &a->closure},
            {"flox-lock", ONE, &a->flox},
            {"cache", MANY, &a->caches},
            {"key", ONE, &a->key},
            {"trusted-key", MANY, &a->trusted},
            {"include", MANY, &a->includes},
            {"var", MANY, &a->vars},
            {"hook", ONE, &a->hook},
            {"requires", MANY, &a->requires},
            {"description", ONE, &a->description},
            {"system", ONE, &a->system},
            {"store-dir", ONE, &a->store_dir},
            {"priority", ONE, &a->priority},
            {"live", FLAG, &a->live},
            {"no-check-sigs", FLAG, &a->no_check},
            {"work-store", ONE, &a->work_store},
            {"config", ONE, &a->config},
            {"json", FLAG, &a->json},
            {"help", FLAG, &a->help},
        };
        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];
                if (strcmp(s, "-h") == 0)
                        s = "--help";
                if (strncmp(s, "--", 2) != 0) {
                        skiff_strv_push(&a->positional, s);
                        continue;
                }
                const char *eq = strchr(s, '=');
                size_t nl = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
                const struct opt *o = NULL;
                for (size_t k = 0; k < SKIFF_ARRAY_SIZE(opts) && !o; k++)
                        if (strlen(opts[k].name) == nl && strncmp(opts[k].name, s + 2, nl) == 0)
                                o = &opts[k];
                if (!o) {
                        fprintf(stderr, "skiff publish: unknown option `%s`\n", s);
                        return -1;
                }
                if (o->arity == FLAG) {
                        if (eq) {
                                fprintf(stderr, "skiff publish: `--%s` takes no value\n", o->name);
                                return -1;
                        }
                        skiff_strv_push(o->values, "1");
                        continue;
                }
                if (o->arity == ONE && *o->values) {
                        fprintf(stderr, "skiff publish: `--%s` given twice\n", o->name);
                        return -1;
                }
                size_t before = skiff_strv_len(*o->values);
                if (eq)
                        skiff_strv_push(o->values, eq + 1);
                else if (i + 1 < argc && (o->arity == ONE || strncmp(argv[i + 1], "--", 2) != 0))
                        skiff_strv_push(o->values, argv[++i]);
                while (o->arity == MANY && !eq && i + 1 < argc &&
                       strncmp(argv[i + 1], "--", 2) != 0)
                        skiff_strv_push(o->values, argv[++i]);
                if (skiff_strv_len(*o->values) == before) {
                        fprintf(stderr, "skiff publish: `--%s` needs a value\n", o->name);
                        return -1;
                }
        }
        return 0;
}

/* Splits "NAME=VALUE" items into alternating name, value. */
static int split_pairs(char *const *items, const char *what, char ***ret)
{
        for (char *const *it = items; it && *it; it++) {
                const char *eq = strchr(*it, '=');
                if (!eq || eq == *it) {
                        fprintf(stderr, "skiff publish: %s `%s`: expected NAME=VALUE\n", what, *it);
                        return -1;
                }
                skiff_strv_push_take(ret, xstrndup(*it, (size_t)(eq - *it)));
                skiff_strv_push(ret, eq + 1);
        }
        return 0;
}

static int read_closure_list(const char *file, char ***ret, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = skiff_fs_read_file(file, 64 * 1024 * 1024, &buf, &len, err);
        if (r < 0)
                return r;
        _cleanup_strv_ char **lines = skiff_strv_split(buf, "\n", true);
        _cleanup_strv_ char **out = NULL;
        for (char **l = lines; *l; l++) {
                char *s = *l;
                while (*s == ' ' || *s == '\t')
                        s++;
                size_t n = strlen(s);
                while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                        s[--n] = '\0';
                if (!*s || *s == '#')
                        continue;
                if (!skiff_strv_contains(out, s))
                        skiff_strv_push(&out, s);
        }
        if (!out)
                return skiff_error_set(err, EINVAL, "`%s` lists no store path", file);
        *ret = TAKE_PTR(out);
        return 0;
}

static void print_json(const char *env, const struct skiff_publish_result *res)
{
        static const char *const checks[_SKIFF_PUBLISH_CHECK_MAX] = {
            [SKIFF_PUBLISH_CHECK_SKIPPED] = "skipped",
            [SKIFF_PUBLISH_CHECK_LOCAL] = "local",
            [SKIFF_PUBLISH_CHECK_REALIZED] = "realized",
        };
        _cleanup_json_gen_ struct skiff_json_gen *j = skiff_json_gen_new(true);
        _cleanup_free_ char *ref = xasprintf("%s@%u", env, res->generation);
        skiff_json_gen_map_open(j);
        skiff_json_gen_kv_string(j, "ref", ref);
        skiff_json_gen_kv_u64(j, "generation", res->generation);
        skiff_json_gen_kv_string(j, "document", res->doc_path);
        skiff_json_gen_kv_string(j, "sha256", res->doc_sha256);
        skiff_json_gen_kv_u64(j, "packages", res->n_packages);
        skiff_json_gen_kv_u64(j, "closure_paths", res->n_closure);
        skiff_json_gen_kv_u64(j, "nar_size", res->nar_size);
        skiff_json_gen_kv_string(j, "conflict_check", checks[res->check]);
        skiff_json_gen_map_close(j);
        _cleanup_free_ char *out = NULL;
        if (skiff_json_gen_finish(j, &out, NULL, NULL) >= 0)
                printf("%s\n", out);
}

int skiff_cli_publish(int argc, char **argv)
{
        _cleanup_(args_done) struct args a = {0};
        if (parse_args(argc, argv, &a) < 0) {
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        if (a.help) {
                usage(stdout);
                return SKIFF_EXIT_OK;
        }
        int sources = !!a.paths + !!a.closure + !!a.flox;
        if (skiff_strv_len(a.positional) != 1 || !a.hub || !a.key || sources > 1 ||
            (sources == 0 && !a.includes)) {
                fprintf(stderr, "skiff publish: expected OWNER/NAME, --hub, --key and one of "
                                "--paths, --closure, --flox-lock (or --include)\n");
                usage(stderr);
                return SKIFF_EXIT_USAGE;
        }
        const char *hub = a.hub[0];
        if (strncmp(hub, "file://", 7) == 0)
                hub += 7;
        else if (strstr(hub, "://"))
                return skiff_cli_fail("publish", "--hub must be a directory (or file://DIR)");
        int32_t priority = SKIFF_GENERATION_PRIORITY_DEFAULT;
        if (a.priority) {
                int64_t v = 0;
                if (skiff_parse_i64(a.priority[0], &v) < 0 || v < INT32_MIN || v > INT32_MAX) {
                        fprintf(stderr, "skiff publish: invalid --priority `%s`\n", a.priority[0]);
                        return SKIFF_EXIT_USAGE;
                }
                priority = (int32_t)v;
        }
        _cleanup_strv_ char **vars = NULL, **requires = NULL;
        if (split_pairs(a.requires, "--requires", &requires) < 0)
                return SKIFF_EXIT_USAGE;

        _cleanup_error_ skiff_err_t err = NULL;
        _cleanup_config_ struct skiff_config *cfg = NULL;
        bool cfg_file = false;
        if (skiff_cli_load_config(a.config ? a.config[0] : NULL, &cfg, &cfg_file, &err) < 0)
                return skiff_cli_fail("publish", err->msg);
        const char *system = a.system ? a.system[0] : skiff_generation_host_system();
        const char *store_dir = a.store_dir ? a.store_dir[0] : SKIFF_STORE_DIR_DEFAULT;

        struct skiff_sig_seckey sk;
        if (skiff_cli_read_secret_key(a.key[0], &sk, &err) < 0)
                return skiff_cli_fail("publish", err->msg);
        size_t ntrusted = skiff_strv_len(a.trusted) + (cfg_file ? cfg->nkeys : 0);
        _cleanup_free_ struct skiff_sig_pubkey *trusted = xcalloc(ntrusted + 1, sizeof(*trusted));
        size_t nt = 0;
        for (char **k = a.trusted; k && *k; k++)
                if (skiff_cli_parse_key(*k, &trusted[nt++], &err) < 0)
                        return skiff_cli_fail("publish", err->msg);
        for (size_t i = 0; cfg_file && i < cfg->nkeys; i++)
                trusted[nt++] = cfg->keys[i];
        bool check_sigs = !a.no_check && (a.trusted || cfg_file);

        _cleanup_free_ struct skiff_publish_package *pkgs = NULL;
        size_t npkgs = 0;
        _cleanup_strv_ char **closure_list = NULL;
        _cleanup_flox_ struct skiff_flox_lock *flox = NULL;
        _cleanup_free_ char *hook = NULL;
        if (a.paths) {
                npkgs = skiff_strv_len(a.paths);
                pkgs = xcalloc(npkgs, sizeof(*pkgs));
                for (size_t i = 0; i < npkgs; i++)
                        pkgs[i] = (struct skiff_publish_package){a.paths[i], priority};
        } else if (a.closure) {
                if (read_closure_list(a.closure[0], &closure_list, &err) < 0)
                        return skiff_cli_fail("publish", err->msg);
        } else if (a.flox) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                if (skiff_fs_read_file(a.flox[0], SKIFF_FLOX_LOCK_MAX, &buf, &len, &err) < 0 ||
                    skiff_flox_parse(buf, len, system, store_dir, &flox, &err) < 0) {
                        skiff_error_wrap(&err, "flox lockfile `%s`", a.flox[0]);
                        return skiff_cli_fail("publish", err->msg);
                }
                npkgs = flox->n_packages;
                pkgs = xcalloc(npkgs + 1, sizeof(*pkgs));
                for (size_t i = 0; i < npkgs; i++)
                        pkgs[i] = (struct skiff_publish_package){flox->packages[i].path,
                                                                 flox->packages[i].priority};
                for (char **v = flox->vars; *v; v++)
                        skiff_strv_push(&vars, *v);
                if (flox->on_activate)
                        hook = xstrdup(flox->on_activate);
        }
        if (split_pairs(a.vars, "--var", &vars) < 0)
                return SKIFF_EXIT_USAGE;
        if (a.hook) {
                _cleanup_free_ char *script = NULL;
                if (skiff_fs_read_file(a.hook[0], HOOK_FILE_MAX, &script, NULL, &err) < 0)
                        return skiff_cli_fail("publish", err->msg);
                char *joined = hook ? xasprintf("%s\n%s", hook, script) : TAKE_PTR(script);
                free(hook);
                hook = joined;
        }

        struct skiff_publish_options o = {
            .hub_dir = hub,
            .environment = a.positional[0],
            .system = system,
            .store_dir = store_dir,
            .caches = a.caches,
            .packages = pkgs,
            .n_packages = npkgs,
            .closure_list = closure_list,
            .closure_priority = priority,
            .includes = a.includes,
            .vars = vars,
            .on_activate = hook,
            .requires = requires,
            .description = a.description ? a.description[0] : NULL,
            .live = a.live != NULL,
            .key = &sk,
            .trusted = trusted,
            .ntrusted = nt,
            .check_sigs = check_sigs,
            .cfg = cfg,
            .work_store = a.work_store ? a.work_store[0] : NULL,
        };
        struct skiff_publish_result res = {0};
        int r = skiff_publish_run(&o, &res, &err);
        explicit_bzero(&sk, sizeof(sk));
        if (r < 0)
                return skiff_cli_fail("publish", err->msg);
        if (a.json)
                print_json(a.positional[0], &res);
        else
                printf("%s@%u\n", a.positional[0], res.generation);
        skiff_publish_result_done(&res);
        return SKIFF_EXIT_OK;
}
