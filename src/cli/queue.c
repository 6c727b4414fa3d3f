/*
 * queue.c -- `stratus queue`: put, peek, list and clear the queues of the
 * app's store by hand. Through the admin API of a running host
 * (/admin/queues/...), so that a message put reaches its queue trigger at
 * once; when no host answers on this machine, on the store directly (which
 * only works while no host runs the app: the store takes a lock).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/client.h"
#include "../store/store.h"
#include "../store/store_json.h"
#include "../util/buf.h"

#define INPUT_MAX (8 * 1024 * 1024)
#define BODY_SHOWN 60 /* characters of a body in the peek table */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus queue <action> [options]\n\n"
            "Feed and inspect the queues of the app's store. Talks to the running host's\n"
            "admin API (with the app's master key); when no host answers on this machine,\n"
            "works on the store file directly, which is only possible while no host runs\n"
            "the app.\n\n"
            "Actions:\n"
            "  list                    every queue with its visible and invisible messages\n"
            "  peek QUEUE [-n N]       show up to N (1..32, default 1) visible messages\n"
            "                          without changing them\n"
            "  put QUEUE MESSAGE       add a message (the text as given; '-' reads it\n"
            "                          from standard input)\n"
            "  put QUEUE --file PATH   add the contents of a file as a message\n"
            "  clear QUEUE             delete every message of the queue\n\n"
            "Options:\n"
            "  -n, --count N           peek: how many messages (1..32)\n"
            "  --file PATH             put: read the message from a file ('-': stdin)\n"
            "  --visibility-timeout S  put: keep the message invisible for S seconds\n"
            "  --ttl S                 put: the message expires after S seconds\n"
            "                          (default 7 days; -1: never)\n"
            "  --json                  print JSON (the admin API's answer) for scripts\n"
            "  --port N                the host's port (default: local.settings.json\n"
            "                          Host.LocalHttpPort, else 7071)\n"
            "  --host ADDR             the host's address (default: 127.0.0.1)\n"
            "  --app DIR               the app folder, for the port, the master key and\n"
            "                          the store (default: .)\n"
            "  -h, --help              show this help\n\n"
            "Examples:\n"
            "  stratus queue put orders '{\"id\": 42}'\n"
            "  stratus queue peek orders -n 5\n"
            "  stratus queue list --json\n");
}

typedef struct qcmd {
    const char *action, *queue, *message, *file;
    long long count, vis, ttl;
    int has_ttl, json;
    cli_target_t target;
    buf_t body;
} qcmd_t;

/* A whole number from s in [lo, hi]; 0, or -1 after printing why. */
static int parse_num(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "stratus queue: %s: expected a whole number from %lld to %lld, got "
                        "'%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- through the store, without a host ---- */

static json_t *run_local(qcmd_t *q)
{
    store_t *st;
    if (cli_local_open("queue", q->target.app, &st, NULL) != 0)
        return NULL;
    store_req_t r = {0};
    json_t *out = NULL;
    int rc;
    if (!strcmp(q->action, "list"))
        rc = store_queue_list(st, &r, NULL);
    else if (!strcmp(q->action, "peek"))
        rc = store_queue_peek(st, &r, q->queue, (unsigned)q->count, NULL);
    else if (!strcmp(q->action, "clear"))
        rc = store_queue_clear(st, &r, q->queue, NULL);
    else
        rc = store_queue_put(st, &r, q->queue, q->body.p ? q->body.p : "", q->body.len,
                             q->vis * 1000,
                             !q->has_ttl ? 0 : q->ttl < 0 ? STORE_TTL_NEVER : q->ttl * 1000,
                             NULL);
    if (rc != STORE_OK) {
        fprintf(stderr, "stratus queue: %s\n", r.err[0] ? r.err : store_strerror(rc));
    } else if (!strcmp(q->action, "list")) {
        out = json_array();
        for (size_t i = 0; i < r.n_queues; i++)
            json_array_append_new(out, store_queue_info_json(&r.queues[i]));
    } else if (!strcmp(q->action, "peek")) {
        json_t *msgs = json_array();
        for (size_t i = 0; i < r.n_msgs; i++)
            json_array_append_new(msgs, store_msg_json(&r.msgs[i]));
        out = json_pack("{s:s, s:o}", "queue", q->queue, "messages", msgs);
    } else if (!strcmp(q->action, "clear")) {
        out = json_pack("{s:s, s:I}", "queue", q->queue, "deleted", (json_int_t)r.count);
    } else {
        out = r.n_msgs ? store_msg_json(&r.msgs[0]) : NULL;
        if (out)
            json_object_set_new(out, "queue", json_string(q->queue));
    }
    store_req_cleanup(&r);
    store_close(st);
    if (rc == STORE_OK && !out)
        fprintf(stderr, "stratus queue: out of memory\n");
    return out;
}

/* ---- through the admin API ---- */

/* The answer as JSON; NULL after printing why. *offline set when no host
 * answered on this machine (nothing printed then). */
static json_t *run_remote(qcmd_t *q, int *offline)
{
    char esc[3 * STORE_QUEUE_REF_MAX + 1] = "", path[512];
    *offline = 0;
    if (q->queue && cli_path_escape(q->queue, esc, sizeof esc) != 0)
        esc[0] = '\0'; /* too long: the name check refused it already */
    cli_call_t call = {.method = "GET", .path = path};
    if (!strcmp(q->action, "list")) {
        snprintf(path, sizeof path, "/admin/queues");
    } else if (!strcmp(q->action, "peek")) {
        snprintf(path, sizeof path, "/admin/queues/%s/messages?peek=%lld", esc, q->count);
    } else if (!strcmp(q->action, "clear")) {
        call.method = "DELETE";
        snprintf(path, sizeof path, "/admin/queues/%s/messages", esc);
    } else {
        call.method = "POST";
        int n = snprintf(path, sizeof path, "/admin/queues/%s/messages?visibilitytimeout=%lld",
                         esc, q->vis);
        if (q->has_ttl)
            snprintf(path + n, sizeof path - (size_t)n, "&messagettl=%lld", q->ttl);
        call.content_type = "application/octet-stream";
        call.body = q->body.p ? q->body.p : "";
        call.body_len = q->body.len;
    }
    httpc_res_t res;
    char err[512];
    int rc = cli_admin_call(&q->target, &call, &res, err, sizeof err);
    if (rc == HTTPC_ERR_CONNECT && cli_target_is_local(&q->target)) {
        *offline = 1;
        return NULL;
    }
    if (rc != HTTPC_OK) {
        fprintf(stderr, "stratus queue: %s\n", err);
        return NULL;
    }
    json_t *out = NULL;
    if (res.status >= 200 && res.status < 300) {
        out = json_loadb(res.body, res.body_len, 0, NULL);
        if (!out)
            fprintf(stderr, "stratus queue: the host's answer is not JSON: %.200s\n", res.body);
    } else {
        char what[200];
        snprintf(what, sizeof what, "%s%s%s", q->action, q->queue ? " " : "",
                 q->queue ? q->queue : "");
        cli_print_http_error("queue", what, &q->target, &res);
    }
    httpc_res_free(&res);
    return out;
}

/* ---- output ---- */

static const char *str(json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static void print_list(json_t *arr)
{
    if (!json_array_size(arr)) {
        printf("No queues.\n");
        return;
    }
    int w = 4;
    size_t i;
    json_t *q;
    json_array_foreach(arr, i, q)
        if ((int)strlen(str(q, "name", "")) > w)
            w = (int)strlen(str(q, "name", ""));
    printf("%-*s  %9s  %9s  %s\n", w, "NAME", "VISIBLE", "INVISIBLE", "OLDEST MESSAGE");
    json_array_foreach(arr, i, q)
        printf("%-*s  %9lld  %9lld  %s\n", w, str(q, "name", ""),
               (long long)json_integer_value(json_object_get(q, "visible")),
               (long long)json_integer_value(json_object_get(q, "invisible")),
               str(q, "oldestInsertionTime", "-"));
}

/* The body for one table cell: text with control characters escaped, cut
 * at BODY_SHOWN characters; binary bodies as their size. */
static void print_body_cell(json_t *m)
{
    long long len = (long long)json_integer_value(json_object_get(m, "length"));
    if (json_is_true(json_object_get(m, "binary"))) {
        printf("<binary, %lld bytes>", len);
        return;
    }
    const unsigned char *b = (const unsigned char *)str(m, "body", "");
    int shown = 0;
    for (; *b && shown < BODY_SHOWN; b++) {
        if (*b == '\n')
            fputs("\\n", stdout);
        else if (*b < 0x20 || *b == 0x7f)
            printf("\\x%02x", *b);
        else
            putchar(*b);
        if ((*b & 0xc0) != 0x80)
            shown++;
    }
    if (*b)
        printf("... (%lld bytes)", len);
}

static void print_peek(json_t *ans)
{
    json_t *msgs = json_object_get(ans, "messages");
    if (!json_array_size(msgs)) {
        printf("No visible messages in queue %s.\n", str(ans, "queue", ""));
        return;
    }
    printf("%-36s  %8s  %-24s  %s\n", "ID", "DEQUEUED", "INSERTED", "BODY");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        printf("%-36s  %8lld  %-24s  ", str(m, "id", ""),
               (long long)json_integer_value(json_object_get(m, "dequeueCount")),
               str(m, "insertionTime", ""));
        print_body_cell(m);
        putchar('\n');
    }
}

static void print_answer(const qcmd_t *q, json_t *ans)
{
    if (q->json) {
        char *text = json_dumps(ans, JSON_COMPACT);
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (!strcmp(q->action, "list")) {
        print_list(ans);
    } else if (!strcmp(q->action, "peek")) {
        print_peek(ans);
    } else if (!strcmp(q->action, "clear")) {
        long long n = (long long)json_integer_value(json_object_get(ans, "deleted"));
        printf("Deleted %lld message%s from queue %s\n", n, n == 1 ? "" : "s", q->queue);
    } else {
        printf("Put message %s into queue %s (%zu bytes; visible %s; expires %s)\n",
               str(ans, "id", "?"), q->queue, q->body.len, str(ans, "nextVisibleTime", "now"),
               str(ans, "expirationTime", "never"));
    }
}

/* ---- the command ---- */

static int parse(int argc, char **argv, qcmd_t *q)
{
    const char *pos[3];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "queue", &q->target)) != 0) {
            if (rc < 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "queue", "--count", &v)) != 0 ||
                   (rc = cli_opt_value(argc, argv, &i, "queue", "-n", &v)) != 0) {
            if (rc < 0 || parse_num("--count", v, 1, STORE_GET_MAX, &q->count) != 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "queue", "--file", &v)) != 0) {
            if (rc < 0)
                return 2;
            q->file = v;
        } else if ((rc = cli_opt_value(argc, argv, &i, "queue", "--visibility-timeout", &v)) !=
                   0) {
            if (rc < 0 || parse_num("--visibility-timeout", v, 0,
                                    STORE_MAX_VISIBILITY_MS / 1000, &q->vis) != 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "queue", "--ttl", &v)) != 0) {
            if (rc < 0 || parse_num("--ttl", v, -1, 3153600000LL, &q->ttl) != 0)
                return 2;
            if (q->ttl == 0) {
                fprintf(stderr, "stratus queue: --ttl: give seconds from 1, or -1 for never\n");
                return 2;
            }
            q->has_ttl = 1;
        } else if (!strcmp(argv[i], "--json")) {
            q->json = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("queue", argv[i]);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "stratus queue: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (npos == 0) {
        fprintf(stderr, "stratus queue: which action? list, peek, put or clear.\n");
        usage(stderr);
        return 2;
    }
    q->action = pos[0];
    int is_list = !strcmp(q->action, "list"), is_put = !strcmp(q->action, "put");
    if (!is_list && !is_put && strcmp(q->action, "peek") && strcmp(q->action, "clear")) {
        fprintf(stderr, "stratus queue: unknown action '%s' (list, peek, put or clear)\n",
                q->action);
        return 2;
    }
    int want = is_list ? 1 : is_put && !q->file ? 3 : 2;
    if (npos != want) {
        fprintf(stderr, "stratus queue: %s takes %s\n", q->action,
                is_list ? "no argument" : is_put ? (q->file ? "QUEUE (and --file)"
                                                            : "QUEUE and MESSAGE (or --file)")
                                                 : "QUEUE");
        return 2;
    }
    if (!is_list) {
        char err[STORE_ERR_LEN];
        q->queue = pos[1];
        if (store_queue_name_check(q->queue, err, sizeof err) != STORE_OK) {
            fprintf(stderr, "stratus queue: %s\n", err);
            return 2;
        }
    }
    if (is_put)
        q->message = q->file ? NULL : pos[2];
    return 0;
}

int cmd_queue(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    qcmd_t q = {.count = 1};
    buf_init(&q.body, INPUT_MAX);
    int rc = parse(argc, argv, &q);
    if (rc != 0)
        return rc;
    if (!strcmp(q.action, "put")) {
        const char *src = q.file ? q.file : !strcmp(q.message, "-") ? "-" : NULL;
        if (src ? cli_read_file("queue", src, &q.body) != 0
                : buf_append(&q.body, q.message, strlen(q.message)) != 0) {
            buf_free(&q.body);
            return 1;
        }
    }
    int offline;
    json_t *ans = run_remote(&q, &offline);
    if (offline) {
        char addr[300];
        httpc_format_addr(q.target.host && *q.target.host ? q.target.host : "127.0.0.1",
                          q.target.port > 0 ? q.target.port : cli_app_port(q.target.app),
                          addr, sizeof addr);
        fprintf(stderr, "stratus queue: no host answers at %s; using the app's store "
                        "directly\n", addr);
        ans = run_local(&q);
    }
    if (ans)
        print_answer(&q, ans);
    buf_free(&q.body);
    json_decref(ans);
    return ans ? 0 : 1;
}
