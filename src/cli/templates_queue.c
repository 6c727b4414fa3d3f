/*
 * templates_queue.c -- the "Queue trigger" templates of `stratus new` for
 * the native, python and node runtimes: a function run for each message of
 * the queue "myqueue-items" that logs the message, as Azure's QueueTrigger
 * templates do, in function folders or, for the Python V2 and Node.js V4
 * models, in code (see templates.h, docs/queue.md).
 */
#include "templates.h"

#include <stddef.h>

/* `name` is the binding's name: Azure's templates use "msg" in Python and
 * "myQueueItem" elsewhere. */
#define QUEUE_BINDINGS(name)                                                   \
    "    {\n"                                                                  \
    "      \"name\": \"" name "\",\n"                                           \
    "      \"type\": \"queueTrigger\",\n"                                       \
    "      \"direction\": \"in\",\n"                                            \
    "      \"queueName\": \"myqueue-items\",\n"                                 \
    "      \"connection\": \"AzureWebJobsStorage\"\n"                           \
    "    }\n"

static const char native_c[] =
    "/*\n"
    " * {{FN}}.c -- a queue-triggered function (from the Stratus \"queue\" template).\n"
    " *\n"
    " * It runs for each message of the queue named by \"queueName\" in\n"
    " * function.json (myqueue-items); try it with\n"
    " *\n"
    " *   stratus queue put myqueue-items \"hello\"\n"
    " *\n"
    " * Returning non-zero fails the message: it is delivered again, and after\n"
    " * host.json extensions.queues.maxDequeueCount tries (5) moves to the queue\n"
    " * myqueue-items-poison. The host compiles this folder's .c files into\n"
    " * {{FN}}.so when they change.\n"
    " */\n"
    "#include <stratus.h>\n"
    "\n"
    "int {{ENTRY}}(stratus_ctx *ctx)\n"
    "{\n"
    "    size_t len;\n"
    "    const char *item = stratus_trigger_data(ctx, &len); /* the message's body */\n"
    "    /* Its metadata: stratus_trigger_meta(ctx, \"Id\"), \"DequeueCount\", ... */\n"
    "    stratus_log(ctx, STRATUS_LOG_INFO,\n"
    "                \"C queue trigger function processed a queue item: %.*s\", (int)len, item);\n"
    "    return 0;\n"
    "}\n";

/* The Python function's body, the same in the V1 template and the V2 one. */
#define PY_QUEUE_BODY \
    "    logging.info(\"Python queue trigger function processed a queue item: %s\",\n" \
    "                 msg.get_body().decode(\"utf-8\"))\n"

static const char python_py[] =
    "\"\"\"{{FN}} -- a queue-triggered function (from the Stratus \"queue\" template).\n"
    "\n"
    "It runs for each message of the queue named by \"queueName\" in function.json\n"
    "(myqueue-items); try it with\n"
    "\n"
    "    stratus queue put myqueue-items \"hello\"\n"
    "\n"
    "Raising an exception fails the message: it is delivered again, and after\n"
    "host.json extensions.queues.maxDequeueCount tries (5) moves to the queue\n"
    "myqueue-items-poison.\n"
    "\"\"\"\n"
    "import logging\n"
    "\n"
    "import azure.functions as func\n"
    "\n"
    "\n"
    "def main(msg: func.QueueMessage) -> None:\n"
    PY_QUEUE_BODY;

static const char node_js[] =
    "// {{FN}} -- a queue-triggered function (from the Stratus \"queue\" template).\n"
    "//\n"
    "// It runs for each message of the queue named by \"queueName\" in function.json\n"
    "// (myqueue-items); try it with\n"
    "//\n"
    "//   stratus queue put myqueue-items \"hello\"\n"
    "//\n"
    "// A message that is JSON arrives parsed. Throwing fails the message: it is\n"
    "// delivered again, and after host.json extensions.queues.maxDequeueCount\n"
    "// tries (5) moves to the queue myqueue-items-poison.\n"
    "module.exports = async function (context, myQueueItem) {\n"
    "    context.log(\"JavaScript queue trigger function processed work item\", myQueueItem);\n"
    "};\n";

/* The Python V2 model: appended to function_app.py. */
static const char python_v2_py[] =
    "{{PYNAME}}@app.queue_trigger(arg_name=\"msg\", queue_name=\"myqueue-items\",\n"
    "                   connection=\"AzureWebJobsStorage\")\n"
    "def {{PYDEF}}(msg: func.QueueMessage) -> None:\n"
    "    \"\"\"A queue-triggered function (from the Stratus \"queue\" template).\n"
    "\n"
    "    It runs for each message of the queue myqueue-items; try it with\n"
    "\n"
    "        stratus queue put myqueue-items \"hello\"\n"
    "\n"
    "    Raising an exception fails the message: it is delivered again, and after\n"
    "    host.json extensions.queues.maxDequeueCount tries (5) moves to the queue\n"
    "    myqueue-items-poison.\n"
    "    \"\"\"\n"
    PY_QUEUE_BODY;

/* The Node.js V4 model: src/functions/{{FN}}.js. */
static const char node_v4_js[] =
    "// {{FN}} -- a queue-triggered function (from the Stratus \"queue\" template).\n"
    "//\n"
    "// It runs for each message of the queue myqueue-items; try it with\n"
    "//\n"
    "//   stratus queue put myqueue-items \"hello\"\n"
    "//\n"
    "// A message that is JSON arrives parsed. Throwing fails the message: it is\n"
    "// delivered again, and after host.json extensions.queues.maxDequeueCount\n"
    "// tries (5) moves to the queue myqueue-items-poison.\n"
    "const { app } = require('@azure/functions');\n"
    "\n"
    "app.storageQueue('{{FN}}', {\n"
    "    queueName: 'myqueue-items',\n"
    "    connection: 'AzureWebJobsStorage',\n"
    "    handler: async (queueItem, context) => {\n"
    "        context.log('JavaScript queue trigger function processed work item', queueItem);\n"
    "    },\n"
    "});\n";

static const template_file_t native_files[] = {
    {"function.json",
     TEMPLATE_FUNCTION_JSON(TEMPLATE_NATIVE_HEAD, QUEUE_BINDINGS("myQueueItem"))},
    {"{{FN}}.c", native_c},
    {NULL, NULL},
};

static const template_file_t python_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_PYTHON_HEAD, QUEUE_BINDINGS("msg"))},
    {"__init__.py", python_py},
    {NULL, NULL},
};

static const template_file_t node_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NODE_HEAD, QUEUE_BINDINGS("myQueueItem"))},
    {"index.js", node_js},
    {NULL, NULL},
};

/* "Azure Queue Storage trigger" is the name recent Core Tools list. */
static const char *const aliases[] = {"queue", "QueueTrigger", "queue-trigger",
                                      "Azure Queue Storage trigger", NULL};

#define SUMMARY "a function run for each message of a queue (myqueue-items)"
#define NEXT                                                                   \
    "It runs for each message of the queue \"myqueue-items\" (\"queueName\" in function.json).\n" \
    "Try it: stratus queue put myqueue-items \"hello\"\n"
#define CODE_NEXT                                                              \
    "It runs for each message of the queue \"myqueue-items\" (named in the code).\n" \
    "Try it: stratus queue put myqueue-items \"hello\"\n"

const template_t template_queue_native = {
    1, "native", "Queue trigger", aliases, SUMMARY, TEMPLATE_QUEUE, NEXT, native_files,
    NULL, NULL,
};
const template_t template_queue_python = {
    1, "python", "Queue trigger", aliases, SUMMARY, TEMPLATE_QUEUE, NEXT, python_files,
    python_v2_py, CODE_NEXT,
};
const template_t template_queue_node = {
    1, "node", "Queue trigger", aliases, SUMMARY, TEMPLATE_QUEUE, NEXT, node_files,
    node_v4_js, CODE_NEXT,
};
