#!/bin/sh
# run.sh - runs the libFuzzer harnesses of build/fuzz (make fuzz builds them).
#
#   fuzz/run.sh run SECONDS [NAME...]    fuzz each harness for SECONDS, one after
#                                        another, growing build/fuzz/corpus/NAME
#   fuzz/run.sh check SECONDS [NAME...]  replay the seeds and fuzz/regressions/NAME
#                                        (every crash found so far), then fuzz
#                                        each harness for SECONDS (make check)
#
# One fuzzer at a time, in this process (no -jobs, no -fork): the machine is shared. A crash
# leaves its input as build/fuzz/crash-NAME-*; copy it to fuzz/regressions/NAME
# once fixed, and the check replays it from then on. FUZZ_BIN names another
# folder of harness binaries, logs and crashes (default build/fuzz).
set -eu
mode=$1 secs=$2
shift 2
names=${*:-graph safetensors bind api}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Seed folders of each harness (libFuzzer reads folders recursively).
seeds() {
    case $1 in
    graph) echo "fuzz/seeds/json models tests/fixtures tests/invalid" ;;
    safetensors | bind) echo "fuzz/seeds/safetensors tests/fixtures" ;;
    api) echo "fuzz/seeds/api" ;;
    esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
out=${FUZZ_BIN:-build/fuzz}
status=0
for n in $names; do
    bin=$out/fuzz_$n
    case $n in
    graph) dict=-dict=fuzz/dict/json.dict ;;
    safetensors | bind) dict=-dict=fuzz/dict/safetensors.dict ;;
    *) dict= ;;
    esac
    corpus=build/fuzz/corpus/$n
    mkdir -p "$corpus" "fuzz/regressions/$n"
    common="$dict -rss_limit_mb=2048 -timeout=20 -max_len=8192"
    common="$common -artifact_prefix=$out/crash-$n- -print_final_stats=1"
    if [ "$mode" = check ]; then
        # the committed regressions and seeds, each run once
        if ! $bin $common -runs=0 "fuzz/regressions/$n" $(seeds "$n") \
            >"$out/replay-$n.log" 2>&1; then
            echo "fuzz $n: a regression or seed input fails ($out/replay-$n.log)"
            status=1
            continue
        fi
    fi
    log=$out/run-$n.log
    if $bin $common -max_total_time="$secs" "$corpus" "fuzz/regressions/$n" $(seeds "$n") \
        >"$log" 2>&1; then
        stats=$(grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" |
            sed 's/stat:://' | tr '\n' ' ')
        cov=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -1 |
            sed 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/')
        echo "fuzz $n: ${secs}s, $stats$cov"
    else
        echo "fuzz $n: FAILED (see $log; the input is $out/crash-$n-*)"
        status=1
    fi
done
exit $status
