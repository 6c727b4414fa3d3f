"""slow -- an async function: many of these wait at the same time on one
worker.

    curl "http://localhost:7071/api/slow?seconds=1"
"""
import asyncio

import azure.functions as func


async def main(req: func.HttpRequest) -> func.HttpResponse:
    try:
        seconds = min(float(req.params.get("seconds", "1")), 10.0)
    except ValueError:
        return func.HttpResponse("seconds must be a number\n", status_code=400)
    await asyncio.sleep(seconds)
    return func.HttpResponse("waited %.1f s\n" % seconds)
