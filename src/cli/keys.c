/*
 * keys.c -- `stratus keys`: list, set, generate and delete host and function
 * keys, and show the master key, through the admin API of a running host
 * (Azure's /admin/host/keys and /admin/functions/{name}/keys).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/client.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus keys <action> [options]\n\n"
            "Manage the keys of a running host through its admin API (uses the app's\n"
            "master key).\n\n"
            "Actions:\n"
            "  list                  list the host function keys, or a function's keys\n"
            "  set NAME VALUE        create or replace a key with the given value\n"
            "                        (16..256 printable characters, no spaces)\n"
            "  generate NAME         create or replace a key with a new random value\n"
            "  delete NAME           delete a key\n"
            "  master                print the master key\n\n"
            "Options:\n"
            "  --function NAME       act on the keys of this function instead of the host\n"
            "                        function keys (which work for every function)\n"
            "  --json                print the admin API's JSON answer\n"
            "  --port N              the host's port (default: local.settings.json\n"
            "                        Host.LocalHttpPort, else 7071)\n"
            "  --host ADDR           the host's address (default: 127.0.0.1)\n"
            "  --app DIR             the app folder, for the port and master key (default: .)\n"
            "  -h, --help            show this help\n\n"
            "Examples:\n"
            "  stratus keys list --function hello\n"
            "  stratus keys generate ci --function hello\n"
            "  curl \"http://localhost:7071/api/hello?code=$(stratus keys master)\"\n");
}

/* Key names as the key store accepts them: 1..128 of [A-Za-z0-9_.-]. */
static int valid_key_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 128 || !strcmp(name, ".") || !strcmp(name, ".."))
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static void print_body(const httpc_res_t *res)
{
    if (res->body_len)
        printf("%s%s", res->body, res->body[res->body_len - 1] == '\n' ? "" : "\n");
}

/* Print {"keys": [{"name", "value"}]} as two aligned columns. */
static int print_table(const httpc_res_t *res, const char *scope)
{
    json_t *root = json_loadb(res->body, res->body_len, 0, NULL);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        fprintf(stderr, "stratus keys: unexpected answer from the host (no \"keys\" list):\n");
        print_body(res);
        json_decref(root);
        return 1;
    }
    size_t width = 4, i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *name = json_string_value(json_object_get(k, "name"));
        if (name && strlen(name) > width)
            width = strlen(name);
    }
    if (json_array_size(keys) == 0) {
        printf("No %s.\n", scope);
    } else {
        printf("%-*s  %s\n", (int)width, "NAME", "VALUE");
        json_array_foreach(keys, i, k) {
            const char *name = json_string_value(json_object_get(k, "name"));
            const char *value = json_string_value(json_object_get(k, "value"));
            printf("%-*s  %s\n", (int)width, name ? name : "?", value ? value : "?");
        }
    }
    json_decref(root);
    return 0;
}

/* The "value" of a {"name", "value"} answer, or NULL. Borrowed from root. */
static const char *answer_value(json_t *root)
{
    return json_string_value(json_object_get(root, "value"));
}

int cmd_keys(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cli_target_t target = {0};
    const char *function = NULL, *pos[4] = {NULL};
    int npos = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc;
        if ((rc = cli_target_option(argc, argv, &i, "keys", &target)) != 0) {
            if (rc < 0)
                return 2;
        } else if ((rc = cli_opt_value(argc, argv, &i, "keys", "--function", &v)) != 0) {
            if (rc < 0)
                return 2;
            function = v;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("keys", argv[i]);
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "stratus keys: too many arguments\n");
            return 2;
        }
    }
    if (npos == 0) {
        fprintf(stderr, "stratus keys: which action? (list, set, generate, delete, master)\n\n");
        usage(stderr);
        return 2;
    }
    const char *action = pos[0];
    static const struct {
        const char *name;
        int nargs;          /* positional arguments after the action */
        const char *method;
    } actions[] = {{"list", 0, "GET"},      {"set", 2, "PUT"},   {"generate", 1, "POST"},
                   {"delete", 1, "DELETE"}, {"master", 0, "GET"}};
    size_t a = 0, nactions = sizeof actions / sizeof actions[0];
    while (a < nactions && strcmp(action, actions[a].name))
        a++;
    if (a == nactions) {
        fprintf(stderr,
                "stratus keys: unknown action '%s' (expected list, set, generate, delete or "
                "master)\n",
                action);
        return 2;
    }
    if (npos - 1 != actions[a].nargs) {
        fprintf(stderr, "stratus keys %s: expected %s\n", action,
                actions[a].nargs == 0   ? "no arguments"
                : actions[a].nargs == 1 ? "a key NAME"
                                        : "a key NAME and a VALUE");
        return 2;
    }
    if (function && !strcmp(action, "master")) {
        fprintf(stderr, "stratus keys master: --function does not apply (there is one master "
                        "key per host)\n");
        return 2;
    }
    if (function && !cli_valid_function_name(function)) {
        fprintf(stderr, "stratus keys: '%s' is not a valid function name\n", function);
        return 2;
    }
    const char *key = actions[a].nargs ? pos[1] : NULL;
    if (key && !valid_key_name(key)) {
        fprintf(stderr,
                "stratus keys: invalid key name '%s' (1..128 letters, digits, '_', '.' or "
                "'-')\n",
                key);
        return 2;
    }

    /* The path: the scope's keys, then the key name. */
    char path[512], scope[200];
    int n;
    if (!strcmp(action, "master"))
        n = snprintf(path, sizeof path, "/admin/host/keys/_master");
    else if (function)
        n = snprintf(path, sizeof path, "/admin/functions/%s/keys", function);
    else
        n = snprintf(path, sizeof path, "/admin/host/keys");
    if (key && n > 0 && (size_t)n + 1 < sizeof path) {
        path[n++] = '/';
        if (cli_path_escape(key, path + n, sizeof path - (size_t)n) != 0)
            n = -1;
    }
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "stratus keys: name too long\n");
        return 2;
    }
    if (function)
        snprintf(scope, sizeof scope, "keys of function %s", function);
    else
        snprintf(scope, sizeof scope, "host keys");

    char *body = NULL;
    if (!strcmp(action, "set")) {
        json_t *j = json_pack("{s:s, s:s}", "name", key, "value", pos[2]);
        body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!body) {
            fprintf(stderr, "stratus keys: the value is not valid UTF-8 text\n");
            return 2;
        }
    }

    httpc_res_t res;
    int rc = cli_admin_request(&target, "keys", actions[a].method, path, body, &res);
    free(body);
    if (rc != 0)
        return 1;

    int status = 0;
    if (res.status < 200 || res.status > 299) {
        char what[300];
        snprintf(what, sizeof what, "%s%s%s%s%s", action, key ? " key " : "", key ? key : "",
                 function ? " for function " : "", function ? function : "");
        cli_print_http_error("keys", what, &target, &res);
        if (res.status == 404 && function)
            fprintf(stderr, "  Is there a function named '%s' in the running app?\n", function);
        status = 1;
    } else if (as_json) {
        print_body(&res);
    } else if (!strcmp(action, "list")) {
        status = print_table(&res, scope);
    } else if (!strcmp(action, "delete")) {
        printf("Deleted %s key %s%s%s\n", function ? "the" : "host", key,
               function ? " of function " : "", function ? function : "");
    } else {
        json_t *root = json_loadb(res.body, res.body_len, 0, NULL);
        const char *value = answer_value(root);
        if (!strcmp(action, "master")) {
            if (value)
                printf("%s\n", value);
        } else if (!strcmp(action, "set")) {
            printf("%s %s key %s%s%s\n", res.status == 201 ? "Created" : "Updated",
                   function ? "the" : "host", key, function ? " of function " : "",
                   function ? function : "");
        } else {
            if (value)
                printf("Generated %s key %s%s%s: %s\n", function ? "the" : "host", key,
                       function ? " of function " : "", function ? function : "", value);
        }
        if (!value && strcmp(action, "set")) {
            fprintf(stderr, "stratus keys: unexpected answer from the host (no \"value\"):\n");
            print_body(&res);
            status = 1;
        }
        json_decref(root);
    }
    httpc_res_free(&res);
    return status;
}
