//! Random numbers: a seedable generator (xoshiro256++, seeded through SplitMix64) shared by
//! all sampling ops; `manual_seed` makes runs reproducible.

use super::creation::host_vec;
use super::Tensor;
use crate::backend::Distribution;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone)]
struct Xoshiro {
    s: [u64; 4],
}

impl Xoshiro {
    fn seeded(seed: u64) -> Xoshiro {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Xoshiro {
            s: [next(), next(), next(), next()],
        }
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller; 1 - u avoids log(0).
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Uniform integer in [0, n) without modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// A random number generator (`torch.Generator`).
pub struct Generator {
    state: Mutex<(u64, Xoshiro)>,
}

impl Generator {
    pub fn new(seed: u64) -> Arc<Generator> {
        Arc::new(Generator {
            state: Mutex::new((seed, Xoshiro::seeded(seed))),
        })
    }
    pub fn manual_seed(&self, seed: u64) {
        *self.lock() = (seed, Xoshiro::seeded(seed));
    }
    pub fn initial_seed(&self) -> u64 {
        self.lock().0
    }
    /// The full state (seed + 4 words) for `get_state`/`set_state`.
    pub fn get_state(&self) -> Vec<u64> {
        let g = self.lock();
        let mut v = vec![g.0];
        v.extend_from_slice(&g.1.s);
        v
    }
    pub fn set_state(&self, v: &[u64]) -> Result<()> {
        if v.len() != 5 {
            return Err(Error::Runtime("Generator.set_state: invalid state".into()));
        }
        *self.lock() = (
            v[0],
            Xoshiro {
                s: [v[1], v[2], v[3], v[4]],
            },
        );
        Ok(())
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Xoshiro)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn with<R>(&self, f: impl FnOnce(&mut Xoshiro) -> R) -> R {
        f(&mut self.lock().1)
    }
}

/// The process-wide default generator (seeded with a fixed value until `manual_seed`).
pub fn default_generator() -> &'static Arc<Generator> {
    static G: OnceLock<Arc<Generator>> = OnceLock::new();
    G.get_or_init(|| Generator::new(67280421310721))
}

pub fn manual_seed(seed: u64) {
    default_generator().manual_seed(seed);
    cuda_manual_seed_all(seed);
}

/// Philox (seed, next counter) of each CUDA device's default generator, and the seed new
/// devices start from.
struct DeviceStreams {
    default_seed: u64,
    devices: std::collections::HashMap<usize, (u64, u64)>,
}

fn device_streams() -> std::sync::MutexGuard<'static, DeviceStreams> {
    static S: OnceLock<Mutex<DeviceStreams>> = OnceLock::new();
    S.get_or_init(|| {
        Mutex::new(DeviceStreams {
            default_seed: 67280421310721,
            devices: Default::default(),
        })
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

/// `torch.cuda.manual_seed`: restarts device `index`'s stream.
pub fn cuda_manual_seed(index: usize, seed: u64) {
    device_streams().devices.insert(index, (seed, 0));
}

/// `torch.cuda.manual_seed_all` (also done by `torch.manual_seed`).
pub fn cuda_manual_seed_all(seed: u64) {
    let mut s = device_streams();
    s.default_seed = seed;
    s.devices.clear();
}

pub fn cuda_initial_seed(index: usize) -> u64 {
    let s = device_streams();
    s.devices.get(&index).map_or(s.default_seed, |d| d.0)
}

/// Reserves `counters` Philox counters of device `index`'s stream: (seed, first counter).
fn cuda_reserve(index: usize, counters: u64) -> (u64, u64) {
    let mut s = device_streams();
    let seed = s.default_seed;
    let e = s.devices.entry(index).or_insert((seed, 0));
    let start = e.1;
    e.1 = e.1.wrapping_add(counters);
    (e.0, start)
}

/// Draws `dist` on an accelerator with a counter-based stream, generated on the device: the
/// default generator of the device, or a key drawn from an explicit generator.
fn device_draw(
    shape: &[usize],
    dtype: DType,
    dist: Distribution,
    g: Option<&Arc<Generator>>,
    device: Device,
) -> Result<Tensor> {
    let n = crate::shape::checked_numel(shape)?;
    let counters = (n as u64).div_ceil(dist.per_counter(dtype));
    let (seed, offset) = match g {
        Some(g) => (g.with(|r| r.next_u64()), 0),
        None => cuda_reserve(device.index().unwrap_or(0), counters),
    };
    let storage = crate::backend::backend(device)?.philox_fill(n, dtype, dist, seed, offset)?;
    Tensor::from_kernel(storage, shape)
}

fn gen(g: Option<&Arc<Generator>>) -> &Arc<Generator> {
    g.unwrap_or_else(|| default_generator())
}

fn check_float(dt: DType, op: &str) -> Result<()> {
    if !dt.is_float() {
        return Err(Error::Runtime(format!(
            "\"{op}\" not implemented for '{}'",
            super::binary::pretty_dtype(dt)
        )));
    }
    Ok(())
}

impl Tensor {
    /// `torch.rand`: uniform [0, 1).
    pub fn rand(
        shape: &[usize],
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::rand", &[]);
        Self::uniform(shape, 0.0, 1.0, dtype, g, device)
    }

    pub fn uniform(
        shape: &[usize],
        lo: f64,
        hi: f64,
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::uniform_", &[]);
        check_float(dtype, "check_uniform_bounds")?;
        if device != Device::Cpu {
            return device_draw(shape, dtype, Distribution::Uniform { lo, hi }, g, device);
        }
        let n = crate::shape::checked_numel(shape)?;
        let v = gen(g).with(|r| host_vec(n, |_| lo + (hi - lo) * r.uniform()))?;
        Tensor::from_vec(v, shape)?
            .to_dtype_raw(dtype)?
            .to_device_raw(device)
    }

    /// `torch.randn`: standard normal.
    pub fn randn(
        shape: &[usize],
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::randn", &[]);
        Self::normal(shape, 0.0, 1.0, dtype, g, device)
    }

    pub fn normal(
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::normal_", &[]);
        check_float(dtype, "normal_kernel_cpu")?;
        if std < 0.0 {
            return Err(Error::Runtime(format!(
                "normal expects std >= 0.0, but found std {std}"
            )));
        }
        if device != Device::Cpu {
            return device_draw(shape, dtype, Distribution::Normal { mean, std }, g, device);
        }
        let n = crate::shape::checked_numel(shape)?;
        let v = gen(g).with(|r| host_vec(n, |_| mean + std * r.normal()))?;
        Tensor::from_vec(v, shape)?
            .to_dtype_raw(dtype)?
            .to_device_raw(device)
    }

    /// `torch.randint(low, high, shape)`.
    pub fn randint(
        low: i64,
        high: i64,
        shape: &[usize],
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::randint", &[]);
        if high <= low {
            return Err(Error::Runtime(format!(
                "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
            )));
        }
        let n = crate::shape::checked_numel(shape)?;
        // (high - low) may exceed i64::MAX; its bit pattern is the right u64 span.
        let span = high.wrapping_sub(low) as u64;
        if device != Device::Cpu {
            let dist = Distribution::Integers { low, span };
            return device_draw(shape, DType::I64, dist, g, device)?.to_dtype_raw(dtype);
        }
        let v = gen(g).with(|r| host_vec(n, |_| low.wrapping_add(r.below(span) as i64)))?;
        Tensor::from_vec(v, shape)?
            .to_dtype_raw(dtype)?
            .to_device_raw(device)
    }

    /// `torch.randperm(n)` (Fisher–Yates).
    pub fn randperm(
        n: usize,
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::randperm", &[]);
        let mut v = host_vec(n, |i| i as i64)?;
        gen(g).with(|r| {
            for i in (1..n).rev() {
                let j = r.below(i as u64 + 1) as usize;
                v.swap(i, j);
            }
        });
        Tensor::from_vec(v, &[n])?
            .to_dtype_raw(dtype)?
            .to_device_raw(device)
    }

    /// `torch.bernoulli(p)`: 1 with probability p, in p's dtype.
    pub fn bernoulli(&self, g: Option<&Arc<Generator>>) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::bernoulli", &[self]);
        let p = self.to_f64_vec()?;
        if p.iter().any(|&x| !(0.0..=1.0).contains(&x)) {
            return Err(Error::Runtime(
                "bernoulli_: all elements of p must be in [0, 1]".into(),
            ));
        }
        if self.device() != Device::Cpu && self.dtype().is_float() {
            let n = p.len() as u64;
            let per = Distribution::Bernoulli { p: 0.0 }.per_counter(self.dtype());
            let (seed, offset) = match g {
                Some(g) => (g.with(|r| r.next_u64()), 0),
                None => cuda_reserve(self.device().index().unwrap_or(0), n.div_ceil(per)),
            };
            let st = self
                .backend()?
                .philox_bernoulli(self.strided(), seed, offset)?;
            return Tensor::from_kernel(st, self.shape());
        }
        let v = gen(g).with(|r| host_vec(p.len(), |i| (r.uniform() < p[i]) as u8 as f64))?;
        Tensor::from_vec_on(v, self.shape(), self.device())?.to_dtype_raw(self.dtype())
    }

    /// Bernoulli(p) with a scalar p, in `dtype`.
    pub fn bernoulli_scalar(
        shape: &[usize],
        p: f64,
        dtype: DType,
        g: Option<&Arc<Generator>>,
        device: Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::bernoulli_", &[]);
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Runtime(format!(
                "bernoulli_ expects p to be in [0, 1], but got p={p}"
            )));
        }
        if device != Device::Cpu && dtype.is_float() {
            return device_draw(shape, dtype, Distribution::Bernoulli { p }, g, device);
        }
        let n = crate::shape::checked_numel(shape)?;
        let v = gen(g).with(|r| host_vec(n, |_| (r.uniform() < p) as u8 as f64))?;
        Tensor::from_vec(v, shape)?
            .to_dtype_raw(dtype)?
            .to_device_raw(device)
    }

    /// `torch.multinomial(probs, n, replacement)` for 1-D or 2-D weights.
    pub fn multinomial(
        &self,
        num_samples: usize,
        replacement: bool,
        g: Option<&Arc<Generator>>,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::multinomial", &[self]);
        if self.ndim() == 0 || self.ndim() > 2 {
            return Err(Error::Runtime("prob_dist must be 1 or 2 dim".into()));
        }
        let rows = if self.ndim() == 1 { 1 } else { self.shape()[0] };
        let k = self.shape()[self.ndim() - 1];
        if !replacement && num_samples > k {
            return Err(Error::Runtime(
                "cannot sample n_sample > prob_dist.size(-1) samples without replacement".into(),
            ));
        }
        let w = self.to_f64_vec()?;
        if w.iter().any(|&x| x < 0.0 || !x.is_finite()) {
            return Err(Error::Runtime(
                "probability tensor contains either `inf`, `nan` or element < 0".into(),
            ));
        }
        let total = crate::shape::checked_numel(&[rows, num_samples])?;
        let mut out = host_vec(total, |_| 0i64)?;
        let mut next = 0;
        gen(g).with(|r| -> Result<()> {
            for row in w.chunks(k.max(1)).take(rows) {
                let mut weights = row.to_vec();
                for _ in 0..num_samples {
                    let total: f64 = weights.iter().sum();
                    if total <= 0.0 {
                        return Err(Error::Runtime(
                            "invalid multinomial distribution (sum of probabilities <= 0)".into(),
                        ));
                    }
                    let mut u = r.uniform() * total;
                    let mut pick = k - 1;
                    for (i, &wt) in weights.iter().enumerate() {
                        if u < wt {
                            pick = i;
                            break;
                        }
                        u -= wt;
                    }
                    out[next] = pick as i64;
                    next += 1;
                    if !replacement {
                        weights[pick] = 0.0;
                    }
                }
            }
            Ok(())
        })?;
        let shape: Vec<usize> = if self.ndim() == 1 {
            vec![num_samples]
        } else {
            vec![rows, num_samples]
        };
        Tensor::from_vec_on(out, &shape, self.device())
    }
}
