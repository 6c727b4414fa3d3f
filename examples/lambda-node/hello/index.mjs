// hello -- an AWS Lambda handler behind an HTTP trigger: the request comes
// as an API Gateway proxy event, the answer goes back as a proxy result.
export const handler = async (event, context) => {
  const name = event.queryStringParameters?.name
    ?? (event.body ? JSON.parse(event.body).name : undefined)
    ?? "world";
  return {
    statusCode: 200,
    headers: {"Content-Type": "text/plain; charset=utf-8"},
    body: `${process.env.GREETING ?? "Hello"}, ${name}! (request ${context.awsRequestId})\n`,
  };
};
