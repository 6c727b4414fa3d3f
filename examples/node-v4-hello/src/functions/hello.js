// hello -- a greeting for /api/hello/<name>, ?name= or a JSON body {"name": ...}:
//   curl http://localhost:7071/api/hello/Ada
//   curl -H 'Content-Type: application/json' -d '{"name": "Ada"}' http://localhost:7071/api/hello
// The greeting word comes from the GREETING app setting (local.settings.json).
const { app } = require('@azure/functions');

app.http('hello', {
    methods: ['GET', 'POST'],
    authLevel: 'anonymous',
    route: 'hello/{name?}',
    handler: async (request, context) => {
        let name = request.params.name || request.query.get('name');
        if (!name && request.headers.get('content-type') === 'application/json') {
            name = (await request.json()).name;
        }
        context.log(`hello called with name=${name || '(none)'}`);
        if (!name) {
            return { status: 400, body: 'Pass a name in the path, the query string or the request body.\n' };
        }
        return { body: `${process.env.GREETING || 'Hello'}, ${name}!\n` };
    },
});
