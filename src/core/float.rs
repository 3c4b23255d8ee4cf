//! The few float operations the crate needs that `core` lacks on stable (std has them as
//! methods; the npm build has no std). One implementation everywhere, tested against
//! std's; `powi` is the square-and-multiply of compiler-rt's `__powidf2`.

/// 2^52: from here on every f64 is an integer.
const INTEGRAL: f64 = 4_503_599_627_370_496.0;

/// `x` rounded toward zero.
pub fn trunc(x: f64) -> f64 {
    if x.abs() < INTEGRAL {
        ((x as i64) as f64).copysign(x)
    } else {
        x
    }
}

/// The largest integer not above `x`.
pub fn floor(x: f64) -> f64 {
    let t = trunc(x);
    if t > x {
        t - 1.0
    } else {
        t
    }
}

/// `x` rounded to the nearest integer, halves away from zero (as `f64::round`).
pub fn round(x: f64) -> f64 {
    let t = trunc(x);
    if (x - t).abs() >= 0.5 {
        t + if x < 0.0 { -1.0 } else { 1.0 }
    } else {
        t
    }
}

/// What `x` has after its integer part.
pub fn fract(x: f64) -> f64 {
    x - trunc(x)
}

/// `x` to the power `n`.
pub fn powi(x: f64, n: i32) -> f64 {
    let mut base = x;
    let mut e = n.unsigned_abs();
    let mut r = 1.0;
    loop {
        if e & 1 != 0 {
            r *= base;
        }
        e >>= 1;
        if e == 0 {
            break;
        }
        base *= base;
    }
    if n < 0 {
        1.0 / r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_std_does() {
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999999999999994,
            1e15 + 0.5,
            4.5e15,
            -7.25,
            1.7e308,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(trunc(x).to_bits(), x.trunc().to_bits(), "trunc {x}");
            assert_eq!(floor(x).to_bits(), x.floor().to_bits(), "floor {x}");
            assert_eq!(round(x), x.round(), "round {x}");
            if x.is_finite() {
                assert_eq!(fract(x), x.fract(), "fract {x}");
            }
        }
        assert!(round(f64::NAN).is_nan() && floor(f64::NAN).is_nan());
        for n in [-400, -22, -3, -1, 0, 1, 2, 3, 15, 22, 23, 308, 400] {
            assert_eq!(powi(10.0, n), 10f64.powi(n), "10^{n}");
            assert_eq!(powi(2.0, n), 2f64.powi(n), "2^{n}");
        }
    }
}
