// runtime.mjs -- a minimal Lambda runtime for Node.js (18 or later, only
// its standard library), which this app's bootstrap uses when the npm
// client aws-lambda-ric is not installed. It loads _HANDLER ("file.export")
// from LAMBDA_TASK_ROOT, then loops: GET next, call the handler, POST its
// result to /response or its exception to /error. A module that does not
// load is reported to /init/error.
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, route, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, agent, headers,
                               path: "/2018-06-01/runtime" + route }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function errorDoc(e) {
  return JSON.stringify({ errorType: e?.name ?? "Error", errorMessage: String(e?.message ?? e),
                          stackTrace: String(e?.stack ?? "").split("\n") });
}

const [file, name] = process.env._HANDLER.split(".");
let handler;
try {
  const mod = await import(pathToFileURL(path.join(process.env.LAMBDA_TASK_ROOT, file + ".mjs")));
  handler = mod[name];
  if (typeof handler !== "function")
    throw new TypeError(`${process.env._HANDLER} is not a function`);
} catch (e) {
  await call("POST", "/init/error", errorDoc(e),
             { "Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError" });
  process.exit(1);
}

for (;;) {
  const next = await call("GET", "/invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  const deadline = Number(next.headers["lambda-runtime-deadline-ms"]);
  const context = {
    awsRequestId: id,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  try {
    const result = await handler(JSON.parse(next.body), context);
    await call("POST", `/invocation/${id}/response`, JSON.stringify(result ?? null));
  } catch (e) {
    console.error(e);
    await call("POST", `/invocation/${id}/error`, errorDoc(e),
               { "Lambda-Runtime-Function-Error-Type": e?.name ?? "Error" });
  }
}
