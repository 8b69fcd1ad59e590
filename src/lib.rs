//! titrate: the ward terminal for a 7-day intravenous low-dose S-ketamine infusion.

pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod fsout;
pub mod generate;
pub mod report;
pub mod run;
pub mod stats;
pub mod store;
pub mod strings;
pub mod tui;
pub mod ward;
