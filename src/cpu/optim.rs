//! Fused optimizer steps — see python bindings.
