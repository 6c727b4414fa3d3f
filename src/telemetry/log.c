/*
 * log.c -- buffered dev/JSON log lines (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"

#define LOG_BUF_MAX (16u << 20)
#define LOG_FLUSH_AT (64u << 10)

static struct {
    log_format_t format;
    int fd;
    int colour;
    int min_level;
    int buffered;
    buf_t out;
    time_t cached_sec;
    char cached_prefix[32]; /* "2026-11-26T18:56:46" */
    log_sink_fn sink;
    void *sink_data;
} L = {LOG_FORMAT_DEV, 2, 0, LOG_INFO, 0, {NULL, 0, 0, LOG_BUF_MAX}, 0, "", NULL, NULL};

static const char *level_names[] = {"trace", "debug", "info", "warning", "error", "critical"};
static const char *level_colours[] = {"\033[2m", "\033[2m", "", "\033[33m", "\033[31m", "\033[1;31m"};

void log_setup(log_format_t format, int fd, int colour, int min_level)
{
    L.format = format;
    L.fd = fd;
    L.colour = colour;
    L.min_level = min_level;
}

void log_set_buffered(int on)
{
    L.buffered = on;
    if (!on)
        log_flush();
}

int log_min_level(void) { return L.min_level; }

void log_flush(void)
{
    size_t off = 0;
    while (off < L.out.len) {
        ssize_t n = write(L.fd, L.out.p + off, L.out.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere to report a failing log; drop the lines */
        }
        off += (size_t)n;
    }
    buf_reset(&L.out);
}

static void timestamp(char *out, size_t outlen)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != L.cached_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(L.cached_prefix, sizeof L.cached_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        L.cached_sec = tv.tv_sec;
    }
    snprintf(out, outlen, "%s.%03dZ", L.cached_prefix, (int)(tv.tv_usec / 1000));
}

static void line_start(int level, const char *category, const char *invocation_id)
{
    char ts[40];
    timestamp(ts, sizeof ts);
    if (level < 0)
        level = 0;
    if (level > LOG_CRITICAL)
        level = LOG_CRITICAL;
    if (L.format == LOG_FORMAT_JSON) {
        buf_printf(&L.out, "{\"time\":\"%s\",\"level\":\"%s\",\"category\":\"", ts, level_names[level]);
        buf_json_escape(&L.out, category, strlen(category));
        buf_puts(&L.out, "\"");
        if (invocation_id)
            buf_printf(&L.out, ",\"invocationId\":\"%s\"", invocation_id);
        buf_puts(&L.out, ",\"message\":\"");
    } else {
        if (L.colour)
            buf_printf(&L.out, "\033[2m[%s]\033[0m %s", ts, level_colours[level]);
        else
            buf_printf(&L.out, "[%s] ", ts);
        if (level >= LOG_WARN && !L.colour)
            buf_printf(&L.out, "%s: ", level_names[level]);
        if (strncmp(category, "Function.", 9) == 0)
            buf_printf(&L.out, "%s: ", category + 9);
    }
}

static void line_end(void)
{
    if (L.format == LOG_FORMAT_JSON)
        buf_puts(&L.out, "\"}\n");
    else
        buf_puts(&L.out, L.colour ? "\033[0m\n" : "\n");
    if (!L.buffered || L.out.len >= LOG_FLUSH_AT)
        log_flush();
}

static void append_message(const char *fmt, va_list ap)
{
    if (L.format != LOG_FORMAT_JSON) {
        size_t before = L.out.len;
        buf_vprintf(&L.out, fmt, ap);
        /* Keep one entry on one line. */
        for (size_t i = before; i < L.out.len; i++)
            if (L.out.p[i] == '\n' || L.out.p[i] == '\r')
                L.out.p[i] = ' ';
        return;
    }
    buf_t tmp;
    buf_init(&tmp, 1u << 20);
    buf_vprintf(&tmp, fmt, ap);
    buf_json_escape(&L.out, tmp.p ? tmp.p : "", tmp.len);
    buf_free(&tmp);
}

void log_set_sink(log_sink_fn sink, void *data)
{
    L.sink = sink;
    L.sink_data = data;
}

void log_writev(int level, const char *category, const char *invocation_id,
                const char *fmt, va_list ap)
{
    if (level < L.min_level)
        return;
    if (L.sink) {
        buf_t msg;
        buf_init(&msg, 1u << 20);
        buf_vprintf(&msg, fmt, ap);
        L.sink(level, category, invocation_id, msg.p ? msg.p : "", msg.len, L.sink_data);
        buf_free(&msg);
        return;
    }
    line_start(level, category, invocation_id);
    append_message(fmt, ap);
    line_end();
}

void log_write(int level, const char *category, const char *invocation_id,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_writev(level, category, invocation_id, fmt, ap);
    va_end(ap);
}

void log_invocation(const char *function, const char *invocation_id, int ok,
                    int status, uint64_t duration_ns, const char *reason)
{
    int level = ok ? LOG_INFO : LOG_ERROR;
    if (level < L.min_level)
        return;
    double ms = (double)duration_ns / 1e6;
    if (L.format == LOG_FORMAT_JSON) {
        char ts[40];
        timestamp(ts, sizeof ts);
        buf_printf(&L.out,
                   "{\"time\":\"%s\",\"level\":\"%s\",\"category\":\"Function.%s\","
                   "\"invocationId\":\"%s\",\"message\":\"Executed\",\"function\":\"%s\","
                   "\"outcome\":\"%s\",",
                   ts, level_names[level], function, invocation_id, function,
                   ok ? "Succeeded" : "Failed");
        if (status)
            buf_printf(&L.out, "\"status\":%d,", status);
        if (reason) {
            buf_puts(&L.out, "\"reason\":\"");
            buf_json_escape(&L.out, reason, strlen(reason));
            buf_puts(&L.out, "\",");
        }
        buf_printf(&L.out, "\"durationMs\":%.3f}\n", ms);
        if (!L.buffered || L.out.len >= LOG_FLUSH_AT)
            log_flush();
        return;
    }
    line_start(level, "Host", NULL);
    buf_printf(&L.out, "Executed 'Functions.%s' (%s, Id=%s", function,
               ok ? "Succeeded" : "Failed", invocation_id);
    if (status)
        buf_printf(&L.out, ", Status=%d", status);
    buf_printf(&L.out, ", Duration=%.3fms)", ms);
    if (reason)
        buf_printf(&L.out, ": %s", reason);
    line_end();
}
