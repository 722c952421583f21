/* test_rt.c — runtime services: SHA-256 (FIPS 180-4 vectors), rt_fmt, clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/rt.h"

static void sha256_vectors(void **state)
{
    (void)state;
    char out[HASH_SHA256_HEX];
    assert_int_equal(hash_sha256_hex("abc", 3, out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(hash_sha256_hex("", 0, out), 0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(hash_sha256_hex(two, strlen(two), out), 0);
    assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void sha256_prefix(void **state)
{
    (void)state;
    char out[33];
    assert_int_equal(hash_sha256_prefix("abc", 3, out, 32), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223");
    assert_int_equal(hash_sha256_prefix("abc", 3, out, 65), -1);
}

static void fmt_truncates(void **state)
{
    (void)state;
    char buf[8];
    rt_fmt(buf, sizeof buf, "%s-%d", "abcdef", 12345);
    assert_string_equal(buf, "abcdef-");
    assert_int_equal(strlen(buf), 7);
}

static void clock_monotonic(void **state)
{
    (void)state;
    /* never backwards over many reads, and a 50 ms sleep shows as at least 50 ms */
    double a = rt_now(), prev = a;
    for (int i = 0; i < 100000; i++) {
        double t = rt_now();
        assert_true(t >= prev);
        prev = t;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    double t0 = rt_now();
    nanosleep(&ts, NULL);
    assert_true(rt_now() - t0 >= 0.049);
    assert_false(rt_interrupted());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_vectors),
        cmocka_unit_test(sha256_prefix),
        cmocka_unit_test(fmt_truncates),
        cmocka_unit_test(clock_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
