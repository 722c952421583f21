build/runtime/dnnl_ops.o: runtime/dnnl_ops.c runtime/dnnl_ops.h
runtime/dnnl_ops.h:
