build-address/runtime/rt.o: runtime/rt.c runtime/rt.h
runtime/rt.h:
