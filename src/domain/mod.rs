//! Pure rules of the protocol: no IO, no SQL, no terminal.

pub mod course_rules;
pub mod dose;
pub mod entry;
pub mod marks;
pub mod observation;
pub mod outcome;
pub mod patient;
pub mod protocol;
pub mod rate;
pub mod record;
pub mod rules;
pub mod time;
pub mod values;
pub mod watch;
