/*
 * local.c -- the app's store and blob root opened by the command line
 * itself, for `stratus queue` and `stratus blob` when no host is running
 * (see cli_local_open in cli.h).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

#include "../core/app.h"
#include "../core/trigger.h"
#include "../store/store.h"

int cli_local_open(const char *cmd, const char *dir, store_t **st, char **blob_root)
{
    const char *root = dir && *dir ? dir : ".";
    app_t *app = NULL;
    char err[1024];
    *st = NULL;
    if (blob_root)
        *blob_root = NULL;
    if (app_load(root, NULL, &app, err, sizeof err) != 0) {
        fprintf(stderr, "stratus %s: cannot load the app in '%s': %s\n", cmd, root, err);
        return -1;
    }
    int azure;
    const char *url = binding_connection_url(app, NULL, &azure, err, sizeof err);
    char serr[STORE_ERR_LEN + 256];
    int rc = url ? store_open(url[0] ? url : NULL, app->root, NULL, st, serr, sizeof serr)
                 : STORE_EINVAL;
    if (!url) {
        fprintf(stderr, "stratus %s: %s\n", cmd, err);
    } else if (rc == STORE_ELOCKED) {
        fprintf(stderr, "stratus %s: %s\n  A host is running this app, but not where the "
                        "command looked: pass its address with --port (and --host).\n",
                cmd, serr);
    } else if (rc != STORE_OK) {
        fprintf(stderr, "stratus %s: %s\n", cmd, serr);
    } else if (blob_root && !(*blob_root = binding_blob_root_of(app, *st))) {
        fprintf(stderr, "stratus %s: out of memory\n", cmd);
        store_close(*st);
        *st = NULL;
        rc = STORE_EIO;
    }
    app_free(app);
    return rc == STORE_OK ? 0 : -1;
}
