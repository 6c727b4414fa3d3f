/*
 * templates_http.c -- the "HTTP trigger" templates of `stratus new` for the
 * native, python and node runtimes: a function answering GET and POST
 * /api/<name> with a greeting for ?name= or a {"name": ...} body, as
 * Azure's HttpTrigger templates do, in function folders or, for the Python V2
 * and Node.js V4 models, in code (see templates.h).
 */
#include "templates.h"

#include <stddef.h>

/* The trigger and output bindings; `out` names the HTTP output. */
#define HTTP_BINDINGS(out)                                                     \
    "    {\n"                                                                  \
    "      \"authLevel\": \"{{AUTH}}\",\n"                                      \
    "      \"type\": \"httpTrigger\",\n"                                        \
    "      \"direction\": \"in\",\n"                                            \
    "      \"name\": \"req\",\n"                                                \
    "      \"methods\": [\n"                                                   \
    "        \"get\",\n"                                                       \
    "        \"post\"\n"                                                       \
    "      ]\n"                                                                \
    "    },\n"                                                                 \
    "    {\n"                                                                  \
    "      \"type\": \"http\",\n"                                               \
    "      \"direction\": \"out\",\n"                                           \
    "      \"name\": \"" out "\"\n"                                              \
    "    }\n"


static const char http_function_c[] =
    "/*\n"
    " * {{FN}}.c -- an HTTP-triggered function (from the Stratus \"http\" template).\n"
    " *\n"
    " *   curl \"http://localhost:7071/api/{{FN}}?name=Azure\"\n"
    " *   curl -d '{\"name\": \"Azure\"}' http://localhost:7071/api/{{FN}}\n"
    " *\n"
    " * (add ?code=<function key> when the host enforces keys). The host compiles\n"
    " * this folder's .c files into {{FN}}.so when they change; function.json\n"
    " * declares the trigger and the output.\n"
    " */\n"
    "#include <stratus.h>\n"
    "#include <string.h>\n"
    "\n"
    "static int is_space(char c) { return c == ' ' || c == '\\t' || c == '\\r' || c == '\\n'; }\n"
    "\n"
    "/* Copy the name found in a request body into out (at most outlen - 1 bytes):\n"
    " * the \"name\" string of a JSON object such as {\"name\": \"Azure\"}, or else the\n"
    " * whole body as plain text. Returns 1 when a non-empty name was found. */\n"
    "static int find_name(const char *body, size_t len, char *out, size_t outlen)\n"
    "{\n"
    "    size_t n = 0;\n"
    "    while (len > 0 && is_space(*body)) {\n"
    "        body++;\n"
    "        len--;\n"
    "    }\n"
    "    while (len > 0 && is_space(body[len - 1]))\n"
    "        len--;\n"
    "    if (len > 0 && body[0] == '{') {\n"
    "        /* Just enough JSON for {\"name\": \"...\"}; use a JSON library for more. */\n"
    "        const char *p = body, *end = body + len;\n"
    "        while (end - p >= 6 && memcmp(p, \"\\\"name\\\"\", 6) != 0)\n"
    "            p++;\n"
    "        if (end - p < 6)\n"
    "            return 0;\n"
    "        for (p += 6; p < end && is_space(*p); p++)\n"
    "            ;\n"
    "        if (p == end || *p++ != ':')\n"
    "            return 0;\n"
    "        while (p < end && is_space(*p))\n"
    "            p++;\n"
    "        if (p == end || *p++ != '\"')\n"
    "            return 0;\n"
    "        while (p < end && *p != '\"' && n + 1 < outlen) {\n"
    "            if (*p == '\\\\' && p + 1 < end)\n"
    "                p++; /* take the escaped character as it is */\n"
    "            out[n++] = *p++;\n"
    "        }\n"
    "    } else {\n"
    "        for (; n < len && n + 1 < outlen; n++)\n"
    "            out[n] = body[n];\n"
    "    }\n"
    "    out[n] = '\\0';\n"
    "    return n > 0;\n"
    "}\n"
    "\n"
    "int {{ENTRY}}(stratus_ctx *ctx)\n"
    "{\n"
    "    stratus_log(ctx, STRATUS_LOG_INFO, \"C HTTP trigger function processed a request.\");\n"
    "\n"
    "    /* ?name=... first, else the body (for an admin-API invocation, the input). */\n"
    "    char from_body[256];\n"
    "    const char *name = stratus_req_query(ctx, \"name\");\n"
    "    if (!name || !*name) {\n"
    "        size_t len;\n"
    "        const char *body = stratus_trigger_data(ctx, &len);\n"
    "        name = find_name(body, len, from_body, sizeof from_body) ? from_body : NULL;\n"
    "    }\n"
    "\n"
    "    stratus_res_header(ctx, \"Content-Type\", \"text/plain; charset=utf-8\");\n"
    "    if (name)\n"
    "        stratus_res_printf(ctx, \"Hello, %s. This HTTP triggered function executed \"\n"
    "                                \"successfully.\", name);\n"
    "    else\n"
    "        stratus_res_printf(ctx, \"This HTTP triggered function executed successfully. \"\n"
    "                                \"Pass a name in the query string or in the request \"\n"
    "                                \"body for a personalized response.\");\n"
    "    return 0; /* non-zero would fail the invocation (500) */\n"
    "}\n";

/* The Python function's body, the same in the V1 template and the V2 one. */
#define PY_HTTP_BODY \
    "    logging.info(\"Python HTTP trigger function processed a request.\")\n" \
    "\n" \
    "    name = req.params.get(\"name\")\n" \
    "    if not name:\n" \
    "        try:\n" \
    "            body = req.get_json()\n" \
    "        except ValueError:\n" \
    "            body = None\n" \
    "        if isinstance(body, dict):\n" \
    "            name = body.get(\"name\")\n" \
    "\n" \
    "    if name:\n" \
    "        return func.HttpResponse(\n" \
    "            f\"Hello, {name}. This HTTP triggered function executed successfully.\")\n" \
    "    return func.HttpResponse(\n" \
    "        \"This HTTP triggered function executed successfully. Pass a name in the query \"\n" \
    "        \"string or in the request body for a personalized response.\",\n" \
    "        status_code=200)\n"

static const char python_http_py[] =
    "\"\"\"{{FN}} -- an HTTP-triggered function (from the Stratus \"http\" template).\n"
    "\n"
    "    curl \"http://localhost:7071/api/{{FN}}?name=Azure\"\n"
    "    curl -d '{\"name\": \"Azure\"}' http://localhost:7071/api/{{FN}}\n"
    "\n"
    "(add ?code=<function key> when the host enforces keys).\n"
    "\"\"\"\n"
    "import logging\n"
    "\n"
    "import azure.functions as func\n"
    "\n"
    "\n"
    "def main(req: func.HttpRequest) -> func.HttpResponse:\n"
    PY_HTTP_BODY;

static const char node_http_js[] =
    "// {{FN}} -- an HTTP-triggered function (from the Stratus \"http\" template).\n"
    "//\n"
    "//   curl \"http://localhost:7071/api/{{FN}}?name=Azure\"\n"
    "//   curl -H 'Content-Type: application/json' -d '{\"name\": \"Azure\"}' "
    "http://localhost:7071/api/{{FN}}\n"
    "//\n"
    "// (add ?code=<function key> when the host enforces keys).\n"
    "module.exports = async function (context, req) {\n"
    "    context.log(\"JavaScript HTTP trigger function processed a request.\");\n"
    "\n"
    "    const name = req.query.name || (req.body && req.body.name);\n"
    "    context.res = {\n"
    "        // status: 200 is the default\n"
    "        body: name\n"
    "            ? \"Hello, \" + name + \". This HTTP triggered function executed successfully.\"\n"
    "            : \"This HTTP triggered function executed successfully. Pass a name in the \" +\n"
    "              \"query string or in the request body for a personalized response.\",\n"
    "    };\n"
    "};\n";

/* The Python V2 model: appended to function_app.py. */
static const char python_v2_py[] =
    "{{PYNAME}}@app.route(route=\"{{FN}}\", methods=[\"GET\", \"POST\"],\n"
    "           auth_level=func.AuthLevel.{{PYAUTH}})\n"
    "def {{PYDEF}}(req: func.HttpRequest) -> func.HttpResponse:\n"
    "    \"\"\"An HTTP-triggered function (from the Stratus \"http\" template).\n"
    "\n"
    "        curl \"http://localhost:7071/api/{{FN}}?name=Azure\"\n"
    "        curl -d '{\"name\": \"Azure\"}' http://localhost:7071/api/{{FN}}\n"
    "\n"
    "    (add ?code=<function key> when the host enforces keys).\n"
    "    \"\"\"\n"
    PY_HTTP_BODY;

/* The Node.js V4 model: src/functions/{{FN}}.js. */
static const char node_v4_js[] =
    "// {{FN}} -- an HTTP-triggered function (from the Stratus \"http\" template).\n"
    "//\n"
    "//   curl \"http://localhost:7071/api/{{FN}}?name=Azure\"\n"
    "//   curl -H 'Content-Type: application/json' -d '{\"name\": \"Azure\"}' "
    "http://localhost:7071/api/{{FN}}\n"
    "//\n"
    "// (add ?code=<function key> when the host enforces keys).\n"
    "const { app } = require('@azure/functions');\n"
    "\n"
    "app.http('{{FN}}', {\n"
    "    methods: ['GET', 'POST'],\n"
    "    authLevel: '{{AUTH}}',\n"
    "    handler: async (request, context) => {\n"
    "        context.log(`JavaScript HTTP trigger function processed a request for url \""
    "${request.url}\"`);\n"
    "\n"
    "        let name = request.query.get('name');\n"
    "        if (!name) {\n"
    "            try {\n"
    "                const body = await request.json();\n"
    "                name = body && body.name;\n"
    "            } catch (err) {\n"
    "                // no body, or not JSON\n"
    "            }\n"
    "        }\n"
    "\n"
    "        return {\n"
    "            // status: 200 is the default\n"
    "            body: name\n"
    "                ? `Hello, ${name}. This HTTP triggered function executed successfully.`\n"
    "                : 'This HTTP triggered function executed successfully. Pass a name in the '"
    " +\n"
    "                  'query string or in the request body for a personalized response.',\n"
    "        };\n"
    "    },\n"
    "});\n";

static const template_file_t native_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NATIVE_HEAD, HTTP_BINDINGS("res"))},
    {"{{FN}}.c", http_function_c},
    {NULL, NULL},
};

static const template_file_t python_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_PYTHON_HEAD, HTTP_BINDINGS("$return"))},
    {"__init__.py", python_http_py},
    {NULL, NULL},
};

static const template_file_t node_files[] = {
    {"function.json", TEMPLATE_FUNCTION_JSON(TEMPLATE_NODE_HEAD, HTTP_BINDINGS("res"))},
    {"index.js", node_http_js},
    {NULL, NULL},
};

static const char *const aliases[] = {"http", "HttpTrigger", "http-trigger", NULL};

#define SUMMARY "a function run by an HTTP request (GET/POST /api/<name>)"

const template_t template_http_native = {
    1, "native", "HTTP trigger", aliases, SUMMARY, TEMPLATE_HTTP, NULL, native_files,
    NULL, NULL,
};
const template_t template_http_python = {
    1, "python", "HTTP trigger", aliases, SUMMARY, TEMPLATE_HTTP, NULL, python_files,
    python_v2_py, NULL,
};
const template_t template_http_node = {
    1, "node", "HTTP trigger", aliases, SUMMARY, TEMPLATE_HTTP, NULL, node_files,
    node_v4_js, NULL,
};
