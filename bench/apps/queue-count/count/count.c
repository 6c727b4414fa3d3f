/*
 * count.c -- the function of bench/queue: one byte appended to the file
 * that app setting COUNT_FILE names per message, so the benchmark sees how
 * many completed from the file's size (appends from several worker
 * processes do not overwrite each other).
 */
#include <fcntl.h>
#include <stratus.h>
#include <unistd.h>

int count(stratus_ctx *ctx)
{
    static int fd = -1;
    size_t len;
    stratus_trigger_data(ctx, &len);
    if (fd < 0) {
        const char *path = stratus_setting(ctx, "COUNT_FILE");
        fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
        if (fd < 0)
            return 1;
    }
    return len > 0 && write(fd, "x", 1) == 1 ? 0 : 1;
}
