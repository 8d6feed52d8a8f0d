#include <criterion/criterion.h>
#include <errno.h>

#include "shim/task_service.h"

/* main.c provides this in the shim binary; weak so a library definition wins. */
__attribute__((weak)) void skiff_shim_request_exit(void);
__attribute__((weak)) void skiff_shim_request_exit(void)
{
}

static const struct {
        int err;
        enum skiff_grpc_code code;
} mapping[] = {
    {ENOENT, SKIFF_GRPC_NOT_FOUND},
    {EEXIST, SKIFF_GRPC_ALREADY_EXISTS},
    {EINVAL, SKIFF_GRPC_INVALID_ARGUMENT},
    {EBUSY, SKIFF_GRPC_FAILED_PRECONDITION},
    {ENOTCONN, SKIFF_GRPC_FAILED_PRECONDITION},
    {ENOTSUP, SKIFF_GRPC_UNIMPLEMENTED},
    {ENOSYS, SKIFF_GRPC_UNIMPLEMENTED},
    {ETIMEDOUT, SKIFF_GRPC_DEADLINE_EXCEEDED},
    {ECANCELED, SKIFF_GRPC_CANCELLED},
    {EIO, SKIFF_GRPC_UNKNOWN},
    {EPERM, SKIFF_GRPC_UNKNOWN},
    {ESRCH, SKIFF_GRPC_UNKNOWN},
    {EBADMSG, SKIFF_GRPC_UNKNOWN},
};

Test(task_service, errno_maps_to_status_code_for_negative_and_positive)
{
        for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++) {
                cr_assert_eq(skiff_task_service_code(-mapping[i].err), mapping[i].code, "-%d",
                             mapping[i].err);
                cr_assert_eq(skiff_task_service_code(mapping[i].err), mapping[i].code, "%d",
                             mapping[i].err);
        }
        cr_assert_eq(skiff_task_service_code(0), SKIFF_GRPC_OK);
}
