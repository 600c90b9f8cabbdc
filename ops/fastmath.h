/* fastmath.h - exp, tanh and the logistic sigmoid for the float32 build,
 * written so that a loop over an array vectorises (no calls, no branches).
 *
 * exp: x = n ln2 + r with n = round(x / ln2), |r| <= ln2 / 2 (ln2 split in a
 * high and a low part so that r is exact to float precision), e^r by its
 * Taylor series to r^7 (truncation < 1e-8 relative), times 2^n built in the
 * exponent bits. Arguments are clamped to [-87, 88] (no overflow, no
 * subnormals); NaN gives NaN. tanh: for |x| < 0.3 its odd Taylor series to x^11 (error
 * < 1e-8 relative), else 1 - 2 / (e^{2|x|} + 1) with the sign of x. The
 * results are within a few float ulps of the correctly rounded values
 * (tests/test_ops.c compares them with libm's). The float64 build uses libm.
 */
#ifndef TRELLIS_FASTMATH_H
#define TRELLIS_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float fast_expf(float x_in)
{
    /* NaN stays NaN (a diverging run must be seen); the arithmetic below runs
     * on 0 instead, so that no NaN meets the integer conversion */
    float x = x_in != x_in ? 0.0f : x_in;
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + shift) - shift;
    float r = (x - n * 0.693359375f) - n * -2.12194440e-4f; /* ln2 = hi + lo */
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x_in != x_in ? x_in : p * scale;
}

static inline float fast_tanhf(float x)
{
    const float a = x < 0 ? -x : x, a2 = a * a;
    /* odd series: x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925 */
    float s = -1382.0f / 155925;
    s = s * a2 + 62.0f / 2835;
    s = s * a2 - 17.0f / 315;
    s = s * a2 + 2.0f / 15;
    s = s * a2 - 1.0f / 3;
    s = s * a2 * a + a;
    const float big = 1.0f - 2.0f / (fast_expf(2 * a) + 1.0f);
    const float t = a < 0.3f ? s : big;
    return x < 0 ? -t : t;
}

static inline float fast_sigmoidf(float x)
{
    return 1.0f / (1.0f + fast_expf(-x));
}

#endif
