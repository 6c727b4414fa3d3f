/*
 * custom_value.c -- the values of a {"Data": ..., "Metadata": ...} request
 * to a custom handler, written as Azure's host writes them.
 *
 * Azure turns each Data entry (but the HTTP trigger's request object) and
 * each Metadata entry into JSON by the .NET type of the value: bytes are
 * base64; a date is a JSON date; an object (TimerInfo, a dictionary such
 * as Query or Headers, a JSON object) is that object; anything else -- a
 * string, a number, a boolean, null -- is the JSON *text* of the value,
 * sent as a string. So a queue message hello arrives as "\"hello\"", a
 * DequeueCount of 1 as "1" and a missing blob as "null", and handlers
 * parse such a value as JSON text. The types are those Azure's bindings
 * give: text for a queue message, a blob or a route parameter (bytes with
 * dataType binary), a long for DequeueCount, dates for a queue message's
 * times, TimerInfo for a timer.
 *
 * On the way back, an output binding's value is read as Azure reads it: a
 * string that is valid base64 is the bytes it encodes (ch__value_output).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/codec.h"
#include "custom.h"

/* The UTF-8 byte order mark, which .NET's text readers drop from a blob. */
#define BOM "\xef\xbb\xbf"

static int put_quoted(buf_t *b, const char *s, size_t n)
{
    return buf_putc(b, '"') || buf_json_escape_utf8(b, s, n) || buf_putc(b, '"');
}

/* s as the JSON string .NET's serializer writes: '"', '\\' and the control
 * characters escaped (\b \t \n \f \r by name, others as \u00xx), and also
 * U+0085, U+2028 and U+2029; bytes that are not UTF-8 as U+FFFD. */
static int put_dotnet_string(buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    int rc = buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = p[i];
        size_t k = c < 0x80 ? 1 : utf8_char_len(p + i, n - i);
        const char *esc = NULL;
        char u[7];
        if (c < 0x20 || c == '"' || c == '\\') {
            switch (c) {
            case '"': esc = "\\\""; break;
            case '\\': esc = "\\\\"; break;
            case '\b': esc = "\\b"; break;
            case '\t': esc = "\\t"; break;
            case '\n': esc = "\\n"; break;
            case '\f': esc = "\\f"; break;
            case '\r': esc = "\\r"; break;
            default:
                snprintf(u, sizeof u, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                esc = u;
            }
        } else if (k == 2 && c == 0xc2 && p[i + 1] == 0x85) {
            esc = "\\u0085";
        } else if (k == 3 && c == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] | 1) == 0xa9) {
            esc = p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
        } else if (k == 0) {
            esc = "\xef\xbf\xbd"; /* a .NET string has U+FFFD for it */
            k = 1;
        } else {
            i += k - 1;
            continue;
        }
        rc |= buf_append(b, s + start, i - start);
        rc |= buf_puts(b, esc);
        i += k - 1;
        start = i + 1;
    }
    rc |= buf_append(b, s + start, n - start);
    return rc | buf_putc(b, '"');
}

/* JSON text (valid UTF-8) as a JSON string. */
static int put_text_of(buf_t *b, const buf_t *text)
{
    return put_quoted(b, text->p ? text->p : "", text->len);
}

int ch__value_put_text(buf_t *b, const char *s, size_t n)
{
    buf_t t;
    buf_init(&t, CH_MAX_JSON_BODY);
    int rc = put_dotnet_string(&t, s, n) || put_text_of(b, &t);
    buf_free(&t);
    return rc ? -1 : 0;
}

/* Text as ch__value_put_text, from a reader that drops a leading byte
 * order mark (a blob) or not (a queue message). */
static int put_reader_text(buf_t *b, const char *s, size_t n, int drop_bom)
{
    if (drop_bom && n >= 3 && memcmp(s, BOM, 3) == 0) {
        s += 3;
        n -= 3;
    }
    return ch__value_put_text(b, s, n);
}

/* A double as .NET's ToString() writes it: the shortest text that reads
 * back the same, in exponent form ("1E+15", "1E-05") when the exponent is
 * 15 or more, or -5 or less. */
static void dotnet_double(double d, char *out, size_t outlen)
{
    char e[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e is [-]D[.DDD]e(+|-)XX: split it into sign, digits and exponent. */
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    int neg = *p == '-';
    p += neg;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd < sizeof digits - 1)
            digits[nd++] = *p;
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    size_t o = 0;
#define OUT(ch) (o + 1 < outlen ? (void)(out[o++] = (ch)) : (void)0)
    if (neg)
        OUT('-');
    if (digits[0] == '0') {
        OUT('0');
    } else if (exp >= 15 || exp <= -5) {
        OUT(digits[0]);
        if (nd > 1)
            OUT('.');
        for (size_t i = 1; i < nd; i++)
            OUT(digits[i]);
        char x[16];
        snprintf(x, sizeof x, "E%c%02d", exp < 0 ? '-' : '+', abs(exp));
        for (char *q = x; *q; q++)
            OUT(*q);
    } else if (exp < 0) {
        OUT('0');
        OUT('.');
        for (int i = -1; i > exp; i--)
            OUT('0');
        for (size_t i = 0; i < nd; i++)
            OUT(digits[i]);
    } else {
        for (int i = 0; i <= exp || (size_t)i < nd; i++) {
            if (i == exp + 1)
                OUT('.');
            OUT((size_t)i < nd ? digits[i] : '0');
        }
    }
#undef OUT
    out[o] = '\0';
}

static int dump_cb(const char *p, size_t n, void *data) { return buf_append(data, p, n); }

static int put_json(buf_t *b, const json_t *v)
{
    return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ? -1 : 0;
}

/* Any JSON value's own text, as a JSON string. */
static int put_json_text(buf_t *b, const json_t *v)
{
    buf_t t;
    buf_init(&t, CH_MAX_JSON_BODY);
    int rc = put_json(&t, v) || put_text_of(b, &t);
    buf_free(&t);
    return rc ? -1 : 0;
}

/* Keys of a trigger's binding data whose value is a date (a .NET
 * DateTimeOffset), which Azure writes as a JSON date, not as text. */
static int is_date_key(const char *trigger_type, const char *key)
{
    static const char *const queue_dates[] = {"InsertionTime", "ExpirationTime",
                                              "NextVisibleTime"};
    if (!trigger_type || strcasecmp(trigger_type, "queueTrigger") != 0)
        return 0;
    for (size_t i = 0; i < sizeof queue_dates / sizeof queue_dates[0]; i++)
        if (!strcasecmp(key, queue_dates[i]))
            return 1;
    return 0;
}

int ch__value_put_meta(buf_t *b, const char *trigger_type, const char *key, const json_t *v)
{
    if (json_is_object(v))
        return put_json(b, v);
    if (json_is_string(v)) {
        if (is_date_key(trigger_type, key))
            return put_quoted(b, json_string_value(v), json_string_length(v));
        return ch__value_put_text(b, json_string_value(v), json_string_length(v));
    }
    return put_json_text(b, v); /* a number, a boolean, a list */
}

int ch__value_payload_prop(const json_t *v) { return v && !json_is_array(v) && !json_is_null(v); }

int ch__value_put_payload_prop(buf_t *b, const json_t *v)
{
    char num[48];
    if (json_is_object(v))
        return put_json(b, v);
    if (json_is_string(v))
        return ch__value_put_text(b, json_string_value(v), json_string_length(v));
    /* Azure takes the property's value as a .NET string first. */
    if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        dotnet_double(json_real_value(v), num, sizeof num);
    else
        snprintf(num, sizeof num, "%s", json_is_true(v) ? "True" : "False");
    return ch__value_put_text(b, num, strlen(num));
}

int ch__value_put_bytes(buf_t *b, const char *p, size_t n, int binary, int blob)
{
    if (binary)
        return buf_putc(b, '"') || base64_encode(b, p, n) || buf_putc(b, '"') ? -1 : 0;
    return put_reader_text(b, p, n, blob);
}

int ch__value_put_input(buf_t *b, const json_t *v, int binary, int blob)
{
    json_t *bin = json_is_object(v) && json_object_size(v) == 1
                      ? json_object_get(v, "$binary") : NULL;
    if (json_is_string(bin)) {
        if (binary)
            return put_quoted(b, json_string_value(bin), json_string_length(bin));
        buf_t raw;
        buf_init(&raw, CH_MAX_JSON_BODY);
        int rc = base64_decode(&raw, json_string_value(bin), json_string_length(bin)) ||
                 put_reader_text(b, raw.p ? raw.p : "", raw.len, blob);
        buf_free(&raw);
        return rc ? -1 : 0;
    }
    if (json_is_string(v))
        return ch__value_put_bytes(b, json_string_value(v), json_string_length(v), binary, blob);
    if (!v || json_is_null(v))
        return put_quoted(b, "null", 4); /* the JSON text of nothing */
    return ch__value_put_meta(b, NULL, "", v);
}

/* 1 when the n bytes at s are text that .NET's Convert.FromBase64String
 * accepts: the base64 alphabet, white space (space, tab, CR, LF) anywhere,
 * a length without the white space that is a multiple of 4, and at most two
 * '=' at the end only. */
static int dotnet_base64(const char *s, size_t n)
{
    size_t len = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (++pad > 2)
                return 0;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return 0;
        }
        len++;
    }
    return len % 4 == 0;
}

json_t *ch__value_output(json_t *v, int binary)
{
    if (binary || !json_is_string(v) || !dotnet_base64(json_string_value(v), json_string_length(v)))
        return json_incref(v);
    return json_pack("{s:O}", "$binary", v);
}
