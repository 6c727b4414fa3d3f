/*
 * log.h -- the host's log: readable coloured lines in development
 * (`stratus start`), one JSON object per line in production (`stratus host`).
 *
 * Lines are appended to a process buffer and written out by log_flush(),
 * which the host calls once per loop turn (and at exit), so a busy loop pays
 * one write for many lines. Before log_set_buffered(1) every line is written
 * at once. Levels follow stratus.h (STRATUS_LOG_TRACE .. CRITICAL).
 */
#ifndef STRATUS_LOG_H
#define STRATUS_LOG_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

enum { LOG_TRACE = 0, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_CRITICAL, LOG_NONE };

#define LOG_MAX_CATEGORY_RULES 64

typedef enum log_format { LOG_FORMAT_DEV = 0, LOG_FORMAT_JSON = 1 } log_format_t;

/* Configure the log. fd is where lines go (normally 1); colour applies to
 * the dev format only. */
void log_setup(log_format_t format, int fd, int colour, int min_level);
void log_set_buffered(int on);
int log_min_level(void);

/* Levels by category, as host.json logging.logLevel gives them: a line is
 * written when its level is at least that of the rule whose category is
 * the longest match for the line's category ("Function" matches
 * "Function.hello" and "Function.hello.User", not "Functions"); with no
 * matching rule, the minimum level of log_setup applies. LOG_NONE
 * silences. The rules are copied; n at most LOG_MAX_CATEGORY_RULES (the
 * rest are ignored). n = 0 removes them. */
void log_set_category_levels(const char *const *categories, const int *levels, size_t n);

/* The level a line of category needs to be written. */
int log_level_for(const char *category);

/* One line. category is e.g. "Host" or "Function.hello"; invocation_id may
 * be NULL. */
void log_write(int level, const char *category, const char *invocation_id,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_writev(int level, const char *category, const char *invocation_id,
                const char *fmt, va_list ap);

/* The line that closes every invocation: function, id, outcome, HTTP
 * status (0 when none), duration in nanoseconds, and an optional reason. */
void log_invocation(const char *function, const char *invocation_id, int ok,
                    int status, uint64_t duration_ns, const char *reason);

/* Divert log_write/log_writev to sink (a worker sends its lines to the
 * host this way); NULL restores normal output. The message is formatted
 * and NUL-terminated; it lives only during the call. */
typedef void (*log_sink_fn)(int level, const char *category, const char *invocation_id,
                            const char *message, size_t len, void *data);
void log_set_sink(log_sink_fn sink, void *data);

/* Observers see the lines the host writes, beside the normal output
 * (never in place of it): level, category, invocation id (NULL when
 * none) and the formatted message (NUL-terminated, valid during the call).
 * An observer registered with every_line sees every line, the closing
 * "Executed" line of each invocation included (category
 * "Function.<name>"); one without sees only the lines that carry an
 * invocation id, the closing line excepted. Lines diverted to a sink
 * (log_set_sink) are not observed. An observer must not log. At most
 * LOG_MAX_OBSERVERS; log_observe returns 0, or -1 when full. */
#define LOG_MAX_OBSERVERS 4
typedef void (*log_observer_fn)(int level, const char *category, const char *invocation_id,
                                const char *message, size_t len, void *data);
int log_observe(log_observer_fn fn, void *data, int every_line);
void log_unobserve(log_observer_fn fn, void *data);

/* Write out what is buffered. */
void log_flush(void);

#define log_info(...) log_write(LOG_INFO, "Host", NULL, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, "Host", NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, "Host", NULL, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, "Host", NULL, __VA_ARGS__)

#endif
