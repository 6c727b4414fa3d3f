/*
 * usage.c -- `stratus usage`: the usage metering of a running host
 * (GET /admin/usage): executions and GB-seconds per function, in total and
 * per UTC hour, as a table or as the admin API's JSON.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../http/client.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus usage [options]\n\n"
            "Show what each function of a running host has used since it started:\n"
            "executions and GB-seconds (memory x duration, rounded as the Azure Functions\n"
            "Consumption plan bills them: memory up to the next 128 MB, 128 MB to 1,536 MB;\n"
            "duration up to the next ms, at least 100 ms). Uses the app's master key.\n\n"
            "Options:\n"
            "  --hourly       also list each UTC hour of the last 48 with executions\n"
            "  --json         print the admin API's JSON (GET /admin/usage) as it is\n"
            "  --port N       the host's port (default: local.settings.json\n"
            "                 Host.LocalHttpPort, else 7071)\n"
            "  --host ADDR    the host's address (default: 127.0.0.1)\n"
            "  --app DIR      the app folder, for the port and master key (default: .)\n"
            "  -h, --help     show this help\n\n"
            "Example: stratus usage --hourly\n");
}

static void row(int w, int hourly, const char *fn, const char *hour, const char *n,
                const char *gbs)
{
    if (hourly)
        printf("%-*s  %-20s  %12s  %14s\n", w, fn, hour, n, gbs);
    else
        printf("%-*s  %12s  %14s\n", w, fn, n, gbs);
}

static void row_figures(int w, int hourly, const char *fn, const char *hour, json_int_t n,
                        double gbs)
{
    char ns[32], gs[48];
    snprintf(ns, sizeof ns, "%lld", (long long)n);
    snprintf(gs, sizeof gs, "%.4f", gbs);
    row(w, hourly, fn, hour, ns, gs);
}

static void print_table(json_t *doc, int hourly)
{
    json_t *fns = json_object_get(doc, "functions");
    size_t w = strlen("FUNCTION");
    const char *name;
    json_t *u;
    json_object_foreach(fns, name, u)
        if (strlen(name) > w)
            w = strlen(name);
    const char *since = json_string_value(json_object_get(doc, "since"));
    printf("Usage since %s (host start)\n\n", since ? since : "?");
    row((int)w, hourly, "FUNCTION", "HOUR (UTC)", "EXECUTIONS", "GB-SECONDS");
    json_int_t total_n = 0;
    double total_gbs = 0;
    json_object_foreach(fns, name, u) {
        json_int_t n = json_integer_value(json_object_get(u, "executions"));
        double gbs = json_number_value(json_object_get(u, "gbSeconds"));
        total_n += n;
        total_gbs += gbs;
        row_figures((int)w, hourly, name, "total", n, gbs);
        if (!hourly)
            continue;
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(u, "hourly"), i, h) {
            const char *hour = json_string_value(json_object_get(h, "hour"));
            row_figures((int)w, hourly, "", hour ? hour : "?",
                        json_integer_value(json_object_get(h, "executions")),
                        json_number_value(json_object_get(h, "gbSeconds")));
        }
    }
    row_figures((int)w, hourly, "(all)", "total", total_n, total_gbs);
    if (json_is_false(json_object_get(doc, "enabled")))
        printf("\nNote: metering is off in this host (host.json stratus.telemetry.enabled).\n");
}

int cmd_usage(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cli_target_t target = {0};
    int as_json = 0, hourly = 0;
    for (int i = 1; i < argc; i++) {
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "usage", &target)) != 0) {
            if (rc < 0)
                return 2;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--hourly") == 0) {
            hourly = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("usage", argv[i]);
        } else {
            fprintf(stderr, "stratus usage: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    httpc_res_t res;
    if (cli_admin_request(&target, "usage", "GET", "/admin/usage", NULL, &res) != 0)
        return 1;
    int rc = 1;
    if (res.status != 200) {
        cli_print_http_error("usage", "reading usage", &target, &res);
    } else if (as_json) {
        printf("%s%s", res.body, res.body_len && res.body[res.body_len - 1] == '\n' ? "" : "\n");
        rc = 0;
    } else {
        json_error_t je;
        json_t *doc = json_loadb(res.body, res.body_len, 0, &je);
        if (!doc || !json_is_object(json_object_get(doc, "functions"))) {
            fprintf(stderr, "stratus usage: the host's answer is not usage JSON: %s\n",
                    doc ? "no 'functions' object" : je.text);
        } else {
            print_table(doc, hourly);
            rc = 0;
        }
        json_decref(doc);
    }
    httpc_res_free(&res);
    return rc;
}
