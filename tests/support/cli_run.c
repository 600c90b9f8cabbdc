/* cli_run.c - see cli_run.h. */
#define _DEFAULT_SOURCE /* realpath, usleep */
#include "tests/support/cli_run.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *cli_bin(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        const char *b = getenv("TRELLIS_BIN");
        if (!b) b = "build/f64/trellis";
        if (!realpath(b, path)) snprintf(path, sizeof path, "%s", b);
    }
    return path;
}

static char *slurp(FILE *f)
{
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    return s;
}

static struct cli_result cli_spawn(const char *cwd, const char *const *argv, const char *when);

struct cli_result cli_run(const char *cwd, const char *const *argv)
{
    return cli_spawn(cwd, argv, NULL);
}

struct cli_result cli_run_interrupt(const char *const *argv, const char *when)
{
    return cli_spawn(NULL, argv, when);
}

/* Does the file hold `needle`? Reads with pread, which leaves the offset the
 * child writes at alone. */
static bool file_contains(int fd, const char *needle)
{
    static char buf[1 << 16];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

/* Polls the child's stdout until it contains `when`, then interrupts it. */
static void interrupt_when(pid_t pid, FILE *out, const char *when)
{
    for (int k = 0; k < 6000 && !file_contains(fileno(out), when); k++) usleep(10000);
    kill(pid, SIGINT);
}

static struct cli_result cli_spawn(const char *cwd, const char *const *argv, const char *when)
{
    struct cli_result r = {-1, NULL, NULL};
    FILE *out = tmpfile(), *err = tmpfile();
    const char *bin = cli_bin();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        if (cwd && chdir(cwd) != 0) _exit(127);
        int n = 0;
        while (argv[n]) n++;
        char **args = calloc((size_t)n + 2, sizeof *args);
        args[0] = (char *)bin;
        for (int i = 0; i < n; i++) args[i + 1] = (char *)argv[i];
        execv(bin, args);
        _exit(127);
    }
    int status = 0;
    if (when) interrupt_when(pid, out, when);
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    fclose(out);
    fclose(err);
    return r;
}

void cli_result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
