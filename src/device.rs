//! Where a tensor's memory lives.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda(usize),
}

impl Device {
    /// Parses "cpu", "cuda", "cuda:1".
    pub fn parse(s: &str) -> Result<Device> {
        let s = s.trim();
        if s == "cpu" {
            return Ok(Device::Cpu);
        }
        if s == "cuda" {
            return Ok(Device::Cuda(0));
        }
        if let Some(rest) = s.strip_prefix("cuda:") {
            if let Ok(i) = rest.parse() {
                return Ok(Device::Cuda(i));
            }
        }
        if let Some(rest) = s.strip_prefix("cpu:") {
            if rest.parse::<usize>().is_ok() {
                return Ok(Device::Cpu);
            }
        }
        Err(Error::Runtime(format!(
            "Expected one of cpu, cuda device type at start of device string: {s}"
        )))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda(_) => "cuda",
        }
    }

    pub fn index(&self) -> Option<usize> {
        match self {
            Device::Cpu => None,
            Device::Cuda(i) => Some(*i),
        }
    }

    /// Fails with PyTorch's message when the device cannot hold tensors in this build.
    pub fn check_available(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda(i) => crate::cuda_backend::backend(*i).map(|_| ()),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}
