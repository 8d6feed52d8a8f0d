// The probe's kernel, compiled to PTX by nvcc on the machine that runs the GPU tests
// (e2e/lib/gpufix.sh); cuprobe loads the PTX with cuModuleLoadData, so the driver JIT-compiles it.
extern "C" __global__ void store42(unsigned *out)
{
        *out = 42;
}
