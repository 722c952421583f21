/*
 * mpi_load.c — find and dlopen the MPI plugin (see mpi_api.h).
 */
#include "mpi/mpi_api.h"
#include "base/rt.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

int mpi_load(const mpi_api **out, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    const char *env = getenv("LLMNAS_MPI_PLUGIN");
    if (env && env[0]) {
        rt_fmt(path, sizeof path, "%s", env);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) {
            rt_fmt(err, errlen, "mpi: cannot find the executable's folder (set LLMNAS_MPI_PLUGIN)");
            return -1;
        }
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        rt_fmt(path, sizeof path, "%s/llmnas_mpi.so", exe);
    }
    /* RTLD_GLOBAL: Open MPI loads its own components with dlopen and expects
     * libmpi's symbols to be visible to them */
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        rt_fmt(err, errlen, "mpi: launched by mpirun/srun but the MPI plugin cannot be loaded: %s "
               "(install libopenmpi-dev and openmpi-bin, then rebuild: make deps && make)", dlerror());
        return -1;
    }
    mpi_api_fn fn;
    *(void **)&fn = dlsym(h, "llmnas_mpi_api");
    const mpi_api *api = fn ? fn() : NULL;
    if (!api || api->version != LLMNAS_MPI_API_VERSION) {
        rt_fmt(err, errlen, "mpi: %s is not an llmnas MPI plugin of this version (rebuild it)", path);
        dlclose(h);
        return -1;
    }
    *out = api;
    return 0;
}
