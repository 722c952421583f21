# test_precision.sh: `llmnas train --precision` — bad values, what auto chooses with and
# without native bf16 (a CPU without it is simulated by lowering oneDNN's ISA with
# DNNL_MAX_CPU_ISA, which train_cpu_bf16 reads through dnnl_get_effective_cpu_isa), an
# explicit bf16 refused where it would be emulated, and the choice in text and JSON.
. "$(dirname "$0")/lib.sh"

NET="$ROOT/examples/nets/bench_small.lua"
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SMALL="--subset 512 --val-fraction 0.01 --threads 2"

run "$LLMNAS" train "$NET" --precision fp16
expect_rc 64 "unknown precision"
expect_err "--precision needs fp32, bf16 or auto, got 'fp16'" "the values are named"

run "$LLMNAS" train --help
expect_out "--precision P" "help lists --precision"
expect_out "default fp32" "help gives the default from train_opts_default"

if [ ! -r "$FM" ]; then
    skip "Fashion-MNIST not installed (make deps installs it)" 9
    exit 0
fi

# no native bf16: auto is fp32, bf16 is refused before anything trains
DNNL_MAX_CPU_ISA=AVX2 run "$LLMNAS" train "$NET" $SMALL --precision auto --json
expect_rc 0 "auto trains under DNNL_MAX_CPU_ISA=AVX2"
expect_out '"precision":"fp32"' "auto chose fp32 without native bf16"
expect_out '"bf16":0' "the result field says fp32"
expect_out '"precision_asked":"auto"' "the request is recorded beside the choice"

DNNL_MAX_CPU_ISA=AVX2 run "$LLMNAS" train "$NET" $SMALL --precision bf16
expect_rc 64 "explicit bf16 without native bf16 is refused"
expect_err "no native bf16 dot products" "the refusal says why"
expect_err "oneDNN ISA avx2" "and names oneDNN's ISA"

if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
    run "$LLMNAS" train "$NET" $SMALL --precision auto
    expect_rc 0 "auto trains with native bf16"
    expect_out "precision    bf16 (asked auto; native bf16" "text output names the choice and why"
    run "$LLMNAS" train "$NET" $SMALL --json
    expect_out '"bf16":0' "the default stays fp32"
    # an op without a checked bf16 path: auto trains the network in fp32 and says why,
    # an explicit bf16 is refused and points to auto
    LN="$T/layernorm.lua"
    echo 'function Net(x, c) return nn.Linear(nn.LayerNorm(nn.Flatten(x)), c) end' >"$LN"
    run "$LLMNAS" train "$LN" $SMALL --precision auto
    expect_rc 0 "auto trains a network with an op that has no bf16 path"
    expect_out "precision    fp32 (asked auto; native bf16" "auto chose fp32 for it"
    expect_out "but op LayerNorm has no bf16 path yet" "and names the op"
    run "$LLMNAS" train "$LN" $SMALL --precision auto --json
    expect_out '"bf16":0' "its result says fp32"
    run "$LLMNAS" train "$LN" $SMALL --precision bf16
    expect_rc 65 "explicit bf16 on it is refused"
    expect_err "op LayerNorm is not yet supported in bf16 precision" "the refusal names the op"
    expect_err "or auto, which trains it in fp32" "and the way out"
else
    skip "this CPU has no native bf16 (cpuid)" 10
fi
