/*
 * blob.c -- `stratus blob`: put, get, list and delete the blobs of the
 * app's containers (the folders under its blob root). Through the admin
 * API of a running host (/admin/blobs/...); when no host answers on this
 * machine, on the folders directly, after making sure through the store's
 * lock that no host runs the app.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/client.h"
#include "../store/blobdir.h"
#include "../util/blobpath.h"
#include "../store/store.h"
#include "../util/buf.h"

#define BLOB_MAX ((size_t)256 * 1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus blob <action> [options]\n\n"
            "Read and write the blobs of the app's containers (folders under the blob root:\n"
            "host.json stratus.storage.blobRoot, else .stratus/blobs). Talks to the running\n"
            "host's admin API (with the app's master key); when no host answers on this\n"
            "machine, works on the folders directly (only while no host runs the app).\n\n"
            "Actions:\n"
            "  list                        the containers\n"
            "  list CONTAINER [--prefix P] the blobs of a container (names starting with P)\n"
            "  put CONTAINER/NAME FILE     write a blob from a file ('-': standard input);\n"
            "                              written whole or not at all\n"
            "  get CONTAINER/NAME [-o F]   write a blob to standard output or file F\n"
            "  delete CONTAINER/NAME       delete a blob\n\n"
            "Blob names may contain '/' (folders): reports/2024/may.csv.\n\n"
            "Options:\n"
            "  --prefix P            list: only blobs whose name starts with P\n"
            "  -o, --output FILE     get: write to FILE instead of standard output\n"
            "  --json                print JSON (the admin API's answer) for scripts\n"
            "  --port N              the host's port (default: local.settings.json\n"
            "                        Host.LocalHttpPort, else 7071)\n"
            "  --host ADDR           the host's address (default: 127.0.0.1)\n"
            "  --app DIR             the app folder, for the port, the master key and the\n"
            "                        blob root (default: .)\n"
            "  -h, --help            show this help\n\n"
            "Examples:\n"
            "  stratus blob put images/cat.png cat.png\n"
            "  stratus blob list images --prefix 2024/\n"
            "  stratus blob get images/cat.png -o copy.png\n");
}

typedef struct bcmd {
    const char *action, *container, *name, *prefix, *file, *output;
    char *container_buf;
    int json;
    cli_target_t target;
    buf_t data;  /* put: the content; get: the blob */
    json_t *ans; /* list, put: the answer */
} bcmd_t;

enum { DONE_OK = 0, DONE_FAIL = 1, DONE_OFFLINE = 2 };

/* ---- on the folders, without a host ---- */

static int run_local(bcmd_t *b)
{
    store_t *st;
    char *root;
    if (cli_local_open("blob", b->target.app, &st, &root) != 0)
        return DONE_FAIL;
    char err[768];
    int rc, created = 0, truncated = 0;
    json_t *list = NULL;
    if (!strcmp(b->action, "list") && !b->container)
        rc = blobdir_containers(root, &list, err, sizeof err);
    else if (!strcmp(b->action, "list"))
        rc = blobdir_list(root, b->container, b->prefix, &list, &truncated, err, sizeof err);
    else if (!strcmp(b->action, "get"))
        rc = blobdir_read(root, b->container, b->name, &b->data, BLOB_MAX, err, sizeof err);
    else if (!strcmp(b->action, "put"))
        rc = blobdir_write(root, b->container, b->name, b->data.p, b->data.len, &created, err,
                           sizeof err);
    else
        rc = blobdir_delete(root, b->container, b->name, err, sizeof err);
    /* The lock is held until here: no host started meanwhile. */
    store_close(st);
    free(root);
    if (rc != BLOBDIR_OK) {
        fprintf(stderr, "stratus blob: %s\n", err);
        return DONE_FAIL;
    }
    if (!strcmp(b->action, "list") && b->container)
        b->ans = json_pack("{s:s, s:s, s:o, s:b}", "container", b->container, "prefix",
                           b->prefix ? b->prefix : "", "blobs", list, "truncated", truncated);
    else if (!strcmp(b->action, "list"))
        b->ans = list;
    else if (!strcmp(b->action, "put"))
        b->ans = json_pack("{s:s, s:s, s:I, s:b}", "container", b->container, "name", b->name,
                           "length", (json_int_t)b->data.len, "created", created);
    return DONE_OK;
}

/* ---- through the admin API ---- */

static int run_remote(bcmd_t *b)
{
    char *path = NULL;
    buf_t p;
    buf_init(&p, 16384);
    char esc[3 * 1024 + 1];
    int bad = buf_puts(&p, "/admin/blobs") != 0;
    if (b->container)
        bad |= cli_path_escape(b->container, esc, sizeof esc) != 0 ||
               buf_printf(&p, "/%s", esc) != 0;
    if (b->name)
        bad |= cli_path_escape(b->name, esc, sizeof esc) != 0 || buf_printf(&p, "/%s", esc) != 0;
    if (b->prefix)
        bad |= cli_path_escape(b->prefix, esc, sizeof esc) != 0 ||
               buf_printf(&p, "?prefix=%s", esc) != 0;
    if (bad) {
        buf_free(&p);
        fprintf(stderr, "stratus blob: the blob name or prefix is too long\n");
        return DONE_FAIL;
    }
    path = p.p;
    cli_call_t call = {.method = "GET", .path = path, .max_response = BLOB_MAX + 4096};
    if (!strcmp(b->action, "get")) {
        call.accept = "application/octet-stream";
    } else if (!strcmp(b->action, "delete")) {
        call.method = "DELETE";
    } else if (!strcmp(b->action, "put")) {
        call.method = "PUT";
        call.content_type = "application/octet-stream";
        call.body = b->data.p ? b->data.p : "";
        call.body_len = b->data.len;
    }
    httpc_res_t res;
    char err[512];
    int rc = cli_admin_call(&b->target, &call, &res, err, sizeof err);
    buf_free(&p);
    if (rc == HTTPC_ERR_CONNECT && cli_target_is_local(&b->target))
        return DONE_OFFLINE;
    if (rc != HTTPC_OK) {
        fprintf(stderr, "stratus blob: %s\n", err);
        return DONE_FAIL;
    }
    int done = DONE_OK;
    if (res.status < 200 || res.status > 299) {
        char what[1200];
        snprintf(what, sizeof what, "%s %s%s%s", b->action, b->container ? b->container : "",
                 b->name ? "/" : "", b->name ? b->name : "");
        cli_print_http_error("blob", what, &b->target, &res);
        done = DONE_FAIL;
    } else if (!strcmp(b->action, "get")) {
        if (buf_append(&b->data, res.body, res.body_len) != 0) {
            fprintf(stderr, "stratus blob: out of memory\n");
            done = DONE_FAIL;
        }
    } else if (strcmp(b->action, "delete") != 0) {
        b->ans = json_loadb(res.body, res.body_len, 0, NULL);
        if (!b->ans) {
            fprintf(stderr, "stratus blob: the host's answer is not JSON: %.200s\n", res.body);
            done = DONE_FAIL;
        }
    }
    httpc_res_free(&res);
    return done;
}

/* ---- output ---- */

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void print_list(const bcmd_t *b)
{
    json_t *arr = b->container ? json_object_get(b->ans, "blobs") : b->ans;
    if (!json_array_size(arr)) {
        if (b->container)
            printf("No blobs in container %s%s%s.\n", b->container,
                   b->prefix ? " with prefix " : "", b->prefix ? b->prefix : "");
        else
            printf("No containers.\n");
        return;
    }
    int w = 4;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
        if ((int)strlen(str(e, "name")) > w)
            w = (int)strlen(str(e, "name"));
    if (b->container)
        printf("%-*s  %12s  %s\n", w, "NAME", "LENGTH", "LAST MODIFIED");
    else
        printf("%-*s  %s\n", w, "NAME", "LAST MODIFIED");
    json_array_foreach(arr, i, e) {
        if (b->container)
            printf("%-*s  %12lld  %s\n", w, str(e, "name"),
                   (long long)json_integer_value(json_object_get(e, "length")),
                   str(e, "lastModified"));
        else
            printf("%-*s  %s\n", w, str(e, "name"), str(e, "lastModified"));
    }
    if (json_is_true(json_object_get(b->ans, "truncated")))
        printf("(more blobs than shown: narrow the list with --prefix)\n");
}

static int write_output(const bcmd_t *b)
{
    FILE *f = b->output && strcmp(b->output, "-") ? fopen(b->output, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "stratus blob: cannot create %s: %s\n", b->output, strerror(errno));
        return 1;
    }
    int rc = 0;
    if ((b->data.len && fwrite(b->data.p, 1, b->data.len, f) != b->data.len) || fflush(f) != 0) {
        fprintf(stderr, "stratus blob: cannot write %s: %s\n",
                f == stdout ? "standard output" : b->output, strerror(errno));
        rc = 1;
    }
    if (f != stdout && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "stratus blob: cannot write %s: %s\n", b->output, strerror(errno));
        rc = 1;
    }
    return rc;
}

static int print_answer(const bcmd_t *b)
{
    if (!strcmp(b->action, "get"))
        return write_output(b);
    if (!strcmp(b->action, "delete") && !b->json) {
        printf("Deleted blob %s/%s\n", b->container, b->name);
        return 0;
    }
    if (b->json) {
        json_t *del = NULL;
        if (!strcmp(b->action, "delete"))
            del = json_pack("{s:s, s:s, s:b}", "container", b->container, "name", b->name,
                            "deleted", 1);
        char *text = json_dumps(del ? del : b->ans, JSON_COMPACT);
        json_decref(del);
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (!strcmp(b->action, "list")) {
        print_list(b);
    } else {
        printf("%s blob %s/%s (%zu bytes)\n",
               json_is_true(json_object_get(b->ans, "created")) ? "Created" : "Replaced",
               b->container, b->name, b->data.len);
    }
    return 0;
}

/* ---- the command ---- */

/* CONTAINER/NAME into b->container and b->name (checked). 0, or 2 after
 * printing why. */
static int split_target(bcmd_t *b, const char *arg, int need_name)
{
    const char *slash = strchr(arg, '/');
    char err[768];
    if (!slash && need_name) {
        fprintf(stderr, "stratus blob: '%s': give CONTAINER/NAME, e.g. images/cat.png\n", arg);
        return 2;
    }
    size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
    b->container_buf = strndup(arg, n);
    if (!b->container_buf)
        return 1;
    b->container = b->container_buf;
    if (blobpath_container_check(b->container, err, sizeof err) != 0) {
        fprintf(stderr, "stratus blob: %s\n", err);
        return 2;
    }
    if (!slash || (!need_name && !slash[1]))
        return 0; /* "images" or "images/" for list */
    if (!need_name) {
        fprintf(stderr, "stratus blob: list takes a CONTAINER (use --prefix for a folder)\n");
        return 2;
    }
    b->name = slash + 1;
    if (blobpath_name_check(b->name, err, sizeof err) != 0) {
        fprintf(stderr, "stratus blob: %s\n", err);
        return 2;
    }
    return 0;
}

static int parse(int argc, char **argv, bcmd_t *b)
{
    const char *pos[3];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "blob", &b->target)) != 0) {
            if (rc < 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "blob", "--prefix", &v)) != 0) {
            if (rc < 0)
                return 2;
            b->prefix = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "blob", "--output", &v)) != 0 ||
                   (rc = cli_opt_value(argc, argv, &i, "blob", "-o", &v)) != 0) {
            if (rc < 0)
                return 2;
            b->output = v;
        } else if (!strcmp(argv[i], "--json")) {
            b->json = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("blob", argv[i]);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "stratus blob: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (npos == 0) {
        fprintf(stderr, "stratus blob: which action? list, put, get or delete.\n");
        usage(stderr);
        return 2;
    }
    b->action = pos[0];
    if (!strcmp(b->action, "list")) {
        if (npos > 2) {
            fprintf(stderr, "stratus blob: list takes at most a CONTAINER\n");
            return 2;
        }
        if (b->prefix && npos < 2) {
            fprintf(stderr, "stratus blob: --prefix needs a CONTAINER\n");
            return 2;
        }
        return npos == 2 ? split_target(b, pos[1], 0) : 0;
    }
    int is_put = !strcmp(b->action, "put");
    if (!is_put && strcmp(b->action, "get") && strcmp(b->action, "delete")) {
        fprintf(stderr, "stratus blob: unknown action '%s' (list, put, get or delete)\n",
                b->action);
        return 2;
    }
    if (npos != (is_put ? 3 : 2)) {
        fprintf(stderr, "stratus blob: %s takes %s\n", b->action,
                is_put ? "CONTAINER/NAME and FILE ('-' for standard input)" : "CONTAINER/NAME");
        return 2;
    }
    if (is_put)
        b->file = pos[2];
    return split_target(b, pos[1], 1);
}

int cmd_blob(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    bcmd_t b = {0};
    buf_init(&b.data, BLOB_MAX);
    int rc = parse(argc, argv, &b);
    if (rc == 0 && b.file && cli_read_file("blob", b.file, &b.data) != 0)
        rc = 1;
    if (rc == 0) {
        int done = run_remote(&b);
        if (done == DONE_OFFLINE) {
            char addr[300];
            httpc_format_addr(b.target.host && *b.target.host ? b.target.host : "127.0.0.1",
                              b.target.port > 0 ? b.target.port : cli_app_port(b.target.app),
                              addr, sizeof addr);
            fprintf(stderr, "stratus blob: no host answers at %s; using the app's blob "
                            "folders directly\n", addr);
            done = run_local(&b);
        }
        rc = done == DONE_OK ? print_answer(&b) : 1;
    }
    json_decref(b.ans);
    buf_free(&b.data);
    free(b.container_buf);
    return rc;
}
