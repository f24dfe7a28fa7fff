//! Token buckets for the per-channel publish rate (`limits.publishRatePerChannel`): a burst of `rate` messages, then
//! `rate` per second. Uses tokio's clock so tests can pause time.

use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilled at `rate` per second; a rate of 0 never refuses.
    pub fn new(rate: u32) -> Self {
        Self::with_burst(rate, rate)
    }

    /// A full bucket of `burst` tokens refilled at `rate` per second.
    pub fn with_burst(rate: u32, burst: u32) -> Self {
        TokenBucket { rate: rate as f64, burst: burst as f64, tokens: burst as f64, last: Instant::now() }
    }

    /// Whether the bucket has refilled completely (an idle bucket, same as a new one).
    pub fn is_full(&self) -> bool {
        let elapsed = Instant::now().duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_a_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(60);
        assert_eq!((0..100).filter(|_| bucket.try_take()).count(), 60);
        tokio::time::advance(std::time::Duration::from_millis(500)).await;
        assert_eq!((0..100).filter(|_| bucket.try_take()).count(), 30);
        let mut unlimited = TokenBucket::new(0);
        assert!((0..10_000).all(|_| unlimited.try_take()));
    }
}
