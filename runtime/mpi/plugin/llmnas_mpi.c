/*
 * llmnas_mpi.c — the MPI plugin (build/llmnas_mpi.so): the calls of mpi_api.h on
 * Open MPI, linked against libmpi. Loaded by mpi_load() only under mpirun / srun.
 */
#include "mpi/mpi_api.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>

static void say(char *err, size_t errlen, const char *what, int rc)
{
    char msg[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, msg, &n) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", rc);
    if (err && errlen)
        snprintf(err, errlen, "mpi: %s: %s", what, msg);
}

static int p_init(int *rank, int *size, char *err, size_t errlen)
{
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS) {
        say(err, errlen, "MPI_Init", rc);
        return -1;
    }
    /* errors come back as codes, not as an abort of every rank */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

static int p_send(int dest, int tag, const char *buf, size_t len, char *err, size_t errlen)
{
    if (len > INT_MAX) {
        snprintf(err, errlen, "mpi: a message of %zu bytes is too long", len);
        return -1;
    }
    int rc = MPI_Send(buf, (int)len, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        say(err, errlen, "MPI_Send", rc);
        return -1;
    }
    return 0;
}

static int p_probe(int *src, int *tag, size_t *len)
{
    int flag = 0, count = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS || !flag)
        return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    *src = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    *len = (size_t)count;
    return 1;
}

static int p_recv(int src, int tag, char *buf, size_t len, char *err, size_t errlen)
{
    int rc = MPI_Recv(buf, (int)len, MPI_BYTE, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        say(err, errlen, "MPI_Recv", rc);
        return -1;
    }
    return 0;
}

static void p_finalize(void) { MPI_Finalize(); }
static void p_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

const mpi_api *llmnas_mpi_api(void);
const mpi_api *llmnas_mpi_api(void)
{
    static const mpi_api api = {LLMNAS_MPI_API_VERSION, p_init, p_send, p_probe, p_recv,
                                p_finalize, p_abort};
    return &api;
}
