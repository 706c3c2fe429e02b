pub mod demo;
pub mod export;
pub mod generate;
pub mod predict;
pub mod score;
pub mod verdicts;
