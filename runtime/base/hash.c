/* hash.c — see hash.h. */
#include "base/hash.h"

#include <openssl/evp.h>
#include <string.h>

int hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

int hash_sha256_prefix(const void *data, size_t len, char *out, int digits)
{
    char full[HASH_SHA256_HEX];
    if (digits < 0 || digits > 64)
        return -1;
    int rc = hash_sha256_hex(data, len, full);
    memcpy(out, full, (size_t)digits);
    out[digits] = '\0';
    return rc;
}
