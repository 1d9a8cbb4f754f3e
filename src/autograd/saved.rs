//! Tensors saved for backward, stamped with their storage version so that an in-place change
//! after saving is reported instead of producing a wrong gradient.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Clone)]
pub struct SavedTensor {
    tensor: Tensor,
    version: u64,
}

impl SavedTensor {
    pub fn new(t: &Tensor) -> SavedTensor {
        SavedTensor {
            tensor: t.clone(),
            version: t.version(),
        }
    }

    /// The saved tensor, or PyTorch's "modified by an inplace operation" error.
    pub fn get(&self) -> Result<&Tensor> {
        let now = self.tensor.version();
        if now != self.version {
            return Err(Error::Runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: [{} {:?}] is at version {}; expected version {} instead.",
                self.tensor.dtype().name(),
                self.tensor.shape(),
                now,
                self.version
            )));
        }
        Ok(&self.tensor)
    }
}
