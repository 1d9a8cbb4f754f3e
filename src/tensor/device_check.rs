//! The one device-agreement rule, applied at the entry of every op with several tensor
//! inputs: all on one device, except that a 0-d CPU tensor may join tensors on another
//! device as a scalar (PyTorch's rule).

use super::Tensor;
use crate::device::Device;
use crate::error::{Error, Result};

/// The device an op over `tensors` runs on, or PyTorch's error naming the op.
pub fn check_same_device(op: &str, tensors: &[&Tensor]) -> Result<Device> {
    let devices: Vec<(Device, bool)> = tensors
        .iter()
        .map(|t| (t.device(), t.ndim() == 0))
        .collect();
    common_device(op, &devices)
}

/// The rule on (device, is 0-d) pairs, separated so that it can be tested without a GPU.
pub fn common_device(op: &str, operands: &[(Device, bool)]) -> Result<Device> {
    // A non-CPU operand decides; 0-d CPU operands are scalars that may go along.
    let mut chosen: Option<Device> = None;
    for &(d, _) in operands {
        if d != Device::Cpu {
            match chosen {
                None => chosen = Some(d),
                Some(c) if c != d => return Err(mismatch(op, c, d)),
                _ => {}
            }
        }
    }
    let Some(dev) = chosen else {
        return Ok(Device::Cpu);
    };
    for &(d, zero_dim) in operands {
        if d == Device::Cpu && !zero_dim {
            return Err(mismatch(op, dev, d));
        }
    }
    Ok(dev)
}

fn mismatch(op: &str, a: Device, b: Device) -> Error {
    let (first, second) = if a == Device::Cpu { (b, a) } else { (a, b) };
    Error::Runtime(format!(
        "Expected all tensors to be on the same device, but found at least two devices, {first} and {second}! (when checking argument for {op})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    const GPU: Device = Device::Cuda(0);

    #[test]
    fn scalars_may_cross_devices() {
        assert_eq!(
            common_device("add", &[(GPU, false), (Device::Cpu, true)]).unwrap(),
            GPU
        );
        assert_eq!(
            common_device("add", &[(Device::Cpu, true), (GPU, true)]).unwrap(),
            GPU
        );
        assert_eq!(
            common_device("add", &[(Device::Cpu, false), (Device::Cpu, true)]).unwrap(),
            Device::Cpu
        );
    }

    #[test]
    fn mixed_devices_fail_with_pytorch_message() {
        let e = common_device("mm", &[(GPU, false), (Device::Cpu, false)]).unwrap_err();
        assert!(e
            .to_string()
            .contains("Expected all tensors to be on the same device"));
        assert!(e.to_string().contains("cuda:0 and cpu"));
        assert!(common_device("add", &[(GPU, false), (Device::Cuda(1), false)]).is_err());
    }
}
