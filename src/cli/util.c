/*
 * util.c -- what the sub-commands share: option parsing, the app's port and
 * master key, and calls to the admin API of a running host (see cli.h).
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../http/client.h"
#include "../http/server.h"
#include "../util/buf.h"

#define DEFAULT_PORT 7071
#define DEFAULT_HOST "127.0.0.1"
#define ADMIN_TIMEOUT_MS 30000

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    return 0;
}

int cli_is_option(const char *arg) { return arg[0] == '-' && arg[1] != '\0'; }

int cli_opt_value(int argc, char **argv, int *i, const char *cmd, const char *name,
                  const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "stratus %s: option %s needs a value\n", cmd, name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_bad_option(const char *cmd, const char *arg)
{
    fprintf(stderr, "stratus %s: unknown option '%s'\nRun 'stratus %s --help' for its options.\n",
            cmd, arg, cmd);
    return 2;
}

int cli_valid_function_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 128 || !isalpha((unsigned char)name[0]) || !strcasecmp(name, "host"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isascii(c) && (isalnum(c) || c == '_' || c == '-')))
            return 0;
    }
    return 1;
}

/* Parse a port number 1..65535; -1 when s is not one. */
static int parse_port(const char *s)
{
    char *end;
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    long v = strtol(s, &end, 10);
    return (*end || v < 1 || v > 65535) ? -1 : (int)v;
}

/* Load dir/rel as JSON; NULL when missing or invalid. */
static json_t *load_json(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : ".", rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return NULL;
    return json_load_file(path, 0, NULL);
}

int cli_app_port(const char *dir)
{
    json_t *root = load_json(dir, "local.settings.json");
    int port = DEFAULT_PORT;
    json_t *v = json_object_get(json_object_get(root, "Host"), "LocalHttpPort");
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 65535)
        port = (int)json_integer_value(v);
    else if (json_is_string(v) && parse_port(json_string_value(v)) > 0)
        port = parse_port(json_string_value(v));
    json_decref(root);
    return port;
}

char *cli_master_key(const char *dir)
{
    const char *env = getenv("STRATUS_MASTER_KEY");
    if (env && *env)
        return strdup(env);
    json_t *root = load_json(dir, ".stratus/secrets/host.json");
    json_t *m = json_object_get(root, "masterKey");
    const char *value = NULL;
    if (json_is_string(m))
        value = json_string_value(m);
    else if (json_is_object(m) && !json_is_true(json_object_get(m, "encrypted")))
        value = json_string_value(json_object_get(m, "value"));
    char *key = value && *value ? strdup(value) : NULL;
    json_decref(root);
    return key;
}

int cli_target_option(int argc, char **argv, int *i, const char *cmd, cli_target_t *t)
{
    const char *v;
    int rc;
    if ((rc = cli_opt_value(argc, argv, i, cmd, "--app", &v)) != 0) {
        if (rc > 0)
            t->app = v;
        return rc;
    }
    if ((rc = cli_opt_value(argc, argv, i, cmd, "--host", &v)) != 0) {
        if (rc > 0 && !*v) {
            fprintf(stderr, "stratus %s: --host needs an address\n", cmd);
            return -1;
        }
        if (rc > 0)
            t->host = v;
        return rc;
    }
    if ((rc = cli_opt_value(argc, argv, i, cmd, "--port", &v)) != 0) {
        if (rc > 0) {
            t->port = parse_port(v);
            if (t->port < 0) {
                fprintf(stderr, "stratus %s: --port: expected a number 1..65535, got '%s'\n",
                        cmd, v);
                return -1;
            }
        }
        return rc;
    }
    return 0;
}

/* One call of the admin API; the answer's body streams to on_body when it
 * is not NULL (httpc_stream). Prints nothing. */
static int call_send(const cli_target_t *t, const cli_call_t *call, struct httpc_res *res,
                     httpc_body_fn on_body, void *data, char *err, size_t errlen)
{
    const char *app = t->app && *t->app ? t->app : ".";
    char *key = cli_master_key(app);
    httpc_header_t headers[3];
    size_t nh = 0;
    headers[nh++] = (httpc_header_t){"Accept", call->accept ? call->accept : "application/json"};
    if (call->content_type)
        headers[nh++] = (httpc_header_t){"Content-Type", call->content_type};
    if (key)
        headers[nh++] = (httpc_header_t){"x-functions-key", key};
    httpc_req_t req = {
        .method = call->method,
        .host = t->host && *t->host ? t->host : DEFAULT_HOST,
        .port = t->port > 0 ? t->port : cli_app_port(app),
        .path = call->path,
        .headers = headers,
        .nheaders = nh,
        .body = call->body,
        .body_len = call->body_len,
        .timeout_ms = ADMIN_TIMEOUT_MS,
        .max_body = call->max_response,
    };
    int rc = on_body ? httpc_stream(&req, res, on_body, data, err, errlen)
                     : httpc_send(&req, res, err, errlen);
    free(key);
    return rc;
}

int cli_admin_call(const cli_target_t *t, const cli_call_t *call, struct httpc_res *res,
                   char *err, size_t errlen)
{
    return call_send(t, call, res, NULL, NULL, err, errlen);
}

static int admin_call(const cli_target_t *t, const char *cmd, const char *method,
                      const char *path, const char *json, struct httpc_res *res,
                      httpc_body_fn on_body, void *data)
{
    cli_call_t call = {
        .method = method,
        .path = path,
        .content_type = json ? "application/json" : NULL,
        .body = json,
        .body_len = json ? strlen(json) : 0,
    };
    char err[512];
    int rc = call_send(t, &call, res, on_body, data, err, sizeof err);
    if (rc == HTTPC_OK)
        return 0;
    fprintf(stderr, "stratus %s: %s%s\n", cmd, err,
            rc == HTTPC_ERR_CONNECT ? " (is `stratus start` running?)" : "");
    return -1;
}

int cli_admin_request(const cli_target_t *t, const char *cmd, const char *method,
                      const char *path, const char *json, struct httpc_res *res)
{
    return admin_call(t, cmd, method, path, json, res, NULL, NULL);
}

int cli_admin_stream(const cli_target_t *t, const char *cmd, const char *path,
                     int (*on_body)(void *data, const char *p, size_t n), void *data,
                     struct httpc_res *res)
{
    return admin_call(t, cmd, "GET", path, NULL, res, on_body, data);
}

int cli_target_is_local(const cli_target_t *t)
{
    const char *h = t->host;
    return !h || !*h || strncmp(h, "127.", 4) == 0 || !strcmp(h, "::1") ||
           !strcmp(h, "localhost");
}

const char *cli_status_text(const struct httpc_res *res, char *out, size_t outlen)
{
    const char *reason = res->reason && *res->reason ? res->reason : http_status_reason(res->status);
    if (!reason)
        reason = "";
    snprintf(out, outlen, "%d%s%s", res->status, *reason ? " " : "", reason);
    return out;
}

void cli_print_http_error(const char *cmd, const char *what, const cli_target_t *t,
                          const struct httpc_res *res)
{
    char status[96];
    fprintf(stderr, "stratus %s: %s failed: %s\n", cmd, what,
            cli_status_text(res, status, sizeof status));

    /* The body: a JSON error's message, else the text itself. */
    json_t *j = res->body_len ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    const char *msg = NULL;
    if (json_is_object(j)) {
        static const char *const fields[] = {"message", "Message", "error", "detail"};
        for (size_t i = 0; !msg && i < sizeof fields / sizeof fields[0]; i++)
            msg = json_string_value(json_object_get(j, fields[i]));
    }
    if (msg)
        fprintf(stderr, "  %s\n", msg);
    else if (res->body_len)
        fprintf(stderr, "  %.*s%s", (int)(res->body_len > 2000 ? 2000 : res->body_len), res->body,
                res->body[res->body_len - 1] == '\n' ? "" : "\n");
    json_decref(j);

    const char *app = t->app && *t->app ? t->app : ".";
    if (res->status == 401 || res->status == 403) {
        char *key = cli_master_key(app);
        if (!key)
            fprintf(stderr, "  No master key found: set STRATUS_MASTER_KEY or run in the app "
                            "folder (or pass --app DIR).\n");
        else
            fprintf(stderr, "  The master key (from %s) was refused: is this host running the "
                            "app in '%s'?\n",
                    getenv("STRATUS_MASTER_KEY") && *getenv("STRATUS_MASTER_KEY")
                        ? "STRATUS_MASTER_KEY"
                        : ".stratus/secrets/host.json",
                    app);
        free(key);
    }
}

int cli_path_escape(const char *seg, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)seg; *s; s++) {
        int plain = isascii(*s) && (isalnum(*s) || *s == '-' || *s == '_' || *s == '.' ||
                                    *s == '~');
        size_t need = plain ? 1 : 3;
        if (o + need >= outlen)
            return -1;
        if (plain) {
            out[o++] = (char)*s;
        } else {
            out[o++] = '%';
            out[o++] = hex[*s >> 4];
            out[o++] = hex[*s & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return 0;
}

int cli_read_file(const char *cmd, const char *path, struct buf *b)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    const char *what = strcmp(path, "-") ? path : "standard input";
    if (!f) {
        fprintf(stderr, "stratus %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(b, chunk, n) != 0) {
            fprintf(stderr, "stratus %s: %s is larger than %zu bytes\n", cmd, what, b->max);
            rc = -1;
        }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "stratus %s: cannot read %s: %s\n", cmd, what, strerror(errno));
        rc = -1;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

int cli_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}
