//! The `ndvi` step: a two-band GeoTIFF (band 1 red, band 2 near infrared, unsigned 16-bit)
//! → a float32 GeoTIFF of the normalised difference vegetation index,
//! NDVI = (NIR − red) / (NIR + red), in the input's place (its geo-referencing tags kept).
//! A pixel with no signal (NIR + red = 0) or holding the input's no-data value is NaN,
//! the output's no-data value.
//!
//! Seed contract: the input's path is in `RED_NIR`, the result goes to
//! `$OUTPUT_DIR/ndvi.tif`; exit 2 when the input is not such a raster.

use ades_example_ndvi::{bad_input, output_path, read_u16, required_path, run_step, write_f32};

fn main() {
    run_step(|| {
        let input = read_u16(&required_path("RED_NIR")?)?;
        if input.bands != 2 {
            return Err(bad_input(format!(
                "RED_NIR has {} bands: give two, red then near infrared",
                input.bands
            )));
        }
        let nodata: Option<u16> = input.nodata.as_deref().and_then(|text| text.parse().ok());
        let ndvi: Vec<f32> = input
            .samples
            .chunks_exact(2)
            .map(|pixel| {
                let (red, nir) = (pixel[0], pixel[1]);
                if nodata.is_some_and(|nodata| red == nodata || nir == nodata) {
                    return f32::NAN;
                }
                let (red, nir) = (f32::from(red), f32::from(nir));
                if red + nir == 0.0 {
                    f32::NAN
                } else {
                    (nir - red) / (nir + red)
                }
            })
            .collect();
        write_f32(
            &output_path("ndvi.tif")?,
            input.width,
            input.height,
            &ndvi,
            &input.geo,
        )
    });
}
