/*
 * admin_history.c -- the admin API's invocation history and live log:
 *
 *   GET /admin/invocations?function=&status=succeeded|failed&since=&limit=&after=
 *       {"invocations": [...], "next": token or null}, newest first
 *   GET /admin/invocations/{id}      one invocation with its log lines
 *   GET /admin/logs?follow=true&function=&format=json|text
 *       the live log, streamed (chunked) until the client goes away
 *
 * The history is read from the store asynchronously: the request waits for
 * the store's answer (records still buffered are submitted first, so an
 * invocation that ended is listed). admin.c routes here and has checked
 * the master key.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../telemetry/history.h"
#include "../telemetry/log.h"
#include "../telemetry/logstream.h"
#include "admin_priv.h"
#include "host.h"

#define LIST_DEFAULT 50

static json_t *jstr(const char *s);

/* ---- query parameters ---- */

/* Query parameter name (admin_query), with one that does not decode taken
 * as absent. */
static const char *query_param(http_request_t *req, const char *name)
{
    const char *v = admin_query(req, name);
    return v && !strcmp(v, ADMIN_QUERY_BAD) ? NULL : v;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* n digits at *p into *out, advancing p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* A time: milliseconds since the epoch, or ISO 8601 "YYYY-MM-DD",
 * "YYYY-MM-DDThh:mm[:ss[.fff]]" with "Z" or "+hh:mm"/"-hh:mm" (none: UTC). */
static int parse_time(const char *s, int64_t *out)
{
    if (all_digits(s)) {
        if (strlen(s) > 15)
            return -1;
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.') {
                p++;
                int k = 0;
                while (*p >= '0' && *p <= '9') {
                    if (k < 3)
                        ms = ms * 10 + (*p - '0');
                    k++;
                    p++;
                }
                if (!k)
                    return -1;
                for (; k < 3; k++)
                    ms *= 10;
            }
        }
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
            return -1;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - offset_min * 60) * 1000 + ms;
    return *out < 0 ? -1 : 0;
}

/* ---- JSON of records ---- */

/* A JSON string of s: invalid UTF-8 bytes become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    size_t i = 0;
    while (i < n) {
        unsigned char b = (unsigned char)s[i];
        size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3
                   : (b & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len && i + len <= n && (len == 1 || b >= 0xc2);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ok) {
            memcpy(c + i, s + i, len);
            i += len;
        } else {
            c[i++] = '?';
        }
    }
    c[n] = '\0';
    j = json_string(c);
    free(c);
    return j ? j : json_string("(text that is not valid UTF-8)");
}

static void iso_ms(int64_t ms, char *out, size_t n)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(ms % 1000));
}

static json_t *record_json(const store_inv_t *v, int with_logs)
{
    char start[40];
    iso_ms(v->start_ms, start, sizeof start);
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(v->id));
    json_object_set_new(j, "function", jstr(v->function ? v->function : ""));
    json_object_set_new(j, "trigger", jstr(v->trigger ? v->trigger : ""));
    json_object_set_new(j, "start", json_string(start));
    json_object_set_new(j, "startMs", json_integer(v->start_ms));
    json_object_set_new(j, "durationMs", json_real((double)v->duration_us / 1000.0));
    json_object_set_new(j, "status", json_string(v->ok ? "succeeded" : "failed"));
    json_object_set_new(j, "httpStatus", v->http_status ? json_integer(v->http_status)
                                                        : json_null());
    json_object_set_new(j, "error", v->error ? jstr(v->error) : json_null());
    json_object_set_new(j, "traceparent", json_string(v->traceparent));
    if (strlen(v->traceparent) == TRACEPARENT_LEN)
        json_object_set_new(j, "traceId", json_stringn(v->traceparent + 3, 32));
    if (with_logs) {
        json_t *lines = json_array();
        const char *p = v->logs ? v->logs : "";
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            char *line = strndup(p, n);
            if (line)
                json_array_append_new(lines, jstr(line));
            free(line);
            p += n + (nl ? 1 : 0);
        }
        json_object_set_new(j, "logs", lines);
    }
    return j;
}

/* ---- the store's answers ---- */

static store_t *history_or_answer(host_t *h, http_request_t *req)
{
    store_t *st = history_store();
    if (st)
        return st;
    if (!h->app->history_enabled)
        admin_respond_error(req, 404, "the invocation history is off (host.json "
                            "stratus.history.enabled is false)");
    else
        admin_respond_error(req, 503, "the invocation history is not available (the host is "
                            "starting or stopping)");
    return NULL;
}

static void list_done(store_req_t *r)
{
    http_request_t *req = r->data;
    if (r->status != STORE_OK) {
        char err[STORE_ERR_LEN];
        snprintf(err, sizeof err, "%s", r->err);
        store_req_cleanup(r);
        admin_respond_error(req, 500, "reading the invocation history: %s", err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n_invs; i++)
        json_array_append_new(arr, record_json(&r->invs[i], 0));
    json_t *next = json_null();
    if (r->truncated && r->n_invs) {
        char token[64];
        snprintf(token, sizeof token, "%lld_%d", (long long)r->next_batch, r->next_index);
        next = json_string(token);
    }
    store_req_cleanup(r);
    admin_respond_json(req, 200, json_pack("{s:o, s:o}", "invocations", arr, "next", next), NULL);
}

static void get_done(store_req_t *r)
{
    http_request_t *req = r->data;
    if (r->status == STORE_ENOTFOUND) {
        store_req_cleanup(r);
        admin_respond_error(req, 404, "no invocation with this id in the history (never recorded, "
                            "or removed by retention)");
        return;
    }
    if (r->status != STORE_OK || !r->n_invs) {
        char err[STORE_ERR_LEN];
        snprintf(err, sizeof err, "%s", r->err);
        store_req_cleanup(r);
        admin_respond_error(req, 500, "reading the invocation history: %s", err);
        return;
    }
    json_t *j = record_json(&r->invs[0], 1);
    store_req_cleanup(r);
    admin_respond_json(req, 200, j, NULL);
}

/* After a refused submit: answer and release. */
static void submit_failed(http_request_t *req, store_req_t *r, int rc)
{
    char err[STORE_ERR_LEN];
    snprintf(err, sizeof err, "%s", r->err);
    store_req_cleanup(r);
    if (rc == STORE_EINVAL)
        admin_respond_error(req, 400, "%s", err);
    else
        admin_respond_error(req, 503, "the invocation history cannot be read now: %s", err);
}

/* ---- routes ---- */

void admin_invocations_list(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)p;
    store_t *st = history_or_answer(h, req);
    if (!st)
        return;
    store_history_filter_t f = {NULL, STORE_HISTORY_ANY, 0, 0, 0, LIST_DEFAULT};
    const char *v;
    if ((v = query_param(req, "function")) && *v)
        f.function = v;
    if ((v = query_param(req, "status")) && *v) {
        if (!strcasecmp(v, "succeeded") || !strcasecmp(v, "success"))
            f.status = STORE_HISTORY_SUCCEEDED;
        else if (!strcasecmp(v, "failed") || !strcasecmp(v, "failure"))
            f.status = STORE_HISTORY_FAILED;
        else
            return admin_respond_error(req, 400, "query parameter 'status': '%.100s' is not "
                                       "'succeeded' or 'failed'", v);
    }
    if ((v = query_param(req, "since")) && *v && parse_time(v, &f.since_ms) != 0)
        return admin_respond_error(req, 400, "query parameter 'since': '%.100s' is not a time "
                                   "(ISO 8601 such as 2026-11-26T18:00:00Z, or milliseconds since "
                                   "the epoch)", v);
    if ((v = query_param(req, "limit")) && *v) {
        if (!all_digits(v) || strlen(v) > 6 || atoi(v) < 1 || atoi(v) > STORE_HISTORY_LIST_MAX)
            return admin_respond_error(req, 400, "query parameter 'limit': '%.100s' is not a "
                                       "number from 1 to %d", v, STORE_HISTORY_LIST_MAX);
        f.limit = (unsigned)atoi(v);
    }
    if ((v = query_param(req, "after")) && *v) {
        const char *us = strchr(v, '_');
        char num[24];
        size_t nn = us ? (size_t)(us - v) : 0;
        if (nn > 0 && nn < sizeof num) {
            memcpy(num, v, nn);
            num[nn] = '\0';
        }
        if (!us || nn == 0 || nn >= sizeof num || !all_digits(num) || !all_digits(us + 1) ||
            strlen(us + 1) > 9 || strtoll(num, NULL, 10) < 1)
            return admin_respond_error(req, 400, "query parameter 'after': '%.100s' is not a "
                                       "position given as 'next' by an earlier answer", v);
        f.after_batch = strtoll(num, NULL, 10);
        f.after_index = atoi(us + 1);
    }
    store_req_t *r = arena_calloc(&req->arena, sizeof *r);
    if (!r)
        return admin_respond_error(req, 500, "out of memory");
    r->data = req;
    history_flush();
    int rc = store_history_list(st, r, &f, list_done);
    if (rc != STORE_OK)
        submit_failed(req, r, rc);
}

void admin_invocation_get(host_t *h, http_request_t *req, route_params_t *p)
{
    store_t *st = history_or_answer(h, req);
    if (!st)
        return;
    const char *id = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (sv_ieq_cstr(p->v[i].name, "id") && p->v[i].value.p)
            id = arena_strndup(&req->arena, p->v[i].value.p, p->v[i].value.n);
    store_req_t *r = arena_calloc(&req->arena, sizeof *r);
    if (!id || !r)
        return admin_respond_error(req, 500, "out of memory");
    r->data = req;
    history_flush();
    int rc = store_history_get(st, r, id, get_done);
    if (rc != STORE_OK)
        submit_failed(req, r, rc);
}

void admin_logs(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)p;
    const char *follow = query_param(req, "follow");
    if (!follow || (strcasecmp(follow, "true") && strcmp(follow, "1")))
        return admin_respond_error(req, 400, "the live log is streamed: add follow=true (past "
                                   "invocations' lines are in /admin/invocations/{id})");
    const char *fn = query_param(req, "function");
    if (fn && *fn && !app_function(h->app, fn))
        return admin_respond_error(req, 404, "no function named '%.128s'", fn);
    const char *format = query_param(req, "format");
    int json = 1;
    if (format && *format) {
        if (!strcasecmp(format, "text"))
            json = 0;
        else if (strcasecmp(format, "json"))
            return admin_respond_error(req, 400, "query parameter 'format': '%.50s' is not 'json' "
                                       "or 'text'", format);
    }
    if (h->stopping)
        return admin_respond_error(req, 503, "the host is stopping");
    if (logstream_follow(req, fn && *fn ? fn : NULL, json) != 0)
        admin_respond_error(req, 503, "%d clients already follow the log; try again later",
                            LOGSTREAM_MAX_CLIENTS);
}
