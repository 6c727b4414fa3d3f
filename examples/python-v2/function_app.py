"""An Azure Functions Python app of the v2 programming model: the functions
are declared with decorators here, with no function.json. Stratus asks the
Python worker to list them when the host starts (worker indexing).

    stratus start examples/python-v2
    curl "http://localhost:7071/api/hello?name=Ada"
    curl -d '{"name": "Ada"}' http://localhost:7071/api/hello
    curl http://localhost:7071/api/items/books/42
    curl -d 'paint the fence' http://localhost:7071/api/orders
"""
import json
import logging
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    """Greets by name, from the query string or a JSON body."""
    name = req.params.get("name")
    if not name:
        try:
            body = req.get_json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            name = body.get("name")
    if not name:
        return func.HttpResponse("Pass a name in the query string or in a JSON body.\n",
                                 status_code=400)
    logging.info("greeting %s", name)
    return func.HttpResponse("%s, %s!\n" % (os.environ.get("GREETING", "Hello"), name))


@app.function_name(name="items")
@app.route(route="items/{category:alpha}/{id:int?}", methods=["GET"])
def get_item(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """Route parameters, a JSON answer and the invocation context."""
    item = {
        "category": req.route_params.get("category"),
        "id": int(req.route_params["id"]) if req.route_params.get("id") else None,
        "invocation": context.invocation_id,
    }
    return func.HttpResponse(json.dumps(item) + "\n", mimetype="application/json")


@app.route(route="orders", methods=["POST"])
@app.queue_output(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
def orders(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    """Puts the request body on the queue 'orders' (the embedded store)."""
    text = req.get_body().decode("utf-8", "replace").strip()
    if not text:
        return func.HttpResponse("Send the order as the request body.\n", status_code=400)
    msg.set(text)
    return func.HttpResponse("queued: %s\n" % text, status_code=202)


@app.queue_trigger(arg_name="order", queue_name="orders", connection="AzureWebJobsStorage")
def work(order: func.QueueMessage) -> None:
    """Runs once for each message on 'orders'."""
    logging.info("working on order %s (dequeue count %d)", order.get_body().decode(),
                 order.dequeue_count)
