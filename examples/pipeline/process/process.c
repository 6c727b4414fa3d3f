/*
 * process -- runs for every new or changed blob in uploads/ (uploaded
 * through the upload function, `stratus blob put`, or copied into the
 * folder by any program). It counts the file's bytes, lines and words,
 * writes them as results/{name}.json and enqueues a message for notify.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <stratus.h>

int process(stratus_ctx *ctx)
{
    size_t len, lines = 0, words = 0;
    const char *data = stratus_trigger_data(ctx, &len);
    const char *name = stratus_trigger_meta(ctx, "name");
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\n')
            lines++;
        if (isspace(c)) {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
    }
    char json[512];
    int n = snprintf(json, sizeof json,
                     "{\"name\": \"%.200s\", \"bytes\": %zu, \"lines\": %zu, \"words\": %zu}",
                     name ? name : "", len, lines, words);
    if (n < 0 || (size_t)n >= sizeof json)
        return 1;
    stratus_log(ctx, STRATUS_LOG_INFO, "processed uploads/%s: %zu bytes, %zu lines, %zu words",
                name ? name : "?", len, lines, words);
    if (stratus_output(ctx, "result", json, (size_t)n) != 0 ||
        stratus_output(ctx, "done", json, (size_t)n) != 0)
        return 1;
    return 0;
}
