//! titrate: the ward terminal for a 7-day intravenous low-dose S-ketamine infusion.

pub mod config;
pub mod domain;
