build-address/runtime/llm.o: runtime/llm.c runtime/llm.h \
 runtime/llm_wire.h runtime/hash.h runtime/rt.h
runtime/llm.h:
runtime/llm_wire.h:
runtime/hash.h:
runtime/rt.h:
