/*
 * worker.c -- the native worker: the stratus binary re-executed by the
 * host (`stratus worker`) to run an app's native functions in a process of
 * their own, so that a crash, a hang or a leak in user code costs a worker
 * and never the host.
 *
 * The worker speaks the frame protocol (frame.h, docs/worker-protocol.md)
 * on the socket the host passes as STRATUS_WORKER_FD. It is a plain loop,
 * without libuv: read what is there, handle every whole frame of that read
 * (running invocations one after another with the same stratus.h API as
 * in-process code), then answer them all with one write.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../core/invocation.h"
#include "../http/method.h"
#include "../telemetry/log.h"
#include "../util/jsontok.h"
#include "frame.h"
#include "runtime.h"

#define READ_CHUNK (256 * 1024)
#define OUT_MAX ((size_t)1 << 34)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

typedef struct worker_state {
    int fd;
    app_t app;
    function_t **functions;
    size_t nfunctions;
    buf_t out;
    buf_t meta;      /* scratch for result metadata */
    arena_t arena;   /* per-invocation memory, reset after each */
    uint64_t current_id; /* the invocation being run, for its log lines */
    int shutdown;
} worker_state_t;

static worker_state_t W;

/* Log lines of user code (stratus_log) go to the host as log frames. */
static void log_sink(int level, const char *category, const char *invocation_id,
                     const char *message, size_t len, void *data)
{
    (void)invocation_id;
    (void)data;
    buf_t meta;
    buf_init(&meta, FRAME_MAX_META);
    buf_printf(&meta, "{\"level\":%d,\"category\":\"", level);
    buf_json_escape(&meta, category, strlen(category));
    buf_lit(&meta, "\",\"message\":\"");
    buf_json_escape(&meta, message, len);
    buf_lit(&meta, "\"}");
    frame_encode(&W.out, FRAME_LOG, W.current_id, meta.p, meta.len, NULL, 0);
    buf_free(&meta);
}

int worker__write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void flush_out(void)
{
    if (W.out.len && worker__write_all(W.fd, W.out.p, W.out.len) != 0)
        _exit(0); /* the host is gone */
    buf_reset(&W.out);
}

static function_t *find_function(const char *name)
{
    for (size_t i = 0; i < W.nfunctions; i++)
        if (strcasecmp(W.functions[i]->name, name) == 0)
            return W.functions[i];
    return NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void handle_load(const frame_t *f)
{
    char err[4096];
    json_t *meta = frame_meta_json(f, err, sizeof err);
    buf_t m;
    buf_init(&m, FRAME_MAX_META);
    buf_lit(&m, "{\"functions\":[");
    json_t *list = meta ? json_object_get(meta, "functions") : NULL;
    size_t i;
    json_t *item;
    int first = 1;
    json_array_foreach(list, i, item) {
        const char *name = jstr(item, "name");
        const char *script = jstr(item, "scriptFile");
        if (!name || !script || find_function(name))
            continue;
        function_t *fn = calloc(1, sizeof *fn);
        fn->name = strdup(name);
        fn->script_file = strdup(script);
        const char *entry = jstr(item, "entryPoint");
        fn->entry_point = entry ? strdup(entry) : NULL;
        int rc = native_open(fn, err, sizeof err);
        W.functions = realloc(W.functions, (W.nfunctions + 1) * sizeof *W.functions);
        W.functions[W.nfunctions++] = fn;
        buf_printf(&m, "%s{\"name\":\"", first ? "" : ",");
        buf_json_escape(&m, name, strlen(name));
        buf_printf(&m, "\",\"ok\":%s", rc == 0 ? "true" : "false");
        if (rc != 0) {
            buf_lit(&m, ",\"error\":\"");
            buf_json_escape(&m, err, strlen(err));
            buf_lit(&m, "\"");
        }
        buf_lit(&m, "}");
        first = 0;
    }
    buf_lit(&m, "]}");
    frame_encode(&W.out, FRAME_LOADED, 0, m.p, m.len, NULL, 0);
    buf_free(&m);
    json_decref(meta);
}

/* Append {"ok":false,"error":...} for invocation id. */
static void result_error(uint64_t id, const char *error)
{
    buf_t m;
    buf_init(&m, FRAME_MAX_META);
    buf_lit(&m, "{\"ok\":false,\"error\":\"");
    buf_json_escape(&m, error, strlen(error));
    buf_lit(&m, "\"}");
    frame_encode(&W.out, FRAME_RESULT, id, m.p, m.len, NULL, 0);
    buf_free(&m);
}

#define INVOKE_MAX_TOKENS 1024

/* Fill an HTTP request from the invoke frame's "http" object (token h).
 * Views point into the frame's metadata, which outlives the call. */
static int fill_request(http_request_t *r, const jt_doc_t *d, int h, arena_t *arena)
{
    sv_t method, path, query = SV_LIT("");
    if (jt_string(d, jt_get(d, h, "method"), arena, &method) != 0 ||
        jt_string(d, jt_get(d, h, "path"), arena, &path) != 0)
        return -1;
    int q = jt_get(d, h, "query");
    if (q >= 0 && jt_string(d, q, arena, &query) != 0)
        return -1;
    r->method_name = arena_strndup(arena, method.p, method.n);
    if (!r->method_name)
        return -1;
    r->method = method_from_name(method.p, method.n);
    if (!r->method)
        r->method = METHOD_OTHER;
    r->path = path;
    r->query = query;
    r->target = path;
    r->http_major = 1;
    r->http_minor = 1;
    int hs = jt_get(d, h, "headers");
    int n = hs >= 0 && d->tok[hs].type == JSMN_ARRAY ? d->tok[hs].size : 0;
    r->headers = arena_alloc(arena, (size_t)(n ? n : 1) * sizeof(http_header_t));
    if (!r->headers)
        return -1;
    r->nheaders = 0;
    int j = hs + 1;
    for (int k = 0; k < n; k++) {
        const jsmntok_t *pair = &d->tok[j];
        sv_t hn, hv;
        if (pair->type == JSMN_ARRAY && pair->size == 2 &&
            jt_string(d, j + 1, arena, &hn) == 0 && jt_string(d, j + 2, arena, &hv) == 0) {
            r->headers[r->nheaders].name = hn;
            r->headers[r->nheaders].value = hv;
            r->nheaders++;
        }
        j = jt_skip(d, j);
    }
    return 0;
}

static int fill_params(invocation_t *inv, const jt_doc_t *d, int h, arena_t *arena)
{
    int ps = jt_get(d, h, "params");
    if (ps < 0 || d->tok[ps].type != JSMN_OBJECT || d->tok[ps].size == 0)
        return 0;
    inv->params = arena_calloc(arena, sizeof *inv->params);
    if (!inv->params)
        return -1;
    int j = ps + 1;
    for (int k = 0; k < d->tok[ps].size && inv->params->n < ROUTE_MAX_PARAMS; k++) {
        route_param_t *p = &inv->params->v[inv->params->n];
        if (jt_string(d, j, arena, &p->name) != 0)
            return -1;
        if (jt_is_null(d, j + 1))
            p->value = SV_NULL;
        else if (jt_string(d, j + 1, arena, &p->value) != 0)
            return -1;
        inv->params->n++;
        j = jt_skip(d, j + 1);
    }
    return 0;
}

static int dump_to_buf(const char *p, size_t n, void *data)
{
    return buf_append(data, p, n);
}

static void handle_invoke(const frame_t *f)
{
    static jsmntok_t tok[INVOKE_MAX_TOKENS];
    jt_doc_t d;
    arena_t *arena = &W.arena;
    sv_t name = SV_NULL, id = SV_NULL;
    if (jt_parse(&d, f->meta.p, f->meta.n, tok, INVOKE_MAX_TOKENS) != 0 ||
        jt_string(&d, jt_get(&d, 0, "function"), arena, &name) != 0) {
        result_error(f->id, "malformed invoke metadata");
        arena_reset(arena);
        return;
    }
    char *fname = arena_strndup(arena, name.p, name.n);
    function_t *fn = fname ? find_function(fname) : NULL;
    if (!fn || !fn->runtime_data) {
        char msg[300];
        snprintf(msg, sizeof msg, "function '%.200s' is not loaded in this worker",
                 fname ? fname : "?");
        result_error(f->id, msg);
        arena_reset(arena);
        return;
    }
    if (jt_string(&d, jt_get(&d, 0, "invocationId"), arena, &id) != 0)
        id = SV_NULL;
    invocation_t *inv = invocation_new(arena, &W.app, fn, id);
    char *body = arena_strndup(arena, f->body.p ? f->body.p : "", f->body.n);
    if (!inv || !body) {
        result_error(f->id, "out of memory in the worker");
        arena_reset(arena);
        return;
    }
    int h = jt_get(&d, 0, "http");
    if (h >= 0 && d.tok[h].type == JSMN_OBJECT) {
        http_request_t *req = arena_calloc(arena, sizeof *req);
        if (!req || fill_request(req, &d, h, arena) != 0 || fill_params(inv, &d, h, arena) != 0) {
            result_error(f->id, "malformed http object in invoke metadata");
            arena_reset(arena);
            return;
        }
        req->body.p = body;
        req->body.len = f->body.n;
        inv->req = req;
    }
    inv->trigger_data = body;
    inv->trigger_len = f->body.n;
    int tm = jt_get(&d, 0, "triggerMetadata"), in = jt_get(&d, 0, "inputs");
    /* Parsed only if the function asks (native_bind.c). */
    if (tm >= 0 && d.tok[tm].type == JSMN_OBJECT)
        inv->binding_data_text = jt_raw(&d, tm);
    if (in >= 0 && d.tok[in].type == JSMN_OBJECT)
        inv->inputs_text = jt_raw(&d, in);
    int rcx = jt_get(&d, 0, "retryContext");
    long long rn;
    if (rcx >= 0 && jt_int(&d, jt_get(&d, rcx, "retryCount"), &rn) == 0 && rn >= 0 && rn < 1000000)
        inv->retry_count = (int)rn;

    int tcx = jt_get(&d, 0, "traceContext");
    if (tcx >= 0 && d.tok[tcx].type == JSMN_OBJECT) {
        int tpi = jt_get(&d, tcx, "traceparent");
        sv_t tp = jt_is_string(&d, tpi) ? jt_raw(&d, tpi) : SV_NULL;
        traceparent_t parsed;
        /* the host's own text: a version-00 value, kept as it is */
        if (tp.n == TRACEPARENT_LEN && traceparent_parse(tp, &parsed) == 0) {
            memcpy(inv->traceparent, tp.p, tp.n);
            inv->traceparent[tp.n] = '\0';
        }
        sv_t state;
        if (jt_string(&d, jt_get(&d, tcx, "tracestate"), arena, &state) == 0 &&
            tracestate_ok(state))
            inv->tracestate = arena_strndup(arena, state.p, state.n);
    }

    W.current_id = f->id;
    int rc = native_call(inv);
    W.current_id = 0;

    buf_t *m = &W.meta;
    buf_reset(m);
    if (rc != 0) {
        buf_printf(m, "{\"ok\":false,\"error\":\"function returned %d\"}", rc);
        frame_encode(&W.out, FRAME_RESULT, f->id, m->p, m->len, NULL, 0);
    } else {
        buf_lit(m, "{\"ok\":true,\"status\":");
        buf_put_uint(m, (unsigned)inv->status);
        buf_lit(m, ",\"headers\":[");
        for (size_t i = 0; i < inv->nres_headers; i++) {
            buf_puts(m, i ? ",[\"" : "[\"");
            buf_json_escape(m, inv->res_headers[i].name.p, inv->res_headers[i].name.n);
            buf_lit(m, "\",\"");
            buf_json_escape(m, inv->res_headers[i].value.p, inv->res_headers[i].value.n);
            buf_lit(m, "\"]");
        }
        buf_lit(m, "]");
        if (inv->outputs) {
            buf_lit(m, ",\"outputs\":");
            json_dump_callback(inv->outputs, dump_to_buf, m, JSON_COMPACT);
        }
        buf_lit(m, "}");
        if (frame_encode(&W.out, FRAME_RESULT, f->id, m->p, m->len, inv->res_body.p,
                         inv->res_body.len) != 0)
            result_error(f->id, "response too large for the worker protocol");
    }
    arena_reset(arena);
}

static void handle(const frame_t *f)
{
    switch (f->type) {
    case FRAME_READY:
        break;
    case FRAME_LOAD:
        handle_load(f);
        flush_out(); /* tell the host at once: invocations may follow in this read */
        break;
    case FRAME_INVOKE:
        handle_invoke(f);
        break;
    case FRAME_PING:
        frame_encode(&W.out, FRAME_PONG, f->id, NULL, 0, NULL, 0);
        break;
    case FRAME_SHUTDOWN:
        W.shutdown = 1;
        break;
    default: /* cancel: native code cannot be interrupted; the host kills us */
        break;
    }
}

static void limit_memory(void)
{
    const char *mb = getenv("STRATUS_WORKER_MEMORY_MB");
    long v = mb ? strtol(mb, NULL, 10) : 0;
    if (v <= 0 || UNDER_ASAN) /* ASan needs a huge address space; the host watches RSS */
        return;
    struct rlimit rl = {(rlim_t)v << 20, (rlim_t)v << 20};
    setrlimit(RLIMIT_AS, &rl);
}

int cmd_worker(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--handler")) /* a custom handler's trampoline */
        return custom_exec(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "--guard")) /* the host's process guardian */
        return child_guard_main();
    const char *fdv = getenv("STRATUS_WORKER_FD");
    if (!fdv) {
        fprintf(stderr, "stratus worker: this command is started by the host, not by hand\n");
        return 2;
    }
    W.fd = atoi(fdv);
    /* `--exec PROGRAM ARGS...`: set up, then become PROGRAM (an
     * interpreter running its worker shim) with the channel on fd 3. */
    char **exec_argv = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--exec") == 0 && i + 1 < argc) {
            exec_argv = argv + i + 1;
            break;
        }
    if (getenv("STRATUS_FORK_SERVER")) {
        forkserver_main(W.fd); /* returns in each forked worker */
        W.fd = 3;
        /* Show as a plain worker in ps: blank "--fork-server" in place. */
        for (int i = 1; i < argc && !exec_argv; i++)
            memset(argv[i], ' ', strlen(argv[i]));
    }
    /* Die with the host; never gain privileges; batch scheduling; cap
     * memory. All of it survives an exec. */
    if (child_launch_prepare(0, 0) != 0)
        return 0;
    limit_memory();
    if (exec_argv) {
        unsetenv("STRATUS_WORKER_MEMORY_MB");
        signal(SIGPIPE, SIG_DFL); /* an ignored signal would survive the exec */
        execvp(exec_argv[0], exec_argv);
        fprintf(stderr, "stratus worker: cannot run %s: %s\n", exec_argv[0], strerror(errno));
        return 127;
    }
    signal(SIGPIPE, SIG_IGN);

    const char *root = getenv("STRATUS_APP_ROOT");
    W.app.root = (char *)(root ? root : ".");
    W.app.route_prefix = (char *)"api";
    buf_init(&W.out, OUT_MAX);
    buf_init(&W.meta, FRAME_MAX_META);
    arena_init(&W.arena, 16384);
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_set_sink(log_sink, NULL);

    buf_t hello;
    buf_init(&hello, 4096);
    /* One invocation at a time, but many may wait in the socket: the host
     * then sends a whole batch per wake-up, answered with one write. */
    buf_printf(&hello, "{\"runtime\":\"native\",\"protocol\":%d,\"pid\":%d,"
                       "\"concurrency\":1000,\"sequential\":true}",
               FRAME_PROTOCOL_VERSION, (int)getpid());
    frame_encode(&W.out, FRAME_HELLO, 0, hello.p, hello.len, NULL, 0);
    buf_free(&hello);
    flush_out();

    frame_decoder_t dec;
    frame_decoder_init(&dec, FRAME_FROM_HOST);
    char *chunk = malloc(READ_CHUNK);
    if (!chunk)
        return 1;
    while (!W.shutdown) {
        ssize_t n = read(W.fd, chunk, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the host closed the socket */
        frame_decoder_feed(&dec, chunk, (size_t)n);
        frame_t f;
        int rc;
        while ((rc = frame_decoder_next(&dec, &f)) == 1)
            handle(&f);
        if (rc < 0) {
            fprintf(stderr, "stratus worker: bad frame from the host: %s\n",
                    frame_decoder_error(&dec));
            break;
        }
        flush_out();
    }
    flush_out();
    frame_decoder_free(&dec);
    free(chunk);
    buf_free(&W.out);
    buf_free(&W.meta);
    arena_free(&W.arena);
    for (size_t i = 0; i < W.nfunctions; i++) {
        native_close(W.functions[i]);
        free(W.functions[i]->name);
        free(W.functions[i]->script_file);
        free(W.functions[i]->entry_point);
        free(W.functions[i]);
    }
    free(W.functions);
    return 0;
}
