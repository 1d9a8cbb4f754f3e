//! The `rtorch._C` extension module: conversion and error mapping only; tensor logic lives
//! in the crate.

mod amp;
mod autograd;
mod convert;
mod cuda;
mod errors;
mod functions;
mod linalg;
mod nccl;
mod nn;
mod optim;
mod profiler;
mod tensor;
mod tensor_index;
mod tensor_methods;
mod tensor_ops;
mod types;

use crate::dtype::DType;
use pyo3::prelude::*;
use pyo3::wrap_pyfunction;

#[pymodule(name = "_C", gil_used = true)]
fn rtorch_c(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<types::PyDType>()?;
    m.add_class::<types::PyDevice>()?;
    m.add_class::<types::PyGenerator>()?;
    m.add_class::<autograd::PyNode>()?;
    m.add_class::<autograd::PyHookHandle>()?;
    for dt in DType::ALL {
        m.add(dt.name(), types::PyDType { dt })?;
    }
    macro_rules! add_fns {
        ($($f:path),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add_fns!(
        functions::tensor,
        functions::as_tensor,
        functions::from_numpy,
        functions::zeros,
        functions::ones,
        functions::empty,
        functions::full,
        functions::zeros_like,
        functions::ones_like,
        functions::empty_like,
        functions::full_like,
        functions::arange,
        functions::linspace,
        functions::logspace,
        functions::eye,
        functions::rand,
        functions::randn,
        functions::rand_like,
        functions::randn_like,
        functions::randint,
        functions::randperm,
        functions::normal,
        functions::bernoulli,
        functions::multinomial,
        functions::_sample_,
        functions::manual_seed,
        functions::initial_seed,
        functions::_default_generator,
        functions::cat,
        functions::stack,
        functions::where_,
        functions::einsum,
        functions::promote_types,
        functions::result_type,
        functions::can_cast,
        functions::_tensor_to_bytes,
        functions::_tensor_from_bytes,
        functions::_unbind_list,
        functions::_after_fork,
        functions::set_num_threads,
        functions::get_num_threads,
        functions::_set_default_dtype,
        functions::_get_default_dtype,
        autograd::_backward,
        autograd::_grad,
        autograd::is_grad_enabled,
        autograd::_set_grad_enabled,
        autograd::is_inference_mode_enabled,
        autograd::_set_inference_mode,
        autograd::_live_graph_nodes,
        autograd::_record_function,
    );
    functions::install_fork_handler();
    crate::cpu::threads_from_env();
    amp::register(m)?;
    nn::register(m)?;
    nn::register_norm(m)?;
    optim::register(m)?;
    linalg::register(m)?;
    cuda::register(m)?;
    nccl::register(m)?;
    profiler::register(m)?;
    Ok(())
}
