//! Convolution helpers (im2col) — see tensor/conv.rs.
