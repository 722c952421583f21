build/runtime/dataset.o: runtime/dataset.c runtime/dataset.h runtime/rt.h
runtime/dataset.h:
runtime/rt.h:
