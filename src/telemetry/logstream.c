/*
 * logstream.c -- streaming the live log to HTTP clients (see logstream.h):
 * a log observer that formats each line once per format and appends it
 * to every following client's stream, within each client's bound.
 */
#include "logstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "../util/buf.h"
#include "log.h"

typedef struct follower {
    http_request_t *req;
    char function[160]; /* "" for all */
    size_t fn_len;
    int json;
    unsigned long long dropped; /* lines not sent since the last one sent */
} follower_t;

static struct {
    follower_t list[LOGSTREAM_MAX_CLIENTS];
    size_t n;
    buf_t text, json; /* the current line in each format */
} S = {.text = {NULL, 0, 0, 1u << 20}, .json = {NULL, 0, 0, 1u << 20}};

static const char *level_names[] = {"trace", "debug", "info", "warning", "error", "critical"};

static void on_line(int level, const char *category, const char *invocation_id,
                    const char *message, size_t len, void *data);

/* "Function.<fn>" or "Function.<fn>.<anything>" (case-insensitive). */
static int matches(const follower_t *f, const char *category)
{
    if (!f->fn_len)
        return 1;
    if (!category || strncasecmp(category, "Function.", 9) != 0)
        return 0;
    const char *rest = category + 9;
    return strncasecmp(rest, f->function, f->fn_len) == 0 &&
           (rest[f->fn_len] == '\0' || rest[f->fn_len] == '.');
}

static void remove_at(size_t i)
{
    memmove(&S.list[i], &S.list[i + 1], (S.n - i - 1) * sizeof S.list[0]);
    S.n--;
    if (!S.n) {
        log_unobserve(on_line, NULL);
        buf_free(&S.text);
        buf_free(&S.json);
    }
}

static void gone_cb(http_request_t *req, void *data)
{
    (void)data;
    for (size_t i = 0; i < S.n; i++)
        if (S.list[i].req == req) {
            remove_at(i);
            break;
        }
    http_stream_end(req);
}

static void send_line(follower_t *f, const buf_t *line)
{
    if (http_stream_unsent(f->req) + line->len > LOGSTREAM_MAX_UNSENT) {
        f->dropped++;
        return;
    }
    if (f->dropped) {
        char note[160];
        int n = f->json ? snprintf(note, sizeof note, "{\"dropped\":%llu,\"message\":\"%llu "
                                   "line(s) dropped: the client read too slowly\"}\n",
                                   f->dropped, f->dropped)
                        : snprintf(note, sizeof note, "... %llu line(s) dropped: the client "
                                   "read too slowly\n", f->dropped);
        http_stream_write(f->req, note, (size_t)n);
        f->dropped = 0;
    }
    http_stream_write(f->req, line->p, line->len);
}

static void timestamp(char *out, size_t n)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(tv.tv_usec / 1000));
}

static void on_line(int level, const char *category, const char *invocation_id,
                    const char *message, size_t len, void *data)
{
    (void)data;
    if (level < 0)
        level = 0;
    if (level > LOG_CRITICAL)
        level = LOG_CRITICAL;
    int want_text = 0, want_json = 0;
    for (size_t i = 0; i < S.n; i++)
        if (matches(&S.list[i], category)) {
            want_json |= S.list[i].json;
            want_text |= !S.list[i].json;
        }
    if (!want_text && !want_json)
        return;
    char ts[40];
    timestamp(ts, sizeof ts);
    if (!category)
        category = "";
    if (want_json) {
        buf_reset(&S.json);
        buf_printf(&S.json, "{\"time\":\"%s\",\"level\":\"%s\",\"category\":\"", ts,
                   level_names[level]);
        buf_json_escape_utf8(&S.json, category, strlen(category));
        buf_lit(&S.json, "\"");
        if (invocation_id) {
            buf_lit(&S.json, ",\"invocationId\":\"");
            buf_json_escape_utf8(&S.json, invocation_id, strlen(invocation_id));
            buf_lit(&S.json, "\"");
        }
        buf_lit(&S.json, ",\"message\":\"");
        buf_json_escape_utf8(&S.json, message, len);
        buf_lit(&S.json, "\"}\n");
    }
    if (want_text) {
        buf_reset(&S.text);
        buf_printf(&S.text, "[%s] %s %s: ", ts, level_names[level], category);
        size_t at = S.text.len;
        buf_append(&S.text, message, len);
        for (size_t i = at; i < S.text.len; i++)
            if (S.text.p[i] == '\n' || S.text.p[i] == '\r')
                S.text.p[i] = ' ';
        buf_putc(&S.text, '\n');
    }
    for (size_t i = 0; i < S.n; i++)
        if (matches(&S.list[i], category))
            send_line(&S.list[i], S.list[i].json ? &S.json : &S.text);
}

int logstream_follow(http_request_t *req, const char *function, int json)
{
    if (S.n == LOGSTREAM_MAX_CLIENTS)
        return -1;
    if (!S.n && log_observe(on_line, NULL, 1) != 0)
        return -1;
    static const http_header_t ct_json[] = {
        {SV_LIT("Content-Type"), SV_LIT("application/x-ndjson; charset=utf-8")},
        {SV_LIT("Cache-Control"), SV_LIT("no-cache")}};
    static const http_header_t ct_text[] = {
        {SV_LIT("Content-Type"), SV_LIT("text/plain; charset=utf-8")},
        {SV_LIT("Cache-Control"), SV_LIT("no-cache")}};
    if (http_stream_start(req, 200, json ? ct_json : ct_text, 2, gone_cb, NULL) != 0) {
        if (!S.n)
            log_unobserve(on_line, NULL);
        return -1;
    }
    follower_t *f = &S.list[S.n++];
    memset(f, 0, sizeof *f);
    f->req = req;
    f->json = json;
    if (function) {
        snprintf(f->function, sizeof f->function, "%s", function);
        f->fn_len = strlen(f->function);
    }
    return 0;
}

void logstream_stop_all(void)
{
    while (S.n) {
        http_request_t *req = S.list[S.n - 1].req;
        remove_at(S.n - 1);
        http_stream_end(req);
    }
}

size_t logstream_clients(void) { return S.n; }
