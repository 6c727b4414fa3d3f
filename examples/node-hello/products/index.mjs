// products -- route parameters and a JSON answer, as an ES module:
//   GET /api/products/books      -> every book
//   GET /api/products/books/42   -> book 42
// authLevel is "function": under `stratus host` pass a key as ?code=... or
// the x-functions-key header. The returned object feeds the $return binding.
export default async function (context, req) {
    const { category, id } = req.params;
    context.log(`looking up ${category}/${id || "*"}`);
    if (id) return { body: { category, id: Number(id) } };
    return { body: { category, items: [] } };
}
