//! The methods' TOML configs: parsing (unknown keys, types, lines) and validation. The
//! MO-EvoPruneDeepTL config is left out: its crate pulls in burn, whose instrumented build
//! takes longer than a fuzzing session here.
#![no_main]
use evoprune_run::MethodConfig;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("fuzz.toml");
    let _ = evoprune_gaprune::Config::parse(text, origin);
    let _ = evoprune_hierarchical::Config::parse(text, origin);
    let _ = evoprune_compress::Config::parse(text, origin);
});
