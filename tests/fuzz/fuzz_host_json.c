/*
 * fuzz_host_json.c -- libFuzzer driver for an app's own settings files:
 * each input is the text of a host.json, optionally followed by a line
 * "---" and the text of a local.settings.json (whose Values may carry
 * AzureFunctionsJobHost__ overrides and %NAME% values for the custom
 * handler section). Both are written into a temp app folder (created once
 * per process, with one function "f") and loaded with app_load().
 *
 * Checked: a load that fails says why and names the file at fault; a load
 * that succeeds leaves typed settings within their documented ranges and a
 * custom handler section without holes.
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
static char host_path[128];
static char settings_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[256];
    root = tmpapp_create("hj");
    snprintf(host_path, sizeof host_path, "%s/host.json", root);
    snprintf(settings_path, sizeof settings_path, "%s/local.settings.json", root);
    snprintf(path, sizeof path, "%s/f", root);
    mkdir(path, 0755);
    static const char fj[] = "{\"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", "
                             "\"name\": \"req\"}, {\"type\": \"http\", \"direction\": \"out\", "
                             "\"name\": \"res\"}]}";
    snprintf(path, sizeof path, "%s/f/function.json", root);
    tmpapp_write(path, (const uint8_t *)fj, sizeof fj - 1);
    return 0;
}

static const uint8_t *find_separator(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n---\n";
    if (size < sizeof sep - 1)
        return NULL;
    for (size_t i = 0; i + sizeof sep - 1 <= size; i++)
        if (memcmp(data + i, sep, sizeof sep - 1) == 0)
            return data + i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = find_separator(data, size);
    if (sep) {
        tmpapp_write(host_path, data, (size_t)(sep - data));
        tmpapp_write(settings_path, sep + 5, size - (size_t)(sep - data) - 5);
    } else {
        tmpapp_write(host_path, data, size);
        unlink(settings_path);
    }

    char err[1024] = "";
    app_t *app = NULL;
    int rc = app_load(root, NULL, &app, err, sizeof err);
    if (rc != 0) {
        if (app || !err[0])
            abort();
        if (!strstr(err, "host.json") && !strstr(err, "local.settings.json"))
            abort();
        return 0;
    }
    if (!app)
        abort();

    if (!app->route_prefix || app->function_timeout_ms == 0 || app->function_timeout_ms < -1)
        abort();
    if (app->scale_min_instances < 0 || app->scale_max_instances < 1 ||
        app->scale_min_instances > app->scale_max_instances || app->scale_concurrency < 1)
        abort();
    if (app->header_timeout_ms <= 0 || app->max_connections < 1 || app->max_request_body < 0)
        abort();

    const custom_handler_conf_t *c = &app->custom_handler;
    if (!c->section || !c->working_dir || c->working_dir[0] != '/')
        abort();
    if (c->narguments && !c->arguments)
        abort();
    for (size_t i = 0; i < c->narguments; i++)
        if (!c->arguments[i])
            abort();
    if (c->pipeline_depth < 1 || c->pipeline_depth > APP_MAX_CUSTOM_PIPELINE ||
        c->startup_timeout_ms <= 0)
        abort();
    for (size_t i = 0; i < app->nlog_levels; i++)
        if (!app->log_categories[i])
            abort();
    for (size_t i = 0; i < app->nsettings; i++)
        if (!app->settings[i].name || !app->settings[i].value)
            abort();

    app_free(app);
    return 0;
}
