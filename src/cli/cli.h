/*
 * cli.h -- the sub-commands of the stratus command line.
 *
 * Each command takes the arguments after its own name (argv[0] is the
 * command name) and returns the process exit code: 0 success, 1 failure,
 * 2 bad usage. Every command answers --help / -h with its usage on stdout.
 */
#ifndef STRATUS_CLI_H
#define STRATUS_CLI_H

#include <stddef.h>

#define STRATUS_VERSION "0.1.0"

int cmd_init(int argc, char **argv);
int cmd_new(int argc, char **argv);
int cmd_start(int argc, char **argv);  /* development host */
int cmd_host(int argc, char **argv);   /* production host */
int cmd_invoke(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_blob(int argc, char **argv);
int cmd_usage(int argc, char **argv);
int cmd_logs(int argc, char **argv);        /* the live log of a running host */
int cmd_invocations(int argc, char **argv); /* its invocation history */
int cmd_templates(int argc, char **argv);
int cmd_settings(int argc, char **argv);   /* local.settings.json Values */
int cmd_extensions(int argc, char **argv); /* Core Tools' installer: nothing to do */
int cmd_worker(int argc, char **argv);  /* started by the host only */
/* Make the process die with the host, then execute a Lambda bootstrap
 * (runtimes/lambda_proc.c; started by the host only). */
int cmd_lambda_bootstrap(int argc, char **argv);

/* When arg (possibly "--opt=value") is an option of Azure Functions Core
 * Tools' `func CMD` that Stratus does not have, print on stderr what to do
 * instead and return 2 (bad usage); else return 0 and print nothing. */
int cli_core_tools_option(const char *cmd, const char *arg);

/* The same for a command of `func` that Stratus does not have (`azure`,
 * `kubernetes`, ...): 2 after the advice, or 0. */
int cli_core_tools_command(const char *name);

/* 1 when argv[i] is "--help" or "-h" for some i. */
int cli_wants_help(int argc, char **argv);

/* The port a running host of the app in dir most likely listens on:
 * local.settings.json Host.LocalHttpPort, else 7071. */
int cli_app_port(const char *dir);

/* The master key for talking to the admin API of the app in dir:
 * STRATUS_MASTER_KEY, else dir/.stratus/secrets/host.json masterKey, else
 * NULL. The caller frees the result. */
char *cli_master_key(const char *dir);

/* ---- helpers shared by the commands (src/cli/util.c) ---------------------- */

struct httpc_res;

/* Option values: when argv[*i] is `name` (e.g. "--port") or "name=value",
 * stores the value (the next argument, or the text after '=') in *value,
 * moves *i to the last argument used and returns 1. Returns 0 when argv[*i]
 * is something else, and -1 after printing "stratus CMD: option NAME needs
 * a value" on stderr when the value is missing. */
int cli_opt_value(int argc, char **argv, int *i, const char *cmd, const char *name,
                  const char **value);

/* Print "stratus CMD: unknown option 'ARG'" and a --help hint on stderr;
 * returns 2 (the exit code for bad usage). */
int cli_bad_option(const char *cmd, const char *arg);

/* 1 when arg looks like an option ("-x", "--xyz"); "-" alone is not one. */
int cli_is_option(const char *arg);

/* 1 when name is a valid function name (^[a-z][a-z0-9_-]{0,127}$, case-
 * insensitive, not "host"), else 0. */
int cli_valid_function_name(const char *name);

/* Where a running host's admin API is: the app folder (for the port and
 * the master key; NULL means "."), the address (NULL means 127.0.0.1) and
 * the port (0 means cli_app_port(app)). */
typedef struct cli_target {
    const char *app;
    const char *host;
    int port;
} cli_target_t;

/* Handle --app DIR, --host ADDR and --port N at argv[*i] like
 * cli_opt_value(): 1 consumed, 0 not one of them, -1 error printed. */
int cli_target_option(int argc, char **argv, int *i, const char *cmd, cli_target_t *t);

/* Call the admin API of the host at t: method and path (already escaped),
 * an optional JSON body, and the master key (cli_master_key) as
 * x-functions-key when one is known. Returns 0 with *res filled (free it
 * with httpc_res_free; any status counts), or -1 after printing why on
 * stderr, e.g. "stratus invoke: cannot connect to 127.0.0.1:7071:
 * Connection refused (is `stratus start` running?)". */
int cli_admin_request(const cli_target_t *t, const char *cmd, const char *method,
                      const char *path, const char *json, struct httpc_res *res);

/* One call of the admin API, for cli_admin_call(). */
typedef struct cli_call {
    const char *method;       /* "GET", "PUT", ... */
    const char *path;         /* already escaped, query string included */
    const char *accept;       /* NULL: application/json */
    const char *content_type; /* NULL: no Content-Type */
    const void *body;         /* NULL for none */
    size_t body_len;
    size_t max_response;      /* response body limit; 0: the client's 16 MiB */
} cli_call_t;

/* The work of cli_admin_request() for any body, printing nothing: returns
 * HTTPC_OK with *res filled, or an HTTPC_ERR_* code (http/client.h) with a
 * one-line message in err. */
int cli_admin_call(const cli_target_t *t, const cli_call_t *call, struct httpc_res *res,
                   char *err, size_t errlen);

/* 1 when t names this machine (no --host, a 127.x address, ::1 or
 * localhost): a command may then work on the app's files directly when no
 * host answers. */
int cli_target_is_local(const cli_target_t *t);

struct buf;

/* Read all of path ("-" for standard input) into b, up to b's maximum.
 * 0, or -1 after printing why on stderr ("stratus CMD: cannot open ..."). */
int cli_read_file(const char *cmd, const char *path, struct buf *b);

/* Create dir and its missing parents (like mkdir -p). 0, or -1 with errno
 * set (ENOTDIR when dir or a parent is not a folder). */
int cli_mkdir_p(const char *dir);

/* ---- working without a running host (src/cli/local.c) --------------------- */

struct store;

/* Open the default store of the app in dir (AzureWebJobsStorage, as the
 * host resolves it) for synchronous calls, and the app's blob root, for
 * commands that run while no host does: the store's lock lets only one
 * process in, so this fails while a host runs the app. On success returns
 * 0 with *st (close it with store_close) and, when blob_root is not NULL,
 * *blob_root (free it) set; else prints why on stderr ("stratus CMD: ...")
 * and returns -1. */
int cli_local_open(const char *cmd, const char *dir, struct store **st, char **blob_root);
/* A GET whose 2xx answer streams: its body goes to on_body as it arrives
 * (see httpc_stream), without a time limit, until the host ends it or
 * on_body returns nonzero. Otherwise as cli_admin_request. */
int cli_admin_stream(const cli_target_t *t, const char *cmd, const char *path,
                     int (*on_body)(void *data, const char *p, size_t n), void *data,
                     struct httpc_res *res);

/* "404 Not Found": the code and the reason phrase the server sent, or the
 * standard one when it sent none. Written into out, which is returned. */
const char *cli_status_text(const struct httpc_res *res, char *out, size_t outlen);

/* Print on stderr that WHAT failed with the response's status and body
 * (its "message"/"error" when the body is JSON), plus advice for 401, 403
 * and 404 where it helps. */
void cli_print_http_error(const char *cmd, const char *what, const cli_target_t *t,
                          const struct httpc_res *res);

/* Percent-escape one path segment (everything but unreserved characters)
 * into out. 0, or -1 when out is too small. */
int cli_path_escape(const char *seg, char *out, size_t outlen);

#endif
