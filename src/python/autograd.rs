//! Autograd from Python: grad_fn objects, hooks, backward/grad, grad mode, custom Functions.

use super::errors::park;
use super::tensor::{wrap, PyTensor};
use crate::autograd::graph::{take_exclusive_callbacks, with_exclusive_node};
use crate::autograd::{
    self, BackwardOptions, ForeignBackward, GradHook, Hook, NextFunction, NodeRef, Rule, SavedRead,
};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyAttributeError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{PyTraverseError, PyVisit};
use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

// Garbage collection
// ------------------
// Python callables that the graph holds (tensor hooks, custom Function rules) can refer back
// to the tensors that own them, so `Tensor` (and `Node`) objects report them to Python's
// cycle collector. A reference is reported only when the Python object owns it exclusively:
// the Rust tensor is held by this object alone (`Arc::strong_count == 1`), the node by that
// tensor alone, and the hook or rule by that node or tensor alone. Anything shared (a graph
// still in use, a backward running on another thread) is simply not reported, which can only
// delay collection, never free a live object. Locks are only tried, never waited for.

/// `tensor.grad_fn`.
#[pyclass(name = "Node", module = "rtorch.autograd")]
pub struct PyNode {
    pub node: NodeRef,
}

#[pymethods]
impl PyNode {
    fn name(&self) -> &'static str {
        self.node.name()
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Py<PyAny>> = self
            .node
            .next_functions()
            .into_iter()
            .map(|n| -> PyResult<Py<PyAny>> {
                Ok(match n {
                    NextFunction::None => (py.None(), 0).into_pyobject(py)?.into_any().unbind(),
                    NextFunction::Node(r) => (Py::new(py, PyNode { node: r })?, 0)
                        .into_pyobject(py)?
                        .into_any()
                        .unbind(),
                    NextFunction::Leaf(t) => (Py::new(py, PyAccumulateGrad { variable: t })?, 0)
                        .into_pyobject(py)?
                        .into_any()
                        .unbind(),
                })
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }
    /// The node's creation order (PyTorch's `_sequence_nr()`).
    fn _sequence_nr(&self) -> u64 {
        self.node.seq()
    }
    /// `(shape, dtype name)` of the tensor the node produced (None when not recorded): the
    /// metadata that gradients flowing into the node are checked against.
    #[getter]
    fn _output_meta(&self) -> Option<(Vec<usize>, &'static str)> {
        self.node.output_meta().map(|m| (m.shape, m.dtype.name()))
    }
    fn __repr__(&self) -> String {
        format!("<{} object at {:#x}>", self.node.name(), self.node.index())
    }
    /// `_saved_<name>`: what the node's gradient rule saved (PyTorch's attribute names).
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        if let Some(key) = name.strip_prefix("_saved_") {
            if let Some((_, v)) = self.node.saved().into_iter().find(|(k, _)| *k == key) {
                return saved_to_py(py, v.read(self.node.name())?);
            }
        }
        Err(PyAttributeError::new_err(format!(
            "'{}' object has no attribute '{name}'",
            self.node.name()
        )))
    }
    /// The default attributes plus one `_saved_<name>` per saved value.
    fn __dir__(slf: &Bound<'_, Self>) -> PyResult<Vec<String>> {
        let py = slf.py();
        let object = py.import("builtins")?.getattr("object")?;
        let mut names: Vec<String> = object.getattr("__dir__")?.call1((slf,))?.extract()?;
        for (k, _) in slf.borrow().node.saved() {
            names.push(format!("_saved_{k}"));
        }
        names.sort();
        Ok(names)
    }
    /// `[(name, is_tensor)]` of the saved values, in the node's order (for graph drawing).
    fn _describe_saved(&self) -> Vec<(&'static str, bool)> {
        self.node
            .saved()
            .iter()
            .map(|(k, v)| (*k, v.is_tensor()))
            .collect()
    }
    fn __eq__(&self, other: PyRef<PyNode>) -> bool {
        self.node.index() == other.node.index()
    }
    fn __hash__(&self) -> usize {
        self.node.index()
    }
    fn register_hook(&self, _hook: Py<PyAny>) -> PyResult<()> {
        Err(PyRuntimeError::new_err(
            "Node.register_hook is not supported; use Tensor.register_hook",
        ))
    }
    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), PyTraverseError> {
        traverse_node(&self.node, &visit)
    }
    fn __clear__(&mut self) {
        let parts = take_exclusive_callbacks(&self.node);
        drop(parts);
    }
}

fn saved_to_py(py: Python<'_>, v: SavedRead) -> PyResult<Py<PyAny>> {
    Ok(match v {
        SavedRead::Tensor(t) => wrap(py, t)?,
        SavedRead::Tensors(ts) => {
            let items = ts
                .into_iter()
                .map(|t| t.map_or_else(|| Ok(py.None()), |t| wrap(py, t)))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any().unbind()
        }
        SavedRead::Int(v) => v.into_pyobject(py)?.into_any().unbind(),
        SavedRead::Ints(v) => PyTuple::new(py, v)?.into_any().unbind(),
        SavedRead::Float(v) => v.into_pyobject(py)?.into_any().unbind(),
        SavedRead::Bool(v) => v.into_pyobject(py)?.to_owned().into_any().unbind(),
        SavedRead::Str(v) => v.into_pyobject(py)?.into_any().unbind(),
        SavedRead::None => py.None(),
    })
}

/// The accumulation point of a leaf in `next_functions`.
#[pyclass(name = "AccumulateGrad", module = "rtorch.autograd")]
pub struct PyAccumulateGrad {
    variable: Tensor,
}

#[pymethods]
impl PyAccumulateGrad {
    fn name(&self) -> &'static str {
        "torch::autograd::AccumulateGrad"
    }
    #[getter]
    fn variable(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.variable.clone())
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }
}

#[pyclass(name = "RemovableHandle", module = "rtorch.utils.hooks")]
pub struct PyHookHandle {
    hook: Weak<PyHook>,
}

#[pymethods]
impl PyHookHandle {
    /// Removes the hook: it stops firing and its callable is released.
    fn remove(&self) {
        if let Some(h) = self.hook.upgrade() {
            let f = h.callable.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(f);
        }
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    fn __exit__(&self, _a: Py<PyAny>, _b: Py<PyAny>, _c: Py<PyAny>) {
        self.remove();
    }
}

/// A Python tensor hook: called with the gradient; a returned tensor replaces it.
pub(crate) struct PyHook {
    name: String,
    /// None once the hook's handle removed it.
    callable: Mutex<Option<Py<PyAny>>>,
}

impl GradHook for PyHook {
    fn call(&self, g: &Tensor) -> Result<Option<Tensor>> {
        Python::attach(|py| {
            let f = match &*self.callable.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(f) => f.clone_ref(py),
                None => return Ok(None),
            };
            let r = f
                .bind(py)
                .call1((wrap(py, g.clone()).map_err(park)?,))
                .map_err(park)?;
            if r.is_none() {
                return Ok(None);
            }
            match r.cast::<PyTensor>() {
                Ok(t) => Ok(Some(t.borrow().t.clone())),
                Err(_) => Err(park(PyTypeError::new_err(format!(
                    "expected Variable, but hook returned '{}'",
                    type_name(&r)
                )))),
            }
        })
    }
    fn name(&self) -> String {
        self.name.clone()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn type_name(obj: &Bound<PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// Registers a Python hook on a tensor (leaves keep it, non-leaves put it on their node).
pub fn register_hook(t: &Tensor, hook: &Bound<PyAny>) -> PyResult<PyHookHandle> {
    // As PyTorch: the hook's `__name__` names it in errors.
    let name = hook
        .getattr("__name__")
        .ok()
        .and_then(|n| n.extract::<String>().ok())
        .unwrap_or_else(|| "<unknown>".into());
    let h = Arc::new(PyHook {
        name,
        callable: Mutex::new(Some(hook.clone().unbind())),
    });
    let handle = PyHookHandle {
        hook: Arc::downgrade(&h),
    };
    t.register_hook(h)?;
    Ok(handle)
}

fn visit_hooks(hooks: &[Hook], visit: &PyVisit<'_>) -> std::result::Result<(), PyTraverseError> {
    for h in hooks {
        if Arc::strong_count(h) != 1 {
            continue;
        }
        if let Some(p) = h.as_any().downcast_ref::<PyHook>() {
            if let Ok(f) = p.callable.try_lock() {
                visit.call(f.as_ref())?;
            }
        }
    }
    Ok(())
}

fn visit_rule(
    rule: Option<&Rule>,
    visit: &PyVisit<'_>,
) -> std::result::Result<(), PyTraverseError> {
    if let Some(Rule::Foreign(r)) = rule {
        if Arc::strong_count(r) == 1 {
            if let Some(p) = r.as_any().downcast_ref::<PyFunctionRule>() {
                visit.call(&p.backward)?;
            }
        }
    }
    Ok(())
}

/// Reports the Python objects reachable only through node `r` (its hooks and custom rule).
fn traverse_node(r: &NodeRef, visit: &PyVisit<'_>) -> std::result::Result<(), PyTraverseError> {
    with_exclusive_node(r, |hooks, rule| {
        visit_hooks(hooks, visit)?;
        visit_rule(rule, visit)
    })
    .unwrap_or(Ok(()))
}

/// `tp_traverse` of a Python tensor: the hooks and the custom rule that it owns exclusively.
pub(crate) fn traverse_tensor(
    t: &Tensor,
    visit: &PyVisit<'_>,
) -> std::result::Result<(), PyTraverseError> {
    if Arc::strong_count(&t.0) != 1 {
        return Ok(());
    }
    let Ok(m) = t.0.meta.try_lock() else {
        return Ok(());
    };
    visit_hooks(&m.hooks, visit)?;
    if let Some(f) = &m.grad_fn {
        traverse_node(f, visit)?;
    }
    Ok(())
}

/// `tp_clear` of a Python tensor: drops the hooks and the custom rule it owns exclusively
/// (after releasing every lock, as dropping them runs Python code).
pub(crate) fn clear_tensor(t: &Tensor) {
    if Arc::strong_count(&t.0) != 1 {
        return;
    }
    let mut hooks = Vec::new();
    let mut node_parts = (Vec::new(), None);
    if let Ok(mut m) = t.0.meta.try_lock() {
        hooks = std::mem::take(&mut m.hooks);
        if let Some(f) = &m.grad_fn {
            node_parts = take_exclusive_callbacks(f);
        }
    }
    drop(hooks);
    drop(node_parts);
}

pub fn tensor_list(obj: &Bound<PyAny>) -> PyResult<Vec<Tensor>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(vec![t.borrow().t.clone()]);
    }
    obj.try_iter()?
        .map(|x| Ok(x?.cast::<PyTensor>()?.borrow().t.clone()))
        .collect()
}

pub fn tensor_list_opt(obj: Option<&Bound<PyAny>>) -> PyResult<Option<Vec<Tensor>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => Ok(Some(tensor_list(o)?)),
    }
}

/// Pairs outputs with their incoming gradients (ones for scalars when not given).
fn roots(outputs: &[Tensor], grads: Option<&Bound<PyAny>>) -> PyResult<Vec<(Tensor, Tensor)>> {
    let given: Vec<Option<Tensor>> = match grads {
        None => vec![None; outputs.len()],
        Some(g) if g.is_none() => vec![None; outputs.len()],
        Some(g) => {
            if let Ok(t) = g.cast::<PyTensor>() {
                vec![Some(t.borrow().t.clone())]
            } else {
                g.try_iter()?
                    .map(|x| {
                        let x = x?;
                        if x.is_none() {
                            Ok(None)
                        } else {
                            Ok(Some(x.cast::<PyTensor>()?.borrow().t.clone()))
                        }
                    })
                    .collect::<PyResult<_>>()?
            }
        }
    };
    if given.len() != outputs.len() {
        return Err(PyRuntimeError::new_err(format!(
            "grad requires one gradient per output: got {} gradients for {} outputs",
            given.len(),
            outputs.len()
        )));
    }
    outputs
        .iter()
        .zip(given)
        .map(|(o, g)| {
            let g = match g {
                Some(g) => {
                    if g.shape() != o.shape() {
                        return Err(PyRuntimeError::new_err(format!(
                            "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                            g.shape(),
                            o.shape()
                        )));
                    }
                    g
                }
                None => {
                    if o.numel() != 1 {
                        return Err(PyRuntimeError::new_err("grad can be implicitly created only for scalar outputs"));
                    }
                    Tensor::ones_like(o)?
                }
            };
            Ok((o.clone(), g))
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (tensors, grad_tensors=None, retain_graph=None, create_graph=false, inputs=None))]
pub fn _backward(
    py: Python<'_>,
    tensors: &Bound<PyAny>,
    grad_tensors: Option<&Bound<PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    inputs: Option<&Bound<PyAny>>,
) -> PyResult<()> {
    let outs = tensor_list(tensors)?;
    let r = roots(&outs, grad_tensors)?;
    let ins = tensor_list_opt(inputs)?;
    let opts = BackwardOptions {
        retain_graph: retain_graph.unwrap_or(create_graph),
        create_graph,
        inputs: ins.as_deref(),
        accumulate: true,
        allow_unused: true,
    };
    py.detach(|| autograd::run_backward(&r, &opts))?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=false, allow_unused=None, materialize_grads=false))]
#[allow(clippy::too_many_arguments)]
pub fn _grad(
    py: Python<'_>,
    outputs: &Bound<PyAny>,
    inputs: &Bound<PyAny>,
    grad_outputs: Option<&Bound<PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: Option<bool>,
    materialize_grads: bool,
) -> PyResult<Py<PyAny>> {
    let outs = tensor_list(outputs)?;
    let ins = tensor_list(inputs)?;
    let r = roots(&outs, grad_outputs)?;
    let opts = BackwardOptions {
        retain_graph: retain_graph.unwrap_or(create_graph),
        create_graph,
        inputs: Some(&ins),
        accumulate: false,
        allow_unused: allow_unused.unwrap_or(materialize_grads),
    };
    let grads = py.detach(|| autograd::run_backward(&r, &opts))?;
    let items: Vec<Py<PyAny>> = grads
        .into_iter()
        .zip(&ins)
        .map(|(g, i)| match g {
            Some(g) => wrap(py, g),
            None if materialize_grads => wrap(py, Tensor::zeros_like(i)?),
            None => Ok(py.None()),
        })
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

#[pyfunction]
pub fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

#[pyfunction]
pub fn _set_grad_enabled(on: bool) {
    autograd::set_grad_enabled(on)
}

#[pyfunction]
pub fn is_inference_mode_enabled() -> bool {
    autograd::grad_mode::is_inference_mode()
}

#[pyfunction]
pub fn _set_inference_mode(on: bool) {
    autograd::grad_mode::set_inference_mode(on)
}

/// Number of live graph nodes (memory tests).
#[pyfunction]
pub fn _live_graph_nodes() -> usize {
    autograd::live_nodes()
}

/// The rule of one output of a custom `autograd.Function`: calls the Python
/// `backward(output_index, grad)`, which returns one gradient (or None) per tensor input.
pub(crate) struct PyFunctionRule {
    name: &'static str,
    output: usize,
    inputs: usize,
    backward: Py<PyAny>,
}

impl ForeignBackward for PyFunctionRule {
    fn apply(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (name, n) = (self.name, self.inputs);
        Python::attach(|py| {
            let r = self
                .backward
                .bind(py)
                .call1((self.output, wrap(py, g.clone()).map_err(park)?))
                .map_err(park)?;
            let items: Vec<Bound<PyAny>> = r
                .try_iter()
                .map_err(park)?
                .collect::<PyResult<_>>()
                .map_err(park)?;
            if items.len() != n {
                return Err(Error::Runtime(format!(
                    "function {name} returned an incorrect number of gradients (expected {n}, got {})",
                    items.len()
                )));
            }
            items
                .into_iter()
                .map(|x| {
                    if x.is_none() {
                        return Ok(None);
                    }
                    match x.cast::<PyTensor>() {
                        Ok(t) => Ok(Some(t.borrow().t.clone())),
                        Err(_) => Err(Error::Runtime(format!(
                            "expected Variable or None (got {})",
                            type_name(&x)
                        ))),
                    }
                })
                .collect()
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Records a custom `autograd.Function`: every output gets a node whose rule calls
/// `backward(output_index, grad)` and returns one gradient (or None) per tensor input.
#[pyfunction]
pub fn _record_function(
    py: Python<'_>,
    name: String,
    inputs: Vec<PyRef<PyTensor>>,
    outputs: Vec<PyRef<PyTensor>>,
    backward: Py<PyAny>,
) -> PyResult<()> {
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
    let refs: Vec<&Tensor> = ins.iter().collect();
    if !autograd::needs_grad(&refs) {
        return Ok(());
    }
    let name = intern(format!("{name}Backward"));
    for (k, o) in outputs.iter().enumerate() {
        if !o.t.dtype().is_float() {
            continue;
        }
        // Each node owns its own reference to the Python callable (see the GC notes above).
        let rule = PyFunctionRule {
            name,
            output: k,
            inputs: ins.len(),
            backward: backward.clone_ref(py),
        };
        autograd::record_rule(&o.t, name, &refs, Rule::Foreign(Arc::new(rule)));
    }
    Ok(())
}

/// Node names must be `'static`: each distinct Function name is leaked once.
fn intern(s: String) -> &'static str {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(&n) = set.get(s.as_str()) {
        return n;
    }
    let leaked: &'static str = Box::leak(s.into_boxed_str());
    set.insert(leaked);
    leaked
}
