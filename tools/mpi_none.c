/* mpi_none.c - tools/mpi.h without MPI (no mpicc at build time): one
 * process. */
#include "tools/mpi.h"

#include <stdio.h>
#include <stdlib.h>

void cli_mpi_start(struct cli_mpi *m)
{
    *m = (struct cli_mpi){0, 1};
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (size && atoi(size) > 1)
        fprintf(stderr,
                "trellis: started by mpirun with %s ranks, but built without MPI: each "
                "rank trains alone (install libopenmpi-dev and rebuild)\n",
                size);
}

int cli_mpi_sum(void *ctx, double *values, size_t n)
{
    (void)ctx, (void)values, (void)n;
    return 0;
}

int cli_mpi_same(const struct cli_mpi *m, const char *cmd, uint64_t hash)
{
    (void)m, (void)cmd, (void)hash;
    return 0;
}

int cli_mpi_end(const struct cli_mpi *m, int status)
{
    (void)m;
    return status;
}
