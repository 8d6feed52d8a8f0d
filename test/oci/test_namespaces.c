#include <criterion/criterion.h>

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "oci/namespaces.h"
#include "oci/spec.h"

static struct skiff_spec_namespace ns[4];

static struct skiff_spec spec_with(size_t n)
{
        struct skiff_spec s;
        memset(&s, 0, sizeof(s));
        s.linux_.namespaces = ns;
        s.linux_.n_namespaces = n;
        return s;
}

Test(namespaces, new_flags_leave_cgroup_and_time_to_the_child)
{
        ns[0] = (struct skiff_spec_namespace){SKIFF_NS_PID, NULL};
        ns[1] = (struct skiff_spec_namespace){SKIFF_NS_MOUNT, NULL};
        ns[2] = (struct skiff_spec_namespace){SKIFF_NS_CGROUP, NULL};
        ns[3] = (struct skiff_spec_namespace){SKIFF_NS_NETWORK, "/proc/1/ns/net"};
        struct skiff_spec s = spec_with(4);
        int flags = 0;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_namespaces_new_flags(&s, &flags, &e), 0);
        cr_assert_eq(flags, CLONE_NEWPID | CLONE_NEWNS);
        cr_assert(skiff_namespaces_is_new(&s, SKIFF_NS_CGROUP));
        cr_assert_not(skiff_namespaces_is_new(&s, SKIFF_NS_NETWORK));
        cr_assert_not(skiff_namespaces_is_new(&s, SKIFF_NS_UTS));
}

Test(namespaces, duplicate_type_is_an_error)
{
        ns[0] = (struct skiff_spec_namespace){SKIFF_NS_UTS, NULL};
        ns[1] = (struct skiff_spec_namespace){SKIFF_NS_UTS, NULL};
        struct skiff_spec s = spec_with(2);
        int flags = 0;
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_namespaces_new_flags(&s, &flags, &e), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(e), "linux.namespaces[1]: namespace `uts` listed twice");
        skiff_error_free(&e);
}

Test(namespaces, open_paths_checks_the_type)
{
        if (access("/proc/self/ns/net", R_OK) != 0)
                cr_skip_test("no /proc/self/ns");
        ns[0] = (struct skiff_spec_namespace){SKIFF_NS_IPC, "/proc/self/ns/net"};
        struct skiff_spec s = spec_with(1);
        struct skiff_ns_fds f;
        skiff_ns_fds_init(&f);
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_namespaces_open_paths(&s, &f, &e), -EINVAL);
        cr_assert_str_eq(skiff_error_msg(e),
                         "`/proc/self/ns/net` is not a namespace of type `ipc`");
        skiff_error_free(&e);
        skiff_ns_fds_close(&f);

        ns[0] = (struct skiff_spec_namespace){SKIFF_NS_IPC, "/nonexistent/ns"};
        cr_assert_eq(skiff_namespaces_open_paths(&s, &f, &e), -ENOENT);
        cr_assert(strstr(skiff_error_msg(e), "open ipc namespace `/nonexistent/ns`"), "%s",
                  skiff_error_msg(e));
        skiff_error_free(&e);

        ns[0] = (struct skiff_spec_namespace){SKIFF_NS_NETWORK, "/proc/self/ns/net"};
        cr_assert_eq(skiff_namespaces_open_paths(&s, &f, &e), 0);
        cr_assert_geq(f.fd[SKIFF_NS_NETWORK], 0);
        skiff_ns_fds_close(&f);
        cr_assert_lt(f.fd[SKIFF_NS_NETWORK], 0);
}

Test(namespaces, open_pid_skips_own_namespaces)
{
        if (access("/proc/self/ns/net", R_OK) != 0)
                cr_skip_test("no /proc/self/ns");
        struct skiff_ns_fds f;
        skiff_ns_fds_init(&f);
        skiff_err_t e = NULL;
        cr_assert_eq(skiff_namespaces_open_pid(getpid(), &f, &e), 0, "%s", skiff_error_msg(e));
        for (int t = 0; t < _SKIFF_NS_MAX; t++)
                cr_assert_lt(f.fd[t], 0, "namespace %s opened", skiff_namespace_name(t));
}
