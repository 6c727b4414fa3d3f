/*
 * blobpath.h -- blob path patterns (the `path` of Azure's blobTrigger) and
 * the checks on container and blob names.
 *
 * A pattern is "container" or "container/blob-pattern". The container is a
 * literal container name. The blob pattern is literal text and captures
 * `{name}` whose values become binding data:
 *
 *   samples-workitems/{name}       every blob; name = the whole blob name
 *   input/original-{name}          "original-Blob1.txt" -> name "Blob1.txt"
 *   input/{blobname}.{blobextension}
 *                                  "original-Blob1.txt" -> "original-Blob1", "txt"
 *   samples/{name}.png             only blobs ending in ".png"
 *   images/{{20140101}}-{name}     "{20140101}-soundfile.mp3" -> "soundfile.mp3"
 *   input/{folder}/{file}.txt      "a/b.txt" -> folder "a", file "b"
 *   samples-workitems              every blob of the container, no captures
 *
 * These are the examples of Azure's blob trigger documentation ("Blob name
 * patterns"), which also documents `{{` and `}}` as a literal brace. Where
 * the documentation is silent, Stratus chooses, and tests, the following:
 *
 *   - A capture matches at least one character.
 *   - A capture in the last segment of the pattern (no '/' after it) may
 *     span '/': "data/{name}" gives name "2024/05/report.csv". A capture in
 *     an earlier segment matches within one segment: "input/{folder}/{file}.txt"
 *     on "a/b/c.txt" gives folder "a" and file "b/c".
 *   - A capture followed by literal text is greedy: it ends at the LAST
 *     occurrence of that text that still lets the rest of the pattern
 *     match, so "{name}.{ext}" on "a.tar.gz" gives "a.tar" and "gz".
 *   - Literals match case-sensitively, as blob names are case-sensitive;
 *     capture names are compared case-insensitively (two captures that
 *     differ only in case are duplicates), as binding expressions are.
 *
 * Refused patterns (error text names the problem and its 1-based
 * position): an empty pattern, a leading '/' (absolute path), an empty or
 * invalid container name, a capture in the container, an unclosed '{', a
 * lone '}', "{}", a capture name other than [A-Za-z_][A-Za-z0-9_]*, a
 * duplicate capture, two captures with no literal between them ("{a}{b}"),
 * an empty segment ("a//b"), a trailing '/', a "." or ".." segment, a
 * segment that starts with a literal '.', a backslash or control character,
 * and more than BLOBPATH_CAPTURES_MAX captures.
 *
 * Lifecycle: blobpath_parse() makes a blobpath_t that the caller frees with
 * blobpath_free(). It is immutable: matching from several places at once
 * is safe. Strings returned by the accessors live as long as it.
 */
#ifndef STRATUS_BLOBPATH_H
#define STRATUS_BLOBPATH_H

#include <jansson.h>
#include <stddef.h>

#define BLOBPATH_NAME_MAX 1024    /* bytes in a blob name */
#define BLOBPATH_SEGMENT_MAX 255  /* bytes in one '/'-separated part (a file name) */
#define BLOBPATH_PATTERN_MAX 2048 /* bytes in a pattern */
#define BLOBPATH_CAPTURES_MAX 32

typedef struct blobpath blobpath_t;

/* Parse pattern. 0 and *out set, or -1 with *out NULL and a message in
 * err (when err is not NULL and errlen > 0), e.g.
 * "unclosed '{' at position 9". */
int blobpath_parse(const char *pattern, blobpath_t **out, char *err, size_t errlen);

/* Free p; NULL is accepted. */
void blobpath_free(blobpath_t *p);

/* The pattern as given. */
const char *blobpath_text(const blobpath_t *p);

/* The container name. */
const char *blobpath_container(const blobpath_t *p);

/* The literal start of every blob name that can match, with escapes
 * undone: "" for "c/{name}", "in/original-" for "c/in/original-{name}",
 * "{2014}-" for "c/{{2014}}-{name}", the whole name when the pattern has
 * no capture, "" for a container alone. Scanning may start at the folder
 * this prefix names (up to its last '/'). */
const char *blobpath_prefix(const blobpath_t *p);

/* Number of captures, and the name of capture i (0-based, in pattern
 * order), NULL when i is out of range. */
size_t blobpath_capture_count(const blobpath_t *p);
const char *blobpath_capture_name(const blobpath_t *p, size_t i);

/* Match a blob against p. 1 when container equals p's container and
 * blob_name matches the blob pattern; each capture's value is then set in
 * captures_out (a JSON object, may be NULL) under the capture's name as a
 * string. 0 when it does not match (captures_out untouched), including
 * names longer than BLOBPATH_NAME_MAX. -1 when it matches but a value
 * cannot be stored (a capture that is not valid UTF-8, out of memory);
 * captures_out may then hold some of the values. Names that passed
 * blobpath_name_check() never give -1 but for lack of memory. */
int blobpath_match(const blobpath_t *p, const char *container, const char *blob_name,
                   json_t *captures_out);

/* Check a blob name given by a user (CLI, admin API, output binding):
 * 1 to BLOBPATH_NAME_MAX bytes, no NUL, valid UTF-8, no control character,
 * no backslash, no leading or trailing '/', no empty, "." or ".." segment,
 * no segment starting with '.' (reserved for files being written), no
 * segment longer than BLOBPATH_SEGMENT_MAX. 0 when valid, -1 with a message
 * naming the problem and its position in err. The n variant takes a length
 * so that an embedded NUL is seen. */
int blobpath_name_check(const char *name, char *err, size_t errlen);
int blobpath_name_checkn(const char *name, size_t n, char *err, size_t errlen);

/* Check a container name by Azure's rules: 3 to 63 characters, lowercase
 * letters, digits and '-', starting and ending with a letter or digit, no
 * "--". 0 when valid, -1 with a message in err. */
int blobpath_container_check(const char *name, char *err, size_t errlen);

#endif
