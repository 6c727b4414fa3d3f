// echo -- a callback-style function: the request body comes back as it was
// sent, bytes included (dataType "binary" makes req.body a Buffer):
//   curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' http://localhost:7071/api/echo -o copy.jpg
module.exports = function (context, req) {
    context.res = {
        headers: { "Content-Type": req.headers["content-type"] || "application/octet-stream" },
        body: req.body || Buffer.alloc(0),
    };
    context.done();
};
