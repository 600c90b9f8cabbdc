/* bench_proc.c - see bench_proc.h: clock and resident memory (Linux /proc). */
#include "tools/bench_proc.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The kB value of the line starting with key in /proc/self/status, as MB. */
static double status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mb = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (strncmp(line, key, n) == 0 && sscanf(line + n, " %ld", &kb) == 1) {
            mb = (double)kb / 1024.0;
            break;
        }
    }
    fclose(f);
    return mb;
}

double bench_rss_mb(void)
{
    return status_mb("VmRSS:");
}

double bench_rss_peak_mb(void)
{
    return status_mb("VmHWM:");
}

double bench_maxrss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

int bench_rss_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
