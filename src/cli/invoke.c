/*
 * invoke.c -- `stratus invoke`: run a function of a running host through
 * the admin API (POST /admin/functions/{name} with {"input": "..."}), the
 * way Azure runs non-HTTP functions on demand.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/client.h"
#include "../util/buf.h"

#define INPUT_MAX (8 * 1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus invoke FUNCTION [options]\n\n"
            "Run FUNCTION (of any trigger type) in a running host, through its admin API,\n"
            "with the given text as its trigger input. Uses the app's master key.\n"
            "A blob-triggered function gets the blob the input names: container/blob.\n\n"
            "Options:\n"
            "  --data TEXT    the input (default: empty)\n"
            "  --file PATH    read the input from a file ('-' for standard input)\n"
            "  --port N       the host's port (default: local.settings.json\n"
            "                 Host.LocalHttpPort, else 7071)\n"
            "  --host ADDR    the host's address (default: 127.0.0.1)\n"
            "  --app DIR      the app folder, for the port and master key (default: .)\n"
            "  -h, --help     show this help\n\n"
            "Example: stratus invoke cleanup --data '{\"dryRun\": true}'\n");
}

/* Read all of path ("-" for stdin) into b. 0, or -1 after printing why. */
static int read_input(const char *path, buf_t *b)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "stratus invoke: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(b, chunk, n) != 0) {
            fprintf(stderr, "stratus invoke: %s is larger than %d bytes\n", path, INPUT_MAX);
            rc = -1;
        }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "stratus invoke: cannot read %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

int cmd_invoke(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cli_target_t target = {0};
    const char *name = NULL, *data = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "invoke", &target)) != 0) {
            if (rc < 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "invoke", "--data", &v)) != 0) {
            if (rc < 0)
                return 2;
            data = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "invoke", "--file", &v)) != 0) {
            if (rc < 0)
                return 2;
            file = v;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("invoke", argv[i]);
        } else if (!name) {
            name = argv[i];
        } else {
            fprintf(stderr, "stratus invoke: unexpected argument '%s' (one function only)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "stratus invoke: which function? Give its name.\n");
        usage(stderr);
        return 2;
    }
    if (data && file) {
        fprintf(stderr, "stratus invoke: give --data or --file, not both\n");
        return 2;
    }
    if (!cli_valid_function_name(name)) {
        fprintf(stderr, "stratus invoke: '%s' is not a valid function name\n", name);
        return 2;
    }

    buf_t input;
    buf_init(&input, INPUT_MAX);
    if (file && read_input(file, &input) != 0) {
        buf_free(&input);
        return 1;
    }
    json_t *body = file ? json_stringn(input.p ? input.p : "", input.len)
                        : json_string(data ? data : "");
    buf_free(&input);
    if (!body) {
        fprintf(stderr, "stratus invoke: the input is not valid UTF-8 text\n");
        return 1;
    }
    json_t *req = json_pack("{s:o}", "input", body);
    char *json = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!json) {
        fprintf(stderr, "stratus invoke: out of memory\n");
        return 1;
    }

    char path[64 + 128];
    snprintf(path, sizeof path, "/admin/functions/%s", name); /* name is validated */
    httpc_res_t res;
    int rc = cli_admin_request(&target, "invoke", "POST", path, json, &res);
    free(json);
    if (rc != 0)
        return 1;

    char status[96];
    cli_status_text(&res, status, sizeof status);
    int ok = res.status >= 200 && res.status < 300;
    if (ok) {
        printf("Invoked %s (%s)\n", name, status);
        const char *id = httpc_res_header(&res, "x-invocation-id");
        if (id && *id)
            printf("Invocation id: %s (see the host's log for its output)\n", id);
        if (res.body_len)
            printf("%s%s", res.body, res.body[res.body_len - 1] == '\n' ? "" : "\n");
    } else {
        char what[200];
        snprintf(what, sizeof what, "invoking %s", name);
        cli_print_http_error("invoke", what, &target, &res);
        /* Not for a 404 about what the input names (a blob). */
        if (res.status == 404 && res.body && strstr(res.body, "no function named"))
            fprintf(stderr, "  Is there a function named '%s' in the running app?\n", name);
    }
    httpc_res_free(&res);
    return ok ? 0 : 1;
}
