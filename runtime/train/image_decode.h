/*
 * image_decode.h — one PNG or JPEG file to a small square uint8 image (Lua-free).
 *
 * Decoding is Debian's libpng 1.6 and libjpeg-turbo (libjpeg62-turbo): the
 * reference implementations, maintained for security, with error callbacks
 * that let a corrupt or truncated file become a message instead of a crash,
 * and libjpeg-turbo's SIMD decoder is several times faster than stb_image's.
 *
 * The format is taken from the file's first bytes, not its name. Dimensions
 * are read from the header and checked against a pixel limit before a single
 * row is decoded; rows are then decoded one at a time and resampled
 * horizontally as they arrive, so memory is O(height x size), never
 * O(width x height) (interlaced PNGs, which libpng delivers only whole, are
 * the exception and are bounded by the pixel limit).
 *
 * Resampling to size x size (the aspect ratio is not kept, like
 * torchvision's Resize((size, size))): area averaging on an axis that
 * shrinks (OpenCV's INTER_AREA, PIL's BOX), bilinear with half-pixel centres
 * on an axis that grows (PyTorch's align_corners=False); an axis of the same
 * length is copied exactly. Colour to grey is luma as the libraries compute
 * it (JPEG: the Y plane; PNG: libpng's Rec. 709 weights); grey to colour
 * repeats the grey value; alpha is dropped; 16-bit PNG samples keep their
 * high byte.
 *
 * Return codes: 0 or a negative IMG_E* code; err receives a message that
 * names the file. Thread rules: every call is independent (several threads
 * may decode at once).
 */
#ifndef LLMNAS_IMAGE_DECODE_H
#define LLMNAS_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    IMG_OK = 0,
    IMG_EIO = -2601,       /* cannot open or read the file */
    IMG_EEMPTY = -2602,    /* the file has 0 bytes */
    IMG_EFORMAT = -2603,   /* neither PNG nor JPEG by its first bytes */
    IMG_ECORRUPT = -2604,  /* the decoder refused the data: corrupt or truncated */
    IMG_ETOOBIG = -2605,   /* declared dimensions over the pixel limit */
    IMG_ENOMEM = -2606,
};

/* Pixels (width x height) a file may declare, unless the caller sets its own. */
#define IMG_DEFAULT_MAX_PIXELS (64LL * 1000 * 1000)

typedef struct img_info {
    int width, height;
    int channels;        /* of the file: 1 grey, 3 colour (alpha not counted) */
    const char *format;  /* "png" or "jpeg" (static) */
} img_info;

/* Read only the header of path into *info. */
int img_probe(const char *path, img_info *info, char *err, size_t errlen);

/* Decode path and resample it to out[channels, size, size] (CHW, channels 1
 * or 3). max_pixels <= 0 means IMG_DEFAULT_MAX_PIXELS. info may be NULL. */
int img_load(const char *path, int size, int channels, int64_t max_pixels, uint8_t *out,
             img_info *info, char *err, size_t errlen);

/* Resample one interleaved image in[h][w][channels] to out[channels][size][size]
 * with the method above (exposed for tests and for callers holding pixels). */
int img_resample(const uint8_t *in, int w, int h, int channels, int size, uint8_t *out);

const char *img_strerror(int code);

#endif
