/*
 * lambda_event.h -- what a Lambda function receives and answers, as pure
 * functions of their input (no process, socket or loop): the API Gateway
 * REST proxy event (payload format 1.0) built from an HTTP invocation, the
 * proxy result mapped back onto the invocation's response, and the error
 * document a runtime posts to /error or /init/error.
 *
 * Everything here reads what it is given and writes into the caller's
 * buffer or the invocation; nothing keeps state between calls.
 */
#ifndef STRATUS_LAMBDA_EVENT_H
#define STRATUS_LAMBDA_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/invocation.h"
#include "../util/buf.h"
#include "../util/sv.h"

/* Lambda's limit on a synchronous invocation's event and response. */
#define LAMBDA_MAX_PAYLOAD ((size_t)6 * 1024 * 1024)

/* Lambda's (soft) limit on a streamed response (Response-Mode streaming). */
#define LAMBDA_MAX_STREAM_PAYLOAD ((size_t)20 * 1024 * 1024)

/* The Content-Type of a streamed response that starts with a prelude
 * (awslambda.HttpResponseStream.from), and the NUL bytes after it. */
#define LAMBDA_HTTP_INTEGRATION_TYPE "application/vnd.awslambda.http-integration-response"
#define LAMBDA_PRELUDE_SEPARATOR 8

/* The stage and account that events and ARNs name. */
#define LAMBDA_STAGE "$default"
#define LAMBDA_ACCOUNT_ID "000000000000"

/* Append to out the API Gateway proxy event of an HTTP invocation
 * (inv->req set): resource (the route template in API Gateway's notation),
 * path (decoded), httpMethod, headers and multiValueHeaders,
 * queryStringParameters and multiValueQueryStringParameters (decoded; null
 * when there is no query), pathParameters (null when none), stageVariables
 * (null), requestContext, body (null when empty) and isBase64Encoded
 * (true unless the body is UTF-8 text of a textual or absent Content-Type).
 * route is the route template without the prefix (function.json "route",
 * or the function name), prefix the route prefix ("" for none), now_ms the
 * Unix time of the request in milliseconds. 0, or -1 when out reached its
 * maximum (the event is too large) or memory ran out. */
int lambda_event_http(buf_t *out, invocation_t *inv, const char *prefix, const char *route,
                      uint64_t now_ms);

/* The same as an API Gateway HTTP API event (payload format 2.0, as
 * function URLs send it too): version, routeKey ("ANY /api/items/{id}"),
 * rawPath, rawQueryString, cookies (left out when none), headers (names
 * in lower case, repeated values joined with commas, no Cookie),
 * queryStringParameters (values joined with commas; left out when none),
 * pathParameters (left out when none), requestContext (http.method, path,
 * protocol, sourceIp, userAgent; requestId, routeKey, stage, time,
 * timeEpoch, ...), body (left out when empty), isBase64Encoded. */
int lambda_event_http_v2(buf_t *out, invocation_t *inv, const char *prefix, const char *route,
                         uint64_t now_ms);

/* Append the event of an invocation without an HTTP request: its trigger
 * data when that is a JSON document, else the data as a JSON string. 0 or
 * -1 as above. */
int lambda_event_raw(buf_t *out, const invocation_t *inv);

/* Map an API Gateway proxy result (len bytes of JSON, need not be
 * NUL-terminated) onto inv: status from statusCode (an integer 200-599,
 * or a string of one), headers from headers and multiValueHeaders (a name
 * in both takes the multiValueHeaders values), Content-Type
 * application/json when none is given, body (base64-decoded when
 * isBase64Encoded is true). Returns 0, or -1 with err set to a message
 * starting "Malformed Lambda proxy response: " and naming the field; then
 * inv's response is left empty (status 200, no headers, no body). */
int lambda_proxy_result(invocation_t *inv, const char *json, size_t len, char *err,
                        size_t errlen);

/* The same for an HTTP API (payload format 2.0): a JSON object with a
 * statusCode is a proxy result as above, with `cookies` (a list of
 * Set-Cookie values) and without multiValueHeaders; any other JSON (an
 * object without statusCode, a string, a number) is the body of a 200
 * application/json answer, as HTTP APIs take it. */
int lambda_proxy_result_v2(invocation_t *inv, const char *json, size_t len, char *err,
                           size_t errlen);

/* Map a streamed response (len bytes of body, posted with
 * Lambda-Runtime-Function-Response-Mode: streaming and this Content-Type)
 * onto inv, as a function URL in RESPONSE_STREAM mode does, whatever the
 * event's payload format: with LAMBDA_HTTP_INTEGRATION_TYPE the body is a
 * JSON prelude ({statusCode, headers, cookies}, each optional: 200 and no
 * headers by default; cookies become Set-Cookie), 8 NUL bytes and the
 * response body (an empty stream has the defaults); else the answer is 200
 * with that Content-Type (application/octet-stream when none) and the body
 * as it is. Returns 0, or -1 with err set to a message starting
 * "Malformed Lambda streaming response: " that says what is wrong; then
 * inv's response is left empty. */
int lambda_stream_result(invocation_t *inv, sv_t content_type, const char *body, size_t len,
                         char *err, size_t errlen);

/* Describe an error document posted by a runtime ({"errorMessage",
 * "errorType", "stackTrace"} -- or "trace", as the Node.js client names
 * it -- a list of lines or one string; any other text is taken as the message) as
 * "errorType: errorMessage" in out. type_header is the
 * Lambda-Runtime-Function-Error-Type header (used when the document has
 * no errorType), may be empty. When trace is not NULL it receives the
 * stack trace, one frame a line ("" when none). Control characters become
 * spaces in out; both are cut to their size. */
void lambda_error_describe(const char *json, size_t len, sv_t type_header, char *out, size_t n,
                           char *trace, size_t tn);


/* The Root of an X-Ray trace header (X-Amzn-Trace-Id, as API Gateway and
 * X-Ray-instrumented callers send it): "1-" 8 hex "-" 24 hex into root
 * (36 bytes with its NUL), and Sampled=1 into *sampled. 0, or -1 without a
 * valid one. */
int lambda_xray_root(sv_t h, char *root, int *sampled);

#endif
