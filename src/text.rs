//! Counted nouns for messages: `1 device`, `2 devices`, never `1 device(s)`.

use std::fmt::Display;

/// `n` and `noun`, the noun in the plural (an `s` added) unless `n` is 1:
/// `count(1, "device")` is `1 device`, `count(0, "App ID")` is `0 App IDs`.
pub fn count<N>(n: N, noun: &str) -> String
where
    N: Copy + Display + PartialEq + From<u8>,
{
    if n == N::from(1) {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_every_other_count_plural() {
        assert_eq!(count(1usize, "device"), "1 device");
        assert_eq!(count(0usize, "device"), "0 devices");
        assert_eq!(count(2u64, "App ID"), "2 App IDs");
        assert_eq!(count(1i64, "day"), "1 day");
        assert_eq!(count(-3i64, "day"), "-3 days");
    }
}
