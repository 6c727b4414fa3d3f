"""hello -- greets by name, from the query string or a JSON body.

    curl "http://localhost:7071/api/hello?name=Ada"
    curl -d '{"name": "Ada"}' http://localhost:7071/api/hello
"""
import logging
import os

import azure.functions as func

from shared.text import polite


def main(req: func.HttpRequest) -> func.HttpResponse:
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
    return func.HttpResponse(polite(os.environ.get("GREETING", "Hello"), name) + "\n")
