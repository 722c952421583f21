build-address/runtime/hash.o: runtime/hash.c runtime/hash.h
runtime/hash.h:
