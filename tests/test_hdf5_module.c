/* test_hdf5_module.c - the SHD reader's optional HDF5 module
 * (io/hdf5_module.h): libhdf5 is loaded on the first SHD call only, and
 * without the module the reader fails with a clear error while everything
 * else works. This binary does not link libhdf5 (tests/test_shd.c does).
 *
 * Each test sets TRELLIS_HDF5_MODULE before its first SHD call: the module is
 * looked for once per process, and Check runs each test in a process of its
 * own. make test / make check name the built module in TRELLIS_HDF5_MODULE;
 * the loading test runs when they do (the module is built when libhdf5 is
 * installed).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/shd.h"
#include "tests/support/cli_run.h"
#include "tests/support/testutil.h"
#include "trellis.h"

static char module[4096]; /* the real module, from the environment; "": none */

/* Whether /proc/self/maps names a file whose name holds what. */
static bool mapped(const char *what)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, what) != NULL;
    fclose(f);
    return found;
}

/* A readable file (the module is looked for before the file is parsed). */
static const char *some_file(void)
{
    const char *path = tu_tmp("some.h5");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not read\n", f);
    fclose(f);
    return path;
}

static void expect_missing(const char *msg)
{
    static const char *const want[] = {"some.h5: ", "the SHD reader needs the module",
                                       "libtrellis-hdf5.so.0", "libhdf5-dev", "/nonexistent"};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(strstr(msg, want[i]), "no \"%s\" in %s", want[i], msg);
}

START_TEST(test_missing_module)
{
    setenv("TRELLIS_HDF5_MODULE", "/nonexistent", 1);
    const char *path = some_file();
    struct trl_errors err;
    ck_assert_ptr_null(shd_open(path, &err));
    ck_assert_int_eq(err.kind, ERR_IO);
    ck_assert_int_eq(err.n, 1);
    char line[2048];
    snprintf(line, sizeof line, "%s: %s", err.file, err.e[0].msg);
    expect_missing(line);
    /* the public calls: TRL_ERR_IO, the same message, no output written */
    trl_error *e = trl_error_new();
    const trl_shd_opts o = {.dt_ms = 10, .steps = 4};
    const char *out = tu_tmp("out.safetensors");
    ck_assert_int_eq(trl_shd_convert(path, &o, out, NULL, e), TRL_ERR_IO);
    expect_missing(trl_error_message(e));
    ck_assert_int_ne(access(out, F_OK), 0);
    /* everything else works: a graph loads and runs */
    trl_graph *g = NULL;
    ck_assert_int_eq(trl_graph_load("models/lsnn.json", &g, e), TRL_OK);
    trl_graph_free(g);
    trl_error_free(e);
    ck_assert(!mapped("libhdf5"));
}
END_TEST

static void expect_cli(const char *const *argv, int status, const char *want)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "exit %d, expected %d\nstdout: %s\nstderr: %s", r.status,
                  status, r.out, r.err);
    if (want) ck_assert_msg(strstr(r.err, want), "expected \"%s\" in\n%s", want, r.err);
    cli_result_free(&r);
}

START_TEST(test_cli_missing_module)
{
    const char *path = some_file(), *out = tu_tmp("cli.safetensors");
    setenv("TRELLIS_HDF5_MODULE", "/nonexistent", 1);
    const char *const convert[] = {"data",    "shd", path, "--dt", "10",
                                   "--steps", "4",   "-o", out,    NULL};
    expect_cli(convert, 1, "the SHD reader needs the module libtrellis-hdf5.so.0");
    ck_assert_int_ne(access(out, F_OK), 0);
    expect_cli((const char *const[]){"validate", "models/lsnn.json", NULL}, 0, NULL);
    /* a library that is not the module */
    setenv("TRELLIS_HDF5_MODULE", "libc.so.6", 1);
    expect_cli(convert, 1, "libc.so.6: not a trellis HDF5 module (no trl_hdf5_module_v1)");
}
END_TEST

/* libhdf5 comes in with the first SHD call, not before. */
START_TEST(test_loaded_on_first_use)
{
    setenv("TRELLIS_HDF5_MODULE", module, 1);
    const char *h5 = tu_tmp("synth.h5");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/shd_synth.py %s --samples 3 --classes 2 >/dev/null", h5);
    ck_assert_msg(system(cmd) == 0, "%s failed (python3-h5py installed?)", cmd);
    trl_error *e = trl_error_new();
    trl_graph *g = NULL;
    ck_assert_int_eq(trl_graph_load("models/lsnn.json", &g, e), TRL_OK);
    trl_graph_free(g);
    ck_assert(!mapped("libhdf5") && !mapped("libtrellis-hdf5"));
    const trl_shd_opts o = {.dt_ms = 10, .steps = 50};
    trl_shd_info info;
    ck_assert_msg(trl_shd_convert(h5, &o, tu_tmp("synth.safetensors"), &info, e) == TRL_OK, "%s",
                  trl_error_message(e));
    ck_assert_int_eq(info.B, 3);
    ck_assert(mapped("libtrellis-hdf5.so.0") && mapped("libhdf5"));
    trl_error_free(e);
}
END_TEST

static Suite *module_suite(void)
{
    Suite *s = suite_create("hdf5_module");
    TCase *tc = tcase_create("module");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_missing_module);
    tcase_add_test(tc, test_cli_missing_module);
    if (*module)
        tcase_add_test(tc, test_loaded_on_first_use);
    else
        fprintf(stderr, "test_hdf5_module: TRELLIS_HDF5_MODULE is not set (no libhdf5?): "
                        "the loading test does not run\n");
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *env = getenv("TRELLIS_HDF5_MODULE");
    snprintf(module, sizeof module, "%s", env ? env : "");
    if (tu_tmp_init("hdf5_module")) return 1;
    int failed = tu_run_suite(module_suite(), true);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
