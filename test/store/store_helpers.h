/* Shared helpers for the store test suites (header-only; each suite is one executable). */
#ifndef SKIFF_TEST_STORE_HELPERS_H
#define SKIFF_TEST_STORE_HELPERS_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"

#define NIX_ENV "NIX_CONFIG='substituters =\nexperimental-features = nix-command' "

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

/* Runs a command and returns its stdout (heap, trailing newline stripped). */
static inline char *th_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *th_out(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *cmd = xvasprintf(fmt, ap);
        va_end(ap);
        FILE *f = popen(cmd, "r");
        free(cmd);
        cr_assert(f);
        char *buf = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&buf, &cap, '\0', f);
        pclose(f);
        if (n <= 0) {
                free(buf);
                return xstrdup("");
        }
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        return buf;
}

static inline bool th_have_nix(void)
{
        return th_sh("command -v nix-store >/dev/null 2>&1 && [ $(id -u) = 0 ]") == 0;
}

static inline char *th_read(const char *path, size_t *len)
{
        char *buf = NULL;
        size_t l = 0;
        cr_assert_eq(skiff_fs_read_file(path, 1 << 30, &buf, &l, NULL), 0, "read %s", path);
        if (len)
                *len = l;
        return buf;
}

/* Directory with the fixture closure exported by test/fixtures/store/mkcache.sh (built once per
 * build tree). Skips the test when nix is not available. */
static inline const char *th_fixture(void)
{
        if (!th_have_nix())
                cr_skip_test("nix-store missing or not root");
        static char dir[512];
        snprintf(dir, sizeof(dir), "%s/test-fixtures/cache", SKIFF_BINARY_DIR);
        char root[600];
        snprintf(root, sizeof(root), "%s/root", dir);
        if (access(root, F_OK) != 0)
                cr_assert_eq(th_sh("%s/test/fixtures/store/mkcache.sh %s >/dev/null 2>&1",
                                   SKIFF_SOURCE_DIR, dir),
                             0, "mkcache.sh failed");
        return dir;
}

/* A fresh temporary directory (heap path). */
static inline char *th_tmpdir(void)
{
        char *t = xstrdup("/tmp/skiff-test-XXXXXX");
        cr_assert(mkdtemp(t));
        return t;
}

#endif
