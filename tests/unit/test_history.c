/*
 * test_history.c -- unit tests of src/telemetry/: W3C traceparent parsing
 * (the spec's rules, strictly) and making (child spans, new traces), the
 * bounds of the per-invocation log capture of the history, and the log
 * observers beside the normal output.
 */
#include <stdlib.h>
#include <unistd.h>

#include "../../src/telemetry/history.h"
#include "../../src/telemetry/log.h"
#include "../../src/telemetry/traceparent.h"
#include "test.h"

#define GOOD "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static int parses(const char *s)
{
    traceparent_t t;
    return traceparent_parse(sv_cstr(s), &t) == 0;
}

TEST(traceparent_parse_accepts_the_spec_forms)
{
    traceparent_t t;
    CHECK_INT(traceparent_parse(sv_cstr(GOOD), &t), 0);
    CHECK_STR(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
    CHECK_STR(t.parent_id, "b7ad6b7169203331");
    CHECK_INT(t.flags, 1);
    CHECK(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
    CHECK(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff"));
    /* a later version: its first four fields, more after a dash */
    CHECK(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    CHECK(parses("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more"));
}

TEST(traceparent_parse_refuses_the_rest)
{
    CHECK(!parses(""));
    CHECK(!parses("garbage"));
    CHECK(!parses("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    CHECK(!parses("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));
    CHECK(!parses("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
    CHECK(!parses("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));
    CHECK(!parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-"));
    CHECK(!parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0"));
    CHECK(!parses("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01x"));
    CHECK(!parses("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    CHECK(!parses("0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    CHECK(!parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x"));
    CHECK(!parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033z1-01"));
}

static int well_formed(const char *tp)
{
    return strlen(tp) == TRACEPARENT_LEN && parses(tp);
}

TEST(traceparent_children_and_new_traces)
{
    traceparent_t parent;
    CHECK_INT(traceparent_parse(sv_cstr(GOOD), &parent), 0);
    char a[TRACEPARENT_SIZE], b[TRACEPARENT_SIZE];
    traceparent_child(&parent, a);
    traceparent_child(&parent, b);
    CHECK(well_formed(a));
    CHECK(strncmp(a, "00-0af7651916cd43dd8448eb211c80319c-", 36) == 0);
    CHECK(strcmp(a + 52, "-01") == 0);
    CHECK(strncmp(a + 36, "b7ad6b7169203331", 16) != 0);
    CHECK(strcmp(a, b) != 0); /* each span its own id */
    traceparent_child(NULL, a);
    traceparent_child(NULL, b);
    CHECK(well_formed(a) && well_formed(b));
    CHECK(strncmp(a, b, 35) != 0); /* new traces */
    CHECK(strcmp(a + 52, "-00") == 0);
    char c[TRACEPARENT_SIZE];
    traceparent_next_span(a, c);
    CHECK(well_formed(c));
    CHECK(strncmp(a, c, 36) == 0 && strcmp(a + 52, c + 52) == 0 && strcmp(a, c) != 0);
    CHECK(tracestate_ok(sv_cstr("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")));
    CHECK(!tracestate_ok(sv_cstr("")));
    CHECK(!tracestate_ok(sv_cstr("a=b\r\nx: y")));
    char big[TRACESTATE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(!tracestate_ok(sv_cstr(big)));
}

#define ID1 "11111111-1111-4111-8111-111111111111"
#define ID2 "22222222-2222-4222-8222-222222222222"

TEST(capture_keeps_lines_per_invocation)
{
    history_capture_line(ID1, LOG_INFO, "Function.a", "one", 3);
    history_capture_line(ID2, LOG_ERROR, "Function.b", "other", 5);
    history_capture_line(ID1, LOG_WARN, "Function.a", "two\nlines", 9);
    char *t = history_capture_take(ID1);
    CHECK(t != NULL);
    if (t) {
        CHECK_CONTAINS(t, "Z info Function.a: one\n");
        CHECK_CONTAINS(t, "Z warning Function.a: two lines\n");
        CHECK(strstr(t, "other") == NULL);
        CHECK(strstr(t, "more line") == NULL);
    }
    free(t);
    CHECK(history_capture_take(ID1) == NULL); /* taken once */
    t = history_capture_take(ID2);
    CHECK_CONTAINS(t, "error Function.b: other");
    free(t);
    CHECK(history_capture_take("never-logged") == NULL);
}

TEST(capture_is_bounded_by_lines_and_bytes)
{
    for (int i = 0; i < HISTORY_LOG_LINES + 7; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "line %d", i);
        history_capture_line(ID1, LOG_INFO, "Function.a", msg, (size_t)n);
    }
    char *t = history_capture_take(ID1);
    int lines = 0;
    for (const char *p = t; p && *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, HISTORY_LOG_LINES + 1);
    CHECK_CONTAINS(t, "line 99\n... 7 more lines\n");
    free(t);

    /* bytes: 2 KiB lines (longer ones cut) fill 16 KiB after 7 */
    char *big = malloc(5000);
    memset(big, 'x', 5000);
    for (int i = 0; i < 10; i++)
        history_capture_line(ID2, LOG_INFO, "Function.b", big, 5000);
    free(big);
    t = history_capture_take(ID2);
    CHECK(t && strlen(t) <= HISTORY_LOG_BYTES + 64);
    CHECK_CONTAINS(t, "... 3 more lines\n");
    free(t);
    history_capture_clear();
}

static int seen_every, seen_ids;
static char last[256];

static void count_every(int level, const char *category, const char *id, const char *msg,
                        size_t len, void *data)
{
    seen_every++;
    snprintf(last, sizeof last, "%s|%s|%.*s", category, id ? id : "-", (int)len, msg);
}

static void count_ids(int level, const char *category, const char *id, const char *msg,
                      size_t len, void *data)
{
    seen_ids++;
}

TEST(observers_see_lines_beside_the_output)
{
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    log_setup(LOG_FORMAT_JSON, fds[1], 0, LOG_INFO);
    CHECK_INT(log_observe(count_every, NULL, 1), 0);
    CHECK_INT(log_observe(count_ids, NULL, 0), 0);
    log_write(LOG_INFO, "Host", NULL, "plain %d", 1);
    CHECK_STR(last, "Host|-|plain 1");
    log_write(LOG_INFO, "Function.f", ID1, "with id");
    log_write(LOG_DEBUG, "Function.f", ID1, "below the level: not written, not seen");
    log_invocation("f", ID1, 1, 200, 1500000, NULL);
    CHECK_INT(seen_every, 3);
    CHECK_INT(seen_ids, 1); /* the closing line is for every-line observers only */
    CHECK_CONTAINS(last, "Function.f|" ID1 "|Executed 'Functions.f' (Succeeded, Id=" ID1);
    log_unobserve(count_every, NULL);
    log_unobserve(count_ids, NULL);
    log_write(LOG_INFO, "Function.f", ID1, "unobserved");
    CHECK_INT(seen_every, 3);
    log_flush();
    char out[4096];
    ssize_t n = read(fds[0], out, sizeof out - 1);
    out[n > 0 ? n : 0] = '\0';
    CHECK_CONTAINS(out, "\"message\":\"plain 1\"");
    CHECK_CONTAINS(out, "\"message\":\"with id\"");
    CHECK_CONTAINS(out, "\"message\":\"unobserved\"");
    CHECK_CONTAINS(out, "\"outcome\":\"Succeeded\"");
    log_setup(LOG_FORMAT_DEV, 2, 0, LOG_INFO);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    RUN(traceparent_parse_accepts_the_spec_forms);
    RUN(traceparent_parse_refuses_the_rest);
    RUN(traceparent_children_and_new_traces);
    RUN(capture_keeps_lines_per_invocation);
    RUN(capture_is_bounded_by_lines_and_bytes);
    RUN(observers_see_lines_beside_the_output);
    return TEST_REPORT();
}
