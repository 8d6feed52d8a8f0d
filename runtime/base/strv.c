#include "strv.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void skiff_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t skiff_strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void skiff_strv_push_take(char ***v, char *s)
{
        size_t n = skiff_strv_len(*v);
        *v = xreallocarray(*v, n + 2, sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

void skiff_strv_push(char ***v, const char *s)
{
        skiff_strv_push_take(v, xstrdup(s));
}

char **skiff_strv_copy(char *const *v)
{
        if (!v)
                return NULL;
        size_t n = skiff_strv_len(v);
        char **r = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

bool skiff_strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

char **skiff_strv_split(const char *s, const char *seps, bool skip_empty)
{
        char **r = xcalloc(1, sizeof(char *));
        const char *p = s;
        for (;;) {
                size_t n = strcspn(p, seps);
                if (n > 0 || !skip_empty)
                        skiff_strv_push_take(&r, xstrndup(p, n));
                if (!p[n])
                        break;
                p += n + 1;
        }
        return r;
}

const char *skiff_strv_env_get(char *const *env, const char *key)
{
        size_t kl = strlen(key);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=')
                        return env[i] + kl + 1;
        return NULL;
}

void skiff_strv_env_set(char ***env, const char *key, const char *value)
{
        size_t kl = strlen(key);
        char *kv = xasprintf("%s=%s", key, value);
        for (size_t i = 0; *env && (*env)[i]; i++) {
                if (strncmp((*env)[i], key, kl) == 0 && (*env)[i][kl] == '=') {
                        free((*env)[i]);
                        (*env)[i] = kv;
                        return;
                }
        }
        skiff_strv_push_take(env, kv);
}
