# bench_train.sh — `make bench` entry for the trainer: llmnas vs PyTorch on the
# three reference networks, side by side (tests/bench/bench_train.py says how).
# BENCH_TRAIN_ARGS passes options through, e.g. "--quick" or "--nets small".
exec /usr/bin/python3 "$(dirname "$0")/bench_train.py" ${BENCH_TRAIN_ARGS:-}
