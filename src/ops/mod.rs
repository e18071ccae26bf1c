//! Array operations that need more than chunk geometry: planning (pure code) for now.
pub mod rechunk_plan;
