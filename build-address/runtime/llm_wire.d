build-address/runtime/llm_wire.o: runtime/llm_wire.c runtime/llm_wire.h \
 runtime/llm.h
runtime/llm_wire.h:
runtime/llm.h:
