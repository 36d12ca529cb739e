//! The numbering plans, taken from the `phonenumber` crate's metadata
//! (libphonenumber's) when the program is built, and written out as plain
//! data: what `src/phone/numbering.rs` needs of each region, in the order
//! the crate lists them. Loading the crate's own database at run time
//! parses every pattern of every country first (about 80 ms and 11 MB
//! before the first number is checked); this data costs nothing until a
//! country's patterns are compiled, the first time one of its numbers is met.

use std::fmt::Write as _;
use std::path::Path;

use phonenumber::Type;
use phonenumber::metadata::DATABASE;

/// The number types libphonenumber's `isValidNumber` accepts.
const KINDS: [Type; 10] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::Voip,
    Type::PersonalNumber,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut out = String::from("&[\n");
    for meta in DATABASE.iter() {
        let kinds: Vec<_> = KINDS.iter().filter_map(|k| meta.descriptors().get(*k)).collect();
        let patterns: Vec<&str> = kinds.iter().map(|d| d.national_number().as_str()).collect();
        let lengths: Vec<u16> = kinds.iter().flat_map(|d| d.possible_length().iter().copied()).collect();
        let _ = writeln!(
            out,
            "Plan {{ id: {:?}, code: {}, main: {}, national_prefix: {:?}, leading: {:?}, patterns: &{:?}, lengths: &{:?} }},",
            meta.id(),
            meta.country_code(),
            meta.is_main_country_for_code(),
            meta.national_prefix(),
            meta.leading_digits().map(|r| r.as_str()),
            patterns,
            lengths,
        );
    }
    out.push(']');
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&dir).join("numbering_plans.rs"), out).expect("OUT_DIR is writable");
}
