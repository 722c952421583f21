# bench_mpi.sh: what an evaluator rank costs per candidate over a local worker, at a
# 100-layer graph (see bench_mpi.lua), on a real `mpirun -n 2` on this machine.
set -u
cd "$(dirname "$0")/../.." || exit 2
LLMNAS=${LLMNAS:-./llmnas}
if ! command -v mpirun >/dev/null || [ ! -f "$(dirname "$(readlink -f "$LLMNAS")")/llmnas_mpi.so" ]; then
    echo "skipped: mpirun or the MPI plugin is not installed (make deps && make)"
    exit 0
fi
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun -n 2 --oversubscribe "$LLMNAS" run tests/bench/bench_mpi.lua "${BENCH_REPEATS:-40}"
