//! Per-packet impairment decisions (sans-IO): given a merged [`Impairment`], a seeded RNG and a
//! packet, decide drop / corrupt / hold-for. The NFQUEUE engine only executes these decisions, so
//! the statistics are unit-testable and a seed replays the same decisions for the same packet order.
//!
//! Semantics follow tc-netem(8): loss first, then corruption, then delay with jitter; `reorder P%`
//! sends P% of packets without delay so they overtake the delayed ones.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;

use crate::model::{Distribution, Impairment, LossModel};

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Drop,
    /// Release after `hold`; if `flip_bit` is set, flip that bit index of the packet first.
    Release { hold: Duration, flip_bit: Option<usize> },
}

/// Stateful decision maker for one rule (Gilbert-Elliott needs memory of its state).
#[derive(Debug)]
pub struct Impairer {
    impairment: Impairment,
    rng: XorShiftRng,
    ge_bad: bool,
}

impl Impairer {
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        Impairer { impairment, rng: XorShiftRng::seed_from_u64(seed), ge_bad: false }
    }

    pub fn impairment(&self) -> &Impairment {
        &self.impairment
    }

    /// Decides for an IPv4 packet (`packet` starts at the IP header).
    pub fn decide(&mut self, packet: &[u8]) -> Decision {
        if self.lose() {
            return Decision::Drop;
        }
        let corrupt = self.impairment.corrupt_percent;
        let flip_bit = match corrupt {
            Some(p) if self.chance(p) => corruptible_range(packet).map(|(start, end)| {
                let bits = (end - start) * 8;
                start * 8 + self.rng.random_range(0..bits)
            }),
            _ => None,
        };
        Decision::Release { hold: self.hold(), flip_bit }
    }

    fn chance(&mut self, percent: f64) -> bool {
        percent > 0.0 && self.rng.random::<f64>() * 100.0 < percent
    }

    fn lose(&mut self) -> bool {
        match self.impairment.loss {
            None => false,
            Some(LossModel::Random { percent }) => self.chance(percent),
            Some(LossModel::GilbertElliott { p, r, one_minus_h, one_minus_k }) => {
                // netem's gemodel: transition first, then lose according to the new state.
                if self.ge_bad {
                    if self.chance(r) {
                        self.ge_bad = false;
                    }
                } else if self.chance(p) {
                    self.ge_bad = true;
                }
                if self.ge_bad {
                    self.chance(one_minus_h)
                } else {
                    self.chance(one_minus_k)
                }
            }
        }
    }

    fn hold(&mut self) -> Duration {
        let base = match (self.impairment.delay, self.impairment.reorder) {
            (Some(d), _) => self.jittered(d.delay_ms, d.jitter_ms, d.distribution),
            (None, Some(r)) => r.delay_ms,
            (None, None) => 0.0,
        };
        if let Some(r) = self.impairment.reorder {
            if self.chance(r.percent) {
                return Duration::ZERO;
            }
        }
        Duration::from_secs_f64(base.max(0.0) / 1000.0)
    }

    fn jittered(&mut self, delay_ms: f64, jitter_ms: f64, distribution: Distribution) -> f64 {
        if jitter_ms <= 0.0 {
            return delay_ms;
        }
        match distribution {
            Distribution::Uniform => delay_ms + self.rng.random_range(-jitter_ms..=jitter_ms),
            Distribution::Normal => {
                // Box-Muller: two uniforms give one standard normal.
                let u1: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = self.rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                delay_ms + jitter_ms * z
            }
        }
    }
}

/// Byte range whose bits corruption may flip: the L4 payload (after the UDP header) when there is
/// one, else the IP payload. The IP header stays intact so the packet is still routed, as a damaged
/// frame on a real link would be delivered by a switch and judged by the receiver's checksum.
pub fn corruptible_range(packet: &[u8]) -> Option<(usize, usize)> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let start = if packet[9] == 17 { ihl + 8 } else { ihl };
    (start < packet.len()).then_some((start, packet.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DelaySpec, ReorderSpec};

    fn udp_packet(payload_len: usize) -> Vec<u8> {
        let mut p = vec![0u8; 28 + payload_len];
        p[0] = 0x45;
        p[9] = 17;
        p
    }

    fn run(imp: Impairment, n: usize) -> Vec<Decision> {
        let mut i = Impairer::new(imp, 42);
        let pkt = udp_packet(32);
        (0..n).map(|_| i.decide(&pkt)).collect()
    }

    #[test]
    fn random_loss_ratio_matches() {
        let d = run(Impairment { loss: Some(LossModel::Random { percent: 10.0 }), ..Default::default() }, 20_000);
        let lost = d.iter().filter(|d| **d == Decision::Drop).count() as f64 / 20_000.0;
        assert!((lost - 0.10).abs() < 0.01, "lost {lost}");
    }

    #[test]
    fn gilbert_elliott_is_bursty_with_the_stationary_mean() {
        let ge = LossModel::GilbertElliott { p: 5.0, r: 30.0, one_minus_h: 100.0, one_minus_k: 0.0 };
        let d = run(Impairment { loss: Some(ge), ..Default::default() }, 50_000);
        let lost: Vec<bool> = d.iter().map(|d| *d == Decision::Drop).collect();
        let ratio = lost.iter().filter(|l| **l).count() as f64 / lost.len() as f64;
        assert!((ratio - ge.stationary_loss()).abs() < 0.015, "ratio {ratio}");
        // Mean burst length of a GE channel with h=0 is 1/r = 3.33 packets; random loss would give ~1.17.
        let bursts = lost.windows(2).filter(|w| !w[0] && w[1]).count();
        let mean_burst = lost.iter().filter(|l| **l).count() as f64 / bursts as f64;
        assert!((mean_burst - 1.0 / 0.3).abs() < 0.4, "mean burst {mean_burst}");
    }

    #[test]
    fn uniform_jitter_stays_in_bounds_and_centres() {
        let imp = Impairment {
            delay: Some(DelaySpec { delay_ms: 20.0, jitter_ms: 5.0, distribution: Distribution::Uniform }),
            ..Default::default()
        };
        let mut holds: Vec<f64> = run(imp, 10_000)
            .into_iter()
            .map(|d| match d {
                Decision::Release { hold, .. } => hold.as_secs_f64() * 1000.0,
                Decision::Drop => panic!("no loss configured"),
            })
            .collect();
        holds.sort_by(f64::total_cmp);
        assert!(holds[0] >= 15.0 && holds[holds.len() - 1] <= 25.0);
        assert!((holds[5000] - 20.0).abs() < 0.3);
    }

    #[test]
    fn reorder_sends_the_configured_share_at_once() {
        let imp = Impairment { reorder: Some(ReorderSpec { percent: 25.0, delay_ms: 10.0 }), ..Default::default() };
        let d = run(imp, 20_000);
        let immediate = d.iter().filter(|d| matches!(d, Decision::Release { hold, .. } if hold.is_zero())).count();
        assert!((immediate as f64 / 20_000.0 - 0.25).abs() < 0.01);
    }

    #[test]
    fn corruption_flips_only_payload_bits() {
        let imp = Impairment { corrupt_percent: Some(100.0), ..Default::default() };
        for d in run(imp, 1000) {
            let Decision::Release { flip_bit: Some(bit), .. } = d else { panic!("every packet is corrupted") };
            assert!((28 * 8..60 * 8).contains(&bit));
        }
    }

    #[test]
    fn same_seed_same_decisions() {
        let imp = Impairment { loss: Some(LossModel::Random { percent: 30.0 }), corrupt_percent: Some(5.0), ..Default::default() };
        assert_eq!(run(imp.clone(), 500), run(imp, 500));
    }
}
