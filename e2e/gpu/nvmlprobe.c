/* nvmlprobe: NVML through dlopen only: init, driver and CUDA versions, device count, and per
 * device the name, UUID and minor number. Exit 0 only if every call worked and at least one
 * device was found. */
#include <dlfcn.h>
#include <stdio.h>

typedef int (*fn_void)(void);
typedef int (*fn_str)(char *, unsigned);
typedef int (*fn_int_p)(int *);
typedef int (*fn_uint_p)(unsigned *);
typedef int (*fn_handle)(unsigned, void **);
typedef int (*fn_dev_str)(void *, char *, unsigned);
typedef int (*fn_dev_uint)(void *, unsigned *);

int main(void)
{
        void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
        if (!h) {
                printf("dlopen: %s\n", dlerror());
                return 1;
        }
#define SYM(t, n) ((t)dlsym(h, n))
        char drv[96] = "", name[96] = "", uuid[96] = "";
        int cuda = 0;
        unsigned n = 0, minor = 0;
        void *dev = NULL;
        int r_init = SYM(fn_void, "nvmlInit_v2")();
        int r_drv = SYM(fn_str, "nvmlSystemGetDriverVersion")(drv, sizeof(drv));
        int r_cuda = SYM(fn_int_p, "nvmlSystemGetCudaDriverVersion_v2")(&cuda);
        int r_n = SYM(fn_uint_p, "nvmlDeviceGetCount_v2")(&n);
        int r_h = n ? SYM(fn_handle, "nvmlDeviceGetHandleByIndex_v2")(0, &dev) : -1;
        int r_name = dev ? SYM(fn_dev_str, "nvmlDeviceGetName")(dev, name, sizeof(name)) : -1;
        int r_uuid = dev ? SYM(fn_dev_str, "nvmlDeviceGetUUID")(dev, uuid, sizeof(uuid)) : -1;
        int r_minor = dev ? SYM(fn_dev_uint, "nvmlDeviceGetMinorNumber")(dev, &minor) : -1;
        printf("init=%d drv=%s(rc%d) cuda=%d(rc%d) n=%u(rc%d) name=%s(rc%d) uuid=%s(rc%d) "
               "minor=%u(rc%d)\n",
               r_init, drv, r_drv, cuda, r_cuda, n, r_n, name, r_name, uuid, r_uuid, minor,
               r_minor);
        SYM(fn_void, "nvmlShutdown")();
        return (r_init | r_drv | r_cuda | r_n | r_h | r_name | r_uuid | r_minor) || n < 1 ? 2 : 0;
}
