/* Shared helpers for the env test suites (header-only; each suite is one executable). */
#ifndef SKIFF_TEST_ENV_HELPERS_H
#define SKIFF_TEST_ENV_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "store/nixhash.h"

/* A valid store path "/nix/store/<32 nixbase32 chars derived from seed>-<name>" (heap). */
static inline char *th_store_path(const char *store_dir, const char *seed, const char *name)
{
        static const char alpha[] = "0123456789abcdfghijklmnpqrsvwxyz";
        uint8_t d[SKIFF_SHA256_LEN];
        skiff_sha256_oneshot(seed, strlen(seed), d);
        char h[33];
        for (int i = 0; i < 32; i++)
                h[i] = alpha[d[i] % 32];
        h[32] = '\0';
        return xasprintf("%s/%s-%s", store_dir, h, name);
}

/* "sha256:<nixbase32>" of seed (heap). */
static inline char *th_hash(const char *seed)
{
        struct skiff_nixhash h;
        skiff_sha256_oneshot(seed, strlen(seed), h.d);
        char buf[SKIFF_NIXHASH_STR_MAX];
        skiff_nixhash_format(&h, buf);
        return xstrdup(buf);
}

/* Replaces the first occurrence of from in s by to; asserts that from occurs. Heap. */
static __attribute__((noinline, unused)) char *th_replace(const char *s, const char *from,
                                                          const char *to)
{
        const char *p = strstr(s, from);
        cr_assert(p, "`%s` not found in the document", from);
        return xasprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

static inline char *th_tmpdir(void)
{
        char *t = xstrdup("/tmp/skiff-env-test-XXXXXX");
        cr_assert(mkdtemp(t));
        return t;
}

static inline int th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int th_sh(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *cmd = xvasprintf(fmt, ap);
        va_end(ap);
        int st = system(cmd);
        free(cmd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline void th_write(const char *path, const char *data)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *sl = strrchr(dir, '/');
        if (sl) {
                *sl = '\0';
                cr_assert_eq(skiff_fs_mkdir_p(dir, 0755, NULL), 0);
        }
        cr_assert_eq(skiff_fs_write_file_atomic(path, data, strlen(data), 0644, false, NULL), 0,
                     "write %s", path);
}

static inline char *th_read(const char *path)
{
        char *buf = NULL;
        cr_assert_eq(skiff_fs_read_file(path, 1 << 26, &buf, NULL, NULL), 0, "read %s", path);
        return buf;
}

/* A valid generation document for acme/app@gen: two packages (hello priority 5, extra priority
 * 3) whose closure is hello -> glibc, extra -> glibc, glibc (self reference). The store paths are
 * derived from the given tag so different generations differ. Heap JSON. */
static inline char *th_doc(unsigned gen, const char *tag)
{
        _cleanup_free_ char *sh = xasprintf("%s-hello", tag), *sg = xasprintf("%s-glibc", tag),
                            *sx = xasprintf("%s-extra", tag);
        _cleanup_free_ char *hello = th_store_path("/nix/store", sh, "hello-2.12");
        _cleanup_free_ char *glibc = th_store_path("/nix/store", sg, "glibc-2.36");
        _cleanup_free_ char *extra = th_store_path("/nix/store", sx, "extra-1.0");
        _cleanup_free_ char *h1 = th_hash(sh), *h2 = th_hash(sg), *h3 = th_hash(sx),
                            *f1 = th_hash("f1");
        return xasprintf(
            "{\"schema\": \"skiff.dev/generation/v1\", \"environment\": \"acme/app\",\n"
            " \"generation\": %u, \"created\": \"2024-05-01T12:00:00Z\",\n"
            " \"description\": \"test %s\", \"includes\": [\"acme/base@3\"],\n"
            " \"systems\": {\"x86_64-linux\": {\"store_dir\": \"/nix/store\",\n"
            "   \"packages\": [{\"name\": \"hello\", \"path\": \"%s\", \"priority\": 5},\n"
            "                {\"name\": \"extra\", \"path\": \"%s\", \"priority\": 3}],\n"
            "   \"closure\": [\n"
            "    {\"path\": \"%s\", \"narHash\": \"%s\", \"narSize\": 1000, \"references\": "
            "[\"%s\"], \"url\": \"nar/a.nar.zst\", \"compression\": \"zstd\", \"fileHash\": "
            "\"%s\", \"fileSize\": 500},\n"
            "    {\"path\": \"%s\", \"narHash\": \"%s\", \"narSize\": 2000, \"references\": "
            "[\"%s\"]},\n"
            "    {\"path\": \"%s\", \"narHash\": \"%s\", \"narSize\": 3000, \"references\": "
            "[\"%s\", \"%s\"]}],\n"
            "   \"substituters\": [\"https://cache.example.org\"]}},\n"
            " \"vars\": {\"GREETING\": \"hi %s\", \"LANG\": \"C.UTF-8\"},\n"
            " \"hook\": {\"on_activate\": \"echo activated\"},\n"
            " \"requires\": {\"cuda\": \">=12.4\"}}\n",
            gen, tag, hello, extra, hello, h1, glibc, f1, glibc, h2, glibc, extra, h3, glibc, extra,
            tag);
}

#endif
