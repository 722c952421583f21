/*
 * envelope.h — the checksummed JSON envelope every stored value travels in
 * (internal to memory/; see store.h for the format).
 *
 *     {"crc32":"1a2b3c4d","v":1,"kind":"candidate","data":<json>}
 *
 * The CRC-32 covers every byte after the 19-byte `{"crc32":"xxxxxxxx"` head,
 * so the version, the kind and the data are all covered. Encoding writes into
 * a buffer the caller sized with env_size() (LMDB's MDB_RESERVE space);
 * decoding checks the head, the checksum, the version and the kind, and points
 * into the value without copying.
 */
#ifndef LLMNAS_ENVELOPE_H
#define LLMNAS_ENVELOPE_H

#include <stddef.h>

/* Bytes an envelope of this kind around len bytes of data takes. */
size_t env_size(const char *kind, size_t len);

/* Write the envelope into dst (env_size(kind, len) bytes; not NUL-terminated). */
void env_encode(char *dst, const char *kind, const char *data, size_t len);

/* Check val[0..len) is a sound envelope of the given kind written by version
 * <= max_version. Returns 0 with data and dlen pointing inside val, or
 * MEM_EDAMAGED / MEM_EVERSION with a reason ("checksum mismatch", ...) in why. */
int env_decode(const char *val, size_t len, const char *kind, int max_version,
               const char **data, size_t *dlen, const char **why);

#endif
