/*
 * codec.c -- UTF-8 checks, base64 and SHA-256 (see codec.h). The base64
 * work is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock), done in slices so
 * its int lengths never overflow.
 *
 * SHA-256 uses OpenSSL's direct SHA256_Init/Update/Final, which OpenSSL 3
 * lists as deprecated in favour of EVP_Digest. They are kept on purpose: the
 * EVP path loads the provider machinery on first use, which costs the host
 * about 2 MB of resident memory. It also looks the algorithm up on every
 * call, and a keyed request hashes the key it brings.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

size_t utf8_char_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_char_len(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

int base64_encode(buf_t *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t at = 0; at < n;) {
        size_t take = n - at > 3 * 65536 ? 3 * 65536 : n - at;
        if (buf_reserve(out, 4 * ((take + 2) / 3) + 1) != 0)
            return -1;
        int k = EVP_EncodeBlock((unsigned char *)out->p + out->len, s + at, (int)take);
        out->len += (size_t)k;
        out->p[out->len] = '\0';
        at += take;
    }
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int base64_decode(buf_t *out, const char *s, size_t n)
{
    if (n > (size_t)1 << 30)
        return -1;
    /* White space anywhere is read past: encoders such as base64(1) and
     * Python's base64.encodebytes break lines every 76 characters. */
    char *in = malloc(n / 4 * 4 + 4);
    if (!in)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i]))
            in[m++] = s[i];
    if (!m || m % 4 == 1) {
        free(in);
        return m ? -1 : 0;
    }
    size_t padded = (m + 3) / 4 * 4, pad = 0;
    memset(in + m, '=', padded - m);
    for (size_t i = padded; i > 0 && in[i - 1] == '=' && pad < 2; i--)
        pad++;
    int rc = -1;
    /* '=' only at the end; EVP_DecodeBlock refuses other bad characters. */
    if (memchr(in, '=', padded - pad) == NULL && buf_reserve(out, padded / 4 * 3 + 1) == 0) {
        int got = EVP_DecodeBlock((unsigned char *)out->p + out->len, (unsigned char *)in,
                                  (int)padded);
        if (got >= 0 && (size_t)got >= pad) {
            out->len += (size_t)got - pad;
            out->p[out->len] = '\0';
            rc = 0;
        }
    }
    free(in);
    return rc;
}
