/*
 * templates_blob.c -- the "Blob trigger" templates of `stratus new` for the
 * native, python and node runtimes: a function run for each new or changed
 * blob of the container "samples-workitems" that logs the blob's name and
 * size, as Azure's BlobTrigger templates do, in function folders or, for the
 * Python V2 and Node.js V4 models, in code (see templates.h, docs/blob.md).
 */
#include "templates.h"

#include <stddef.h>

/* `name` is the binding's name: Azure's templates use "myblob" in Python
 * and "myBlob" elsewhere. */
#define BLOB_BINDINGS(name)                                                    \
    "    {\n"                                                                  \
    "      \"name\": \"" name "\",\n"                                           \
    "      \"type\": \"blobTrigger\",\n"                                        \
    "      \"direction\": \"in\",\n"                                            \
    "      \"path\": \"samples-workitems/{name}\",\n"                           \
    "      \"connection\": \"AzureWebJobsStorage\"\n"                           \
    "    }\n"

static const char native_c[] =
    "/*\n"
    " * {{FN}}.c -- a blob-triggered function (from the Stratus \"blob\" template).\n"
    " *\n"
    " * It runs for each new or changed blob matching \"path\" in function.json\n"
    " * (samples-workitems/{name}): a file written under the app's\n"
    " * .stratus/blobs/samples-workitems/ folder, or\n"
    " *\n"
    " *   stratus blob put samples-workitems/hello.txt hello.txt\n"
    " *\n"
    " * The host compiles this folder's .c files into {{FN}}.so when they change.\n"
    " */\n"
    "#include <stratus.h>\n"
    "\n"
    "int {{ENTRY}}(stratus_ctx *ctx)\n"
    "{\n"
    "    size_t len;\n"
    "    const char *data = stratus_trigger_data(ctx, &len); /* the blob's bytes */\n"
    "    (void)data;\n"
    "    /* {name} of the path pattern; \"BlobTrigger\" is \"samples-workitems/<name>\" */\n"
    "    const char *name = stratus_trigger_meta(ctx, \"name\");\n"
    "    stratus_log(ctx, STRATUS_LOG_INFO,\n"
    "                \"C blob trigger function processed blob Name: %s, Blob Size: %zu bytes\",\n"
    "                name ? name : \"\", len);\n"
    "    return 0;\n"
    "}\n";

static const char python_py[] =
    "\"\"\"{{FN}} -- a blob-triggered function (from the Stratus \"blob\" template).\n"
    "\n"
    "It runs for each new or changed blob matching \"path\" in function.json\n"
    "(samples-workitems/{name}): a file written under the app's\n"
    ".stratus/blobs/samples-workitems/ folder, or\n"
    "\n"
    "    stratus blob put samples-workitems/hello.txt hello.txt\n"
    "\"\"\"\n"
    "import logging\n"
    "\n"
    "import azure.functions as func\n"
    "\n"
    "\n"
    "def main(myblob: func.InputStream):\n"
    "    logging.info(\"Python blob trigger function processed blob Name: %s, \"\n"
    "                 \"Blob Size: %s bytes\", myblob.name, myblob.length)\n";

static const char node_js[] =
    "// {{FN}} -- a blob-triggered function (from the Stratus \"blob\" template).\n"
    "//\n"
    "// It runs for each new or changed blob matching \"path\" in function.json\n"
    "// (samples-workitems/{name}): a file written under the app's\n"
    "// .stratus/blobs/samples-workitems/ folder, or\n"
    "//\n"
    "//   stratus blob put samples-workitems/hello.txt hello.txt\n"
    "//\n"
    "// myBlob is a Buffer with the blob's bytes.\n"
    "module.exports = async function (context, myBlob) {\n"
    "    context.log(\"JavaScript blob trigger function processed blob Name:\",\n"
    "                context.bindingData.name, \"Blob Size:\", myBlob.length, \"bytes\");\n"
    "};\n";

/* The Python V2 model: appended to function_app.py. */
static const char python_v2_py[] =
    "{{PYNAME}}@app.blob_trigger(arg_name=\"myblob\", path=\"samples-workitems/{name}\",\n"
    "                  connection=\"AzureWebJobsStorage\")\n"
    "def {{PYDEF}}(myblob: func.InputStream) -> None:\n"
    "    \"\"\"A blob-triggered function (from the Stratus \"blob\" template).\n"
    "\n"
    "    It runs for each new or changed blob matching samples-workitems/{name}: a\n"
    "    file written under the app's .stratus/blobs/samples-workitems/ folder, or\n"
    "\n"
    "        stratus blob put samples-workitems/hello.txt hello.txt\n"
    "    \"\"\"\n"
    "    logging.info(\"Python blob trigger function processed blob Name: %s, \"\n"
    "                 \"Blob Size: %s bytes\", myblob.name, myblob.length)\n";

/* The Node.js V4 model: src/functions/{{FN}}.js. */
static const char node_v4_js[] =
    "// {{FN}} -- a blob-triggered function (from the Stratus \"blob\" template).\n"
    "//\n"
    "// It runs for each new or changed blob matching samples-workitems/{name}: a\n"
    "// file written under the app's .stratus/blobs/samples-workitems/ folder, or\n"
    "//\n"
    "//   stratus blob put samples-workitems/hello.txt hello.txt\n"
    "//\n"
    "// blob is a Buffer with the blob's bytes.\n"
    "const { app } = require('@azure/functions');\n"
    "\n"
    "app.storageBlob('{{FN}}', {\n"
    "    path: 'samples-workitems/{name}',\n"
    "    connection: 'AzureWebJobsStorage',\n"
    "    handler: async (blob, context) => {\n"
    "        context.log('JavaScript blob trigger function processed blob Name:',\n"
    "                    context.triggerMetadata.name, 'Blob Size:', blob.length, 'bytes');\n"
    "    },\n"
    "});\n";

static const template_file_t native_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NATIVE_HEAD, BLOB_BINDINGS("myBlob"))},
    {"{{FN}}.c", native_c},
    {NULL, NULL},
};

static const template_file_t python_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_PYTHON_HEAD, BLOB_BINDINGS("myblob"))},
    {"__init__.py", python_py},
    {NULL, NULL},
};

static const template_file_t node_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NODE_HEAD, BLOB_BINDINGS("myBlob"))},
    {"index.js", node_js},
    {NULL, NULL},
};

/* "Azure Blob Storage trigger" is the name recent Core Tools list. */
static const char *const aliases[] = {"blob", "BlobTrigger", "blob-trigger",
                                      "Azure Blob Storage trigger", NULL};

#define SUMMARY "a function run for each new or changed blob (samples-workitems/{name})"
#define NEXT                                                                   \
    "It runs for each new or changed blob of the container \"samples-workitems\" (\"path\"\n" \
    "in function.json): a file written under .stratus/blobs/samples-workitems/, or\n"         \
    "  stratus blob put samples-workitems/hello.txt FILE\n"
#define CODE_NEXT                                                              \
    "It runs for each new or changed blob of \"samples-workitems/{name}\" (in the code).\n" \
    "Try it: stratus blob put samples-workitems/hello.txt hello.txt\n"

const template_t template_blob_native = {
    1, "native", "Blob trigger", aliases, SUMMARY, TEMPLATE_BLOB, NEXT, native_files,
    NULL, NULL,
};
const template_t template_blob_python = {
    1, "python", "Blob trigger", aliases, SUMMARY, TEMPLATE_BLOB, NEXT, python_files,
    python_v2_py, CODE_NEXT,
};
const template_t template_blob_node = {
    1, "node", "Blob trigger", aliases, SUMMARY, TEMPLATE_BLOB, NEXT, node_files,
    node_v4_js, CODE_NEXT,
};
