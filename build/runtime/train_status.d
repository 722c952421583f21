build/runtime/train_status.o: runtime/train_status.c runtime/train.h \
 runtime/graph.h
runtime/train.h:
runtime/graph.h:
