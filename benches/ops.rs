//! Criterion benchmarks of core kernels and autograd latency (`cargo bench`).

use criterion::{criterion_group, criterion_main, Criterion};
use rtorch::{DType, Device, Tensor};
use std::hint::black_box;

fn kernels(c: &mut Criterion) {
    let a = Tensor::randn(&[1 << 20], DType::F32, None, Device::Cpu).unwrap();
    let b = Tensor::randn(&[1 << 20], DType::F32, None, Device::Cpu).unwrap();
    c.bench_function("add 1M f32", |bn| bn.iter(|| black_box(a.add(&b).unwrap())));
    c.bench_function("sum 1M f32", |bn| bn.iter(|| black_box(a.sum().unwrap())));
    c.bench_function("exp 1M f32", |bn| bn.iter(|| black_box(a.exp().unwrap())));
    let m = Tensor::randn(&[256, 256], DType::F32, None, Device::Cpu).unwrap();
    c.bench_function("matmul 256 f32", |bn| {
        bn.iter(|| black_box(m.matmul(&m).unwrap()))
    });
    let x = Tensor::randn(&[32, 3, 32, 32], DType::F32, None, Device::Cpu).unwrap();
    let w = Tensor::randn(&[16, 3, 3, 3], DType::F32, None, Device::Cpu).unwrap();
    c.bench_function("conv2d 32x3x32x32 k3", |bn| {
        bn.iter(|| black_box(x.conv2d(&w, None, (1, 1), (1, 1), (1, 1), 1).unwrap()))
    });
}

fn autograd(c: &mut Criterion) {
    let x = Tensor::randn(&[8], DType::F32, None, Device::Cpu).unwrap();
    x.set_requires_grad(true).unwrap();
    c.bench_function("tiny fwd+bwd (3 ops)", |bn| {
        bn.iter(|| {
            let y = x.mul(&x).unwrap().add_scalar(1.0).unwrap().sum().unwrap();
            y.backward().unwrap();
        })
    });
    c.bench_function("chain of 1000 ops fwd+bwd", |bn| {
        bn.iter(|| {
            let mut y = x.clone();
            for _ in 0..1000 {
                y = y.mul_scalar(1.0001).unwrap();
            }
            y.sum().unwrap().backward().unwrap();
        })
    });
}

criterion_group!(benches, kernels, autograd);
criterion_main!(benches);
