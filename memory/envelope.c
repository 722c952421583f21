/* envelope.c — see envelope.h. Plain bytes, no JSON parser: the envelope is
 * written by us in one fixed layout, so it is checked by layout and checksum. */
#include "envelope.h"
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define HEAD "{\"crc32\":\""
#define HEAD_LEN 19 /* HEAD + 8 hex digits + '"' */

static const char VFIELD[] = ",\"v\":";
static const char KFIELD[] = ",\"kind\":\"";
static const char DFIELD[] = "\",\"data\":";

size_t env_size(const char *kind, size_t len)
{
    char v[16];
    int vn = snprintf(v, sizeof v, "%d", MEM_VERSION);
    return HEAD_LEN + (sizeof VFIELD - 1) + (size_t)vn + (sizeof KFIELD - 1) + strlen(kind) +
           (sizeof DFIELD - 1) + len + 1;
}

static uint32_t crc_of(const char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes uInt lengths */
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, (const Bytef *)p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

void env_encode(char *dst, const char *kind, const char *data, size_t len)
{
    char *p = dst + HEAD_LEN;
    char v[16];
    int vn = snprintf(v, sizeof v, "%d", MEM_VERSION);
    memcpy(p, VFIELD, sizeof VFIELD - 1), p += sizeof VFIELD - 1;
    memcpy(p, v, (size_t)vn), p += vn;
    memcpy(p, KFIELD, sizeof KFIELD - 1), p += sizeof KFIELD - 1;
    memcpy(p, kind, strlen(kind)), p += strlen(kind);
    memcpy(p, DFIELD, sizeof DFIELD - 1), p += sizeof DFIELD - 1;
    memcpy(p, data, len), p += len;
    *p++ = '}';
    char head[HEAD_LEN + 1];
    snprintf(head, sizeof head, HEAD "%08x\"", (unsigned)crc_of(dst + HEAD_LEN, (size_t)(p - dst) - HEAD_LEN));
    memcpy(dst, head, HEAD_LEN);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int env_decode(const char *val, size_t len, const char *kind, int max_version,
               const char **data, size_t *dlen, const char **why)
{
    *data = NULL;
    *dlen = 0;
    if (len < HEAD_LEN + sizeof VFIELD + sizeof KFIELD + sizeof DFIELD ||
        memcmp(val, HEAD, sizeof HEAD - 1) != 0 || val[HEAD_LEN - 1] != '"') {
        *why = "not an llmnas record (bad header)";
        return MEM_EDAMAGED;
    }
    uint32_t want = 0;
    for (int i = 0; i < 8; i++) {
        int h = hexval(val[sizeof HEAD - 1 + i]);
        if (h < 0) {
            *why = "bad checksum field";
            return MEM_EDAMAGED;
        }
        want = want << 4 | (uint32_t)h;
    }
    if (crc_of(val + HEAD_LEN, len - HEAD_LEN) != want) {
        *why = "checksum mismatch";
        return MEM_EDAMAGED;
    }
    /* Checksum good: the layout below was written by env_encode (of some version). */
    const char *p = val + HEAD_LEN, *end = val + len;
    if (memcmp(p, VFIELD, sizeof VFIELD - 1) != 0) {
        *why = "no version field";
        return MEM_EDAMAGED;
    }
    p += sizeof VFIELD - 1;
    int v = 0;
    while (p < end && *p >= '0' && *p <= '9' && v < 100000)
        v = v * 10 + (*p++ - '0');
    if (v < 1) {
        *why = "bad version field";
        return MEM_EDAMAGED;
    }
    if (v > max_version) {
        *why = "written by a newer llmnas (record version is higher than this build reads)";
        return MEM_EVERSION;
    }
    size_t kl = strlen(kind);
    if ((size_t)(end - p) < sizeof KFIELD - 1 + kl + sizeof DFIELD - 1 + 1 ||
        memcmp(p, KFIELD, sizeof KFIELD - 1) != 0 ||
        memcmp(p + sizeof KFIELD - 1, kind, kl) != 0 ||
        memcmp(p + sizeof KFIELD - 1 + kl, DFIELD, sizeof DFIELD - 1) != 0) {
        *why = "record of another kind";
        return MEM_EDAMAGED;
    }
    p += sizeof KFIELD - 1 + kl + sizeof DFIELD - 1;
    if (end[-1] != '}' || end - 1 <= p) {
        *why = "truncated record";
        return MEM_EDAMAGED;
    }
    *data = p;
    *dlen = (size_t)(end - 1 - p);
    return 0;
}
