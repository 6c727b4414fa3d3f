/*
 * netfmt.h -- date and GUID format strings as .NET reads them, for the
 * {DateTime:format} and {rand-guid:format} binding expressions of Azure
 * Functions ("logs/{DateTime:yyyy}/{DateTime:MM}/{rand-guid:N}.json").
 *
 * Dates: .NET custom format strings in the invariant culture (yyyy yy y,
 * MMMM MMM MM M, dddd ddd dd d, HH H hh h, mm m, ss s, f..fffffff,
 * F..FFFFFFF, tt t, K, z zz zzz, g, 'quoted' and "quoted" text, \x, %x,
 * ':' and '/'; any other character is itself), and the one-letter standard
 * formats (d D f F g G M m O o R r s t T u U Y y). The time is UTC.
 * GUIDs: N, D, B, P (either case).
 *
 * Both functions only append to out; nothing is kept between calls.
 */
#ifndef STRATUS_NETFMT_H
#define STRATUS_NETFMT_H

#include <stdint.h>

#include "buf.h"

/* Append the UTC time unix_ms formatted by fmt to out. 0, or -1 with err
 * saying what is wrong with fmt (an unknown standard format, an unclosed
 * quote, a run of a letter longer than .NET allows) or that out is full. */
int netfmt_datetime(buf_t *out, int64_t unix_ms, const char *fmt, char *err, size_t errlen);

/* Append the hyphenated GUID text guid (36 characters) in format fmt to
 * out. 0, or -1 with err naming the format when it is not N, D, B or P. */
int netfmt_guid(buf_t *out, const char *guid, const char *fmt, char *err, size_t errlen);

#endif
