//! The `threshold` step: a float32 NDVI GeoTIFF and a threshold → an unsigned 8-bit mask
//! GeoTIFF in the same place: 1 where NDVI > THRESHOLD (vegetation), 0 elsewhere, 255
//! (the mask's no-data value) where the NDVI is NaN.
//!
//! Seed contract: the NDVI's path is in `NDVI`, the threshold (a json number, default
//! 0.3) in `THRESHOLD`, the mask goes to `$OUTPUT_DIR/mask.tif`; exit 2 on a bad input.

use ades_example_ndvi::{bad_input, env, output_path, read_f32, required_path, run_step, write_u8};

/// The threshold when none is given: a common cut between sparse and dense vegetation.
const DEFAULT_THRESHOLD: f32 = 0.3;
const NO_DATA: u8 = 255;

fn main() {
    run_step(|| {
        let threshold = match env("THRESHOLD") {
            None => DEFAULT_THRESHOLD,
            Some(text) => text
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|value| (-1.0..=1.0).contains(value))
                .ok_or_else(|| {
                    bad_input(format!("THRESHOLD {text:?} is not a number from -1 to 1"))
                })?,
        };
        let ndvi = read_f32(&required_path("NDVI")?)?;
        if ndvi.bands != 1 {
            return Err(bad_input(format!(
                "NDVI has {} bands: give one",
                ndvi.bands
            )));
        }
        let mask: Vec<u8> = ndvi
            .samples
            .iter()
            .map(|&value| match value {
                value if value.is_nan() => NO_DATA,
                value if value > threshold => 1,
                _ => 0,
            })
            .collect();
        write_u8(
            &output_path("mask.tif")?,
            ndvi.width,
            ndvi.height,
            &mask,
            &ndvi.geo,
            NO_DATA,
        )
    });
}
