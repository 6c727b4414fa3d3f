/*
 * log.c -- buffered dev/JSON log lines (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"

#define LOG_BUF_MAX (16u << 20)
#define LOG_FLUSH_AT (64u << 10)
/* Written lines that a pipe or socket reader has not taken yet, at most;
 * lines beyond are dropped (and counted) rather than blocking the host. */
#define LOG_PENDING_MAX (4u << 20)

typedef struct observer {
    log_observer_fn fn;
    void *data;
    int every_line;
} observer_t;

static struct {
    observer_t list[LOG_MAX_OBSERVERS];
    size_t n;
    size_t n_every; /* of them with every_line */
    buf_t msg;      /* the message being observed */
} O = {.msg = {NULL, 0, 0, 1u << 20}};

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
    /* While buffered, a pipe is written through nbfd (the same pipe opened
     * anew, non-blocking: fd's own flags are shared with whoever else
     * holds it) and a socket with MSG_DONTWAIT, so a reader that stalls
     * cannot stop the host's loop. */
    int nbfd;
    int is_socket;
    int stalled;    /* the last flush left lines the reader did not take */
    size_t head;    /* out[head..len) is still to be written */
    size_t mark;    /* where the line being built starts in out */
    uint64_t dropped;
    size_t nrules;
    struct {
        char category[128];
        size_t len;
        int level;
    } rules[LOG_MAX_CATEGORY_RULES];
} L = {LOG_FORMAT_DEV, 2, 0, LOG_INFO, 0, {NULL, 0, 0, LOG_BUF_MAX}, 0, "", NULL, NULL, -1, 0, 0, 0, 0,
     0, 0, {{"", 0, 0}}};

/* Bumped whenever the rules or the minimum level change: the cache of
 * function_level below is then stale. */
static unsigned rules_gen = 1;

static const char *level_names[] = {"trace", "debug", "info", "warning", "error", "critical"};
static const char *level_colours[] = {"\033[2m", "\033[2m", "", "\033[33m", "\033[31m", "\033[1;31m"};

void log_setup(log_format_t format, int fd, int colour, int min_level)
{
    L.format = format;
    L.fd = fd;
    L.colour = colour;
    L.min_level = min_level;
    rules_gen++;
    if (L.nbfd >= 0)
        close(L.nbfd);
    L.nbfd = -1;
    L.is_socket = 0;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;
    if (S_ISFIFO(st.st_mode)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        L.nbfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } else if (S_ISSOCK(st.st_mode)) {
        L.is_socket = 1;
    }
}

void log_set_buffered(int on)
{
    L.buffered = on;
    if (!on)
        log_flush();
}

int log_min_level(void) { return L.min_level; }

void log_set_category_levels(const char *const *categories, const int *levels, size_t n)
{
    rules_gen++;
    L.nrules = 0;
    for (size_t i = 0; i < n && L.nrules < LOG_MAX_CATEGORY_RULES; i++) {
        size_t len = strlen(categories[i]);
        if (len >= sizeof L.rules[0].category)
            continue;
        memcpy(L.rules[L.nrules].category, categories[i], len + 1);
        L.rules[L.nrules].len = len;
        L.rules[L.nrules].level = levels[i];
        L.nrules++;
    }
}

/* The level for category prefix (n bytes) followed by rest (NULL: none). */
static int level_for2(const char *prefix, size_t n, const char *rest)
{
    int level = L.min_level;
    size_t best = 0;
    size_t rest_len = rest ? strlen(rest) : 0;
    for (size_t i = 0; i < L.nrules; i++) {
        const char *c = L.rules[i].category;
        size_t len = L.rules[i].len;
        if (len > n + rest_len || len < best || (len == best && best))
            continue;
        /* compare c with (prefix + rest)[0..len), case-insensitively */
        int match = 1;
        for (size_t k = 0; k < len && match; k++) {
            char a = c[k], b = k < n ? prefix[k] : rest[k - n];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            match = a == b;
        }
        /* whole segments only: "Function" matches "Function.x", not "Functions" */
        char after = len < n ? prefix[len] : len - n < rest_len ? rest[len - n] : '\0';
        if (match && (after == '\0' || after == '.')) {
            level = L.rules[i].level;
            best = len;
        }
    }
    return level;
}

int log_level_for(const char *category)
{
    if (!L.nrules || !category)
        return L.min_level;
    return level_for2(category, strlen(category), NULL);
}

/* Write out[0..len) as far as it goes: blocking, or (buffered, to a pipe
 * or a socket) only what the reader takes now. The bytes written. */
static size_t write_out(const char *p, size_t len)
{
    size_t off = 0;
    int wait = !L.buffered || (L.nbfd < 0 && !L.is_socket);
    while (off < len) {
        ssize_t n;
        if (wait)
            n = write(L.fd, p + off, len - off);
        else if (L.is_socket)
            n = send(L.fd, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            n = write(L.nbfd, p + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (!wait && (errno == EAGAIN || errno == EWOULDBLOCK))
                return off;
            return len; /* nowhere to report a failing log; drop the lines */
        }
        off += (size_t)n;
    }
    return off;
}

void log_flush(void)
{
    L.head += write_out(L.out.p + L.head, L.out.len - L.head);
    if (L.head < L.out.len) {
        if (L.head >= L.out.len - L.head) { /* moves at most what was written */
            memmove(L.out.p, L.out.p + L.head, L.out.len - L.head);
            L.out.len -= L.head;
            L.head = 0;
        }
        L.stalled = 1;
        return;
    }
    buf_reset(&L.out);
    L.head = 0;
    L.stalled = 0;
    if (L.dropped) {
        uint64_t n = L.dropped;
        L.dropped = 0;
        log_write(LOG_WARN, "Host", NULL, "%llu log line(s) dropped: the log output was not "
                  "read as fast as lines came", (unsigned long long)n);
    }
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
    size_t n = strlen(L.cached_prefix);
    int ms = (int)(tv.tv_usec / 1000);
    if (outlen < n + 6)
        return;
    memcpy(out, L.cached_prefix, n);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
}

static void line_start(int level, const char *category, const char *invocation_id)
{
    L.mark = L.out.len;
    char ts[40];
    timestamp(ts, sizeof ts);
    if (level < 0)
        level = 0;
    if (level > LOG_CRITICAL)
        level = LOG_CRITICAL;
    if (L.format == LOG_FORMAT_JSON) {
        buf_printf(&L.out, "{\"time\":\"%s\",\"level\":\"%s\",\"category\":\"", ts, level_names[level]);
        buf_json_escape_utf8(&L.out, category, strlen(category));
        buf_lit(&L.out, "\"");
        if (invocation_id)
            buf_printf(&L.out, ",\"invocationId\":\"%s\"", invocation_id);
        buf_lit(&L.out, ",\"message\":\"");
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

/* The line since L.mark is complete: keep it, or drop it when the reader
 * has left too much unread (the next turn of the loop tries again); write
 * out when it is time. */
static void line_done(void)
{
    if (L.out.len - L.head > LOG_PENDING_MAX) {
        L.out.len = L.mark;
        L.dropped++;
        return;
    }
    if (!L.buffered || (L.out.len >= LOG_FLUSH_AT && !L.stalled))
        log_flush();
}

static void line_end(void)
{
    if (L.format == LOG_FORMAT_JSON)
        buf_lit(&L.out, "\"}\n");
    else
        buf_puts(&L.out, L.colour ? "\033[0m\n" : "\n");
    line_done();
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
    buf_json_escape_utf8(&L.out, tmp.p ? tmp.p : "", tmp.len);
    buf_free(&tmp);
}

int log_observe(log_observer_fn fn, void *data, int every_line)
{
    if (O.n == LOG_MAX_OBSERVERS)
        return -1;
    O.list[O.n++] = (observer_t){fn, data, every_line};
    O.n_every += every_line != 0;
    return 0;
}

void log_unobserve(log_observer_fn fn, void *data)
{
    for (size_t i = 0; i < O.n; i++)
        if (O.list[i].fn == fn && O.list[i].data == data) {
            O.n_every -= O.list[i].every_line != 0;
            memmove(&O.list[i], &O.list[i + 1], (O.n - i - 1) * sizeof O.list[0]);
            O.n--;
            break;
        }
    if (!O.n)
        buf_free(&O.msg);
}

/* Tell the observers that want it about a line whose message is in O.msg. */
static void observe(int level, const char *category, const char *invocation_id, int closing)
{
    for (size_t i = 0; i < O.n; i++) {
        observer_t *o = &O.list[i];
        if (o->every_line || (invocation_id && !closing))
            o->fn(level, category, invocation_id, O.msg.p ? O.msg.p : "", O.msg.len, o->data);
    }
}

/* The message text (n bytes) into the line being built. */
static void append_text(const char *p, size_t n)
{
    if (L.format == LOG_FORMAT_JSON) {
        buf_json_escape_utf8(&L.out, p, n);
        return;
    }
    size_t before = L.out.len;
    buf_append(&L.out, p, n);
    for (size_t i = before; i < L.out.len; i++)
        if (L.out.p[i] == '\n' || L.out.p[i] == '\r')
            L.out.p[i] = ' ';
}

void log_set_sink(log_sink_fn sink, void *data)
{
    L.sink = sink;
    L.sink_data = data;
}

void log_writev(int level, const char *category, const char *invocation_id,
                const char *fmt, va_list ap)
{
    if (level < (L.nrules ? log_level_for(category) : L.min_level))
        return;
    if (L.sink) {
        buf_t msg;
        buf_init(&msg, 1u << 20);
        buf_vprintf(&msg, fmt, ap);
        L.sink(level, category, invocation_id, msg.p ? msg.p : "", msg.len, L.sink_data);
        buf_free(&msg);
        return;
    }
    if (O.n && (invocation_id || O.n_every)) {
        buf_reset(&O.msg);
        buf_vprintf(&O.msg, fmt, ap);
        observe(level, category, invocation_id, 0);
        line_start(level, category, invocation_id);
        append_text(O.msg.p ? O.msg.p : "", O.msg.len);
        line_end();
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

static void put_escaped(const char *s)
{
    buf_json_escape_utf8(&L.out, s, strlen(s));
}

/* The closing line for the observers, in the dev format's words. */
static void observe_invocation(int level, const char *function, const char *invocation_id,
                               int ok, int status, uint64_t duration_ns, const char *reason)
{
    char category[160];
    snprintf(category, sizeof category, "Function.%s", function);
    buf_reset(&O.msg);
    buf_printf(&O.msg, "Executed 'Functions.%s' (%s, Id=%s", function,
               ok ? "Succeeded" : "Failed", invocation_id);
    if (status)
        buf_printf(&O.msg, ", Status=%d", status);
    buf_lit(&O.msg, ", Duration=");
    buf_put_ms(&O.msg, duration_ns);
    buf_lit(&O.msg, "ms)");
    if (reason)
        buf_printf(&O.msg, ": %s", reason);
    observe(level, category, invocation_id, 1);
}

/* The level of category "Function.<function>", asked for every invocation:
 * the last answers are kept (a few slots, by name length and first
 * letter), since the rules only change on a reload. */
static int function_level(const char *function)
{
    static struct {
        unsigned gen;
        int level;
        char name[48];
    } cache[8];
    size_t n = strlen(function);
    if (n >= sizeof cache[0].name)
        return level_for2("Function.", 9, function);
    unsigned slot = (unsigned)(n + (unsigned char)function[0]) & 7;
    if (cache[slot].gen == rules_gen && memcmp(cache[slot].name, function, n + 1) == 0)
        return cache[slot].level;
    int level = level_for2("Function.", 9, function);
    cache[slot].gen = rules_gen;
    cache[slot].level = level;
    memcpy(cache[slot].name, function, n + 1);
    return level;
}

void log_invocation(const char *function, const char *invocation_id, int ok,
                    int status, uint64_t duration_ns, const char *reason)
{
    int level = ok ? LOG_INFO : LOG_ERROR;
    if (level < (L.nrules ? function_level(function) : L.min_level))
        return;
    if (O.n_every)
        observe_invocation(level, function, invocation_id, ok, status, duration_ns, reason);
    /* Formatted by hand: this line is written for every invocation. */
    if (L.format == LOG_FORMAT_JSON) {
        char ts[40];
        timestamp(ts, sizeof ts);
        L.mark = L.out.len;
        buf_lit(&L.out, "{\"time\":\"");
        buf_puts(&L.out, ts);
        buf_lit(&L.out, "\",\"level\":\"");
        buf_puts(&L.out, level_names[level]);
        buf_lit(&L.out, "\",\"category\":\"Function.");
        put_escaped(function);
        buf_lit(&L.out, "\",\"invocationId\":\"");
        put_escaped(invocation_id);
        buf_lit(&L.out, "\",\"message\":\"Executed\",\"function\":\"");
        put_escaped(function);
        buf_puts(&L.out, ok ? "\",\"outcome\":\"Succeeded\"," : "\",\"outcome\":\"Failed\",");
        if (status) {
            buf_lit(&L.out, "\"status\":");
            buf_put_uint(&L.out, (unsigned)status);
            buf_putc(&L.out, ',');
        }
        if (reason) {
            buf_lit(&L.out, "\"reason\":\"");
            put_escaped(reason);
            buf_lit(&L.out, "\",");
        }
        buf_lit(&L.out, "\"durationMs\":");
        buf_put_ms(&L.out, duration_ns);
        buf_lit(&L.out, "}\n");
        line_done();
        return;
    }
    line_start(level, "Host", NULL);
    buf_lit(&L.out, "Executed 'Functions.");
    buf_puts(&L.out, function);
    buf_puts(&L.out, ok ? "' (Succeeded, Id=" : "' (Failed, Id=");
    buf_puts(&L.out, invocation_id);
    if (status) {
        buf_lit(&L.out, ", Status=");
        buf_put_uint(&L.out, (unsigned)status);
    }
    buf_lit(&L.out, ", Duration=");
    buf_put_ms(&L.out, duration_ns);
    buf_lit(&L.out, "ms)");
    if (reason) {
        size_t at = L.out.len;
        buf_lit(&L.out, ": ");
        buf_puts(&L.out, reason);
        for (size_t i = at; i < L.out.len; i++) /* one entry, one line */
            if (L.out.p[i] == '\n' || L.out.p[i] == '\r')
                L.out.p[i] = ' ';
    }
    line_end();
}
