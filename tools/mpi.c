/* mpi.c - tools/mpi.h over Open MPI (compiled with mpicc). */
#include "tools/mpi.h"

#include <inttypes.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"

static int started;

void cli_mpi_start(struct cli_mpi *m)
{
    *m = (struct cli_mpi){0, 1};
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (!size || started) return;
    /* a rank that waits for the others' shares in the sum gives up its core
     * (sched_yield) rather than spin on it: on a machine that other work
     * shares, spinning took 20-45% more CPU time and ran slower than one
     * process (README, MPI). The environment's choice wins. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return;
    started = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const char *threads = getenv("TRELLIS_THREADS");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if ((!threads || !*threads) && local && atoi(local) > 1 && cpus > 0) {
        long share = cpus / atoi(local);
        trl_set_threads(share > 0 ? (int)share : 1);
    }
}

int cli_mpi_sum(void *ctx, double *values, size_t n)
{
    (void)ctx;
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (n > (size_t)INT32_MAX) return -1;
    double *all = rank == 0 ? malloc((size_t)size * n * sizeof *all + 1) : NULL;
    int failed = rank == 0 && !all;
    /* rank 0's failure to allocate is everyone's: decided before the gather */
    if (MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS || failed) {
        free(all);
        return -1;
    }
    int rc = MPI_Gather(values, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS && rank == 0)
        for (size_t i = 0; i < n; i++) {
            double sum = all[i];
            for (int r = 1; r < size; r++) sum += all[(size_t)r * n + i];
            values[i] = sum;
        }
    free(all);
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(values, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : -1;
}

int cli_mpi_same(const struct cli_mpi *m, const char *cmd, uint64_t hash)
{
    if (m->size <= 1) return 0;
    uint64_t root = hash;
    int differs = 0, any = 0;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    differs = root != hash;
    MPI_Allreduce(&differs, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (differs)
        fprintf(stderr,
                "trellis %s: rank %d read a graph or data that differ from rank 0's (hash "
                "%016" PRIx64 ", rank 0: %016" PRIx64 "): every rank must read the same files\n",
                cmd, m->rank, hash, root);
    return any ? EXIT_INPUT : 0;
}

int cli_mpi_end(const struct cli_mpi *m, int status)
{
    if (!started) return status;
    if (status != 0 && m->size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    MPI_Finalize();
    started = 0;
    return status;
}
