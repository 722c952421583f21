/*
 * test_image.c — the image decoder and resampler (runtime/train/image_decode.h):
 * exact copy at the same size, area averaging when shrinking, bilinear when
 * enlarging, grey <-> RGB, the pixel limit read from the header, and a large
 * PNG decoded in O(height x size) memory (peak RSS), not O(width x height).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "train/image_decode.h"

static void test_resample_same_size_copies(void **state)
{
    (void)state;
    uint8_t in[5 * 7 * 3], out[3 * 5 * 5];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    /* 5 wide, 5 high: same size on both axes (in is [5][5][3] used as 5x5) */
    assert_int_equal(img_resample(in, 5, 5, 3, 5, out), 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++)
                assert_int_equal(out[(c * 5 + y) * 5 + x], in[(y * 5 + x) * 3 + c]);
}

static void test_resample_area_and_bilinear(void **state)
{
    (void)state;
    /* 4x4 grey to 2x2: each output is the mean of a 2x2 block */
    uint8_t in[16] = {0, 10, 100, 110, 20, 30, 120, 130, 200, 210, 50, 60, 220, 230, 70, 80};
    uint8_t out[4];
    assert_int_equal(img_resample(in, 4, 4, 1, 2, out), 0);
    assert_int_equal(out[0], 15);   /* (0+10+20+30)/4 */
    assert_int_equal(out[1], 115);
    assert_int_equal(out[2], 215);
    assert_int_equal(out[3], 65);
    /* 3 to 2 on both axes: overlaps weighted by area (1, 0.5 of the middle) */
    uint8_t in3[9] = {0, 30, 60, 0, 30, 60, 0, 30, 60}, o2[4];
    assert_int_equal(img_resample(in3, 3, 3, 1, 2, o2), 0);
    assert_int_equal(o2[0], 10);  /* (0 * 1 + 30 * 0.5) / 1.5 */
    assert_int_equal(o2[1], 50);
    /* 2 to 4, bilinear with half-pixel centres: 0,100 -> 0, 25, 75, 100 */
    uint8_t in2[4] = {0, 100, 0, 100}, o4[16];
    assert_int_equal(img_resample(in2, 2, 2, 1, 4, o4), 0);
    assert_int_equal(o4[0], 0);
    assert_int_equal(o4[1], 25);
    assert_int_equal(o4[2], 75);
    assert_int_equal(o4[3], 100);
}

/* Write a w x h PNG row by row (colour 0 grey, 2 RGB); pixel = f(x, y). */
static int write_png(const char *path, int w, int h, int colour)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int ch = colour ? 3 : 1;
    uint8_t *row = malloc((size_t)w * ch);
    if (!f || !png || !info || !row || setjmp(png_jmpbuf(png)))
        return -1;
    png_init_io(png, f);
    png_set_compression_level(png, 1);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 colour ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                row[x * ch + c] = (uint8_t)(c == 0 ? 200 : c == 1 ? 100 : 0);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return fclose(f);
}

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_large_png_streams(void **state)
{
    (void)state;
    char path[] = "/tmp/llmnas-test-image-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    /* 6000 x 6000 RGB = 108 MB decoded whole; streamed it needs 6000 rows of 32 x 3 floats */
    assert_int_equal(write_png(path, 6000, 6000, 1), 0);
    long before = peak_kib();
    uint8_t out[3 * 32 * 32];
    char err[256];
    img_info in;
    assert_int_equal(img_load(path, 32, 3, 0, out, &in, err, sizeof err), 0);
    long grew = peak_kib() - before;
    printf("     6000x6000 RGB PNG to 32x32: peak RSS grew by %ld KiB\n", grew);
    assert_true(grew < 40 * 1024);
    assert_int_equal(in.width, 6000);
    assert_int_equal(out[0], 200);
    assert_int_equal(out[32 * 32], 100);
    assert_int_equal(out[2 * 32 * 32], 0);
    /* grey from RGB: libpng's luma of (200, 100, 0) */
    uint8_t grey[32 * 32];
    assert_int_equal(img_load(path, 32, 1, 0, grey, NULL, err, sizeof err), 0);
    assert_true(grey[0] > 100 && grey[0] < 140);
    /* the pixel limit comes from the header: nothing is decoded */
    assert_int_equal(img_load(path, 32, 3, 1000000, out, NULL, err, sizeof err), IMG_ETOOBIG);
    assert_non_null(strstr(err, "6000x6000"));
    assert_int_equal(img_probe(path, &in, err, sizeof err), 0);
    assert_int_equal(in.channels, 3);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resample_same_size_copies),
        cmocka_unit_test(test_resample_area_and_bilinear),
        cmocka_unit_test(test_large_png_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
