/*
 * stratus.h -- the public C API of Stratus native functions.
 *
 * A native function is a C function with this signature, exported from a
 * shared object that function.json names with "scriptFile":
 *
 *     #include <stratus.h>
 *
 *     int hello(stratus_ctx *ctx)
 *     {
 *         const char *name = stratus_req_query(ctx, "name");
 *         stratus_res_header(ctx, "Content-Type", "text/plain");
 *         stratus_res_printf(ctx, "Hello, %s!\n", name ? name : "world");
 *         return 0;
 *     }
 *
 * The symbol looked up is "entryPoint" from function.json, or the function
 * (folder) name when entryPoint is absent. Returning non-zero fails the
 * invocation: an HTTP caller then gets 500 with the invocation id.
 *
 * Lifetimes: every pointer these calls return belongs to the invocation and
 * stays valid until the function returns. Strings are NUL-terminated; the
 * request body is also NUL-terminated (one byte past *len) for convenience.
 * Nothing returned here may be freed by the caller.
 *
 * ABI: including this header defines the weak symbol stratus_abi_version in
 * the shared object. The host refuses a shared object whose version differs
 * from its own, with a message naming both, so an old .so fails cleanly
 * instead of crashing. Calls are resolved against the host at load time.
 */
#ifndef STRATUS_H
#define STRATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATUS_ABI_VERSION 1

typedef struct stratus_ctx stratus_ctx;

/* Log levels for stratus_log(), ordered as Azure's LogLevel. */
typedef enum stratus_log_level {
    STRATUS_LOG_TRACE = 0,
    STRATUS_LOG_DEBUG = 1,
    STRATUS_LOG_INFO = 2,
    STRATUS_LOG_WARN = 3,
    STRATUS_LOG_ERROR = 4,
    STRATUS_LOG_CRITICAL = 5
} stratus_log_level;

/* The entry point type: return 0 on success, non-zero on failure. */
typedef int (*stratus_function_fn)(stratus_ctx *ctx);

/* ---- invocation ---------------------------------------------------------- */

/* The invocation id (a UUID string). */
const char *stratus_invocation_id(stratus_ctx *ctx);

/* The invocation's W3C traceparent ("00-<trace id>-<span id>-<flags>"):
 * the HTTP caller's trace id when it sent a valid traceparent header, else
 * a new trace; the span id is the invocation's own. Pass it on as the
 * traceparent header of outgoing calls. Valid during the invocation. */
const char *stratus_traceparent(stratus_ctx *ctx);

/* The function's name as in its folder. */
const char *stratus_function_name(stratus_ctx *ctx);

/* The trigger's data: for an HTTP trigger the request body, for an
 * invocation through the admin API the "input" string. Never NULL; *len (if
 * len is not NULL) receives its length. */
const char *stratus_trigger_data(stratus_ctx *ctx, size_t *len);

/* An app setting (from local.settings.json Values or the environment), or
 * NULL when unset. */
const char *stratus_setting(stratus_ctx *ctx, const char *name);

/* ---- HTTP request (NULL or empty when not started by HTTP) --------------- */

/* The method: "GET", "POST" and so on. */
const char *stratus_req_method(stratus_ctx *ctx);

/* The decoded path, without the query string, e.g. "/api/hello". */
const char *stratus_req_path(stratus_ctx *ctx);

/* The raw query string without "?", or "" when there is none. */
const char *stratus_req_query_string(stratus_ctx *ctx);

/* The first value of query parameter `name` (decoded), or NULL. */
const char *stratus_req_query(stratus_ctx *ctx, const char *name);

/* The value of request header `name` (case-insensitive), or NULL. Repeated
 * headers are joined with ", ". */
const char *stratus_req_header(stratus_ctx *ctx, const char *name);

/* Iterate request headers: returns 0 and fills name and value for index i,
 * or -1 past the end. */
int stratus_req_header_at(stratus_ctx *ctx, size_t i, const char **name,
                          const char **value);

/* The value of route parameter `name` (case-insensitive), or NULL when the
 * route has no such parameter or an optional one was absent. */
const char *stratus_req_param(stratus_ctx *ctx, const char *name);

/* The request body; *len receives its length. Never NULL. */
const char *stratus_req_body(stratus_ctx *ctx, size_t *len);

/* ---- HTTP response ------------------------------------------------------- */

/* Set the status code (default 200). Returns 0, or -1 for a code outside
 * 200..599 (interim 1xx codes are not final answers). */
int stratus_res_status(stratus_ctx *ctx, int status);

/* Add a response header. A name that is not an RFC 9110 token (letters,
 * digits and !#$%&'*+-.^_`|~) or a value with a control character other
 * than HTAB is refused (-1).
 * Content-Length, Transfer-Encoding, Connection and Date are managed by the
 * host and are ignored here. */
int stratus_res_header(stratus_ctx *ctx, const char *name, const char *value);

/* Append bytes to the response body. Returns 0, or -1 past the response
 * size limit. */
int stratus_res_body(stratus_ctx *ctx, const void *data, size_t len);

/* Append formatted text to the response body. Returns 0 or -1. */
int stratus_res_printf(stratus_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- triggers and bindings (queue, blob, timer, ...) ----------------------
 *
 * The trigger's payload is stratus_trigger_data(): a queue message's body,
 * a blob's bytes, the TimerInfo JSON of a timer. Binding data is the
 * trigger's metadata, by name as in Azure: a queue message's "Id",
 * "DequeueCount", "InsertionTime", ...; a blob's "BlobTrigger", "Uri" and
 * the captures of its path pattern ("name" for "images/{name}"); the
 * properties of a JSON payload. Names compare case-insensitively.
 */

/* A value of the binding data as text (numbers and booleans as their JSON
 * text, objects and arrays as JSON), or NULL when there is none. */
const char *stratus_trigger_meta(stratus_ctx *ctx, const char *name);

/* The value of input binding `name` (a blob "in" binding): its bytes,
 * NUL-terminated, with the length in *len when len is not NULL. NULL when
 * the function has no such input or it found nothing (no such blob). */
const void *stratus_input(stratus_ctx *ctx, const char *name, size_t *len);

/* Set output binding `name` ("$return" too) to len bytes, replacing an
 * earlier value. Outputs are written by the host after the function
 * returned 0, never when it failed. 0, or -1 (bad arguments, no memory). */
int stratus_output(stratus_ctx *ctx, const char *name, const void *data, size_t len);

/* Add one more value to output binding `name`: each becomes its own queue
 * message (Azure's ICollector). 0 or -1. */
int stratus_output_add(stratus_ctx *ctx, const char *name, const void *data, size_t len);

/* Retries of this invocation before this attempt (0 on the first try) under
 * the function's retry policy. */
int stratus_retry_count(stratus_ctx *ctx);

/* ---- logging ------------------------------------------------------------- */

/* Write a log line attributed to this invocation. */
void stratus_log(stratus_ctx *ctx, stratus_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- ABI marker (do not use directly) ------------------------------------ */

__attribute__((weak, visibility("default"))) extern const int stratus_abi_version;
__attribute__((weak, visibility("default"))) const int stratus_abi_version = STRATUS_ABI_VERSION;

#ifdef __cplusplus
}
#endif

#endif /* STRATUS_H */
