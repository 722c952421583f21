/*
 * hash.h — content hashes used across the project (Lua-free): graph hashes,
 * LLM request keys, record checksums. SHA-256 from OpenSSL's libcrypto.
 */
#ifndef LLMNAS_HASH_H
#define LLMNAS_HASH_H

#include <stddef.h>

#define HASH_SHA256_HEX 65  /* 64 hex digits + NUL */

/* Lowercase hex SHA-256 of data[0..len) into out (65 bytes). Returns 0, or -1
 * if libcrypto failed (out is then ""). */
int hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX]);

/* The first `digits` hex digits of the SHA-256 (digits <= 64; out holds
 * digits + 1 bytes). 32 digits = 128 bits, the graph hash. */
int hash_sha256_prefix(const void *data, size_t len, char *out, int digits);

#endif
