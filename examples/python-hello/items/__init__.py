"""items -- route parameters, a JSON response, an http output set through
func.Out, and the invocation context.

    curl http://localhost:7071/api/items/books/42
"""
import json

import azure.functions as func


def main(req: func.HttpRequest, res: func.Out[func.HttpResponse],
         context: func.Context) -> None:
    item = {
        "category": req.route_params.get("category"),
        "id": int(req.route_params["id"]) if req.route_params.get("id") else None,
        "invocation": context.invocation_id,
    }
    res.set(func.HttpResponse(json.dumps(item) + "\n", mimetype="application/json",
                              headers={"Cache-Control": "no-store"}))
