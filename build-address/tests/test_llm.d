build-address/tests/test_llm: tests/c/test_llm.c runtime/hash.h \
 runtime/llm.h runtime/llm_wire.h runtime/llm.h runtime/rt.h
runtime/hash.h:
runtime/llm.h:
runtime/llm_wire.h:
runtime/llm.h:
runtime/rt.h:
