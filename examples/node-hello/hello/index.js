// hello -- a greeting for ?name= or a JSON body {"name": ...}:
//   curl "http://localhost:7071/api/hello?name=Ada"
//   curl -H 'Content-Type: application/json' -d '{"name": "Ada"}' http://localhost:7071/api/hello
// The greeting word comes from the GREETING app setting (local.settings.json).
module.exports = async function (context, req) {
    const name = req.query.name || (req.body && req.body.name);
    context.log(`hello called with name=${name || "(none)"}`);
    context.res = {
        body: name
            ? `${process.env.GREETING || "Hello"}, ${name}!\n`
            : "Pass a name in the query string or in the request body.\n",
    };
};
