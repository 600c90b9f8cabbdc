/* mpi.h - data-parallel training over MPI (SPEC section 10), for the
 * commands that support it (train). Built from tools/mpi.c with mpicc when
 * the Makefile finds one, else from tools/mpi_none.c: one process, no MPI.
 * MPI starts only when the process was started by mpirun (Open MPI's
 * OMPI_COMM_WORLD_SIZE is set), so a plain run is unchanged. */
#ifndef TRELLIS_MPI_H
#define TRELLIS_MPI_H

#include <stddef.h>
#include <stdint.h>

struct cli_mpi {
    int rank, size; /* 0 and 1 without mpirun */
};

/* Starts MPI under mpirun. Unless TRELLIS_THREADS says otherwise, each of
 * the ranks on one machine gets its share of the processors as threads. */
void cli_mpi_start(struct cli_mpi *m);
/* trl_reduce_fn: values summed over the ranks, gathered to rank 0 and added
 * in rank order, then sent to every rank (the same sum whatever the
 * timing). ctx is unused. */
int cli_mpi_sum(void *ctx, double *values, size_t n);
/* Do all ranks hold the same hash (of the graph and data they read)? 0, or
 * EXIT_INPUT on every rank, each rank that differs printing which. */
int cli_mpi_same(const struct cli_mpi *m, const char *cmd, uint64_t hash);
/* Ends MPI: after a failure (status != 0) on a rank while others may still
 * run, stops all of them (MPI_Abort) with that status, so none waits for
 * the failed one; returns status otherwise. */
int cli_mpi_end(const struct cli_mpi *m, int status);

#endif
