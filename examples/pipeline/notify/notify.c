/*
 * notify -- runs for each message in the "processed" queue. The message is
 * JSON, so its properties are binding data: {name} in the blob input's path
 * reads the result file that process wrote for that upload.
 */
#include <stratus.h>

int notify(stratus_ctx *ctx)
{
    size_t len;
    const char *result = stratus_input(ctx, "result", &len);
    stratus_log(ctx, STRATUS_LOG_INFO, "upload '%s' is done (message %s, try %s): %s",
                stratus_trigger_meta(ctx, "name"), stratus_trigger_meta(ctx, "Id"),
                stratus_trigger_meta(ctx, "DequeueCount"),
                result ? result : "(no result file)");
    return 0;
}
