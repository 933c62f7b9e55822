//! What every layer knows about the domain: public holidays and sending
//! windows, SMS encoding and segments, the template language.

pub mod calendar;
pub mod sms;
pub mod template;
