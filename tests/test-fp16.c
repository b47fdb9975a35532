/* test-fp16.c — host fp16 conversion: exhaustive round trip of every half value, round to
 * nearest even at ties, overflow to Inf, subnormals, NaN kept NaN. */
#include "support.h"
#include <math.h>
#include <string.h>

START_TEST(test_every_half_round_trips)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tt_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            ck_assert(isnan(tt_f16_to_f32(tt_f32_to_f16(f))));
            continue;
        }
        ck_assert_uint_eq(tt_f32_to_f16(f), h);
    }
}
END_TEST

START_TEST(test_known_values)
{
    ck_assert_uint_eq(tt_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(tt_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(tt_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(tt_f32_to_f16(65520.0f), 0x7c00); /* rounds up to Inf */
    ck_assert_uint_eq(tt_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
    ck_assert_uint_eq(tt_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02); /* tie to even, upward */
    ck_assert_uint_eq(tt_f32_to_f16(5.960464477539063e-08f), 0x0001); /* smallest subnormal */
    ck_assert_uint_eq(tt_f32_to_f16(1e-9f), 0x0000);
    ck_assert(isinf(tt_f16_to_f32(0x7c00)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fp16");
    TCase *tc = tcase_create("fp16");
    tcase_add_test(tc, test_every_half_round_trips);
    tcase_add_test(tc, test_known_values);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}
