build/runtime/rt.o: runtime/rt.c runtime/rt.h
runtime/rt.h:
