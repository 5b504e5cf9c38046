//! The scrub's read rate limit: a token bucket (`governor`) of kibibytes, refilled at the
//! configured MiB/s, that every chunk read waits on before it is hashed.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The unit the bucket counts, in bytes.
const CELL: u64 = 1024;

/// A read rate limit in MiB/s shared by one scrub's reads.
pub(super) struct Throttle {
    limiter: DefaultDirectRateLimiter,
    /// Most cells one wait may ask for: the bucket's size, one second's worth.
    burst: u32,
}

impl Throttle {
    /// At most `mib_per_second` MiB (2^20 bytes) per second, in bursts of at most one second's
    /// worth.
    pub(super) fn new(mib_per_second: NonZeroU32) -> Throttle {
        let per_second = mib_per_second.saturating_mul(NonZeroU32::new(1024).expect("1024"));
        Throttle {
            limiter: RateLimiter::direct(Quota::per_second(per_second)),
            burst: per_second.get(),
        }
    }

    /// Waits until `bytes` more may be read.
    pub(super) async fn wait_for(&self, bytes: usize) {
        for cells in cell_waits(bytes as u64, self.burst) {
            // Never more than the burst, so the limiter always answers in time.
            let _ = self.limiter.until_n_ready(cells).await;
        }
    }
}

/// The waits, in cells, that reading `bytes` takes: whole cells rounded up, no wait larger
/// than `burst`.
fn cell_waits(bytes: u64, burst: u32) -> Vec<NonZeroU32> {
    let mut cells = bytes.div_ceil(CELL);
    let mut waits = Vec::new();
    while cells > 0 {
        let take = cells.min(u64::from(burst));
        waits.push(NonZeroU32::new(take as u32).expect("positive"));
        cells -= take;
    }
    waits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cost_whole_kibibytes_in_waits_no_larger_than_the_burst() {
        let sizes = |bytes, burst| -> Vec<u32> {
            cell_waits(bytes, burst).iter().map(|c| c.get()).collect()
        };
        assert_eq!(sizes(0, 1024), Vec::<u32>::new());
        assert_eq!(sizes(1, 1024), vec![1]);
        assert_eq!(sizes(1024, 1024), vec![1]);
        assert_eq!(sizes(1025, 1024), vec![2]);
        assert_eq!(sizes(3 * 1024 * 1024, 1024), vec![1024, 1024, 1024]);
        assert_eq!(sizes(2500 * 1024, 1000), vec![1000, 1000, 500]);
    }

    #[test]
    fn the_bucket_holds_one_second_of_reads() {
        let one = Throttle::new(NonZeroU32::new(1).unwrap());
        assert_eq!(one.burst, 1024);
        let most = Throttle::new(NonZeroU32::MAX);
        assert_eq!(most.burst, u32::MAX);
    }
}
