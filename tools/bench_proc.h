/* bench_proc.h - the clock and the process's memory, for `trellis bench`.
 *
 * Resident memory comes from Linux: VmRSS and VmHWM of /proc/self/status,
 * and the peak is reset by writing "5" to /proc/self/clear_refs (Linux 4.0
 * and later; it also resets getrusage's ru_maxrss). Where these are missing
 * the readings are -1 and the reset fails, and `trellis bench` reports the
 * memory it cannot measure as unknown.
 */
#ifndef TRELLIS_BENCH_PROC_H
#define TRELLIS_BENCH_PROC_H

/* Seconds from a monotonic clock. */
double bench_now(void);
/* Resident memory now (VmRSS), MB, or -1. */
double bench_rss_mb(void);
/* Peak resident memory since start or the last reset (VmHWM), MB, or -1. */
double bench_rss_peak_mb(void);
/* getrusage(RUSAGE_SELF) ru_maxrss, MB. */
double bench_maxrss_mb(void);
/* Resets the peak to the current resident memory; 0, or -1 if not possible. */
int bench_rss_reset_peak(void);

#endif
