/*
 * settings.c -- `stratus settings` (list, get, add and delete the app
 * settings of local.settings.json, as `func settings` does) and
 * `stratus extensions` (Core Tools' extension installer, which Stratus does
 * not need: its bindings are built in).
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void settings_usage(FILE *out)
{
    fprintf(out,
            "Usage: stratus settings <action> [options]\n\n"
            "Edit the app settings in local.settings.json (its \"Values\", which the host\n"
            "exports as environment variables), as 'func settings' does.\n\n"
            "Actions:\n"
            "  list                 every setting, values masked unless --showValue\n"
            "  get NAME             print the value of a setting\n"
            "  add NAME VALUE       add a setting, or replace its value\n"
            "  delete NAME          delete a setting\n"
            "  encrypt, decrypt     Core Tools' encryption, which Stratus does not have\n\n"
            "Options:\n"
            "  --connectionString   act on \"ConnectionStrings\" instead of \"Values\"\n"
            "  --showValue          list: show the values\n"
            "  --app DIR            the app folder (default: the current folder)\n"
            "  -h, --help           show this help\n");
}

/* Load dir/local.settings.json into *root: 0 loaded, 1 missing (an empty
 * object then), -1 after a message. */
static int load(const char *path, json_t **root)
{
    json_error_t je;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        *root = json_object();
        return 1;
    }
    *root = json_load_file(path, JSON_PRESERVE_ORDER, &je);
    if (!*root) {
        fprintf(stderr, "stratus settings: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(*root)) {
        fprintf(stderr, "stratus settings: %s: not a JSON object\n", path);
        json_decref(*root);
        return -1;
    }
    return 0;
}

/* Write root to path through a temporary file, so that a host reading it
 * sees the old or the new file. 0, or -1 after a message. */
static int save(const char *path, json_t *root)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        fprintf(stderr, "stratus settings: path too long\n");
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    int ok = f && json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
             fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "stratus settings: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void print_section(const char *title, json_t *obj, int show)
{
    const char *k;
    json_t *v;
    printf("%s:\n", title);
    json_object_foreach(obj, k, v) {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
        printf("  %s = %s\n", k,
               !show ? "*****" : json_is_string(v) ? json_string_value(v) : text ? text : "?");
        free(text);
    }
}

int cmd_settings(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        settings_usage(stdout);
        return 0;
    }
    const char *app = ".", *args[3] = {NULL, NULL, NULL}, *v;
    int nargs = 0, conn = 0, show = 0, rc;
    for (int i = 1; i < argc; i++) {
        if ((rc = cli_opt_value(argc, argv, &i, "settings", "--app", &v)) ||
            (rc = cli_opt_value(argc, argv, &i, "settings", "--script-root", &v))) {
            if (rc < 0)
                return 2;
            app = *v ? v : ".";
        } else if (!strcmp(argv[i], "--connectionString")) {
            conn = 1;
        } else if (!strcmp(argv[i], "--showValue")) {
            show = 1;
        } else if (cli_is_option(argv[i])) {
            return cli_bad_option("settings", argv[i]);
        } else if (nargs < 3) {
            args[nargs++] = argv[i];
        } else {
            fprintf(stderr, "stratus settings: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    const char *action = args[0];
    static const struct {
        const char *name;
        int nargs;
        const char *usage;
    } actions[] = {{"list", 0, "list"},         {"get", 1, "get NAME"},
                   {"add", 2, "add NAME VALUE"}, {"delete", 1, "delete NAME"},
                   {"encrypt", 0, "encrypt"},   {"decrypt", 0, "decrypt"}};
    size_t a = 0, nactions = sizeof actions / sizeof actions[0];
    while (action && a < nactions && strcmp(action, actions[a].name))
        a++;
    if (!action || a == nactions) {
        if (action)
            fprintf(stderr, "stratus settings: unknown action '%s'\n", action);
        settings_usage(stderr);
        return 2;
    }
    if (nargs - 1 != actions[a].nargs) {
        fprintf(stderr, "stratus settings: usage: stratus settings %s\n", actions[a].usage);
        return 2;
    }

    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/local.settings.json", app) >= (int)sizeof path) {
        fprintf(stderr, "stratus settings: path too long\n");
        return 1;
    }
    json_t *root;
    int missing = load(path, &root);
    if (missing < 0)
        return 1;
    if (missing && (!strcmp(action, "list") || !strcmp(action, "get"))) {
        fprintf(stderr, "stratus settings: no local.settings.json in %s ('stratus settings add' "
                        "creates it)\n", app);
        json_decref(root);
        return 1;
    }
    if (missing)
        json_object_set_new(root, "IsEncrypted", json_false());
    int encrypted = json_is_true(json_object_get(root, "IsEncrypted"));
    const char *section = conn ? "ConnectionStrings" : "Values";
    json_t *obj = json_object_get(root, section);
    if (obj && !json_is_object(obj)) {
        fprintf(stderr, "stratus settings: %s: \"%s\" is not an object\n", path, section);
        json_decref(root);
        return 1;
    }
    rc = 0;
    if (!strcmp(action, "encrypt") || (!strcmp(action, "decrypt") && encrypted)) {
        fprintf(stderr,
                "stratus settings: Stratus reads local.settings.json in plain text only and "
                "cannot %s it. %s\n",
                action,
                encrypted ? "Its values were encrypted by Core Tools with a key of the machine "
                            "that did it: run 'func settings decrypt' there, or set them again "
                            "here with 'stratus settings add'."
                          : "Keep the file out of source control ('stratus init' puts it in "
                            ".gitignore) and the production settings in the environment.");
        rc = 1;
    } else if (!strcmp(action, "decrypt")) {
        printf("%s is not encrypted: nothing to decrypt\n", path);
    } else if (!strcmp(action, "list")) {
        print_section("App Settings", json_object_get(root, "Values"), show);
        if (json_is_object(json_object_get(root, "ConnectionStrings")))
            print_section("Connection Strings", json_object_get(root, "ConnectionStrings"),
                          show);
    } else if (!strcmp(action, "get")) {
        json_t *val = json_object_get(obj, args[1]);
        if (!val) {
            fprintf(stderr, "stratus settings: no setting '%s' in %s \"%s\"\n", args[1], path,
                    section);
            rc = 1;
        } else if (json_is_string(val)) {
            printf("%s\n", json_string_value(val));
        } else {
            char *text = json_dumps(val, JSON_ENCODE_ANY);
            printf("%s\n", text ? text : "");
            free(text);
        }
    } else if (encrypted) {
        fprintf(stderr, "stratus settings: %s has \"IsEncrypted\": true, which Stratus cannot "
                        "read or write; run 'func settings decrypt' on the machine that "
                        "encrypted it\n", path);
        rc = 1;
    } else if (!strcmp(action, "add")) {
        if (!*args[1]) {
            fprintf(stderr, "stratus settings: a setting needs a name\n");
            rc = 2;
        } else {
            if (!obj) {
                obj = json_object();
                json_object_set_new(root, section, obj);
            }
            int had = json_object_get(obj, args[1]) != NULL;
            json_object_set_new(obj, args[1], json_string(args[2]));
            rc = save(path, root) ? 1 : 0;
            if (!rc)
                printf("%s %s in %s \"%s\"\n", had ? "Replaced" : "Added", args[1], path,
                       section);
        }
    } else { /* delete */
        if (json_object_del(obj, args[1]) != 0) {
            fprintf(stderr, "stratus settings: no setting '%s' in %s \"%s\"\n", args[1], path,
                    section);
            rc = 1;
        } else {
            rc = save(path, root) ? 1 : 0;
            if (!rc)
                printf("Deleted %s from %s \"%s\"\n", args[1], path, section);
        }
    }
    json_decref(root);
    return rc;
}

static void extensions_usage(FILE *out)
{
    fprintf(out, "Usage: stratus extensions install|sync [options]\n\n"
                 "Core Tools installs binding extensions with these. Stratus has its bindings\n"
                 "built in (HTTP, timer, queue and blob triggers; queue and blob bindings), so\n"
                 "there is nothing to install: both say so and succeed, whatever the options.\n");
}

int cmd_extensions(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        extensions_usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "install") && strcmp(argv[1], "sync"))) {
        if (argc >= 2)
            fprintf(stderr, "stratus extensions: unknown action '%s'\n", argv[1]);
        extensions_usage(stderr);
        return 2;
    }
    printf("Nothing to install: Stratus has its bindings built in (HTTP, timer, queue and "
           "blob triggers; queue and blob bindings) and loads no extensions. A function.json "
           "binding of another type is reported when the app loads.\n");
    return 0;
}
