//! The tensor core from Rust, without Python.

use rtorch::{DType, Scalar, Tensor};

fn t(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

#[test]
fn creation_and_dtypes() {
    let z = Tensor::zeros(&[2, 3], DType::F32).unwrap();
    assert_eq!(z.shape(), &[2, 3]);
    assert_eq!(z.dtype(), DType::F32);
    let r = Tensor::arange(Scalar::Int(0), Scalar::Int(5), Scalar::Int(1), DType::I64).unwrap();
    assert_eq!(r.to_vec::<i64>().unwrap(), vec![0, 1, 2, 3, 4]);
    let l = Tensor::linspace(0.0, 1.0, 5, DType::F64).unwrap();
    assert_eq!(l.to_vec::<f64>().unwrap(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
}

#[test]
fn broadcasting_and_promotion() {
    let a = t(vec![1., 2., 3.], &[3, 1]);
    let b = Tensor::from_vec(vec![10i64, 20], &[2]).unwrap();
    let c = a.add(&b).unwrap();
    assert_eq!(c.shape(), &[3, 2]);
    assert_eq!(c.dtype(), DType::F32);
    assert_eq!(
        c.to_vec::<f32>().unwrap(),
        vec![11., 21., 12., 22., 13., 23.]
    );
    // int / int is true division to float32
    let q = b.div(&b).unwrap();
    assert_eq!(q.dtype(), DType::F32);
    let bad = t(vec![1., 2., 3.], &[3]).add(&t(vec![1., 2.], &[2]));
    assert!(matches!(bad, Err(rtorch::Error::Runtime(_))));
}

#[test]
fn views_share_storage() {
    let x = t((0..6).map(|v| v as f32).collect(), &[2, 3]);
    let y = x.transpose(0, 1).unwrap();
    assert!(!y.is_contiguous());
    assert!(y.shares_storage(&x));
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![0., 3., 1., 4., 2., 5.]);
    assert!(y.view(&[6]).is_err());
    assert_eq!(
        y.reshape(&[6]).unwrap().to_vec::<f32>().unwrap(),
        vec![0., 3., 1., 4., 2., 5.]
    );
    let row = x.select(0, 1).unwrap();
    row.fill_(Scalar::Float(7.0)).unwrap();
    assert_eq!(x.to_vec::<f32>().unwrap(), vec![0., 1., 2., 7., 7., 7.]);
}

#[test]
fn reductions_and_matmul() {
    let x = t(vec![1., 2., 3., 4., 5., 6.], &[2, 3]);
    assert_eq!(
        x.sum_dims(&[1], false, None)
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![6., 15.]
    );
    assert_eq!(x.mean_dims(&[0], true, None).unwrap().shape(), &[1, 3]);
    let (v, i) = x.max_min_dim(1, false, true).unwrap();
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![3., 6.]);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![2, 2]);
    let m = x.matmul(&x.t().unwrap()).unwrap();
    assert_eq!(m.to_vec::<f32>().unwrap(), vec![14., 32., 32., 77.]);
}

#[test]
fn errors_not_panics() {
    let x = t(vec![1., 2.], &[2]);
    assert!(matches!(x.select(0, 5), Err(rtorch::Error::Index(_))));
    assert!(x.sum_dims(&[3], false, None).is_err());
    assert!(x.matmul(&t(vec![1., 2., 3.], &[3])).is_err());
    assert!(x.item_f64().is_err());
}
