/*
 * test_codec.c -- unit tests for src/util/codec.c: UTF-8 checks and base64.
 */
#include <string.h>

#include "../../src/util/buf.h"
#include "../../src/util/codec.h"
#include "test.h"

TEST(utf8)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
    CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    CHECK(!utf8_valid("\xe2\x82", 2));         /* cut short */
    CHECK(!utf8_valid("\x80", 1));
    CHECK_INT(utf8_char_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
}

TEST(base64_round_trip)
{
    buf_t b, d;
    buf_init(&b, 1 << 20);
    buf_init(&d, 1 << 20);
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                        "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        buf_reset(&b);
        buf_reset(&d);
        CHECK_INT(base64_encode(&b, plain[i], strlen(plain[i])), 0);
        CHECK_STR(b.p ? b.p : "", coded[i]);
        CHECK_INT(base64_decode(&d, coded[i], strlen(coded[i])), 0);
        CHECK_INT(d.len, strlen(plain[i]));
        CHECK(d.len == 0 || memcmp(d.p, plain[i], d.len) == 0);
    }
    /* padding optional, white space around ignored, bytes kept */
    buf_reset(&d);
    CHECK_INT(base64_decode(&d, " Zm9vYg\n", 8), 0);
    CHECK_STR(d.p, "foob");
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)i;
    buf_reset(&b);
    buf_reset(&d);
    CHECK_INT(base64_encode(&b, bin, sizeof bin), 0);
    CHECK_INT(base64_decode(&d, b.p, b.len), 0);
    CHECK_INT(d.len, 256);
    CHECK(memcmp(d.p, bin, 256) == 0);
    /* Line breaks every 76 characters, as base64(1) and Python's
     * base64.encodebytes write them, and CRLF as MIME does. */
    buf_t w;
    buf_init(&w, 1 << 20);
    for (size_t i = 0; i < b.len; i++) {
        if (i && i % 76 == 0)
            buf_append(&w, i % 152 ? "\n" : "\r\n", i % 152 ? 1 : 2);
        buf_append(&w, b.p + i, 1);
    }
    buf_append(&w, "\n", 1);
    buf_reset(&d);
    CHECK_INT(base64_decode(&d, w.p, w.len), 0);
    CHECK_INT(d.len, 256);
    CHECK(memcmp(d.p, bin, 256) == 0);
    buf_free(&w);
    buf_free(&b);
    buf_free(&d);
}

TEST(base64_malformed)
{
    buf_t d;
    buf_init(&d, 1 << 20);
    CHECK_INT(base64_decode(&d, "Zm9v!", 5), -1);
    CHECK_INT(base64_decode(&d, "Z", 1), -1);
    CHECK_INT(base64_decode(&d, "Zg==Zg==", 8), -1); /* '=' inside */
    CHECK_INT(base64_decode(&d, "Zg\n=\n=Zg", 9), -1);
    CHECK_INT(base64_decode(&d, "Zm9v\nZ", 6), -1); /* one character over */
    buf_free(&d);
}

static void hexof(const unsigned char *d, char *out)
{
    for (int i = 0; i < SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(sha256_known_digests)
{
    /* FIPS 180-2 examples and the empty message. */
    unsigned char d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    sha256("", 0, d);
    hexof(d, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256("abc", 3, d);
    hexof(d, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(two, strlen(two), d);
    hexof(d, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

int main(void)
{
    RUN(utf8);
    RUN(base64_round_trip);
    RUN(base64_malformed);
    RUN(sha256_known_digests);
    return TEST_REPORT();
}
