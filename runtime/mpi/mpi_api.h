/*
 * mpi_api.h — MPI for `mpirun -n N llmnas run ...`, loaded only when launched that way
 * (Lua-free).
 *
 * llmnas itself never links MPI: a laptop user without Open MPI installed, or anyone
 * running `llmnas run` directly, gets no MPI initialisation and no library surprises.
 * The few MPI calls the search needs live in a plugin, build/llmnas_mpi.so (built from
 * runtime/mpi/plugin/ against Debian's libopenmpi-dev, next to the binary), which
 * mpi_load() dlopens when the environment says a launcher started this process
 * (OMPI_COMM_WORLD_SIZE from mpirun, PMIX_RANK from srun). A plugin linked normally to
 * libmpi, rather than dlsym'ing MPI itself, keeps Open MPI's handles (MPI_COMM_WORLD is
 * a link-time global) where the compiler and mpi.h put them.
 *
 * Messages are byte strings (JSON by convention) with a tag; see stdlib/llmnas/mpi.lua
 * for the protocol between rank 0 (the strategy) and the evaluator ranks.
 * Return codes: 0, or -1 with a message. Used by one thread.
 */
#ifndef LLMNAS_MPI_API_H
#define LLMNAS_MPI_API_H

#include <stddef.h>

#define LLMNAS_MPI_API_VERSION 1

typedef struct mpi_api {
    int version;  /* LLMNAS_MPI_API_VERSION */
    /* MPI_Init; rank and size of MPI_COMM_WORLD. */
    int (*init)(int *rank, int *size, char *err, size_t errlen);
    /* Blocking send of len bytes to rank dest with tag. */
    int (*send)(int dest, int tag, const char *buf, size_t len, char *err, size_t errlen);
    /* Non-blocking: 1 if a message is waiting (its source, tag and length), 0 if not. */
    int (*probe)(int *src, int *tag, size_t *len);
    /* Receive the message probe announced into buf[len]. */
    int (*recv)(int src, int tag, char *buf, size_t len, char *err, size_t errlen);
    void (*finalize)(void);
    /* MPI_Abort(MPI_COMM_WORLD, code): ends every rank. */
    void (*abort)(int code);
} mpi_api;

/* The plugin's entry point: a pointer to its table. */
typedef const mpi_api *(*mpi_api_fn)(void);

/* 1 if an MPI launcher started this process (OMPI_COMM_WORLD_SIZE or PMIX_RANK set). */
int mpi_launched(void);

/* Load the plugin: $LLMNAS_MPI_PLUGIN, else llmnas_mpi.so beside the executable.
 * Returns 0 and *out, or -1 with a message naming the file and what to install. */
int mpi_load(const mpi_api **out, char *err, size_t errlen);

#endif
