/*
 * hello -- the smallest HTTP function: GET /api/hello?name=Ada
 */
#include <stratus.h>

int hello(stratus_ctx *ctx)
{
    const char *name = stratus_req_query(ctx, "name");
    const char *greeting = stratus_setting(ctx, "GREETING");
    stratus_res_header(ctx, "Content-Type", "text/plain; charset=utf-8");
    if (!name) {
        static const char text[] = "hello\n";
        return stratus_res_body(ctx, text, sizeof text - 1);
    }
    return stratus_res_printf(ctx, "%s, %s!\n", greeting ? greeting : "Hello", name);
}
