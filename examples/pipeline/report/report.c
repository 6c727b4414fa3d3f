/*
 * report -- a timer (every 30 seconds, from the REPORT_SCHEDULE setting)
 * that logs its schedule status; IsPastDue is true when the host was down
 * at a scheduled time.
 */
#include <string.h>

#include <stratus.h>

int report(stratus_ctx *ctx)
{
    size_t len;
    const char *info = stratus_trigger_data(ctx, &len);
    stratus_log(ctx, STRATUS_LOG_INFO, "pipeline report%s: %s",
                strstr(info, "\"IsPastDue\":true") ? " (late: a run was missed)" : "", info);
    return 0;
}
