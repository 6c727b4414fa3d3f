/*
 * id.c -- fast random UUIDs (see id.h).
 */
#include "id.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* One generator per thread, so the store's thread and the loop thread never
 * share state; each seeds itself from the kernel on first use. */
static _Thread_local uint64_t state[4];
static _Thread_local int seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void seed(void)
{
    if (getrandom(state, sizeof state, 0) != (ssize_t)sizeof state) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        state[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        state[1] = (uint64_t)ts.tv_sec * 0x9E3779B97F4A7C15ull;
        state[2] = 0xD1B54A32D192ED03ull;
        state[3] = 0x8CB92BA72F3D8DD7ull;
    }
    seeded = 1;
}

uint64_t id_random64(void)
{
    if (!seeded)
        seed();
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

/* The two lower-case hex digits of every byte: ids and trace contexts are
 * made for every invocation, a byte per lookup rather than a nibble. */
#define HEXC(n) ((n) < 10 ? '0' + (n) : 'a' - 10 + (n))
#define H1(x) {HEXC((x) >> 4), HEXC((x) & 15)}
#define H4(x) H1(x), H1((x) + 1), H1((x) + 2), H1((x) + 3)
#define H16(x) H4(x), H4((x) + 4), H4((x) + 8), H4((x) + 12)
#define H64(x) H16(x), H16((x) + 16), H16((x) + 32), H16((x) + 48)
static const char HEX2[256][2] = {H64(0), H64(64), H64(128), H64(192)};

void hex_put(char *out, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, HEX2[b[i]], 2);
}

void hex_put64(char out[16], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        memcpy(out + 2 * i, HEX2[v & 0xff], 2);
}

static void uuid_format(char out[UUID_STR_LEN], const unsigned char b[16])
{
    hex_put(out, b, 4);
    out[8] = '-';
    hex_put(out + 9, b + 4, 2);
    out[13] = '-';
    hex_put(out + 14, b + 6, 2);
    out[18] = '-';
    hex_put(out + 19, b + 8, 2);
    out[23] = '-';
    hex_put(out + 24, b + 10, 6);
    out[36] = '\0';
}

void uuid_generate(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    uint64_t a = id_random64(), c = id_random64();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(out, b);
}

void uuid_generate_v7(char out[UUID_STR_LEN], int64_t unix_ms)
{
    unsigned char b[16];
    uint64_t a = id_random64(), c = id_random64();
    uint64_t ms = unix_ms < 0 ? 0 : (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    memcpy(b + 6, &a, 2);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(out, b);
}
