/* cli_run.h - run the command-line tool under test (TRELLIS_BIN) and capture
 * its exit status, stdout and stderr. */
#ifndef TRELLIS_TESTS_CLI_RUN_H
#define TRELLIS_TESTS_CLI_RUN_H

struct cli_result {
    int status; /* exit status, or -1 if it did not exit normally */
    char *out;  /* stdout, NUL-terminated (malloc) */
    char *err;  /* stderr */
};

/* Runs TRELLIS_BIN (default build/f64/trellis) with argv (NULL-terminated,
 * without the program name) in folder cwd (NULL: the current one). */
struct cli_result cli_run(const char *cwd, const char *const *argv);
/* The same, but sends SIGINT once the command's stdout contains `when`
 * (or after 60 s), as Ctrl-C would. */
struct cli_result cli_run_interrupt(const char *const *argv, const char *when);
void cli_result_free(struct cli_result *r);
/* Absolute path of the binary under test. */
const char *cli_bin(void);

#endif
