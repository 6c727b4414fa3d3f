/*
 * fuzz_function_json.c -- libFuzzer driver for function.json validation:
 * each input is the text of a function.json, validated by
 * app_parse_function_json() against a temp app (a valid host.json and a
 * function folder "f" holding f.so and f.c) created once per process.
 * Run as native (scriptFile required) and as a custom-handler app with
 * allow_build, so both scriptFile paths are exercised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/app.h"
#include "fuzz_tmpapp.h"

static const char *root;
static char dir[128];

static void write_file(const char *path, const char *text)
{
    tmpapp_write(path, text, strlen(text));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[256];
    root = tmpapp_create("fj");
    snprintf(path, sizeof path, "%s/host.json", root);
    write_file(path, "{\"version\": \"2.0\"}");
    snprintf(dir, sizeof dir, "%s/f", root);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/f.so", dir);
    write_file(path, "");
    snprintf(path, sizeof path, "%s/f.c", dir);
    write_file(path, "int f(void *ctx) { return 0; }\n");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    app_t *app = NULL;
    app_load_opts_t build = {.allow_build = 1};

    if (app_load(root, NULL, &app, err, sizeof err) != 0) {
        fprintf(stderr, "app_load: %s\n", err);
        abort();
    }
    int rc = app_parse_function_json(app, "f", dir, (const char *)data, size, NULL);
    if (rc == 0 && (app->nfunctions != 1 || !app->functions[0]->trigger))
        abort();
    if (rc != 0 && (app->nerrors != 1 || strncmp(app->errors[0].message, "f/function.json", 15)))
        abort();

    app->worker_runtime = strdup("custom");
    app_parse_function_json(app, "g", dir, (const char *)data, size, &build);
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        if (fn->http && fn->trigger->conf != fn->http)
            abort();
        for (size_t j = 0; j < fn->nbindings; j++)
            if (!fn->bindings[j].kind || !fn->bindings[j].name)
                abort();
    }
    if (app->nfunctions)
        app_drop_function(app, app->functions[0]);
    app_free(app);
    return 0;
}
