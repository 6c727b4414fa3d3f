/*
 * history.c -- `stratus invocations` and `stratus logs`: the invocation
 * history and the live log of a running host, through its admin API
 * (GET /admin/invocations[/{id}], GET /admin/logs?follow=true).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../http/client.h"

#define TARGET_HELP                                                                      \
    "  --port N       the host's port (default: local.settings.json\n"                  \
    "                 Host.LocalHttpPort, else 7071)\n"                                  \
    "  --host ADDR    the host's address (default: 127.0.0.1)\n"                         \
    "  --app DIR      the app folder, for the port and master key (default: .)\n"        \
    "  -h, --help     show this help\n"

static void invocations_usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus invocations [options]\n"
            "       stratus invocations show ID [--json]\n\n"
            "List the recent invocations of a running host, newest first, from its\n"
            "invocation history; or show one with its log lines.\n\n"
            "Options:\n"
            "  --failed       only failed invocations\n"
            "  --function F   only invocations of function F\n"
            "  --since TIME   only those started since TIME (ISO 8601, e.g.\n"
            "                 2026-11-26T18:00:00Z, or milliseconds since the epoch)\n"
            "  --limit N      at most N (1 to 1000; default 20)\n"
            "  --json         print the admin API's JSON answer\n" TARGET_HELP
            "\nExamples: stratus invocations --failed\n"
            "          stratus invocations show 1b4e28ba-2fa1-41d2-883f-0016d3cca427\n");
}

static void logs_usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus logs [options]\n\n"
            "Show the log lines of a running host. With --follow, stream the host's live\n"
            "log until interrupted (Ctrl-C); without it, print the lines of the most\n"
            "recent invocations from the invocation history.\n\n"
            "Options:\n"
            "  -f, --follow   stream the live log\n"
            "  --function F   only the lines of function F\n"
            "  --limit N      without --follow: the last N invocations (default 10)\n"
            "  --json         one JSON object per line\n" TARGET_HELP
            "\nExample: stratus logs --follow --function hello\n");
}

/* Append "&name=<escaped value>" (or "?..." first) to path. 0 or -1. */
static int add_query(char *path, size_t n, const char *name, const char *value)
{
    char esc[1024];
    if (cli_path_escape(value, esc, sizeof esc) != 0)
        return -1;
    size_t len = strlen(path);
    int k = snprintf(path + len, n - len, "%s%s=%s", strchr(path, '?') ? "&" : "?", name, esc);
    return k < 0 || (size_t)k >= n - len ? -1 : 0;
}

/* The JSON body of a 2xx answer, or NULL after printing why. */
static json_t *answer_json(const char *cmd, const char *what, const cli_target_t *t,
                           httpc_res_t *res)
{
    if (res->status < 200 || res->status > 299) {
        cli_print_http_error(cmd, what, t, res);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(res->body, res->body_len, 0, &je);
    if (!j)
        fprintf(stderr, "stratus %s: %s: the host's answer is not JSON: %s\n", cmd, what,
                je.text);
    return j;
}

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void print_row(json_t *inv)
{
    char dur[32];
    snprintf(dur, sizeof dur, "%.1fms", json_number_value(json_object_get(inv, "durationMs")));
    json_t *hs = json_object_get(inv, "httpStatus");
    char status[32];
    if (json_is_integer(hs))
        snprintf(status, sizeof status, "%s %lld", str(inv, "status"),
                 (long long)json_integer_value(hs));
    else
        snprintf(status, sizeof status, "%s", str(inv, "status"));
    printf("%-24s  %10s  %-14s  %-20s  %s", str(inv, "start"), dur, status,
           str(inv, "function"), str(inv, "id"));
    const char *err = json_string_value(json_object_get(inv, "error"));
    if (err) {
        int n = 0;
        while (err[n] && err[n] != '\n' && n < 80)
            n++;
        printf("  %.*s%s", n, err, err[n] ? "..." : "");
    }
    printf("\n");
}

static int show(const cli_target_t *t, const char *id, int json)
{
    char esc[256], path[400];
    if (strlen(id) > 64 || cli_path_escape(id, esc, sizeof esc) != 0) {
        fprintf(stderr, "stratus invocations: '%.64s...' is not an invocation id\n", id);
        return 2;
    }
    snprintf(path, sizeof path, "/admin/invocations/%s", esc);
    httpc_res_t res;
    if (cli_admin_request(t, "invocations", "GET", path, NULL, &res) != 0)
        return 1;
    char what[200];
    snprintf(what, sizeof what, "reading invocation %s", id);
    json_t *j = answer_json("invocations", what, t, &res);
    if (j && json) {
        printf("%.*s\n", (int)res.body_len, res.body);
    } else if (j) {
        printf("Invocation %s\n", str(j, "id"));
        printf("  function     %s (%s)\n", str(j, "function"), str(j, "trigger"));
        printf("  started      %s\n", str(j, "start"));
        printf("  duration     %.3f ms\n", json_number_value(json_object_get(j, "durationMs")));
        printf("  status       %s", str(j, "status"));
        json_t *hs = json_object_get(j, "httpStatus");
        if (json_is_integer(hs))
            printf(" (HTTP %lld)", (long long)json_integer_value(hs));
        printf("\n  traceparent  %s\n", str(j, "traceparent"));
        const char *err = json_string_value(json_object_get(j, "error"));
        if (err)
            printf("  error        %s\n", err);
        json_t *logs = json_object_get(j, "logs");
        printf("  logs         %s\n", json_array_size(logs) ? "" : "(none)");
        size_t i;
        json_t *line;
        json_array_foreach(logs, i, line)
            printf("    %s\n", json_string_value(line) ? json_string_value(line) : "");
    }
    int ok = j != NULL;
    json_decref(j);
    httpc_res_free(&res);
    return ok ? 0 : 1;
}

int cmd_invocations(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        invocations_usage(stdout);
        return 0;
    }
    cli_target_t target = {0};
    const char *function = NULL, *since = NULL, *limit = "20", *show_id = NULL;
    int failed = 0, json = 0, showing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "invocations", &target)) != 0) {
            if (rc < 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "invocations", "--function", &v))) {
            if (rc < 0)
                return 2;
            function = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "invocations", "--since", &v))) {
            if (rc < 0)
                return 2;
            since = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "invocations", "--limit", &v))) {
            if (rc < 0)
                return 2;
            limit = v;
        } else if (!strcmp(argv[i], "--failed")) {
            failed = 1;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("invocations", argv[i]);
        } else if (!showing && !strcmp(argv[i], "show")) {
            showing = 1;
        } else if (showing && !show_id) {
            show_id = argv[i];
        } else {
            fprintf(stderr, "stratus invocations: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (showing) {
        if (!show_id) {
            fprintf(stderr, "stratus invocations show: which invocation? Give its id.\n");
            return 2;
        }
        return show(&target, show_id, json);
    }
    char *end;
    long n = strtol(limit, &end, 10);
    if (*end || n < 1 || n > 1000) {
        fprintf(stderr, "stratus invocations: --limit '%s' is not a number from 1 to 1000\n",
                limit);
        return 2;
    }
    if (function && !cli_valid_function_name(function)) {
        fprintf(stderr, "stratus invocations: '%s' is not a valid function name\n", function);
        return 2;
    }
    char path[2048] = "/admin/invocations";
    if (add_query(path, sizeof path, "limit", limit) ||
        (function && add_query(path, sizeof path, "function", function)) ||
        (since && add_query(path, sizeof path, "since", since)) ||
        (failed && add_query(path, sizeof path, "status", "failed"))) {
        fprintf(stderr, "stratus invocations: an option value is too long\n");
        return 2;
    }
    httpc_res_t res;
    if (cli_admin_request(&target, "invocations", "GET", path, NULL, &res) != 0)
        return 1;
    json_t *j = answer_json("invocations", "listing invocations", &target, &res);
    if (j && json) {
        printf("%.*s\n", (int)res.body_len, res.body);
    } else if (j) {
        json_t *list = json_object_get(j, "invocations");
        if (!json_array_size(list)) {
            printf("No invocations recorded%s.\n", failed ? " that failed" : "");
        } else {
            printf("%-24s  %10s  %-14s  %-20s  %s\n", "START", "DURATION", "STATUS",
                   "FUNCTION", "ID");
            size_t i;
            json_t *inv;
            json_array_foreach(list, i, inv)
                print_row(inv);
            if (json_is_string(json_object_get(j, "next")))
                printf("(more: raise --limit, or use --since)\n");
        }
    }
    int ok = j != NULL;
    json_decref(j);
    httpc_res_free(&res);
    return ok ? 0 : 1;
}

/* ---- logs ---- */

static int print_chunk(void *data, const char *p, size_t n)
{
    (void)data;
    if (fwrite(p, 1, n, stdout) != n)
        return 1; /* stdout closed (a pipe whose reader left): stop */
    return fflush(stdout) != 0;
}

/* Print one JSON object, compact, on a line of its own. */
static void print_json(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(o);
}

/* A captured line ("<time> <level> <category>: <message>") as the live log
 * shows it: "[time] level category: message", or its JSON fields. */
static void print_line(const char *id, const char *line, int json)
{
    if (!line)
        return;
    const char *sp1 = strchr(line, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    const char *colon = sp2 ? strstr(sp2 + 1, ": ") : NULL;
    if (!colon) { /* not of that form: as it is */
        if (json)
            print_json(json_pack("{s:s, s:s}", "invocationId", id, "message", line));
        else
            printf("%s\n", line);
        return;
    }
    if (json)
        print_json(json_pack("{s:s%, s:s%, s:s%, s:s, s:s}", "time", line, (size_t)(sp1 - line),
                             "level", sp1 + 1, (size_t)(sp2 - sp1 - 1), "category", sp2 + 1,
                             (size_t)(colon - sp2 - 1), "invocationId", id, "message",
                             colon + 2));
    else
        printf("[%.*s] %s\n", (int)(sp1 - line), line, sp1 + 1);
}

/* The invocation's "Executed" line, as the live log writes it, with the
 * failure's reason. */
static void print_outcome(json_t *inv, int json)
{
    const char *fn = str(inv, "function"), *id = str(inv, "id"), *err = str(inv, "error");
    int ok = !strcmp(str(inv, "status"), "succeeded");
    json_t *st = json_object_get(inv, "httpStatus");
    double ms = json_number_value(json_object_get(inv, "durationMs"));
    json_int_t start = json_integer_value(json_object_get(inv, "startMs"));
    long long end = (long long)start + (long long)ms;
    char ts[40], day[24];
    time_t sec = (time_t)(end / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts, sizeof ts, "%s.%03dZ", day, (int)(end % 1000));
    char cat[300];
    snprintf(cat, sizeof cat, "Function.%s", fn);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", ts, "level",
                              ok ? "info" : "error", "category", cat, "invocationId", id,
                              "message", "Executed", "function", fn, "outcome",
                              ok ? "Succeeded" : "Failed");
        if (o && json_is_integer(st))
            json_object_set(o, "status", st);
        if (o && !ok && *err)
            json_object_set_new(o, "reason", json_string(err));
        if (o)
            json_object_set_new(o, "durationMs", json_real(ms));
        print_json(o);
        return;
    }
    char status[32] = "";
    if (json_is_integer(st))
        snprintf(status, sizeof status, ", Status=%lld", (long long)json_integer_value(st));
    printf("[%s] %s %s: Executed 'Functions.%s' (%s, Id=%s%s, Duration=%.3fms)", ts,
           ok ? "info" : "error", cat, fn, ok ? "Succeeded" : "Failed", id, status, ms);
    if (!ok && *err) { /* one entry, one line, as in the live log */
        fputs(": ", stdout);
        for (const char *c = err; *c; c++)
            putchar(*c == '\n' || *c == '\r' ? ' ' : *c);
    }
    putchar('\n');
}

/* Without --follow: the captured lines of the last n invocations, oldest
 * first, each followed by its outcome. */
static int recent_logs(const cli_target_t *t, const char *function, const char *limit,
                       int json)
{
    char path[2048] = "/admin/invocations";
    if (add_query(path, sizeof path, "limit", limit) ||
        (function && add_query(path, sizeof path, "function", function)))
        return 2;
    httpc_res_t res;
    if (cli_admin_request(t, "logs", "GET", path, NULL, &res) != 0)
        return 1;
    json_t *j = answer_json("logs", "listing invocations", t, &res);
    httpc_res_free(&res);
    if (!j)
        return 1;
    json_t *list = json_object_get(j, "invocations");
    int rc = 0;
    for (size_t i = json_array_size(list); i-- > 0 && rc == 0;) {
        const char *id = str(json_array_get(list, i), "id");
        char p2[200];
        snprintf(p2, sizeof p2, "/admin/invocations/%.64s", id);
        if (cli_admin_request(t, "logs", "GET", p2, NULL, &res) != 0) {
            rc = 1;
            break;
        }
        json_t *inv = answer_json("logs", "reading an invocation", t, &res);
        httpc_res_free(&res);
        if (!inv) {
            continue; /* removed by retention meanwhile */
        }
        size_t k;
        json_t *line;
        json_array_foreach(json_object_get(inv, "logs"), k, line)
            print_line(id, json_string_value(line), json);
        print_outcome(inv, json);
        json_decref(inv);
    }
    json_decref(j);
    fflush(stdout);
    return rc;
}

int cmd_logs(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        logs_usage(stdout);
        return 0;
    }
    cli_target_t target = {0};
    const char *function = NULL, *limit = "10";
    int follow = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "logs", &target)) != 0) {
            if (rc < 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "logs", "--function", &v))) {
            if (rc < 0)
                return 2;
            function = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "logs", "--limit", &v))) {
            if (rc < 0)
                return 2;
            limit = v;
        } else if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = 1;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("logs", argv[i]);
        } else {
            fprintf(stderr, "stratus logs: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (function && !cli_valid_function_name(function)) {
        fprintf(stderr, "stratus logs: '%s' is not a valid function name\n", function);
        return 2;
    }
    char *end;
    long n = strtol(limit, &end, 10);
    if (*end || n < 1 || n > 1000) {
        fprintf(stderr, "stratus logs: --limit '%s' is not a number from 1 to 1000\n", limit);
        return 2;
    }
    if (!follow)
        return recent_logs(&target, function, limit, json);
    char path[1024] = "/admin/logs?follow=true";
    add_query(path, sizeof path, "format", json ? "json" : "text");
    if (function)
        add_query(path, sizeof path, "function", function);
    httpc_res_t res;
    if (cli_admin_stream(&target, "logs", path, print_chunk, NULL, &res) != 0)
        return 1;
    int ok = res.status >= 200 && res.status < 300;
    if (!ok)
        cli_print_http_error("logs", "following the log", &target, &res);
    else
        fprintf(stderr, "stratus logs: the host ended the stream (it is stopping)\n");
    httpc_res_free(&res);
    return ok ? 0 : 1;
}
