#include "oci/caps.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"

/* "<what> `CAP_FOO`: <strerror>" with the capability's upper-case name. */
static int cap_error(skiff_err_t *err, int errnum, const char *what, unsigned cap)
{
        char *lower = cap_to_name((cap_value_t)cap); /* libcap memory: cap_free() */
        char name[64] = "?";
        if (lower) {
                size_t i = 0;
                for (; lower[i] && i < sizeof(name) - 1; i++)
                        name[i] = (char)toupper((unsigned char)lower[i]);
                name[i] = '\0';
                cap_free(lower);
        }
        return skiff_error_set_errno(err, errnum, "%s `%s`", what, name);
}

static int names_to_mask(char *const *names, const char *set, uint64_t *out, skiff_err_t *err)
{
        uint64_t mask = 0;
        for (size_t i = 0; names && names[i]; i++) {
                cap_value_t cap = -1;
                if (strncmp(names[i], "CAP_", 4) != 0 || cap_from_name(names[i], &cap) < 0 ||
                    cap < 0 || cap > 63)
                        return skiff_error_set(err, EINVAL,
                                               "process.capabilities.%s: unknown capability `%s`",
                                               set, names[i]);
                mask |= UINT64_C(1) << cap;
        }
        *out = mask;
        return 0;
}

int skiff_caps_plan_from_spec(const struct skiff_spec_caps *c, struct skiff_caps_plan *out,
                              skiff_err_t *err)
{
        const struct {
                char *const *names;
                const char *set;
                uint64_t *mask;
        } sets[] = {
            {c->bounding, "bounding", &out->bounding},
            {c->effective, "effective", &out->effective},
            {c->permitted, "permitted", &out->permitted},
            {c->inheritable, "inheritable", &out->inheritable},
            {c->ambient, "ambient", &out->ambient},
        };
        struct skiff_caps_plan plan = {0};
        *out = plan;
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(sets); i++) {
                int r = names_to_mask(sets[i].names, sets[i].set, sets[i].mask, err);
                if (r < 0) {
                        *out = plan;
                        return r;
                }
        }
        return 0;
}

int skiff_caps_last_cap(unsigned *out, skiff_err_t *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        uint64_t v = 0;
        if (skiff_fs_read_file("/proc/sys/kernel/cap_last_cap", 32, &buf, &len, NULL) == 0) {
                if (len > 0 && buf[len - 1] == '\n')
                        buf[len - 1] = '\0';
                if (skiff_parse_u64(buf, &v) == 0 && v < 64) {
                        *out = (unsigned)v;
                        return 0;
                }
        }
        /* /proc may be missing or masked in the child: probe the bounding set instead. */
        unsigned last = 0;
        while (last < 63 && prctl(PR_CAPBSET_READ, (unsigned long)last + 1, 0, 0, 0) >= 0)
                last++;
        if (prctl(PR_CAPBSET_READ, 0UL, 0, 0, 0) < 0)
                return skiff_error_set_errno(err, errno, "determine the last capability");
        *out = last;
        return 0;
}

int skiff_caps_drop_bounding(const struct skiff_caps_plan *p, skiff_err_t *err)
{
        unsigned last = 0;
        int r = skiff_caps_last_cap(&last, err);
        if (r < 0)
                return r;
        for (unsigned cap = 0; cap <= last; cap++) {
                if (p->bounding & (UINT64_C(1) << cap))
                        continue;
                int in = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
                if (in < 0) {
                        if (errno == EINVAL)
                                continue; /* not known to this kernel */
                        return skiff_error_set_errno(err, errno, "read bounding capability %u",
                                                     cap);
                }
                if (in == 0)
                        continue;
                if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
                        return cap_error(err, errno, "drop from the bounding set", cap);
        }
        return 0;
}

int skiff_caps_apply(const struct skiff_caps_plan *p, skiff_err_t *err)
{
        unsigned last = 0;
        int r = skiff_caps_last_cap(&last, err);
        if (r < 0)
                return r;
        uint64_t known = last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
        uint64_t eff = p->effective & known, perm = p->permitted & known;
        uint64_t inh = p->inheritable & known, amb = p->ambient & known;

        struct __user_cap_header_struct hdr = {
            .version = _LINUX_CAPABILITY_VERSION_3,
            .pid = 0,
        };
        struct __user_cap_data_struct data[2] = {
            {
                .effective = (uint32_t)eff,
                .permitted = (uint32_t)perm,
                .inheritable = (uint32_t)inh,
            },
            {
                .effective = (uint32_t)(eff >> 32),
                .permitted = (uint32_t)(perm >> 32),
                .inheritable = (uint32_t)(inh >> 32),
            },
        };
        if (syscall(SYS_capset, &hdr, data) < 0)
                return skiff_error_set_errno(err, errno, "set capabilities");

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) < 0) {
                if (errno == EINVAL && amb == 0)
                        return 0; /* kernel without ambient capabilities (< 4.3) */
                return skiff_error_set_errno(err, errno, "clear ambient capabilities");
        }
        for (unsigned cap = 0; cap <= last; cap++) {
                if (!(amb & (UINT64_C(1) << cap)))
                        continue;
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0UL, 0UL) < 0)
                        return cap_error(err, errno, "raise ambient capability", cap);
        }
        return 0;
}
