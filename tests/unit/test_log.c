/*
 * test_log.c -- the host log (src/telemetry/log.h): dev lines and JSON
 * lines, invocation lines, level filtering and buffering. The log is routed
 * to a non-blocking pipe (or a temp file) and read back; at the end it goes
 * back to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/telemetry/log.h"
#include "test.h"

static int pipe_r = -1, pipe_w = -1;
static char got[1 << 16];

/* Everything written to the pipe since the last call (NUL-terminated). */
static const char *drain(void)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(pipe_r, got + n, sizeof got - 1 - n);
        if (r > 0) {
            n += (size_t)r;
            if (n == sizeof got - 1)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        break; /* EAGAIN: nothing more */
    }
    got[n] = '\0';
    return got;
}

static void use(log_format_t format, int colour, int min_level)
{
    log_set_buffered(0);
    log_setup(format, pipe_w, colour, min_level);
    drain();
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* CHECK that s matches the extended regex re. */
#define CHECK_MATCH(s, re) CHECK(matches((s), (re)))
static int matches(const char *s, const char *re)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "bad regex %s\n", re);
        return 0;
    }
    int ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    if (!ok)
        fprintf(stderr, "\"%s\" does not match /%s/\n", s, re);
    return ok;
}

#define TS "\\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\\]"
#define ISO "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"

/* Parse one JSON line (must be exactly one line); NULL if it is not an object. */
static json_t *parse_line(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[n - 1] != '\n' || memchr(s, '\n', n - 1)) {
        fprintf(stderr, "not one line: \"%s\"\n", s);
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(s, n - 1, 0, &err);
    if (!j) {
        fprintf(stderr, "not JSON (%s): %s\n", err.text, s);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- dev format ---- */

TEST(dev_line)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    log_write(LOG_INFO, "Host", NULL, "hello %d %s", 42, "world");
    const char *s = drain();
    CHECK_MATCH(s, "^" TS " hello 42 world\n$");
    CHECK(strchr(s, '\033') == NULL);

    /* The host macros write the same shape. */
    log_info("listening on %s:%d", "127.0.0.1", 7071);
    CHECK_MATCH(drain(), "^" TS " listening on 127\\.0\\.0\\.1:7071\n$");

    /* An invocation id is not shown in dev lines. */
    log_write(LOG_INFO, "Host", "0123-abcd", "with id");
    CHECK_MATCH(drain(), "^" TS " with id\n$");
}

TEST(dev_levels_without_colour)
{
    use(LOG_FORMAT_DEV, 0, LOG_TRACE);
    log_write(LOG_WARN, "Host", NULL, "careful");
    CHECK_MATCH(drain(), "^" TS " warning: careful\n$");
    log_warn("also %s", "careful");
    CHECK_MATCH(drain(), "^" TS " warning: also careful\n$");
    log_write(LOG_ERROR, "Host", NULL, "broken");
    CHECK_MATCH(drain(), "^" TS " error: broken\n$");
    log_write(LOG_CRITICAL, "Host", NULL, "down");
    CHECK_MATCH(drain(), "^" TS " critical: down\n$");
    log_write(LOG_DEBUG, "Host", NULL, "detail");
    CHECK_MATCH(drain(), "^" TS " detail\n$");
    log_write(LOG_TRACE, "Host", NULL, "fine");
    CHECK_MATCH(drain(), "^" TS " fine\n$");
    /* Out-of-range levels are clamped, not read past the tables. */
    log_write(99, "Host", NULL, "clamped");
    CHECK_MATCH(drain(), "^" TS " critical: clamped\n$");
}

TEST(dev_colour)
{
    use(LOG_FORMAT_DEV, 1, LOG_INFO);
    log_write(LOG_WARN, "Host", NULL, "careful");
    const char *s = drain();
    CHECK_CONTAINS(s, "\033[33m");
    CHECK_CONTAINS(s, "careful\033[0m\n");
    CHECK(strstr(s, "warning:") == NULL); /* the colour says it */
    CHECK_INT(count_char(s, '\n'), 1);
    log_write(LOG_INFO, "Host", NULL, "plain");
    s = drain();
    CHECK_CONTAINS(s, "\033[2m[");
    CHECK_CONTAINS(s, "plain\033[0m\n");
}

TEST(dev_function_category)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    log_write(LOG_INFO, "Function.hello", "id-1", "from the function");
    CHECK_MATCH(drain(), "^" TS " hello: from the function\n$");
    log_write(LOG_ERROR, "Function.orders-v2", NULL, "oops");
    CHECK_MATCH(drain(), "^" TS " error: orders-v2: oops\n$");
    /* Other categories are not shown. */
    log_write(LOG_INFO, "Host.Startup", NULL, "starting");
    CHECK_MATCH(drain(), "^" TS " starting\n$");
    log_write(LOG_INFO, "Functional", NULL, "no dot");
    CHECK_MATCH(drain(), "^" TS " no dot\n$");
}

TEST(dev_newlines_flattened)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    log_write(LOG_WARN, "Host.Build", NULL, "compiler output: %s", "a.c:1: error\nb.c:2: warning\r\n");
    const char *s = drain();
    CHECK_INT(count_char(s, '\n'), 1);
    CHECK(strchr(s, '\r') == NULL);
    CHECK_MATCH(s, "^" TS " warning: compiler output: a\\.c:1: error b\\.c:2: warning  \n$");
    /* Newlines in the format itself too. */
    log_write(LOG_INFO, "Host", NULL, "line1\nline2");
    CHECK_MATCH(drain(), "^" TS " line1 line2\n$");
}

/* ---- JSON format ---- */

TEST(json_fields)
{
    use(LOG_FORMAT_JSON, 1 /* ignored */, LOG_TRACE);
    log_write(LOG_INFO, "Function.hello", "5f0c-id", "hello %s", "there");
    const char *s = drain();
    CHECK(strchr(s, '\033') == NULL);
    json_t *j = parse_line(s);
    CHECK(j != NULL);
    if (j) {
        CHECK(jstr(j, "time") && matches(jstr(j, "time"), ISO));
        CHECK_STR(jstr(j, "level"), "info");
        CHECK_STR(jstr(j, "category"), "Function.hello");
        CHECK_STR(jstr(j, "invocationId"), "5f0c-id");
        CHECK_STR(jstr(j, "message"), "hello there");
        CHECK_INT(json_object_size(j), 5);
        json_decref(j);
    }

    /* Without an id the key is absent; each level has its name. */
    static const struct {
        int level;
        const char *name;
    } levels[] = {{LOG_TRACE, "trace"}, {LOG_DEBUG, "debug"},  {LOG_INFO, "info"},
                  {LOG_WARN, "warning"}, {LOG_ERROR, "error"}, {LOG_CRITICAL, "critical"}};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        log_write(levels[i].level, "Host", NULL, "m");
        j = parse_line(drain());
        CHECK(j != NULL);
        if (!j)
            continue;
        CHECK_STR(jstr(j, "level"), levels[i].name);
        CHECK_STR(jstr(j, "category"), "Host");
        CHECK(json_object_get(j, "invocationId") == NULL);
        CHECK_STR(jstr(j, "message"), "m");
        json_decref(j);
    }
}

TEST(json_escaping)
{
    use(LOG_FORMAT_JSON, 0, LOG_INFO);
    static const char msg[] = "say \"hi\" \\ back\nslash\ttab\r\x01\x1f end \xc3\xa9";
    log_write(LOG_INFO, "Host", NULL, "%s", msg);
    const char *s = drain();
    CHECK_INT(count_char(s, '\n'), 1);
    json_t *j = parse_line(s);
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(jstr(j, "message"), msg);
        json_decref(j);
    }

    /* The category is escaped too. */
    log_write(LOG_INFO, "Odd\"Cat\\", NULL, "x");
    j = parse_line(drain());
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(jstr(j, "category"), "Odd\"Cat\\");
        json_decref(j);
    }

    /* An empty message is still a line. */
    log_write(LOG_INFO, "Host", NULL, "%s", "");
    j = parse_line(drain());
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(jstr(j, "message"), "");
        json_decref(j);
    }
}

/* ---- invocation lines ---- */

TEST(invocation_dev)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    log_invocation("hello", "0a1b-2c3d", 1, 200, 12345678ull, NULL);
    CHECK_MATCH(drain(), "^" TS " Executed 'Functions\\.hello' \\(Succeeded, Id=0a1b-2c3d, "
                         "Status=200, Duration=12\\.346ms\\)\n$");

    log_invocation("hello", "0a1b-2c3d", 0, 500, 1000000ull, "function returned 3");
    CHECK_MATCH(drain(), "^" TS " error: Executed 'Functions\\.hello' \\(Failed, Id=0a1b-2c3d, "
                         "Status=500, Duration=1\\.000ms\\): function returned 3\n$");

    /* Status 0 is left out; sub-millisecond durations keep microseconds. */
    log_invocation("timer", "id", 1, 0, 1600ull, NULL);
    CHECK_MATCH(drain(), "^" TS " Executed 'Functions\\.timer' \\(Succeeded, Id=id, "
                         "Duration=0\\.002ms\\)\n$");

    log_invocation("big", "id", 1, 204, 3000000000ull, NULL);
    CHECK_CONTAINS(drain(), "Status=204, Duration=3000.000ms)");
}

TEST(invocation_json)
{
    use(LOG_FORMAT_JSON, 0, LOG_INFO);
    log_invocation("hello", "0a1b-2c3d", 1, 200, 12345678ull, NULL);
    json_t *j = parse_line(drain());
    CHECK(j != NULL);
    if (j) {
        CHECK(jstr(j, "time") && matches(jstr(j, "time"), ISO));
        CHECK_STR(jstr(j, "level"), "info");
        CHECK_STR(jstr(j, "category"), "Function.hello");
        CHECK_STR(jstr(j, "invocationId"), "0a1b-2c3d");
        CHECK_STR(jstr(j, "message"), "Executed");
        CHECK_STR(jstr(j, "function"), "hello");
        CHECK_STR(jstr(j, "outcome"), "Succeeded");
        CHECK(json_is_integer(json_object_get(j, "status")));
        CHECK_INT(json_integer_value(json_object_get(j, "status")), 200);
        json_t *d = json_object_get(j, "durationMs");
        CHECK(json_is_number(d));
        CHECK(json_number_value(d) > 12.3455 && json_number_value(d) < 12.3465);
        CHECK(json_object_get(j, "reason") == NULL);
        json_decref(j);
    }

    log_invocation("hello", "id-2", 0, 0, 2000000ull, "crashed: \"signal\"\n11");
    j = parse_line(drain());
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(jstr(j, "level"), "error");
        CHECK_STR(jstr(j, "outcome"), "Failed");
        CHECK_STR(jstr(j, "reason"), "crashed: \"signal\"\n11");
        CHECK(json_object_get(j, "status") == NULL); /* 0: none */
        CHECK(json_number_value(json_object_get(j, "durationMs")) == 2.0);
        json_decref(j);
    }
}

/* ---- filtering and buffering ---- */

TEST(min_level_filters)
{
    use(LOG_FORMAT_DEV, 0, LOG_WARN);
    CHECK_INT(log_min_level(), LOG_WARN);
    log_write(LOG_INFO, "Host", NULL, "hidden info");
    log_debug("hidden debug");
    log_write(LOG_TRACE, "Host", NULL, "hidden trace");
    CHECK_STR(drain(), "");
    log_write(LOG_WARN, "Host", NULL, "shown");
    CHECK_MATCH(drain(), "^" TS " warning: shown\n$");
    log_error("shown too");
    CHECK_MATCH(drain(), "^" TS " error: shown too\n$");

    /* Invocation lines: a success is info, a failure is an error. */
    log_invocation("f", "id", 1, 200, 1000, NULL);
    CHECK_STR(drain(), "");
    log_invocation("f", "id", 0, 500, 1000, "bad");
    CHECK_CONTAINS(drain(), "Failed");

    use(LOG_FORMAT_JSON, 0, LOG_ERROR);
    log_write(LOG_WARN, "Host", NULL, "hidden");
    CHECK_STR(drain(), "");
    log_write(LOG_CRITICAL, "Host", NULL, "shown");
    CHECK_CONTAINS(drain(), "\"level\":\"critical\"");

    use(LOG_FORMAT_DEV, 0, LOG_TRACE);
    CHECK_INT(log_min_level(), LOG_TRACE);
    log_write(LOG_TRACE, "Host", NULL, "now shown");
    CHECK_MATCH(drain(), "^" TS " now shown\n$");
}

TEST(category_levels)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    const char *cats[] = {"Function", "Function.hello.User", "host.scale", "Worker"};
    int levels[] = {LOG_WARN, LOG_TRACE, LOG_NONE, LOG_ERROR};
    log_set_category_levels(cats, levels, 4);
    CHECK_INT(log_level_for("Host"), LOG_INFO);          /* no rule: the minimum */
    CHECK_INT(log_level_for("Function.hello"), LOG_WARN);
    CHECK_INT(log_level_for("Function.hello.User"), LOG_TRACE); /* longest match wins */
    CHECK_INT(log_level_for("Function.other.User"), LOG_WARN);
    CHECK_INT(log_level_for("Functions"), LOG_INFO);     /* whole segments only */
    CHECK_INT(log_level_for("Host.Scale"), LOG_NONE);    /* case-insensitive */
    log_write(LOG_ERROR, "Host.Scale", NULL, "silenced");
    log_write(LOG_INFO, "Function.hello", "id", "hidden");
    CHECK_STR(drain(), "");
    log_write(LOG_DEBUG, "Function.hello.User", "id", "user debug");
    CHECK_CONTAINS(drain(), "user debug");
    /* invocation lines are category Function.<name> */
    log_invocation("hello", "id", 1, 200, 1000, NULL);
    CHECK_STR(drain(), "");
    log_invocation("hello", "id", 0, 500, 1000, "bad");
    CHECK_CONTAINS(drain(), "Failed");
    log_set_category_levels(NULL, NULL, 0);
    log_invocation("hello", "id", 1, 200, 1000, NULL);
    CHECK_CONTAINS(drain(), "Succeeded");

    /* A function's level is remembered between invocations, and forgotten
     * when the rules change (a reload): "hello" and "hxllo" share a slot. */
    const char *c2[] = {"Function.hello", "Function.hxllo"};
    int l2[] = {LOG_WARN, LOG_INFO};
    log_set_category_levels(c2, l2, 2);
    for (int i = 0; i < 2; i++) {
        log_invocation("hello", "id", 1, 200, 1000, NULL);
        CHECK_STR(drain(), "");
        log_invocation("hxllo", "id", 1, 200, 1000, NULL);
        CHECK_CONTAINS(drain(), "Succeeded");
    }
    int l3[] = {LOG_INFO, LOG_WARN};
    log_set_category_levels(c2, l3, 2);
    log_invocation("hello", "id", 1, 200, 1000, NULL);
    CHECK_CONTAINS(drain(), "Succeeded");
    log_invocation("hxllo", "id", 1, 200, 1000, NULL);
    CHECK_STR(drain(), "");
    log_setup(LOG_FORMAT_DEV, pipe_w, 0, LOG_ERROR); /* a new minimum: forgotten too */
    log_set_category_levels(NULL, NULL, 0);
    log_invocation("hello", "id", 1, 200, 1000, NULL);
    CHECK_STR(drain(), "");
}

TEST(buffered_until_flush)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    log_set_buffered(1);
    log_write(LOG_INFO, "Host", NULL, "one");
    log_write(LOG_WARN, "Host", NULL, "two");
    log_invocation("f", "id", 1, 200, 1000000, NULL);
    CHECK_STR(drain(), "");
    log_flush();
    const char *s = drain();
    CHECK_INT(count_char(s, '\n'), 3);
    CHECK_MATCH(s, "^" TS " one\n" TS " warning: two\n" TS " Executed 'Functions\\.f' ");
    log_flush(); /* nothing left: writes nothing */
    CHECK_STR(drain(), "");

    /* JSON lines wait too; turning buffering off flushes them. */
    log_setup(LOG_FORMAT_JSON, pipe_w, 0, LOG_INFO);
    log_write(LOG_INFO, "Host", NULL, "three");
    log_invocation("f", "id", 0, 500, 1000000, "r");
    CHECK_STR(drain(), "");
    log_set_buffered(0);
    s = drain();
    CHECK_INT(count_char(s, '\n'), 2);
    CHECK_CONTAINS(s, "\"message\":\"three\"");
    CHECK_CONTAINS(s, "\"outcome\":\"Failed\"");

    /* Unbuffered again: at once. */
    log_write(LOG_INFO, "Host", NULL, "four");
    CHECK_CONTAINS(drain(), "four");
}

TEST(buffered_flushes_when_large)
{
    use(LOG_FORMAT_DEV, 0, LOG_INFO);
    log_set_buffered(1);
    char line[1001];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    /* Well under the pipe's 64 KiB before the 64 KiB flush point is hit:
     * 40 lines of ~1 KiB stay buffered. */
    for (int i = 0; i < 40; i++)
        log_write(LOG_INFO, "Host", NULL, "%s", line);
    CHECK_STR(drain(), "");
    log_flush();
    CHECK_INT(count_char(drain(), '\n'), 40);
    log_set_buffered(0);
}

/* A temp file as the log: many lines, a huge message, all valid JSON. */
TEST(temp_file_fd)
{
    char path[] = "/tmp/stratus-test-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    log_set_buffered(0);
    log_setup(LOG_FORMAT_JSON, fd, 0, LOG_INFO);
    for (int i = 0; i < 100; i++)
        log_write(LOG_INFO, "Function.f", "id", "line %d", i);
    size_t big_len = 2u << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'b', big_len);
    big[big_len] = '\0';
    log_write(LOG_INFO, "Host", NULL, "%s", big);
    log_write(LOG_INFO, "Host", NULL, "after");
    free(big);

    log_setup(LOG_FORMAT_DEV, fd, 0, LOG_INFO);
    log_write(LOG_INFO, "Function.f", NULL, "dev line");

    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int lines = 0, ok = 0;
        while ((n = getline(&line, &cap, f)) > 0) {
            lines++;
            if (lines <= 102) {
                json_t *j = parse_line(line);
                ok += j != NULL;
                if (j && lines <= 100) {
                    char want[32];
                    snprintf(want, sizeof want, "line %d", lines - 1);
                    CHECK_STR(jstr(j, "message"), want);
                }
                if (j && lines == 102)
                    CHECK_STR(jstr(j, "message"), "after");
                json_decref(j);
            } else {
                CHECK_MATCH(line, "^" TS " f: dev line\n$");
            }
        }
        CHECK_INT(lines, 103);
        CHECK_INT(ok, 102);
        free(line);
        fclose(f);
    }
    close(fd);
    unlink(path);
}

int main(void)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
        perror("pipe2");
        return 2;
    }
    pipe_r = p[0];
    pipe_w = p[1];

    RUN(dev_line);
    RUN(dev_levels_without_colour);
    RUN(dev_colour);
    RUN(dev_function_category);
    RUN(dev_newlines_flattened);
    RUN(json_fields);
    RUN(json_escaping);
    RUN(invocation_dev);
    RUN(invocation_json);
    RUN(min_level_filters);
    RUN(category_levels);
    RUN(buffered_until_flush);
    RUN(buffered_flushes_when_large);
    RUN(temp_file_fd);

    log_set_buffered(0);
    log_flush();
    log_setup(LOG_FORMAT_DEV, 2, 0, LOG_INFO);
    close(pipe_r);
    close(pipe_w);
    return TEST_REPORT();
}
