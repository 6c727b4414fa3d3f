/*
 * templates_timer.c -- the "Timer trigger" templates of `stratus new` for
 * the native, python and node runtimes: a function run every five minutes
 * (an NCRONTAB schedule) that logs the time and whether the run is past due, as
 * Azure's TimerTrigger templates do, in function folders or, for the Python
 * V2 and Node.js V4 models, in code (see templates.h, docs/timer.md).
 */
#include "templates.h"

#include <stddef.h>

/* `name` is the binding's name: Azure's templates use "mytimer" in
 * Python and "myTimer" elsewhere. */
#define TIMER_BINDINGS(name)                                                   \
    "    {\n"                                                                  \
    "      \"name\": \"" name "\",\n"                                           \
    "      \"type\": \"timerTrigger\",\n"                                       \
    "      \"direction\": \"in\",\n"                                            \
    "      \"schedule\": \"0 */5 * * * *\"\n"                                   \
    "    }\n"

/* The C source says "every five minutes" in words: the schedule's star-slash
 * would end its comment. */
static const char native_c[] =
    "/*\n"
    " * {{FN}}.c -- a timer-triggered function (from the Stratus \"timer\" template).\n"
    " *\n"
    " * It runs every five minutes: \"schedule\" in function.json is an NCRONTAB\n"
    " * expression ({second} {minute} {hour} {day} {month} {day-of-week}) or a\n"
    " * TimeSpan such as \"00:00:30\"; edit it to change when the function runs.\n"
    " * The host compiles this folder's .c files into {{FN}}.so when they change.\n"
    " */\n"
    "#include <stratus.h>\n"
    "#include <string.h>\n"
    "#include <time.h>\n"
    "\n"
    "int {{ENTRY}}(stratus_ctx *ctx)\n"
    "{\n"
    "    /* The trigger's data is the TimerInfo JSON; its properties are also the\n"
    "     * binding data, so IsPastDue is \"true\" when this run is late. */\n"
    "    const char *past_due = stratus_trigger_meta(ctx, \"IsPastDue\");\n"
    "    if (past_due && !strcmp(past_due, \"true\"))\n"
    "        stratus_log(ctx, STRATUS_LOG_INFO, \"The timer is past due!\");\n"
    "\n"
    "    char stamp[32];\n"
    "    struct timespec now;\n"
    "    struct tm utc;\n"
    "    clock_gettime(CLOCK_REALTIME, &now);\n"
    "    strftime(stamp, sizeof stamp, \"%Y-%m-%dT%H:%M:%S\", gmtime_r(&now.tv_sec, &utc));\n"
    "    stratus_log(ctx, STRATUS_LOG_INFO, \"C timer trigger function ran at %s.%03ldZ\", stamp,\n"
    "                now.tv_nsec / 1000000);\n"
    "    return 0; /* non-zero would fail the run */\n"
    "}\n";

/* The Python function's body, the same in the V1 template and the V2 one. */
#define PY_TIMER_BODY \
    "    utc_timestamp = datetime.datetime.now(datetime.timezone.utc).isoformat()\n" \
    "\n" \
    "    if mytimer.past_due:\n" \
    "        logging.info(\"The timer is past due!\")\n" \
    "\n" \
    "    logging.info(\"Python timer trigger function ran at %s\", utc_timestamp)\n"

static const char python_py[] =
    "\"\"\"{{FN}} -- a timer-triggered function (from the Stratus \"timer\" template).\n"
    "\n"
    "It runs every five minutes: \"schedule\" in function.json is an NCRONTAB\n"
    "expression ({second} {minute} {hour} {day} {month} {day-of-week}) or a\n"
    "TimeSpan such as \"00:00:30\"; edit it to change when the function runs.\n"
    "\"\"\"\n"
    "import datetime\n"
    "import logging\n"
    "\n"
    "import azure.functions as func\n"
    "\n"
    "\n"
    "def main(mytimer: func.TimerRequest) -> None:\n"
    PY_TIMER_BODY;

static const char node_js[] =
    "// {{FN}} -- a timer-triggered function (from the Stratus \"timer\" template).\n"
    "//\n"
    "// It runs every five minutes: \"schedule\" in function.json is an NCRONTAB\n"
    "// expression ({second} {minute} {hour} {day} {month} {day-of-week}) or a\n"
    "// TimeSpan such as \"00:00:30\"; edit it to change when the function runs.\n"
    "module.exports = async function (context, myTimer) {\n"
    "    const timeStamp = new Date().toISOString();\n"
    "\n"
    "    if (myTimer.isPastDue) {\n"
    "        context.log(\"JavaScript is running late!\");\n"
    "    }\n"
    "    context.log(\"JavaScript timer trigger function ran!\", timeStamp);\n"
    "};\n";

/* The Python V2 model: appended to function_app.py. */
static const char python_v2_py[] =
    "{{PYNAME}}@app.timer_trigger(schedule=\"0 */5 * * * *\", arg_name=\"mytimer\",\n"
    "                   run_on_startup=False, use_monitor=False)\n"
    "def {{PYDEF}}(mytimer: func.TimerRequest) -> None:\n"
    "    \"\"\"A timer-triggered function (from the Stratus \"timer\" template).\n"
    "\n"
    "    It runs every five minutes: the schedule is an NCRONTAB expression ({second}\n"
    "    {minute} {hour} {day} {month} {day-of-week}) or a TimeSpan such as \"00:00:30\";\n"
    "    edit it to change when the function runs.\n"
    "    \"\"\"\n"
    PY_TIMER_BODY;

/* The Node.js V4 model: src/functions/{{FN}}.js. */
static const char node_v4_js[] =
    "// {{FN}} -- a timer-triggered function (from the Stratus \"timer\" template).\n"
    "//\n"
    "// It runs every five minutes: the schedule is an NCRONTAB expression ({second}\n"
    "// {minute} {hour} {day} {month} {day-of-week}) or a TimeSpan such as \"00:00:30\";\n"
    "// edit it to change when the function runs.\n"
    "const { app } = require('@azure/functions');\n"
    "\n"
    "app.timer('{{FN}}', {\n"
    "    schedule: '0 */5 * * * *',\n"
    "    handler: async (myTimer, context) => {\n"
    "        const timeStamp = new Date().toISOString();\n"
    "\n"
    "        if (myTimer.isPastDue) {\n"
    "            context.log('JavaScript is running late!');\n"
    "        }\n"
    "        context.log('JavaScript timer trigger function ran!', timeStamp);\n"
    "    },\n"
    "});\n";

static const template_file_t native_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NATIVE_HEAD, TIMER_BINDINGS("myTimer"))},
    {"{{FN}}.c", native_c},
    {NULL, NULL},
};

static const template_file_t python_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_PYTHON_HEAD, TIMER_BINDINGS("mytimer"))},
    {"__init__.py", python_py},
    {NULL, NULL},
};

static const template_file_t node_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NODE_HEAD, TIMER_BINDINGS("myTimer"))},
    {"index.js", node_js},
    {NULL, NULL},
};

static const char *const aliases[] = {"timer", "TimerTrigger", "timer-trigger", NULL};

#define SUMMARY "a function run on a schedule (every five minutes)"
#define NEXT                                                                   \
    "It runs every five minutes (\"schedule\": \"0 */5 * * * *\" in function.json; edit it\n" \
    "to change that). To run it now: stratus invoke {{FN}}\n"
#define CODE_NEXT                                                              \
    "It runs every five minutes (the schedule \"0 */5 * * * *\" in the code; edit it to\n" \
    "change that). To run it now: stratus invoke {{FN}}\n"

const template_t template_timer_native = {
    1, "native", "Timer trigger", aliases, SUMMARY, TEMPLATE_TIMER, NEXT, native_files,
    NULL, NULL,
};
const template_t template_timer_python = {
    1, "python", "Timer trigger", aliases, SUMMARY, TEMPLATE_TIMER, NEXT, python_files,
    python_v2_py, CODE_NEXT,
};
const template_t template_timer_node = {
    1, "node", "Timer trigger", aliases, SUMMARY, TEMPLATE_TIMER, NEXT, node_files,
    node_v4_js, CODE_NEXT,
};
