//! Graph memory follows tensor lifetimes. Its own test binary: the node arena is global, so
//! no other test may build graphs while this one counts nodes.

use rtorch::autograd::live_nodes;
use rtorch::{DType, Tensor};

fn leaf(v: Vec<f64>, shape: &[usize]) -> Tensor {
    let t = Tensor::from_vec(v, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

#[test]
fn graphs_are_freed_with_their_tensors() {
    let base = live_nodes();
    let w = leaf(vec![0.5; 16], &[4, 4]);
    for _ in 0..200 {
        let x = Tensor::ones(&[2, 4], DType::F64).unwrap();
        let y = x.matmul(&w).unwrap().tanh().unwrap().sum().unwrap();
        if rand_skip() {
            continue; // forward without backward
        }
        y.backward().unwrap();
    }
    assert_eq!(live_nodes(), base);
}

fn rand_skip() -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).is_multiple_of(3)
}
