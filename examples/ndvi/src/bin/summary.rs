//! The `summary` step: an NDVI GeoTIFF and its mask → the numbers a user reads first:
//! valid pixels (mask not no-data and NDVI not NaN), pixels above the threshold (mask 1)
//! and their share of the valid ones, and the minimum, maximum and mean NDVI of the valid
//! pixels. Written as `$OUTPUT_DIR/summary.json` (a file output) and as
//! `$OUTPUT_DIR/seed.outputs.json` (the Seed json outputs).
//!
//! Exit 2 when the inputs are missing or their sizes differ.

use ades_example_ndvi::{
    bad_input, cannot_write, output_path, read_f32, read_u8, readable_by_all, required_path,
    run_step, Failure,
};
use serde_json::{json, Value};
use std::path::Path;

const NO_DATA: u8 = 255;

fn main() {
    run_step(|| {
        let ndvi = read_f32(&required_path("NDVI")?)?;
        let mask = read_u8(&required_path("MASK")?)?;
        if (ndvi.width, ndvi.height, ndvi.bands) != (mask.width, mask.height, mask.bands)
            || ndvi.bands != 1
        {
            return Err(bad_input(format!(
                "NDVI ({}x{}, {} bands) and MASK ({}x{}, {} bands) must be one-band rasters of one size",
                ndvi.width, ndvi.height, ndvi.bands, mask.width, mask.height, mask.bands
            )));
        }
        let (mut valid, mut above) = (0u64, 0u64);
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        for (&value, &class) in ndvi.samples.iter().zip(&mask.samples) {
            if class == NO_DATA || value.is_nan() {
                continue;
            }
            let value = f64::from(value);
            valid += 1;
            above += u64::from(class == 1);
            min = min.min(value);
            max = max.max(value);
            sum += value;
        }
        let mut summary = json!({
            "width": ndvi.width,
            "height": ndvi.height,
            "validPixels": valid,
            "abovePixels": above,
            "fractionAbove": if valid == 0 { 0.0 } else { above as f64 / valid as f64 },
        });
        // No valid pixel, no statistics: the optional outputs are left out.
        if valid > 0 {
            summary["ndviMin"] = json!(min);
            summary["ndviMax"] = json!(max);
            summary["ndviMean"] = json!(sum / valid as f64);
        }
        write_json(&output_path("summary.json")?, &summary)?;
        write_json(&output_path("seed.outputs.json")?, &summary)
    });
}

fn write_json(path: &Path, value: &Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).expect("a JSON value prints");
    std::fs::write(path, text + "\n")
        .map_err(|e| cannot_write(format!("cannot write {}: {e}", path.display())))?;
    readable_by_all(path)
}
