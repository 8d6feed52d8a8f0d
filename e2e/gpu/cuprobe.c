/* cuprobe: exercises the CUDA driver API through dlopen only (no CUDA headers or toolkit needed
 * to build it): version, cuInit, device count and name, context, memory, and a kernel that is
 * JIT-compiled from PTX (needs libnvidia-ptxjitcompiler, which libcuda dlopen()s by SONAME) and
 * whose result is copied back and checked. Prints one line of results; exit 0 only if every
 * step worked and the kernel wrote the expected value. Set CUDA_CACHE_DISABLE=1 to force JIT.
 * Built with -DCUPROBE_PTX_INC="file.h", the PTX is the one nvcc produced into that header
 * (e2e/gpu/store42.cu); otherwise the hand-written equivalent below. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*fn_int_p)(int *);
typedef int (*fn_uint)(unsigned);
typedef int (*fn_dev_get)(int *, int);
typedef int (*fn_dev_name)(char *, int, int);
typedef int (*fn_ctx_retain)(void **, int);
typedef int (*fn_ctx_set)(void *);
typedef int (*fn_alloc)(unsigned long long *, size_t);
typedef int (*fn_mod_load)(void **, const void *);
typedef int (*fn_mod_fn)(void **, void *, const char *);
typedef int (*fn_launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                         unsigned, void *, void **, void **);
typedef int (*fn_sync)(void);
typedef int (*fn_dtoh)(void *, unsigned long long, size_t);

#ifdef CUPROBE_PTX_INC
#include CUPROBE_PTX_INC
static const char ptx_source[] = "nvcc";
#else
static const char ptx_source[] = "builtin";
static const char ptx[] = ".version 8.0\n"
                          ".target sm_90\n"
                          ".address_size 64\n"
                          ".visible .entry store42(.param .u64 out)\n"
                          "{\n"
                          "  .reg .b64 %rd<3>;\n"
                          "  .reg .b32 %r<2>;\n"
                          "  ld.param.u64 %rd1, [out];\n"
                          "  cvta.to.global.u64 %rd2, %rd1;\n"
                          "  mov.u32 %r1, 42;\n"
                          "  st.global.u32 [%rd2], %r1;\n"
                          "  ret;\n"
                          "}\n";
#endif

int main(void)
{
        void *h = dlopen("libcuda.so.1", RTLD_NOW);
        if (!h) {
                printf("dlopen: %s\n", dlerror());
                return 1;
        }
#define SYM(t, n) ((t)dlsym(h, n))
        int ver = 0, count = 0, dev = 0;
        char name[128] = "";
        void *ctx = NULL, *mod = NULL, *fn = NULL;
        unsigned long long dptr = 0;
        unsigned value = 0;
        int r_ver = SYM(fn_int_p, "cuDriverGetVersion")(&ver);
        int r_init = SYM(fn_uint, "cuInit")(0);
        int r_count = SYM(fn_int_p, "cuDeviceGetCount")(&count);
        if (count > 0) {
                SYM(fn_dev_get, "cuDeviceGet")(&dev, 0);
                SYM(fn_dev_name, "cuDeviceGetName")(name, sizeof(name), dev);
        }
        int r_ctx = count > 0 ? SYM(fn_ctx_retain, "cuDevicePrimaryCtxRetain")(&ctx, dev) : -1;
        int r_set = ctx ? SYM(fn_ctx_set, "cuCtxSetCurrent")(ctx) : -1;
        int r_alloc = ctx ? SYM(fn_alloc, "cuMemAlloc_v2")(&dptr, 4) : -1;
        int r_jit = ctx ? SYM(fn_mod_load, "cuModuleLoadData")(&mod, ptx) : -1;
        int r_fn = mod ? SYM(fn_mod_fn, "cuModuleGetFunction")(&fn, mod, "store42") : -1;
        void *args[] = {&dptr};
        int r_launch =
            fn && dptr ? SYM(fn_launch, "cuLaunchKernel")(fn, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL)
                       : -1;
        int r_sync = ctx ? SYM(fn_sync, "cuCtxSynchronize")() : -1;
        int r_copy = dptr ? SYM(fn_dtoh, "cuMemcpyDtoH_v2")(&value, dptr, 4) : -1;
        printf("driverVersion=%d(rc%d) cuInit=%d count=%d(rc%d) name=%s ctx=%d set=%d alloc=%d "
               "ptxjit=%d getfn=%d launch=%d sync=%d copy=%d value=%u ptx=%s\n",
               ver, r_ver, r_init, count, r_count, name, r_ctx, r_set, r_alloc, r_jit, r_fn,
               r_launch, r_sync, r_copy, value, ptx_source);
        int bad = r_ver | r_init | r_count | r_ctx | r_set | r_alloc | r_jit | r_fn | r_launch |
                  r_sync | r_copy | (count < 1) | (value != 42);
        return bad ? 2 : 0;
}
