/* trellis.c - the command-line tool: a table of commands (SPEC section 7). */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/cli.h"
#include "trellis.h"

static const struct command *const commands[] = {
    &cmd_validate, &cmd_init,    &cmd_run,   &cmd_eval, &cmd_grad,  &cmd_data,
    &cmd_train,    &cmd_compare, &cmd_sweep, &cmd_dot,  &cmd_bench,
};
static const int n_commands = sizeof commands / sizeof commands[0];

static void print_usage(FILE *f)
{
    fprintf(f,
            "trellis %s (%s): recurrent networks as JSON graphs, trained with BPTT, RTRL or "
            "deep e-prop\n\nusage: trellis COMMAND [ARGS]\n\ncommands:\n",
            TRL_VERSION_STRING, trl_precision());
    for (int i = 0; i < n_commands; i++)
        fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\ntrellis COMMAND --help shows a command's options and an example.\n"
               "Exit status: 0 success, 1 invalid input (graph, data or parameter file), "
               "2 usage error.\n");
}

/* Keep freed memory in the process (glibc): a training run allocates and
 * frees the same large history and trace blocks at every iteration, and
 * returning them to the system would make every iteration fault them in
 * again. */
static void keep_freed_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest */
    mallopt(M_TRIM_THRESHOLD, -1);
}

/* An output (-o/--output FILE) that is one of the files the command reads
 * would replace its own input: refused before anything runs (exit status
 * 1), whichever command it is. args are the command's arguments. */
static int output_is_an_input(const char *cmd, int argc, char **args)
{
    for (int i = 0; i + 1 < argc; i++) {
        struct stat out, in;
        if (strcmp(args[i], "-o") && strcmp(args[i], "--output")) continue;
        if (stat(args[i + 1], &out) || !S_ISREG(out.st_mode)) continue;
        for (int j = 0; j < argc; j++) {
            if (j == i + 1 || stat(args[j], &in) || in.st_dev != out.st_dev ||
                in.st_ino != out.st_ino)
                continue;
            fprintf(stderr,
                    "%s: trellis %s: the output is also an input (%s); write it to another "
                    "file\n",
                    args[i + 1], cmd, args[j]);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    trl_blas_set_threads(0); /* the library's default, also for commands that load no graph */
    keep_freed_memory();
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("trellis %s (%s)\n", TRL_VERSION_STRING, trl_precision());
        return EXIT_OK;
    }
    for (int i = 0; i < n_commands; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) {
            if (output_is_an_input(argv[1], argc - 2, argv + 2)) return EXIT_INPUT;
            return commands[i]->run(argc - 2, argv + 2);
        }
    const char *names[sizeof commands / sizeof commands[0]];
    for (int i = 0; i < n_commands; i++) names[i] = commands[i]->name;
    fprintf(stderr, "trellis: unknown command \"%s\"%s\n\n", argv[1],
            cli_did_you_mean(argv[1], names, n_commands));
    print_usage(stderr);
    return EXIT_USAGE;
}
