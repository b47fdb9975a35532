/* test-status.c — status codes: pinned values, names and descriptions from the one X-macro,
 * OpenCL codes passed through, version agreement between header and library. */
#include "support.h"
#include <string.h>

START_TEST(test_pinned_values)
{
    ck_assert_int_eq(TT_SUCCESS, 0);
    ck_assert_int_eq(TT_BUILD_PROGRAM_FAILURE, CL_BUILD_PROGRAM_FAILURE);
    ck_assert_int_eq(TT_INVALID_MEM_OBJECT, CL_INVALID_MEM_OBJECT);
    ck_assert_int_eq(TT_ERR_BAD_SHAPE, -2002);
    ck_assert_int_eq(TT_ERR_TRUNCATED, -2022);
}
END_TEST

START_TEST(test_every_status_has_name_and_text)
{
#define CHECK_(name, value, text)                                                                  \
    ck_assert_str_eq(tt_status_name(value), #name);                                                \
    ck_assert_str_eq(tt_status_str(value), text);
    TT_STATUS_MAP(CHECK_)
#undef CHECK_
    ck_assert_str_eq(tt_status_name(-45), "CL_INVALID_PROGRAM_EXECUTABLE");
    ck_assert_str_eq(tt_status_str(-45), "OpenCL error");
    ck_assert_str_eq(tt_status_name(12345), "TT_UNKNOWN_STATUS");
}
END_TEST

START_TEST(test_version_matches_header)
{
    ck_assert_int_eq(tt_version(), TT_VERSION_NUMBER);
    ck_assert_ptr_nonnull(strstr(tt_version_string(), "0.1"));
}
END_TEST

START_TEST(test_thread_error_message)
{
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(NULL, &t), TT_ERR_NULL_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "NULL"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, test_pinned_values);
    tcase_add_test(tc, test_every_status_has_name_and_text);
    tcase_add_test(tc, test_version_matches_header);
    tcase_add_test(tc, test_thread_error_message);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
