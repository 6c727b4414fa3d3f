// items -- route parameters arrive as pathParameters; a thrown error
// becomes a 502 whose log line carries the invocation id.
export const handler = async (event) => {
  const id = Number(event.pathParameters.id);
  if (id === 0)
    throw new RangeError("item 0 does not exist");
  return {
    statusCode: 200,
    headers: {"Content-Type": "application/json"},
    multiValueHeaders: {"Set-Cookie": ["seen=1", `last=${id}`]},
    body: JSON.stringify({id, resource: event.resource, path: event.path}),
  };
};
