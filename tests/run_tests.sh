#!/bin/sh
# run_tests.sh BUILD_DIR TEST... [-- BUILD_DIR TEST...]
# Runs each Check test binary from the top folder with TRELLIS_BIN set to the
# command-line tool of the same build, so command-line tests exercise the
# sanitizer build. Prints each binary's failures and a summary; exit 1 on failure.
set -u
mkdir -p tests/out # the tests write their outputs here (untracked)
failed=0
total=0
bin=""
expect_dir=1
for arg in "$@"; do
    if [ "$arg" = "--" ]; then expect_dir=1; continue; fi
    if [ $expect_dir = 1 ]; then bin="$arg/trellis"; expect_dir=0; continue; fi
    total=$((total + 1))
    if TRELLIS_BIN="$bin" CK_VERBOSITY=normal "$arg"; then
        :
    else
        echo "FAILED: $arg"
        failed=$((failed + 1))
    fi
done
echo "test binaries: $((total - failed))/$total passed"
[ $failed = 0 ]
