/*
 * upload -- POST /api/upload/{name}: the request body becomes the blob
 * uploads/{name} (the "upload" output binding), written by the host once
 * this function has returned 0.
 */
#include <stratus.h>

int upload(stratus_ctx *ctx)
{
    size_t len;
    const char *body = stratus_req_body(ctx, &len);
    const char *name = stratus_req_param(ctx, "name");
    if (len == 0) {
        stratus_res_status(ctx, 400);
        stratus_res_printf(ctx, "send the file as the request body\n");
        return 0;
    }
    if (stratus_output(ctx, "upload", body, len) != 0)
        return 1;
    stratus_res_status(ctx, 202);
    stratus_res_header(ctx, "Content-Type", "text/plain; charset=utf-8");
    stratus_res_printf(ctx, "accepted uploads/%s (%zu bytes)\n", name, len);
    return 0;
}
