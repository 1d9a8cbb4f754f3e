//! What a node's gradient rule saved, by name, for inspection (`grad_fn._saved_self`,
//! `make_dot(show_saved=True)`). The rule itself is a closure and keeps its own copies; the
//! list holds counted handles to the same tensors (no data is copied) plus the scalar
//! arguments the rule was built with. The names follow PyTorch's attributes for the node of the
//! same name. Tensors are dropped with the rule after backward, as the rule's are.

use super::saved::SavedTensor;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One saved value.
#[derive(Clone)]
pub enum SavedValue {
    Tensor(SavedTensor),
    /// A tuple of optional tensors (e.g. the indices of an advanced index).
    Tensors(Vec<Option<SavedTensor>>),
    Int(i64),
    Ints(Vec<i64>),
    Float(f64),
    Bool(bool),
    Str(&'static str),
    /// An optional argument that was not given (PyTorch reports None).
    None,
    /// A tensor released after backward.
    Freed,
}

impl SavedValue {
    pub fn tensor(t: &Tensor) -> SavedValue {
        SavedValue::Tensor(SavedTensor::new(t))
    }
    /// A tensor that may be absent (an optional weight, a Python-number operand).
    pub fn opt(t: Option<&Tensor>) -> SavedValue {
        t.map_or(SavedValue::None, SavedValue::tensor)
    }
    pub fn sizes(s: &[usize]) -> SavedValue {
        SavedValue::Ints(s.iter().map(|&v| v as i64).collect())
    }
    pub fn dim(d: usize) -> SavedValue {
        SavedValue::Int(d as i64)
    }
    pub fn dims(d: &[usize]) -> SavedValue {
        SavedValue::sizes(d)
    }
    /// What is kept once backward has run: scalars stay readable, tensors are gone.
    pub(crate) fn released(&self) -> SavedValue {
        match self {
            SavedValue::Tensor(_) | SavedValue::Tensors(_) => SavedValue::Freed,
            v => v.clone(),
        }
    }
    pub fn is_tensor(&self) -> bool {
        matches!(
            self,
            SavedValue::Tensor(_) | SavedValue::Tensors(_) | SavedValue::Freed
        )
    }
}

/// A node's saved values in the order they are reported.
pub type SavedList = Vec<(&'static str, SavedValue)>;

/// A saved value as its reader sees it: tensors checked against in-place changes.
pub enum SavedRead {
    Tensor(Tensor),
    Tensors(Vec<Option<Tensor>>),
    Int(i64),
    Ints(Vec<i64>),
    Float(f64),
    Bool(bool),
    Str(&'static str),
    None,
}

impl SavedValue {
    /// The value, or PyTorch's errors for a tensor modified in place or already freed.
    pub fn read(&self, node: &str) -> Result<SavedRead> {
        Ok(match self {
            SavedValue::Tensor(t) => SavedRead::Tensor(t.get()?.clone()),
            SavedValue::Tensors(ts) => SavedRead::Tensors(
                ts.iter()
                    .map(|t| t.as_ref().map(|t| t.get().cloned()).transpose())
                    .collect::<Result<_>>()?,
            ),
            SavedValue::Int(v) => SavedRead::Int(*v),
            SavedValue::Ints(v) => SavedRead::Ints(v.clone()),
            SavedValue::Float(v) => SavedRead::Float(*v),
            SavedValue::Bool(v) => SavedRead::Bool(*v),
            SavedValue::Str(v) => SavedRead::Str(v),
            SavedValue::None => SavedRead::None,
            SavedValue::Freed => return Err(Error::Runtime(format!(
                "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward. (node {node})"
            ))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_report_saved_values_and_release_tensors() {
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
        x.set_requires_grad(true).unwrap();
        let y = x.exp().unwrap();
        let f = y.grad_fn().unwrap();
        let saved = f.saved();
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0].0, "result");
        match saved[0].1.read("ExpBackward0").unwrap() {
            SavedRead::Tensor(t) => {
                assert_eq!(t.to_vec::<f64>().unwrap(), y.to_vec::<f64>().unwrap())
            }
            _ => panic!("expected a tensor"),
        }
        let s = y.sum_dims(&[0], true, None).unwrap();
        let names: Vec<_> = s.grad_fn().unwrap().saved().iter().map(|e| e.0).collect();
        assert_eq!(names, ["dim", "keepdim", "self_sym_sizes"]);
        s.sum().unwrap().backward().unwrap();
        // After backward the tensors are freed; scalars stay.
        assert!(f.saved()[0].1.read("ExpBackward0").is_err());
    }
}
