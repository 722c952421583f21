build/tests/test_dataset: tests/c/test_dataset.c runtime/dataset.h
runtime/dataset.h:
