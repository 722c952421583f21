build/runtime/train_net.o: runtime/train_net.c runtime/train_net.h \
 runtime/dnnl_ops.h runtime/train.h runtime/graph.h runtime/dataset.h \
 runtime/rt.h
runtime/train_net.h:
runtime/dnnl_ops.h:
runtime/train.h:
runtime/graph.h:
runtime/dataset.h:
runtime/rt.h:
