pub mod demo;
pub mod export;
pub mod generate;
#[cfg(feature = "aws")]
pub mod load_profiles;
pub mod predict;
pub mod score;
pub mod verdicts;
