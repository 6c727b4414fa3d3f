/*
 * test_envset.c -- env_update(): changes seen by getenv(), and readers on
 * other threads that never see a freed or half-moved array.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/util/envset.h"
#include "test.h"

extern char **environ;

TEST(sets_replaces_and_removes)
{
    unsetenv("ENVSET_A");
    setenv("ENVSET_B", "old", 1);
    setenv("ENVSET_C", "gone", 1);
    env_change_t ch[] = {{"ENVSET_A", "1", 0}, {"ENVSET_B", "new", 0}, {"ENVSET_C", NULL, 0}};
    CHECK_INT(env_update(ch, 3), 0);
    CHECK_STR(getenv("ENVSET_A"), "1");
    CHECK_STR(getenv("ENVSET_B"), "new");
    CHECK(getenv("ENVSET_C") == NULL);
    CHECK(getenv("PATH") != NULL); /* the rest is kept */
}

TEST(keep_leaves_a_set_variable)
{
    setenv("ENVSET_K", "from-env", 1);
    unsetenv("ENVSET_L");
    env_change_t ch[] = {{"ENVSET_K", "from-file", 1}, {"ENVSET_L", "from-file", 1}};
    CHECK_INT(env_update(ch, 2), 0);
    CHECK_STR(getenv("ENVSET_K"), "from-env");
    CHECK_STR(getenv("ENVSET_L"), "from-file");
}

TEST(last_change_of_a_name_wins_and_no_duplicates)
{
    env_change_t ch[] = {{"ENVSET_D", "1", 0}, {"ENVSET_D", "2", 0}};
    CHECK_INT(env_update(ch, 2), 0);
    CHECK_STR(getenv("ENVSET_D"), "2");
    int n = 0;
    for (char **e = environ; *e; e++)
        n += strncmp(*e, "ENVSET_D=", 9) == 0;
    CHECK_INT(n, 1);
    env_change_t rm[] = {{"ENVSET_D", "3", 0}, {"ENVSET_D", NULL, 0}};
    CHECK_INT(env_update(rm, 2), 0);
    CHECK(getenv("ENVSET_D") == NULL);
}

TEST(invalid_names_change_nothing)
{
    unsetenv("ENVSET_E");
    env_change_t ch[] = {{"ENVSET_E", "1", 0}, {"BAD=NAME", "1", 0}};
    errno = 0;
    CHECK_INT(env_update(ch, 2), -1);
    CHECK_INT(errno, EINVAL);
    CHECK(getenv("ENVSET_E") == NULL);
    env_change_t empty[] = {{"", "1", 0}};
    CHECK_INT(env_update(empty, 1), -1);
}

TEST(old_arrays_and_values_stay_valid)
{
    env_change_t a[] = {{"ENVSET_F", "first", 0}};
    CHECK_INT(env_update(a, 1), 0);
    char **before = environ;
    const char *v = getenv("ENVSET_F");
    env_change_t b[] = {{"ENVSET_F", "second", 0}, {"ENVSET_G", "x", 0}};
    CHECK_INT(env_update(b, 2), 0);
    CHECK(environ != before);
    CHECK_STR(v, "first"); /* what getenv() gave is not freed */
    int found = 0;
    for (char **e = before; *e; e++)
        found += strcmp(*e, "ENVSET_F=first") == 0;
    CHECK_INT(found, 1);
}

static volatile int stop_readers;

static void *reader(void *arg)
{
    long *hits = arg;
    while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
        const char *v = getenv("ENVSET_R");
        if (v && (v[0] < '0' || v[0] > '9'))
            abort();
        if (getenv("PATH"))
            (*hits)++;
    }
    return NULL;
}

TEST(readers_on_other_threads_see_whole_arrays)
{
    pthread_t t[2];
    long hits[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        CHECK_INT(pthread_create(&t[i], NULL, reader, &hits[i]), 0);
    char name[32], val[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "ENVSET_N%d", i % 40);
        snprintf(val, sizeof val, "%d", i);
        env_change_t ch[] = {{"ENVSET_R", val, 0}, {name, i % 3 ? val : NULL, 0}};
        CHECK_INT(env_update(ch, 2), 0);
    }
    __atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_STR(getenv("ENVSET_R"), "299");
}

int main(void)
{
    RUN(sets_replaces_and_removes);
    RUN(keep_leaves_a_set_variable);
    RUN(last_change_of_a_name_wins_and_no_duplicates);
    RUN(invalid_names_change_nothing);
    RUN(old_arrays_and_values_stay_valid);
    RUN(readers_on_other_threads_see_whole_arrays);
    return TEST_REPORT();
}
