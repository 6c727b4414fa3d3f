/*
 * fuzz_indexed.c -- libFuzzer driver for worker indexing's list of
 * functions (app_add_indexed): each input is the document a language
 * worker wrote in index mode, added to a temp Python app of the v2 model
 * (host.json, local.settings.json with FUNCTIONS_WORKER_RUNTIME=python and
 * a function_app.py) created once per process. Whatever the document, the
 * functions added must be whole (a trigger, named bindings, a label) and
 * every error must have a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/app.h"
#include "fuzz_tmpapp.h"

static const char *root;

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    tmpapp_write(path, text, strlen(text));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    root = tmpapp_create("ix");
    put("host.json", "{\"version\": \"2.0\"}");
    put("local.settings.json", "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"python\"}}");
    put("function_app.py", "");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    app_t *app = NULL;
    if (app_load(root, NULL, &app, err, sizeof err) != 0 || !app->index_lang) {
        fprintf(stderr, "app_load: %s\n", err);
        abort();
    }
    int rc = app_add_indexed(app, (const char *)data, size, NULL);
    if (rc != 0 && (app->nfunctions || app->nerrors != 1))
        abort();
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        if (!fn->indexed || !fn->label || !fn->config_text || !fn->trigger)
            abort();
        for (size_t j = 0; j < fn->nbindings; j++)
            if (!fn->bindings[j].kind || !fn->bindings[j].name)
                abort();
    }
    for (size_t i = 0; i < app->nerrors; i++)
        if (!app->errors[i].message || !*app->errors[i].message)
            abort();
    app_free(app);
    return 0;
}
