//! Autograd from Rust: the same engine the Python package uses.

use rtorch::autograd::{run_backward, BackwardOptions};
use rtorch::{DType, Tensor};

fn leaf(v: Vec<f64>, shape: &[usize]) -> Tensor {
    let t = Tensor::from_vec(v, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

#[test]
fn polynomial_gradient() {
    // y = x^2 + 2x - 3 at x = 1: dy/dx = 4
    let x = leaf(vec![1.0], &[]);
    let y = x
        .mul(&x)
        .unwrap()
        .add(&x.mul_scalar(2.0).unwrap())
        .unwrap()
        .sub_scalar(3.0)
        .unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item_f64().unwrap(), 4.0);
}

#[test]
fn broadcast_and_matmul_gradients() {
    let a = leaf(vec![1., 2., 3., 4., 5., 6.], &[2, 3]);
    let b = leaf(vec![1., 1., 1.], &[3]);
    let y = a
        .add(&b)
        .unwrap()
        .matmul(&b.unsqueeze(1).unwrap())
        .unwrap()
        .sum()
        .unwrap();
    y.backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec::<f64>().unwrap(), vec![1.; 6]);
    // d/db [sum_i (a_i + b) . b] = sum_i (a_i + 2b) = [5+4, 7+4, 9+4]
    assert_eq!(
        b.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![9., 11., 13.]
    );
}

#[test]
fn second_order() {
    let x = leaf(vec![2.0], &[]);
    let y = x.mul(&x).unwrap().mul(&x).unwrap();
    let opts = BackwardOptions {
        retain_graph: true,
        create_graph: true,
        inputs: Some(std::slice::from_ref(&x)),
        accumulate: false,
        allow_unused: false,
    };
    let g = run_backward(&[(y, Tensor::ones(&[], DType::F64).unwrap())], &opts).unwrap();
    let dy = g[0].clone().unwrap();
    assert_eq!(dy.item_f64().unwrap(), 12.0);
    let g2 = run_backward(&[(dy, Tensor::ones(&[], DType::F64).unwrap())], &opts).unwrap();
    assert_eq!(g2[0].clone().unwrap().item_f64().unwrap(), 12.0); // 6x
}

#[test]
fn deep_chain_does_not_overflow() {
    let x = leaf(vec![1.0], &[]);
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = y.mul_scalar(1.0).unwrap();
    }
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item_f64().unwrap(), 1.0);
    drop(y);
}

#[test]
fn inplace_after_save_is_an_error() {
    let x = leaf(vec![1.0, 2.0], &[2]);
    let a = x.exp().unwrap();
    let b = a.mul(&a).unwrap().sum().unwrap();
    a.inplace(|t| t.add_scalar(1.0)).unwrap();
    let err = b.backward().unwrap_err();
    assert!(err.to_string().contains("modified by an inplace operation"));
}
