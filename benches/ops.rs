//! Criterion benchmarks of the CPU kernel families at a small and a large size, and of
//! autograd latency (`cargo bench`; `cargo bench -- layer_norm` for one family).

use criterion::{criterion_group, criterion_main, Criterion};
use rtorch::backend::{AdamStep, SgdStep};
use rtorch::tensor::binary_ops::{binary_inplace, Arg, BinaryOp};
use rtorch::{DType, Device, Tensor};
use std::hint::black_box;

fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(shape, DType::F32, None, Device::Cpu).unwrap()
}

fn leaf(shape: &[usize]) -> Tensor {
    let t = randn(shape);
    t.set_requires_grad(true).unwrap();
    t
}

/// Sizes every family runs at: a small (per-op overhead) and a large (throughput) one.
const SIZES: [(&str, usize); 2] = [("4K", 1 << 12), ("4M", 1 << 22)];

fn elementwise(c: &mut Criterion) {
    for (tag, n) in SIZES {
        let (a, b) = (randn(&[n]), randn(&[n]));
        c.bench_function(&format!("add {tag}"), |bn| {
            bn.iter(|| black_box(a.add(&b).unwrap()))
        });
        let x = randn(&[n]);
        c.bench_function(&format!("add_ in place {tag}"), |bn| {
            bn.iter(|| binary_inplace(BinaryOp::Add, &x, Arg::T(&b)).unwrap())
        });
        c.bench_function(&format!("exp {tag}"), |bn| {
            bn.iter(|| black_box(a.exp().unwrap()))
        });
        c.bench_function(&format!("tanh {tag}"), |bn| {
            bn.iter(|| black_box(a.tanh().unwrap()))
        });
        c.bench_function(&format!("gelu {tag}"), |bn| {
            bn.iter(|| black_box(a.gelu().unwrap()))
        });
        // The backward sweep seeds a broadcast gradient of the sum: ReLU's backward
        // (threshold_backward) reads it in place.
        let l = leaf(&[n]);
        c.bench_function(&format!("relu fwd+bwd {tag}"), |bn| {
            bn.iter(|| l.relu().unwrap().sum().unwrap().backward().unwrap())
        });
        // Sigmoid's and tanh's backward (one pass from the saved output).
        c.bench_function(&format!("sigmoid fwd+bwd {tag}"), |bn| {
            bn.iter(|| l.sigmoid().unwrap().sum().unwrap().backward().unwrap())
        });
        c.bench_function(&format!("tanh fwd+bwd {tag}"), |bn| {
            bn.iter(|| l.tanh().unwrap().sum().unwrap().backward().unwrap())
        });
    }
}

fn reductions(c: &mut Criterion) {
    for (tag, n) in SIZES {
        let a = randn(&[n / 1024, 1024]);
        c.bench_function(&format!("sum {tag}"), |bn| {
            bn.iter(|| black_box(a.sum().unwrap()))
        });
        c.bench_function(&format!("sum(dim=0) {tag}"), |bn| {
            bn.iter(|| black_box(a.sum_dims(&[0], false, None).unwrap()))
        });
        c.bench_function(&format!("softmax {tag}"), |bn| {
            bn.iter(|| black_box(a.softmax_impl(-1, false, None).unwrap()))
        });
    }
}

fn normalisation(c: &mut Criterion) {
    for (tag, n) in SIZES {
        let x = leaf(&[n / 1024, 1024]);
        let (w, b) = (leaf(&[1024]), leaf(&[1024]));
        c.bench_function(&format!("layer_norm fwd+bwd {tag}"), |bn| {
            bn.iter(|| {
                let y = x.layer_norm(&[1024], Some(&w), Some(&b), 1e-5).unwrap();
                y.sum().unwrap().backward().unwrap();
            })
        });
        let img = leaf(&[n / 4096, 16, 16, 16]);
        let (g, h) = (leaf(&[16]), leaf(&[16]));
        c.bench_function(&format!("batch_norm fwd+bwd {tag}"), |bn| {
            bn.iter(|| {
                let y = img
                    .batch_norm(Some(&g), Some(&h), None, None, true, 0.1, 1e-5)
                    .unwrap();
                y.sum().unwrap().backward().unwrap();
            })
        });
    }
}

fn windows(c: &mut Criterion) {
    for (tag, n) in SIZES {
        let x = leaf(&[n / 4096, 16, 16, 16]);
        let w = leaf(&[16, 16, 3, 3]);
        c.bench_function(&format!("conv2d 3x3 fwd+bwd {tag}"), |bn| {
            bn.iter(|| {
                let y = x.conv2d(&w, None, (1, 1), (1, 1), (1, 1), 1).unwrap();
                y.sum().unwrap().backward().unwrap();
            })
        });
        c.bench_function(&format!("max_pool2d fwd+bwd {tag}"), |bn| {
            bn.iter(|| {
                let (y, _) = x
                    .max_pool2d_with_indices((2, 2), (2, 2), (0, 0), (1, 1), false)
                    .unwrap();
                y.sum().unwrap().backward().unwrap();
            })
        });
    }
    // A ResNet-sized layer: stride 1 (Winograd) and stride 2 (im2col), forward only.
    let x = randn(&[8, 64, 56, 56]);
    let w = randn(&[64, 64, 3, 3]);
    for s in [1, 2] {
        c.bench_function(&format!("conv2d 64->64 3x3 stride {s} fwd 8x56x56"), |bn| {
            bn.iter(|| black_box(x.conv2d(&w, None, (s, s), (1, 1), (1, 1), 1).unwrap()))
        });
    }
}

fn recurrent_and_matmul(c: &mut Criterion) {
    for (tag, steps) in [("T=4", 4), ("T=50", 50)] {
        let xw = leaf(&[steps, 32, 1024]);
        let (h0, c0) = (randn(&[32, 256]), randn(&[32, 256]));
        let (w, b) = (leaf(&[1024, 256]), leaf(&[1024]));
        c.bench_function(&format!("lstm layer fwd+bwd {tag}"), |bn| {
            bn.iter(|| {
                let y = Tensor::lstm_layer(&xw, &h0, &c0, &w, Some(&b), false).unwrap();
                y.sum().unwrap().backward().unwrap();
            })
        });
    }
    for n in [64, 512] {
        let m = randn(&[n, n]);
        c.bench_function(&format!("matmul {n}"), |bn| {
            bn.iter(|| black_box(m.matmul(&m).unwrap()))
        });
    }
}

fn optimizers(c: &mut Criterion) {
    for (tag, n) in SIZES {
        let (p, g) = (randn(&[n]), randn(&[n]));
        let (m, v) = (
            Tensor::zeros_like(&p).unwrap(),
            Tensor::zeros_like(&p).unwrap(),
        );
        let h = AdamStep {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            amsgrad: false,
            maximize: false,
            decoupled: true,
            step: 1,
        };
        c.bench_function(&format!("adamw step {tag}"), |bn| {
            bn.iter(|| p.adam_step_(&g, &m, &v, None, h).unwrap())
        });
        let buf = Tensor::zeros_like(&p).unwrap();
        let h = SgdStep {
            lr: 1e-3,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            first: false,
        };
        c.bench_function(&format!("sgd momentum step {tag}"), |bn| {
            bn.iter(|| black_box(p.sgd_step_(&g, Some(&buf), h).unwrap()))
        });
    }
}

fn autograd(c: &mut Criterion) {
    let x = leaf(&[8]);
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

criterion_group!(
    benches,
    elementwise,
    reductions,
    normalisation,
    windows,
    recurrent_and_matmul,
    optimizers,
    autograd
);
criterion_main!(benches);
