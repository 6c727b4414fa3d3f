/*
 * products -- route parameters and a JSON answer:
 *   GET /api/products/books      -> every book
 *   GET /api/products/books/42   -> book 42
 * authLevel is "function": with `stratus start --enable-auth` or `stratus
 * host`, pass a key as ?code=... or the x-functions-key header.
 */
#include <stratus.h>

int products(stratus_ctx *ctx)
{
    const char *category = stratus_req_param(ctx, "category");
    const char *id = stratus_req_param(ctx, "id");
    stratus_log(ctx, STRATUS_LOG_INFO, "looking up %s/%s", category, id ? id : "*");
    stratus_res_header(ctx, "Content-Type", "application/json");
    if (id)
        return stratus_res_printf(ctx, "{\"category\":\"%s\",\"id\":%s}\n", category, id);
    return stratus_res_printf(ctx, "{\"category\":\"%s\",\"items\":[]}\n", category);
}
