/*
 * image_decode.c — PNG (libpng) and JPEG (libjpeg-turbo) decoding with a
 * streaming resampler. See image_decode.h.
 *
 * Both libraries report fatal errors through a callback that must not
 * return; it longjmps back to the decode call, which then frees what it
 * holds. libjpeg's warnings (premature end of file, corrupt data that it
 * papers over with grey) are counted and turned into errors: a truncated
 * JPEG must not become a silently grey training image.
 */
#include "train/image_decode.h"
#include "base/rt.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>  /* after stdio.h: it uses FILE */
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- resampling ------------------------------------------------------------ */

/* Weights of one axis: output i reads count[i] inputs from first[i]. */
typedef struct axis {
    int *first, *count;
    float *w;  /* [out][taps] */
    int taps;
} axis;

static void axis_free(axis *a)
{
    free(a->first);
    free(a->count);
    free(a->w);
}

static int axis_init(axis *a, int in, int out)
{
    memset(a, 0, sizeof *a);
    a->taps = in > out ? (in + out - 1) / out + 1 : 2;
    a->first = malloc(sizeof(int) * (size_t)out);
    a->count = malloc(sizeof(int) * (size_t)out);
    a->w = calloc((size_t)out * (size_t)a->taps, sizeof(float));
    if (!a->first || !a->count || !a->w) {
        axis_free(a);
        return IMG_ENOMEM;
    }
    double scale = (double)in / out;
    for (int i = 0; i < out; i++) {
        float *w = a->w + (size_t)i * a->taps;
        if (in > out) {  /* area: each input's overlap with [lo, hi) */
            double lo = i * scale, hi = (i + 1) * scale;
            int j0 = (int)floor(lo), j1 = (int)ceil(hi);
            if (j1 > in)
                j1 = in;
            a->first[i] = j0;
            a->count[i] = j1 - j0;
            for (int j = j0; j < j1; j++)
                w[j - j0] = (float)((fmin(hi, j + 1) - fmax(lo, j)) / scale);
        } else {  /* bilinear, half-pixel centres; exact copy when in == out */
            double s = (i + 0.5) * scale - 0.5;
            if (s < 0)
                s = 0;
            int j0 = (int)floor(s);
            if (j0 > in - 1)
                j0 = in - 1;
            double f = s - j0;
            a->first[i] = j0;
            a->count[i] = j0 + 1 < in && f > 0 ? 2 : 1;
            w[0] = a->count[i] == 2 ? (float)(1 - f) : 1.0f;  /* the last pixel repeats past the edge */
            w[1] = (float)f;
        }
    }
    return 0;
}

/* Rows arrive one by one; each is resampled horizontally into acc[row]. */
typedef struct sink {
    int w, h, c, size;
    axis ax;
    float *acc;  /* [h][size][c] */
} sink;

static int sink_init(sink *s, int w, int h, int c, int size)
{
    memset(s, 0, sizeof *s);
    s->w = w, s->h = h, s->c = c, s->size = size;
    if (axis_init(&s->ax, w, size))
        return IMG_ENOMEM;
    s->acc = malloc(sizeof(float) * (size_t)h * (size_t)size * (size_t)c);
    return s->acc ? 0 : IMG_ENOMEM;
}

static void sink_free(sink *s)
{
    axis_free(&s->ax);
    free(s->acc);
    s->acc = NULL;
}

static void sink_row(sink *s, int y, const uint8_t *row)
{
    float *dst = s->acc + (size_t)y * s->size * s->c;
    for (int i = 0; i < s->size; i++) {
        const float *w = s->ax.w + (size_t)i * s->ax.taps;
        const uint8_t *src = row + (size_t)s->ax.first[i] * s->c;
        for (int ch = 0; ch < s->c; ch++) {
            float v = 0;
            for (int k = 0; k < s->ax.count[i]; k++)
                v += w[k] * src[k * s->c + ch];
            dst[i * s->c + ch] = v;
        }
    }
}

/* The vertical pass over the finished rows, into out[c][size][size]. */
static int sink_finish(sink *s, uint8_t *out)
{
    axis ay;
    if (axis_init(&ay, s->h, s->size))
        return IMG_ENOMEM;
    int S = s->size, C = s->c;
    for (int r = 0; r < S; r++) {
        const float *w = ay.w + (size_t)r * ay.taps;
        for (int q = 0; q < S; q++)
            for (int ch = 0; ch < C; ch++) {
                float v = 0;
                for (int k = 0; k < ay.count[r]; k++)
                    v += w[k] * s->acc[((size_t)(ay.first[r] + k) * S + q) * C + ch];
                long iv = lrintf(v);
                out[((size_t)ch * S + r) * S + q] = (uint8_t)(iv < 0 ? 0 : iv > 255 ? 255 : iv);
            }
    }
    axis_free(&ay);
    return 0;
}

int img_resample(const uint8_t *in, int w, int h, int channels, int size, uint8_t *out)
{
    sink s;
    int rc = sink_init(&s, w, h, channels, size);
    if (!rc) {
        for (int y = 0; y < h; y++)
            sink_row(&s, y, in + (size_t)y * w * channels);
        rc = sink_finish(&s, out);
    }
    sink_free(&s);
    return rc;
}

/* ---- files ----------------------------------------------------------------- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s && s[1] ? s + 1 : p;
}

/* Open path and sniff its format: 1 PNG, 2 JPEG. */
static int open_image(const char *path, FILE **fp, int *kind, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rt_fmt(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return IMG_EIO;
    }
    uint8_t sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    if (n == 0) {
        fclose(f);
        rt_fmt(err, errlen, "%s: the file has 0 bytes", path);
        return IMG_EEMPTY;
    }
    if (n == 8 && png_sig_cmp(sig, 0, 8) == 0) {
        *kind = 1;
    } else if (n >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff) {
        *kind = 2;
        rewind(f);
    } else {
        fclose(f);
        rt_fmt(err, errlen, "%s: not a PNG or JPEG image (first bytes %02x %02x %02x %02x; "
               "supported: .png, .jpg, .jpeg)", path, sig[0], sig[1], sig[2], sig[3]);
        return IMG_EFORMAT;
    }
    *fp = f;
    return 0;
}

static int check_pixels(const char *path, const img_info *in, int64_t max_pixels, char *err,
                        size_t errlen)
{
    int64_t px = (int64_t)in->width * in->height;
    if (in->width <= 0 || in->height <= 0) {
        rt_fmt(err, errlen, "%s: %s header declares %dx%d pixels", path, in->format, in->width,
               in->height);
        return IMG_ECORRUPT;
    }
    if (px > max_pixels) {
        rt_fmt(err, errlen, "%s: %s declares %dx%d pixels (%.0f megapixels), over the limit of "
               "%.0f megapixels: not decoded", path, in->format, in->width, in->height, px / 1e6,
               max_pixels / 1e6);
        return IMG_ETOOBIG;
    }
    return 0;
}

/* ---- PNG ------------------------------------------------------------------- */

typedef struct png_ctx {
    jmp_buf jb;
    char msg[200];
} png_ctx;

static void png_fail(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    rt_fmt(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;  /* e.g. an unknown chunk or a bad sRGB profile: the pixels are fine */
}

static int png_decode(FILE *f, const char *path, int size, int channels, int64_t max_pixels,
                      uint8_t *out, img_info *info, char *err, size_t errlen)
{
    png_ctx ctx;
    ctx.msg[0] = '\0';
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_fail, png_warn);
    png_infop pi = png ? png_create_info_struct(png) : NULL;
    if (!pi) {
        png_destroy_read_struct(&png, NULL, NULL);
        return IMG_ENOMEM;
    }
    sink *const s = calloc(1, sizeof *s);  /* in memory, not a register: survives longjmp */
    if (!s) {
        png_destroy_read_struct(&png, &pi, NULL);
        return IMG_ENOMEM;
    }
    uint8_t *volatile rows = NULL;
    volatile int rc = 0;
    if (setjmp(ctx.jb)) {
        rt_fmt(err, errlen, "%s: corrupt or truncated PNG: %s", path, ctx.msg);
        rc = IMG_ECORRUPT;
        goto done;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, pi);
    int ct = png_get_color_type(png, pi);
    info->width = (int)png_get_image_width(png, pi);
    info->height = (int)png_get_image_height(png, pi);
    info->channels = ct & PNG_COLOR_MASK_COLOR ? 3 : 1;
    info->format = "png";
    if ((rc = check_pixels(path, info, max_pixels, err, errlen)) || !out)
        goto done;
    png_set_strip_16(png);
    png_set_packing(png);
    png_set_strip_alpha(png);
    if (ct == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, pi) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (info->channels == 3 && channels == 1)
        png_set_rgb_to_gray(png, 1, -1, -1);
    if (info->channels == 1 && channels == 3)
        png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pi);
    if ((int)png_get_rowbytes(png, pi) != info->width * channels) {
        rt_fmt(err, errlen, "%s: PNG colour type %d, bit depth %d: unexpected row layout", path, ct,
               png_get_bit_depth(png, pi));
        rc = IMG_ECORRUPT;
        goto done;
    }
    if ((rc = sink_init(s, info->width, info->height, channels, size)))
        goto done;
    size_t rowbytes = (size_t)info->width * channels;
    rows = malloc(rowbytes * (passes > 1 ? (size_t)info->height : 1));
    if (!rows) {
        rc = IMG_ENOMEM;
        goto done;
    }
    if (passes > 1) {  /* interlaced: libpng needs the whole image */
        for (int p = 0; p < passes; p++)
            for (int y = 0; y < info->height; y++)
                png_read_row(png, rows + rowbytes * y, NULL);
        for (int y = 0; y < info->height; y++)
            sink_row(s, y, rows + rowbytes * y);
    } else {
        for (int y = 0; y < info->height; y++) {
            png_read_row(png, rows, NULL);
            sink_row(s, y, rows);
        }
    }
    png_read_end(png, NULL);
    rc = sink_finish(s, out);
done:
    free(rows);
    sink_free(s);
    free(s);
    png_destroy_read_struct(&png, &pi, NULL);
    return rc;
}

/* ---- JPEG ------------------------------------------------------------------ */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int warnings;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_fail(j_common_ptr ci)
{
    jpeg_ctx *c = (jpeg_ctx *)ci->err;
    ci->err->format_message(ci, c->msg);
    longjmp(c->jb, 1);
}

static void jpeg_message(j_common_ptr ci, int level)
{
    jpeg_ctx *c = (jpeg_ctx *)ci->err;
    if (level < 0 && c->warnings++ == 0)  /* keep the first warning's text */
        ci->err->format_message(ci, c->msg);
}

static int jpeg_decode(FILE *f, const char *path, int size, int channels, int64_t max_pixels,
                       uint8_t *out, img_info *info, char *err, size_t errlen)
{
    struct jpeg_decompress_struct ci;
    jpeg_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ci.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_fail;
    ctx.pub.emit_message = jpeg_message;
    sink *const s = calloc(1, sizeof *s);
    if (!s)
        return IMG_ENOMEM;
    uint8_t *volatile row = NULL;
    volatile int rc = 0;
    jpeg_create_decompress(&ci);
    if (setjmp(ctx.jb)) {
        rt_fmt(err, errlen, "%s: corrupt or truncated JPEG: %s", path, ctx.msg);
        rc = IMG_ECORRUPT;
        goto done;
    }
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    info->width = (int)ci.image_width;
    info->height = (int)ci.image_height;
    info->channels = ci.num_components == 1 ? 1 : 3;
    info->format = "jpeg";
    if ((rc = check_pixels(path, info, max_pixels, err, errlen)) || !out)
        goto done;
    ci.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&ci);
    if ((rc = sink_init(s, (int)ci.output_width, (int)ci.output_height, channels, size)))
        goto done;
    row = malloc((size_t)ci.output_width * channels);
    if (!row) {
        rc = IMG_ENOMEM;
        goto done;
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW r = row;
        int y = (int)ci.output_scanline;
        if (jpeg_read_scanlines(&ci, &r, 1) != 1)
            break;
        sink_row(s, y, row);
    }
    jpeg_finish_decompress(&ci);
    if (ctx.warnings) {
        rt_fmt(err, errlen, "%s: corrupt or truncated JPEG: %s", path, ctx.msg);
        rc = IMG_ECORRUPT;
        goto done;
    }
    rc = sink_finish(s, out);
done:
    free(row);
    sink_free(s);
    free(s);
    jpeg_destroy_decompress(&ci);
    return rc;
}

/* ---- entry points ---------------------------------------------------------- */

static int decode(const char *path, int size, int channels, int64_t max_pixels, uint8_t *out,
                  img_info *info, char *err, size_t errlen)
{
    img_info tmp;
    if (!info)
        info = &tmp;
    memset(info, 0, sizeof *info);
    if (max_pixels <= 0)
        max_pixels = IMG_DEFAULT_MAX_PIXELS;
    if (out && (size < 1 || (channels != 1 && channels != 3))) {
        rt_fmt(err, errlen, "%s: bad decode request (size %d, channels %d)", base_name(path), size,
               channels);
        return IMG_EFORMAT;
    }
    FILE *f;
    int kind, rc = open_image(path, &f, &kind, err, errlen);
    if (rc)
        return rc;
    rc = kind == 1 ? png_decode(f, path, size, channels, max_pixels, out, info, err, errlen)
                   : jpeg_decode(f, path, size, channels, max_pixels, out, info, err, errlen);
    fclose(f);
    return rc;
}

int img_probe(const char *path, img_info *info, char *err, size_t errlen)
{
    return decode(path, 0, 0, INT64_MAX, NULL, info, err, errlen);
}

int img_load(const char *path, int size, int channels, int64_t max_pixels, uint8_t *out,
             img_info *info, char *err, size_t errlen)
{
    return decode(path, size, channels, max_pixels, out, info, err, errlen);
}

const char *img_strerror(int code)
{
    switch (code) {
    case IMG_OK: return "IMG_OK: success";
    case IMG_EIO: return "IMG_EIO: cannot read the file";
    case IMG_EEMPTY: return "IMG_EEMPTY: the file has 0 bytes";
    case IMG_EFORMAT: return "IMG_EFORMAT: not a PNG or JPEG";
    case IMG_ECORRUPT: return "IMG_ECORRUPT: corrupt or truncated image";
    case IMG_ETOOBIG: return "IMG_ETOOBIG: over the pixel limit";
    case IMG_ENOMEM: return "IMG_ENOMEM: out of memory";
    default: return "IMG_E?: unknown error code";
    }
}
