// orders -- POST /api/orders with a JSON order puts it on the "orders"
// queue; the queue function `ship` takes it from there:
//   curl -H 'Content-Type: application/json' -d '{"item": "book", "qty": 2}' http://localhost:7071/api/orders
const { app, output } = require('@azure/functions');

const ordersQueue = output.storageQueue({ queueName: 'orders', connection: 'AzureWebJobsStorage' });

app.http('orders', {
    methods: ['POST'],
    authLevel: 'anonymous',
    extraOutputs: [ordersQueue],
    handler: async (request, context) => {
        const order = await request.json();
        context.extraOutputs.set(ordersQueue, order);
        return { status: 202, jsonBody: { accepted: order } };
    },
});

app.storageQueue('ship', {
    queueName: 'orders',
    connection: 'AzureWebJobsStorage',
    handler: async (order, context) => {
        context.log(`shipping ${order.qty} x ${order.item} (message ${context.triggerMetadata.id})`);
    },
});
